"""helpers.compute_once: the four methods agree, and differ exactly where lesson 06 says they do."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.compare import compare_gradients
from helpers.compute_once import METHODS, GradReverse, make_problem, reverse_grad, run_method

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


def test_benchmark_quick_runs_and_reports_the_ratio():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compute_once.py"), "--quick", "--repeat", "3"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("cpu (") and "torch 2.13.0" in lines[0]
    methods = {line.split()[0] for line in lines[2:-1]}
    assert methods == set(METHODS)
    assert re.fullmatch(r"worst one-pass time ratio: \d+\.\d{3}", lines[-1]), lines[-1]
    # times vary (other tests may share the CPU); the saved bytes do not: one pass saves f's activations once
    saved_ratio = {(line.split()[0], int(line.split()[1])): float(line.split()[-1]) for line in lines[2:-1]}
    assert {v for (method, n), v in saved_ratio.items() if method != "two-pass"} == {0.529}
    assert {v for (method, n), v in saved_ratio.items() if method == "two-pass"} == {1.0}
