"""helpers.at_scale: the facts lesson 08 prints, checked without spawning processes where possible,
and the small pieces (tables, diffs, graph names) with bad inputs."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

from helpers.at_scale import (
    DANN_DDP_STEPS,
    MICRO_BATCHES,
    ClassicReverse,
    Table,
    amp_gradients,
    at_scale_experiments,
    checkpoint_placements,
    compile_ddp_experiments,
    dann_reference,
    describe_diff,
    graph_ops,
    max_abs_diff,
    pass_gradients,
    rank_device,
    seed_reference,
    vjp_then_backward,
)
from helpers.compare import collect_grads
from helpers.compute_once import METHODS, make_problem, reverse_grad, run_method
from helpers.distributed import run_on_ranks


def test_reference_is_the_mean_of_the_ranks_two_pass_gradients():
    parts = pass_gradients(2, MICRO_BATCHES)
    reference = seed_reference(2, MICRO_BATCHES)
    mean = {n: sum(p["l1"][n] + p["l2"][n] for rank in parts for p in rank) / 2 for n in reference}
    assert max_abs_diff(mean, reference) < 1e-6


def test_lesson_08_launch_shows_the_rule_and_the_cases():
    """Lesson 08's one launch: the rule's three outcomes on lesson 07's model, and every method under
    DDP, no_sync accumulation, a comm hook and FSDP2, with the collectives counted."""
    ranks = run_on_ranks(at_scale_experiments, 2, timeout=240)
    single = dann_reference(2)
    outcome = {name: [ranks[r]["rule"][name] for r in range(2)] for name in DANN_DDP_STEPS}
    (s0, p0), (s1, p1) = outcome["first pass reaches every parameter"]
    assert s0 == s1 == "ok" and (p0 - p1).abs().max() > 1e-3 and (p0 - single).abs().max() > 1e-3
    overlap = outcome["passes overlap partly (07's 5a)"]
    assert all("Expected to mark a variable ready only once" in v for _, v in overlap)
    for name in ("passes reach disjoint parameters (07's step)", "one pass (reversal)"):
        (s0, p0), (s1, p1) = outcome[name]
        assert s0 == "ok" and (p0 - p1).abs().max() < 1e-6 and (p0 - single).abs().max() < 1e-6, name
    # other DDP options: find_unused_parameters=True fails every step (d runs outside DDP's forward);
    # static_graph=True makes the overlapping passes right (vs 5a in one process), row 1 stays wrong
    for name, step in DANN_DDP_STEPS.items():
        assert all(s == "error" and "ready only once" in v for s, v in
                   (ranks[r]["find_unused_parameters"][name] for r in range(2))), name
        (s0, p0), (s1, p1) = (ranks[r]["static_graph"][name] for r in range(2))
        off = max(float((p - dann_reference(2, step)).abs().max()) for p in (p0, p1))
        wrong = name == "first pass reaches every parameter"
        assert s0 == s1 == "ok" and (off > 1e-3) == wrong and ((p0 - p1).abs().max() > 1e-3) == wrong, name
    assert (dann_reference(2, DANN_DDP_STEPS["passes overlap partly (07's 5a)"]) - single).abs().max() > 1e-3
    one_step, accumulated = seed_reference(2), seed_reference(2, MICRO_BATCHES)
    for name in METHODS:
        wrong = name == "two-pass"
        for setting, reference in (("ddp", one_step), ("no_sync", accumulated)):
            off = max(max_abs_diff(ranks[r][setting][name], reference) for r in range(2))
            assert (off > 1e-3) == wrong, (setting, name, off)
        counts, grads = ranks[0]["fsdp"][name]
        assert max_abs_diff(grads, one_step) < 1e-6, name
        assert counts == {"all-gathers": 2 if name in ("two-pass", "autograd.grad") else 1,
                          "reduce-scatters": 2 if wrong else 1}, (name, counts)
        assert ranks[0]["comm_hook"][name] == 1
    parts = pass_gradients(2, MICRO_BATCHES)  # the lesson's prediction for no_sync + two passes
    rest = [{n: sum(p["l1"][n] + p["l2"][n] for p in parts[r]) - parts[r][-1]["l2"][n] for n in accumulated}
            for r in range(2)]
    for r in range(2):
        predicted = {n: (rest[0][n] + rest[1][n]) / 2 + parts[r][-1]["l2"][n] for n in accumulated}
        assert max_abs_diff(predicted, ranks[r]["no_sync"]["two-pass"]) < 1e-6


def test_lesson_09_launch_ddp_and_compile():
    ranks = run_on_ranks(compile_ddp_experiments, 2, timeout=240)
    one_process = seed_reference(2)
    for case, result in ranks[0].items():
        status, grads = result["result"]
        assert status == "ok", case
        off = max_abs_diff(grads, one_process)
        assert (off > 1e-3) == ("two-pass" in case), (case, off)
    assert ranks[0]["DDP(compile(g)), reversal"]["graphs"] >= 1


def test_rank_device_is_the_cpu_without_a_process_group():
    assert rank_device() == torch.device("cpu")


def test_checkpoint_placements_and_the_cancelling_hook():
    problem = make_problem(n=16, dim_in=4, dim=8, width=16)
    reference = run_method(METHODS["two-pass"], problem)
    for reentrant in (False, True):
        calls, registered = [], []
        placements = checkpoint_placements(problem.f, reentrant, lambda g: (calls.append(1), -g)[1], registered)
        for name, run in placements.items():
            problem.g.zero_grad(set_to_none=True)
            calls.clear(), registered.clear()
            x, y = problem.features()
            if reentrant and name == "autograd.grad + backward":
                with pytest.raises(RuntimeError, match="incompatible with .grad()"):
                    run(x, y)
                continue
            run(x, y)
            off = max_abs_diff(collect_grads(problem.g), reference)
            assert (off > 1e-3) == (name == "hook inside the checkpoint"), (reentrant, name)
            assert len(calls) == {"hook inside the checkpoint": 2, "hook outside the checkpoint": 1}.get(name, 0)
            if name == "hook inside the checkpoint":  # the recomputation registers on x, or on a copy
                assert [t is x for t in registered] == [True, not reentrant], reentrant
            else:
                assert registered == []


def test_amp_gradients_scale_what_hooks_see():
    problem = make_problem(n=16, dim_in=4, dim=8, width=16)
    reference = run_method(METHODS["two-pass"], problem)
    grads, scaled = amp_gradients(problem, METHODS["reversal"])
    _, unscaled = amp_gradients(problem, METHODS["reversal"], init_scale=1.0)
    assert max_abs_diff(grads, reference) < 0.05
    nonzero = unscaled[0] != 0
    assert torch.equal(scaled[0][nonzero] / unscaled[0][nonzero], torch.full_like(scaled[0][nonzero], 256.0))


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
    assert describe_diff(0.0) == "0.0" and describe_diff(5e-7) == "< 10⁻⁶ (rounding)"
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
