"""helpers.compute_once: the four methods agree, and differ exactly where lesson 06 says they do."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.compare import collect_grads, compare_gradients
from helpers.compute_once import (
    METHODS,
    GradReverse,
    PairCritic,
    grad_then_backward,
    hook_on_x,
    make_problem,
    reversal,
    reverse_grad,
    run_method,
    two_pass,
)

ROOT = Path(__file__).resolve().parent.parent


def test_reverse_grad_is_identity_forward_and_negation_backward():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    out = reverse_grad(x)
    assert torch.equal(out, x)
    assert isinstance(out.grad_fn, torch.autograd.function.BackwardCFunction)
    (out * torch.tensor([3.0, 4.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([-3.0, -4.0]))
    assert GradReverse.apply(x, 1.0).grad_fn.__class__.__name__ == "GradReverseBackward"


def test_reverse_grad_scale_and_bad_inputs():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    (reverse_grad(x, 0.25) * torch.tensor([3.0, -4.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([-0.75, 1.0]))
    for bad in ([1.0], 1.0, None):
        with pytest.raises(TypeError, match="takes a tensor"):
            reverse_grad(bad)
    with pytest.raises(TypeError, match="scale"):
        reverse_grad(x, torch.tensor(1.0))


def test_reverse_grad_works_under_torch_func():
    """The setup_context style: torch.func.grad and vjp see through it (a classic forward(ctx, x)
    Function raises under torch.func.grad)."""
    x = torch.tensor([1.0, -2.0, 0.5])
    g = torch.func.grad(lambda t: (reverse_grad(t, 2.0) ** 2).sum())(x)
    assert torch.equal(g, -2.0 * 2 * x)
    out, vjp = torch.func.vjp(reverse_grad, x)
    assert torch.equal(out, x) and torch.equal(vjp(torch.ones(3))[0], -torch.ones(3))


def test_all_methods_match_the_two_pass_reference():
    problem = make_problem(n=32, width=16)
    results = {name: run_method(m, problem) for name, m in METHODS.items()}
    cmp = compare_gradients(results, reference="two-pass")
    assert all(cmp.close.values()), cmp.table()
    problem.g.zero_grad(set_to_none=True)
    x, y = problem.features()
    problem.f(x, y).backward()
    plain = {n: p.grad for n, p in problem.g.named_parameters()}
    assert not compare_gradients({"two-pass": results["two-pass"], "plain": plain}).close["plain"]


def test_seed_example_numbers():
    lin = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    a, b = torch.tensor([1.0]), torch.tensor([2.0])

    def f(x, y):
        return (x - y).abs().sum()

    for name, method in METHODS.items():
        lin.zero_grad()
        method(lin(a), lin(b), f)
        assert lin.weight.grad.item() == 3.0, name


def test_trainable_f_parameters_differ_as_taught():
    problem = make_problem(n=16, width=8, trainable_f=True)
    grads = {}
    for name, method in METHODS.items():
        run_method(method, problem)
        grads[name] = [p.grad for p in problem.f.parameters()]
        problem.f.zero_grad(set_to_none=True)
    assert all(torch.equal(g, torch.zeros_like(g)) for g in grads["two-pass"])
    assert all(g is None for g in grads["autograd.grad"])
    assert all(torch.allclose(h, r) for h, r in zip(grads["hook"], grads["reversal"]))
    assert sum(float(g.abs().sum()) for g in grads["hook"]) > 0


def test_problem_is_the_same_on_every_call():
    a, b = make_problem(n=8), make_problem(n=8)
    assert torch.equal(a.a, b.a) and torch.equal(a.b, b.b)
    assert all(torch.equal(p, q) for p, q in zip(a.g.parameters(), b.g.parameters()))
    assert not any(p.requires_grad for p in a.f.parameters())


def test_benchmark_quick_runs_and_reports_limit_ratio_and_spread():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compute_once.py"), "--quick", "--repeat", "3",
                          "--sizes", "16", "32"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("cpu (") and f"torch {torch.__version__}" in lines[0]
    assert "threads pinned to " in lines[0] and "load average " in lines[0]
    rows = [line.split() for line in lines[2:-2]]
    assert {(r[0], int(r[1]), r[2]) for r in rows} == {
        (shape, n, method) for shape in ("critic", "separable", "cheap", "attention") for n in (16, 32)
        for method in ("hook", "autograd.grad", "reversal")}
    for r in rows:  # limit (min–max) ratio (min–max) quotient saved fair-ms
        assert re.fullmatch(r"\(\d+\.\d\d–\d+\.\d\d\)", r[4]) and re.fullmatch(r"\(\d+\.\d\d–\d+\.\d\d\)", r[6])
    assert re.fullmatch(r"worst one-pass time ratio \(critic, n=32\): \d+\.\d{3}", lines[-1]), lines[-1]
    # times vary; the saved bytes do not. A separable f saves nothing: l1 and l2 each save one half of f
    saved = {(r[0], r[2]): float(r[8]) for r in rows}
    assert {v for (shape, _), v in saved.items() if shape == "separable"} == {1.0}
    assert all(v < 1.0 for (shape, _), v in saved.items() if shape in ("critic", "attention", "cheap"))


def test_hook_on_x_removes_its_hook():
    """A leaf reused across steps gets the same (flipped) gradient every step, and a later gradient
    through a non-leaf x is not flipped: the hook does not outlive the call."""
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = torch.tensor([0.5, 3.0], requires_grad=True)

    def f(x, y):
        return (x * y).sum()

    for _ in range(3):
        x.grad = None
        hook_on_x(x, y, f)
        assert torch.equal(x.grad, -y.detach())
    problem = make_problem(n=8, width=8)
    fx, fy = problem.features()
    hook_on_x(fx, fy, problem.f)
    (later,) = torch.autograd.grad(fx.pow(2).sum(), fx)
    assert torch.equal(later, 2 * fx.detach())


def test_a_hook_left_registered_piles_up_on_a_leaf():
    """What hook_on_x's handle.remove() prevents (lesson 06): the sign alternates step after step."""
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    signs = []
    for _ in range(4):
        x.grad = None
        x.register_hook(lambda grad: -grad)
        (2 * x).sum().backward()
        signs.append(int(x.grad[0].sign()))
    assert signs == [-1, 1, -1, 1]


def test_pair_critic_options_keep_the_linear_weights_and_check_dropout():
    plain = make_problem(n=8, width=8).f
    for kwargs in ({"dropout": 0.5}, {"batchnorm": True}, {"dropout": 0.25, "batchnorm": True}):
        other = make_problem(n=8, width=8, **kwargs).f
        linear = [m for m in other.net if isinstance(m, torch.nn.Linear)]
        assert all(torch.equal(p, q) for p, q in zip(plain.parameters(), (p for m in linear for p in m.parameters())))
    layers = [type(m).__name__ for m in make_problem(n=8, width=8, dropout=0.5, batchnorm=True).f.net]
    assert layers[:4] == ["Linear", "BatchNorm1d", "Tanh", "Dropout"]
    assert [type(m).__name__ for m in plain.net].count("Dropout") == 0
    for bad in (1.0, -0.1, "0.5", True):
        with pytest.raises(ValueError, match="dropout"):
            PairCritic(4, 4, dropout=bad)


def _grads_with(method, problem, features):
    problem.g.zero_grad(set_to_none=True)
    x, y = features(problem)
    method(x, y, problem.f)
    return collect_grads(problem.g)


def test_y_depending_on_x_only_the_reversal_is_exact():
    problem = make_problem(n=16, width=8)

    def dependent(p):
        x = p.g(p.a)
        return x, p.g(p.b) + 0.1 * x

    def same(p):
        x = p.g(p.a)
        return x, x

    for features in (dependent, same):
        ref = _grads_with(two_pass, problem, features)
        cmp = compare_gradients({"two-pass": ref, "hook": _grads_with(hook_on_x, problem, features),
                                 "reversal": _grads_with(reversal, problem, features)}, decimals=6)
        assert cmp.close["reversal"] and not cmp.close["hook"], cmp.table()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _grads_with(grad_then_backward, problem, dependent)


def test_batchnorm_two_passes_update_running_stats_twice_and_cancel_affine_grads():
    for name, method in METHODS.items():
        problem = make_problem(n=16, width=8, trainable_f=True, batchnorm=True)
        run_method(method, problem)
        bn = problem.f.net[1]
        assert int(bn.num_batches_tracked) == (2 if name == "two-pass" else 1), name
        if name == "two-pass":
            assert torch.equal(bn.weight.grad, torch.zeros_like(bn.weight))
        elif name == "autograd.grad":
            assert bn.weight.grad is None
        else:
            assert float(bn.weight.grad.abs().max()) > 0


def test_dropout_two_passes_draw_two_masks_unless_the_rng_is_restored():
    problem = make_problem(n=16, width=8, dropout=0.5)

    def two_pass_same_masks(x, y, f):
        with torch.random.fork_rng(devices=[]):
            f(x.detach(), y).backward(retain_graph=True)
        (-f(x, y.detach())).backward()

    results = {}
    for name, method in (("hook", hook_on_x), ("two-pass", two_pass), ("same masks", two_pass_same_masks)):
        torch.manual_seed(5)
        results[name] = run_method(method, problem)
    cmp = compare_gradients(results, reference="hook")
    assert cmp.close["same masks"] and not cmp.close["two-pass"], cmp.table()


def test_reversal_refuses_an_inplace_change_of_its_output():
    problem = make_problem(n=8, width=8)
    x, y = problem.features()
    with pytest.raises(RuntimeError, match="is a view and is being modified inplace"):
        problem.f(reverse_grad(x).relu_(), y)
    problem.f(reverse_grad(x).clone().relu_(), y).backward()  # the fix: clone first
