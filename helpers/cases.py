"""The catalogue's machinery (notebook 11, "When one pass is not two"): five methods, one problem, one table.

Every method has the same signature, ``method(x, y, f, extra=None, create_graph=False)``, and
accumulates into the ``.grad`` of whatever ``x`` and ``y`` came from the gradients of

    l1 = f(x.detach(), y)    and    l2 = -f(x, y.detach())    (plus ``extra(x, y)``, trained normally)

evaluating ``f`` twice (:func:`two_pass`, the reference) or once (the other four). A column of the
catalogue's table is always one of these functions, whatever the row:

========================  ===============================================================================
``two-pass``              :func:`two_pass`: the question's code (``retain_graph=True`` on the first pass)
``hook on x``             :func:`hook_on_x`: ``x.register_hook(lambda g: -g)``, removed after the backward
``autograd.grad``         :func:`grad_and_backward`: ``autograd.grad`` to ``x`` and ``y``, then
                          ``autograd.backward`` from them
``reversal``              :func:`reversal`: ``f(reverse_grad(x), y)`` (:class:`helpers.compute_once.GradReverse`)
``hook on alias``         :func:`hook_on_alias`: the hook on ``x.view_as(x)``, an alias only ``f`` uses
========================  ===============================================================================

:func:`small_problem` builds the seeded CPU problem the cases start from, :func:`grads_after` runs one
method from a fresh forward and returns the gradients, and :class:`Catalogue` keeps, per case, every
method's max |Δ| against the two passes (or the error it raised) and prints the summary table.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from helpers.compare import collect_grads
from helpers.compute_once import PairCritic, reverse_grad

__all__ = ["CASE_METHODS", "Catalogue", "Extra", "Loss", "Problem", "finite_difference_grad",
           "grad_and_backward", "grads_after", "hook_on_alias", "hook_on_x", "max_abs_diff", "reversal",
           "rounding_units", "small_problem", "two_pass"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Extra = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_CREATE_GRAPH_WARNING = "Using backward() with create_graph=True"


def _backward(roots, grads=None, create_graph: bool = False, retain_graph: bool | None = None) -> None:
    with warnings.catch_warnings():  # create_graph=True warns about a reference cycle; the runner clears it
        warnings.filterwarnings("ignore", message=re.escape(_CREATE_GRAPH_WARNING))
        torch.autograd.backward(roots, grads, retain_graph=retain_graph, create_graph=create_graph)


def _plus(loss: torch.Tensor, extra: Extra | None, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return loss if extra is None else loss + extra(x, y)


def two_pass(x: torch.Tensor, y: torch.Tensor, f: Loss, extra: Extra | None = None,
             create_graph: bool = False) -> None:
    """The reference: ``l1 = f(x.detach(), y)`` and ``l2 = -f(x, y.detach())``, each backpropagated
    (``extra`` first, on its own)."""
    if extra is not None:
        _backward(extra(x, y), retain_graph=True, create_graph=create_graph)
    _backward(f(x.detach(), y), retain_graph=True, create_graph=create_graph)
    _backward(-f(x, y.detach()), create_graph=create_graph)


def hook_on_x(x: torch.Tensor, y: torch.Tensor, f: Loss, extra: Extra | None = None,
              create_graph: bool = False) -> None:
    """The accepted answer, tidied: a hook on ``x`` negates every gradient that reaches ``x``; one
    backward; the hook is removed afterwards."""
    handle = x.register_hook(lambda grad: -grad)
    try:
        _backward(_plus(f(x, y), extra, x, y), create_graph=create_graph)
    finally:
        handle.remove()


def grad_and_backward(x: torch.Tensor, y: torch.Tensor, f: Loss, extra: Extra | None = None,
                      create_graph: bool = False) -> None:
    """``autograd.grad`` of ``f(x, y)`` to ``x`` and ``y``, then ``autograd.backward`` from ``x``
    (negated), ``y`` and ``extra`` — two engine calls, one pass through ``f``."""
    gx, gy = torch.autograd.grad(f(x, y), [x, y], create_graph=create_graph)
    roots, grads = [x, y], [-gx, gy]
    if extra is not None:
        roots.append(extra(x, y))
        grads.append(torch.ones(()))
    _backward(roots, grads, create_graph=create_graph)


def reversal(x: torch.Tensor, y: torch.Tensor, f: Loss, extra: Extra | None = None,
             create_graph: bool = False) -> None:
    """A gradient-reversal function applied where ``x`` enters ``f``: ``f(reverse_grad(x), y)``."""
    _backward(_plus(f(reverse_grad(x), y), extra, x, y), create_graph=create_graph)


def hook_on_alias(x: torch.Tensor, y: torch.Tensor, f: Loss, extra: Extra | None = None,
                  create_graph: bool = False) -> None:
    """The hook on an alias ``x.view_as(x)`` that only ``f`` uses (removed afterwards): like the
    reversal, it flips only what ``f`` sends to ``x``."""
    alias = x.view_as(x)
    handle = alias.register_hook(lambda grad: -grad)
    try:
        _backward(_plus(f(alias, y), extra, x, y), create_graph=create_graph)
    finally:
        handle.remove()


Method = Callable[..., None]

#: The catalogue's five columns, in order.
CASE_METHODS: dict[str, Method] = {
    "two-pass": two_pass,
    "hook on x": hook_on_x,
    "autograd.grad": grad_and_backward,
    "reversal": reversal,
    "hook on alias": hook_on_alias,
}


@dataclass
class Problem:
    """A shared module ``g``, two batches ``a`` and ``b``, and ``f`` (a :class:`PairCritic`)."""

    g: nn.Module
    a: torch.Tensor
    b: torch.Tensor
    f: PairCritic

    def features(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``x = g(a)`` and ``y = g(b)``: two calls of ``g``."""
        return self.g(self.a), self.g(self.b)


def small_problem(n: int = 16, dim_in: int = 4, dim: int = 6, width: int = 16, *, seed: int = 0,
                  tanh_last: bool = False, dtype: torch.dtype = torch.float32, **critic: object) -> Problem:
    """A small seeded CPU problem: ``g`` = Linear → Tanh → Linear (→ Tanh if ``tanh_last``),
    ``n`` rows in each of ``a`` and ``b``, ``f`` a :class:`PairCritic` of ``width`` (``critic``:
    its options ``trainable``, ``dropout``, ``batchnorm``). The same numbers on every call."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(dim_in, dim), nn.Tanh(), nn.Linear(dim, dim)]
    if tanh_last:
        layers.append(nn.Tanh())
    g = nn.Sequential(*layers)
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
    a = torch.randn(n, dim_in, generator=gen)
    b = torch.randn(n, dim_in, generator=gen) + 0.5
    f = PairCritic(dim, width, generator=gen, **critic)  # type: ignore[arg-type]
    return Problem(g.to(dtype), a.to(dtype), b.to(dtype), f.to(dtype))


def grads_after(method: Method, module: nn.Module, features: Callable[[], tuple[torch.Tensor, torch.Tensor]],
                f: Loss, extra: Extra | None = None) -> dict[str, torch.Tensor]:
    """Set ``module``'s ``.grad`` to None, make ``x, y = features()``, run ``method``; return copies of
    ``module``'s gradients (:func:`helpers.compare.collect_grads`)."""
    module.zero_grad(set_to_none=True)
    x, y = features()
    method(x, y, f, extra)
    return collect_grads(module)


def max_abs_diff(got: Mapping[str, torch.Tensor], want: Mapping[str, torch.Tensor]) -> float:
    """The largest |got − want| over every tensor of two mappings with the same keys."""
    if set(got) != set(want):
        raise ValueError(f"other keys: {sorted(got)} against {sorted(want)}")
    return max(float((got[k].double() - want[k].double()).abs().max()) for k in want)


def rounding_units(got: Mapping[str, torch.Tensor], want: Mapping[str, torch.Tensor],
                   unit: float = 2.0 ** -8) -> float:
    """The largest |got − want| / (unit · |want|), entry by entry (``inf`` where ``want`` is 0 and
    ``got`` is not). With ``unit = 2⁻⁸``, a result ≤ 1 means every entry differs by at most one
    bfloat16 rounding (half a bf16 unit in the last place is at most 2⁻⁸ of the value)."""
    if set(got) != set(want):
        raise ValueError(f"other keys: {sorted(got)} against {sorted(want)}")
    worst = 0.0
    for k in want:
        diff, size = (got[k].double() - want[k].double()).abs(), unit * want[k].double().abs()
        ratio = torch.where(diff == 0, torch.zeros_like(diff), diff / size)  # x / 0 = inf
        worst = max(worst, float(ratio.max()))
    return worst


def finite_difference_grad(fn: Callable[[], torch.Tensor], module: nn.Module,
                           eps: float = 1e-6) -> dict[str, torch.Tensor]:
    """Central differences of the scalar ``fn()`` with respect to every entry of ``module``'s
    parameters (use float64): ``(fn(p + eps) − fn(p − eps)) / 2 eps``, entry by entry, each
    parameter restored afterwards."""
    out = {}
    for name, p in module.named_parameters():
        grad = torch.zeros_like(p)
        flat, g_flat = p.data.view(-1), grad.view(-1)
        for i in range(flat.numel()):
            old = float(flat[i])
            flat[i] = old + eps
            up = float(fn())
            flat[i] = old - eps
            down = float(fn())
            flat[i] = old
            g_flat[i] = (up - down) / (2 * eps)
        out[name] = grad
    return out


def _cell(value: float | str) -> str:
    if isinstance(value, str):
        return "raises" if value.startswith("raises") else value
    if value < 1e-5:  # 0 included: bitwise equality is not the same on every machine
        return "< 1e-5"
    return f"{value:.2g}"


@dataclass
class Catalogue:
    """Per case, each method's max |Δ| against the two passes, or what it raised.

    :meth:`measure` runs ``case(method)`` — a function returning a mapping of names to tensors —
    for every method in ``methods`` and records the result; ``print(catalogue)`` is the summary table.
    Numbers are shown as ``< 1e-5`` (equal up to float32 rounding, 0 included: whether a method is
    bitwise equal to the reference depends on the machine's kernels), or to two significant digits;
    the reference compared with itself is shown as ``ref``.
    """

    methods: dict[str, Method] = field(default_factory=lambda: dict(CASE_METHODS))
    rows: dict[str, dict[str, float | str]] = field(default_factory=dict)

    def measure(self, case: str, run: Callable[[Method], Mapping[str, torch.Tensor]],
                reference: Mapping[str, torch.Tensor] | None = None) -> str:
        """Run ``run(method)`` for every method; max |Δ| against ``reference`` (default: the
        two passes' result); store and return the row as text. An error is recorded as
        ``raises <type>``; if the reference itself raises, every method is compared with nothing."""
        results: dict[str, Mapping[str, torch.Tensor] | str] = {}
        for name, method in self.methods.items():
            try:
                results[name] = run(method)
            except Exception as error:  # noqa: BLE001 - an error is a result of the case
                results[name] = f"raises {type(error).__name__}"
        want = reference if reference is not None else results["two-pass"]
        row: dict[str, float | str] = {}
        for name, got in results.items():
            if got is want and not isinstance(got, str):
                row[name] = "ref"
            elif isinstance(got, str) or isinstance(want, str):
                row[name] = got if isinstance(got, str) else "runs"
            else:
                row[name] = max_abs_diff(got, want)
        self.rows[case] = row
        return self.row_text(case)

    def record(self, case: str, row: Mapping[str, float | str]) -> str:
        """Store a row measured by hand (a value or a word per method: every method must be given)."""
        if set(row) != set(self.methods):
            raise ValueError(f"a row needs every method {list(self.methods)}, got {list(row)}")
        self.rows[case] = {m: row[m] for m in self.methods}
        return self.row_text(case)

    def row_text(self, case: str) -> str:
        """One row: ``method: value`` for every method."""
        return " | ".join(f"{m}: {_cell(v)}" for m, v in self.rows[case].items())

    def table(self) -> str:
        """The summary table: one row per case, one column per method."""
        names = list(self.methods)
        first = max([len("case")] + [len(c) for c in self.rows])
        widths = [max([len(n)] + [len(_cell(r[n])) for r in self.rows.values()]) for n in names]
        lines = ["case".ljust(first) + "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths))]
        for case, row in self.rows.items():
            lines.append(case.ljust(first) + "  " + "  ".join(_cell(row[n]).rjust(w) for n, w in zip(names, widths)))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()
