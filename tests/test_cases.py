"""Tests of helpers/cases.py: the catalogue's five methods, its problem and its table (notebook 11)."""

from __future__ import annotations

import pytest
import torch

from helpers.cases import (
    CASE_METHODS,
    Catalogue,
    finite_difference_grad,
    grads_after,
    hook_on_alias,
    max_abs_diff,
    rounding_units,
    small_problem,
    two_pass,
)


def test_every_method_matches_two_passes_on_the_baseline():
    p = small_problem()
    want = grads_after(two_pass, p.g, p.features, p.f)
    for name, method in CASE_METHODS.items():
        assert max_abs_diff(grads_after(method, p.g, p.features, p.f), want) < 1e-6, name


def test_seed_example_numbers_and_y_plus_x():
    from helpers.compute_once import abs_difference, seed_example
    got = {}
    for name, method in CASE_METHODS.items():
        g, a, b = seed_example()
        method(g(a), g(b), abs_difference)
        got[name] = float(g.weight.grad)
    assert got == dict.fromkeys(CASE_METHODS, 3.0)
    for name, want in {"two-pass": 4.0, "hook on x": 2.0, "autograd.grad": 3.0, "reversal": 4.0,
                       "hook on alias": 4.0}.items():  # y = g(b) + x: the autograd.grad method runs, wrong
        g, a, b = seed_example()
        x = g(a)
        CASE_METHODS[name](x, g(b) + x, abs_difference)
        assert float(g.weight.grad) == want, name


def test_extra_is_trained_normally_except_by_the_hook_on_x():
    p = small_problem()
    r = lambda x, y: x.pow(2).mean()  # noqa: E731
    want = grads_after(two_pass, p.g, p.features, p.f, r)
    for name, method in CASE_METHODS.items():
        d = max_abs_diff(grads_after(method, p.g, p.features, p.f, r), want)
        assert (d > 1e-3) == (name == "hook on x"), (name, d)


def test_hooks_are_removed_and_problem_is_reproducible():
    p = small_problem()
    for method in (CASE_METHODS["hook on x"], hook_on_alias):
        x, y = p.features()
        method(x, y, p.f)
        (gx,) = torch.autograd.grad(x.sum(), x)
        assert torch.equal(gx, torch.ones_like(gx))
    q = small_problem()
    assert all(torch.equal(u, v) for u, v in zip(p.g.parameters(), q.g.parameters()))
    assert small_problem(tanh_last=True, dtype=torch.float64).a.dtype == torch.float64


def test_create_graph_removed_hook_matches_finite_differences():
    p = small_problem(n=4, dim=3, width=4, dtype=torch.float64)
    params = dict(p.g.named_parameters())

    def penalty_grad(method):
        p.g.zero_grad(set_to_none=True)
        x, y = p.features()
        method(x, y, p.f, None, True)
        pen = sum((q.grad ** 2).sum() for q in params.values())
        p.g.zero_grad(set_to_none=True)
        return dict(zip(params, torch.autograd.grad(pen, list(params.values()))))

    def penalty():
        return sum((q ** 2).sum() for q in grads_after(two_pass, p.g, p.features, p.f).values())

    fd = finite_difference_grad(penalty, p.g)
    assert max_abs_diff(penalty_grad(CASE_METHODS["hook on x"]), fd) < 1e-6
    assert max_abs_diff(penalty_grad(CASE_METHODS["autograd.grad"]), fd) < 1e-6
    assert max_abs_diff(penalty_grad(CASE_METHODS["reversal"]), fd) > 1e-4
    assert max_abs_diff(penalty_grad(two_pass), fd) > 1e-4


def test_catalogue_records_numbers_errors_and_prints_a_table():
    p = small_problem()
    cat = Catalogue()
    row = cat.measure("baseline", lambda m: grads_after(m, p.g, p.features, p.f))
    assert row.startswith("two-pass: ref | hook on x: < 1e-5")

    def no_grad_x():
        with torch.no_grad():
            x = p.g(p.a)
        return x, p.g(p.b)

    row = cat.measure("no_grad", lambda m: grads_after(m, p.g, no_grad_x, p.f))
    assert "hook on x: raises" in row and "reversal: runs" in row
    cat.record("by hand", dict.fromkeys(CASE_METHODS, "differs"))
    table = repr(cat)
    assert table.splitlines()[0].split() == ["case", "two-pass", "hook", "on", "x", "autograd.grad",
                                             "reversal", "hook", "on", "alias"]
    assert len(table.splitlines()) == 4
    with pytest.raises(ValueError, match="every method"):
        cat.record("short", {"two-pass": 0.0})
    with pytest.raises(ValueError, match="other keys"):
        max_abs_diff({"a": torch.zeros(1)}, {"b": torch.zeros(1)})


def test_rounding_units_measures_differences_in_units_of_the_value():
    want = {"w": torch.tensor([1.0, -2.0, 0.0])}
    assert rounding_units(want, want) == 0.0
    assert rounding_units({"w": torch.tensor([1.0 + 2 ** -8, -2.0, 0.0])}, want) == pytest.approx(1.0)
    assert rounding_units({"w": torch.tensor([1.0, -2.0 - 2 ** -8, 0.0])}, want) == pytest.approx(0.5)
    assert rounding_units({"w": torch.tensor([1.0, -2.0, 1e-9])}, want) == float("inf")
    assert rounding_units({"w": torch.tensor([1.01, -2.0, 0.0])}, want, unit=0.01) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="other keys"):
        rounding_units({"a": torch.zeros(1)}, {"b": torch.zeros(1)})


def test_autocast_one_pass_differs_by_at_most_one_bf16_rounding_and_not_without_the_cache():
    p = small_problem()

    def run(method, cache):
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=cache):
            return grads_after(method, p.g, p.features, p.f)

    for cache in (True, False):
        want = run(two_pass, cache)
        for name, method in CASE_METHODS.items():
            got = run(method, cache)
            assert rounding_units(got, want) <= 1.0, (name, cache)
            if not cache:
                assert max_abs_diff(got, want) == 0.0, name


def test_an_inplace_f_makes_the_two_passes_evaluate_f_at_two_points():
    p = small_problem()
    doubling = lambda x, y: p.f(x.mul_(2), y)  # noqa: E731  x.detach() shares x's storage
    intended = grads_after(two_pass, p.g, p.features, lambda x, y: p.f(x.clone().mul_(2), y))
    assert max_abs_diff(grads_after(two_pass, p.g, p.features, doubling), intended) > 1e-3
    assert max_abs_diff(grads_after(CASE_METHODS["hook on x"], p.g, p.features, doubling), intended) < 1e-6
    assert max_abs_diff(grads_after(hook_on_alias, p.g, p.features, doubling), intended) > 1e-3
