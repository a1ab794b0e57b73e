"""helpers.at_scale: the facts lesson 08 prints, checked without spawning processes where possible,
and the small pieces (tables, diffs, graph names) with bad inputs."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

from helpers.at_scale import (
    ClassicReverse,
    Table,
    describe_diff,
    graph_ops,
    max_abs_diff,
    pass_gradients,
    single_process_reference,
    vjp_then_backward,
)
from helpers.compute_once import METHODS, make_problem, reverse_grad, run_method
from helpers.distributed import run_on_ranks


def test_reference_is_the_mean_of_the_ranks_two_pass_gradients():
    parts = pass_gradients(2)
    reference = single_process_reference(2)
    mean = {n: sum(p["l1"][n] + p["l2"][n] for p in parts) / 2 for n in reference}
    assert max_abs_diff(mean, reference) < 1e-6


def test_ddp_two_pass_is_wrong_and_one_pass_methods_are_right():
    """The lesson's one spawned run: every two-pass variant differs from the reference and between the
    ranks; the corrected variants and the one-pass methods match it and agree."""
    from helpers.at_scale import DDP_CORRECT_TWO_PASS, DDP_ONE_PASS, DDP_TWO_PASS_VARIANTS, ddp_experiments

    ranks = run_on_ranks(ddp_experiments, 2, timeout=240)
    reference = single_process_reference(2)
    parts = pass_gradients(2)
    for name in DDP_TWO_PASS_VARIANTS:
        g0, g1 = (ranks[r]["grads"][name] for r in range(2))
        assert max_abs_diff(g0, reference) > 1e-3 and max_abs_diff(g0, g1) > 1e-3, name
        assert not ranks[0]["warnings"][name], name
        for r in range(2):  # what the lesson explains: mean of l1's gradients + the rank's own l2's
            predicted = {n: (parts[0]["l1"][n] + parts[1]["l1"][n]) / 2 + parts[r]["l2"][n] for n in reference}
            assert max_abs_diff(predicted, ranks[r]["grads"][name]) < 1e-6, (name, r)
    for name in {**DDP_CORRECT_TWO_PASS, **DDP_ONE_PASS}:
        g0, g1 = (ranks[r]["grads"][name] for r in range(2))
        assert max_abs_diff(g0, reference) < 1e-6 and max_abs_diff(g0, g1) < 1e-6, name


def test_vjp_method_matches_two_pass():
    problem = make_problem(n=16, dim_in=4, dim=8, width=16)
    assert max_abs_diff(run_method(vjp_then_backward, problem), run_method(METHODS["two-pass"], problem)) < 1e-6


def test_classic_function_fails_under_torch_func_and_grad_reverse_works():
    t = torch.tensor([1.0, -2.0, 0.5])
    u = t.clone().requires_grad_()
    (ClassicReverse.apply(u) ** 2).sum().backward()
    assert torch.equal(u.grad, -2 * t)
    with pytest.raises(RuntimeError, match="setup_context"):
        torch.func.grad(lambda v: (ClassicReverse.apply(v) ** 2).sum())(t)
    assert torch.equal(torch.func.grad(lambda v: (reverse_grad(v) ** 2).sum())(t), -2 * t)


def test_graph_ops_finds_the_hooks_lambda():
    problem = make_problem(n=4, dim_in=2, dim=3, width=4)
    g, f = problem.g, problem.f

    def hook_step(a, b):
        x, y = g(a), g(b)
        x.register_hook(lambda grad: -grad)
        f(x, y).backward()

    torch._dynamo.reset()
    report = torch._dynamo.explain(hook_step)(problem.a, problem.b)
    torch._dynamo.reset()
    ops = graph_ops(report.graphs)
    assert ["neg"] in ops and any("linear" in graph for graph in ops)
    with pytest.raises(TypeError, match="GraphModule"):
        graph_ops([lambda: None])
    with pytest.raises(TypeError, match="GraphModule"):
        graph_ops(report)


def test_describe_diff_and_max_abs_diff():
    assert describe_diff(0.0) == "< 1e-06" and describe_diff(5e-7) == "< 1e-06"
    assert describe_diff(0.02423) == "0.024" and describe_diff(0.3686) == "0.37"
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.5])}
    b = {"w": torch.tensor([1.0, 2.5]), "b": torch.tensor([-0.5])}
    assert max_abs_diff(a, b) == 1.0
    with pytest.raises(ValueError, match="different parameters"):
        max_abs_diff(a, {"w": a["w"]})


def test_table_text_and_bad_rows():
    text = repr(Table(["method", "ok?"], [["hook", True], ["two-pass", False]]))
    assert text.splitlines() == ["method    ok?", "--------  -----", "hook      True", "two-pass  False"]
    with pytest.raises(ValueError, match="2 entries"):
        Table(["a", "b"], [["only one"]])
