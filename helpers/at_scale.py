"""Lesson 08's code: the compute-once methods under DDP, torch.compile, checkpointing and torch.func.

Introduced in lesson 08. The functions that ranks run (:func:`ddp_experiments`) live here because
:func:`helpers.distributed.run_on_ranks` starts its processes with *spawn*: a new process imports the
function it runs, so it cannot be one defined in a notebook.

The DDP setting: ``g`` (the shared module, the one DDP wraps) is trained on a batch split across the
ranks; ``f`` is the fixed :class:`helpers.compute_once.PairCritic`. Since ``f`` averages over rows and
every rank has as many rows, the average of the ranks' gradients (what DDP computes) equals the
gradient of one process on the whole batch: :func:`single_process_reference`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

from helpers.compare import collect_grads
from helpers.compute_once import METHODS, Loss, Problem, make_problem

__all__ = [
    "DDP_CORRECT_TWO_PASS",
    "DDP_ONE_PASS",
    "DDP_TWO_PASS_VARIANTS",
    "ClassicReverse",
    "ddp_experiments",
    "Table",
    "ddp_problem",
    "describe_diff",
    "graph_ops",
    "max_abs_diff",
    "pass_gradients",
    "single_process_reference",
    "two_pass_fresh_forward",
    "two_pass_summed",
    "vjp_then_backward",
]

#: Rows of ``a`` and of ``b`` on each rank, and the problem's sizes (small: the lesson's time budget).
ROWS_PER_RANK = 64
SIZES = {"dim_in": 16, "dim": 32, "width": 64}


def ddp_problem(world_size: int, rows_per_rank: int = ROWS_PER_RANK) -> Problem:
    """The whole problem (every rank's rows); rank ``r`` uses rows ``r·n … (r+1)·n − 1`` of ``a`` and ``b``."""
    return make_problem(n=world_size * rows_per_rank, seed=8, **SIZES)


def _rows(problem: Problem, rank: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    return problem.a[rank * n:(rank + 1) * n], problem.b[rank * n:(rank + 1) * n]


def single_process_reference(world_size: int, rows_per_rank: int = ROWS_PER_RANK) -> dict[str, torch.Tensor]:
    """The two-pass gradients of ``g`` in one process, on every rank's rows together (no DDP)."""
    problem = ddp_problem(world_size, rows_per_rank)
    x, y = problem.features()
    METHODS["two-pass"](x, y, problem.f)
    return collect_grads(problem.g)


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """The largest |a − b| over every parameter's gradient (both dicts need the same names)."""
    if set(a) != set(b):
        raise ValueError(f"different parameters: {sorted(a)} vs {sorted(b)}")
    return max(float((a[n] - b[n]).abs().max()) for n in a)


# --- the two-pass method written the ways people write it under DDP ---------------------------------
# Each takes the DDP-wrapped g and this rank's rows, and leaves the gradients in g's parameters.

def _two_pass(model: nn.Module, a: torch.Tensor, b: torch.Tensor, f: Loss) -> None:
    METHODS["two-pass"](model(a), model(b), f)


def _two_pass_no_sync_first(model: nn.Module, a: torch.Tensor, b: torch.Tensor, f: Loss) -> None:
    x, y = model(a), model(b)
    with model.no_sync():  # "do not all-reduce the first backward, only the second"
        f(x.detach(), y).backward(retain_graph=True)
    (-f(x, y.detach())).backward()


def _two_pass_one_forward(model: nn.Module, a: torch.Tensor, b: torch.Tensor, f: Loss) -> None:
    x, y = model(torch.cat([a, b])).split(len(a))  # a and b in one forward
    METHODS["two-pass"](x, y, f)


def two_pass_fresh_forward(model: nn.Module, a: torch.Tensor, b: torch.Tensor, f: Loss) -> None:
    """Correct under DDP: the first pass under ``no_sync()`` (gradients stay local and accumulate), the
    second from a fresh forward, whose backward all-reduces the accumulated sum. g runs twice."""
    with model.no_sync():
        x, y = model(a), model(b)
        f(x.detach(), y).backward()
    x, y = model(a), model(b)
    (-f(x, y.detach())).backward()


def two_pass_summed(model: nn.Module, a: torch.Tensor, b: torch.Tensor, f: Loss) -> None:
    """Correct under DDP: both losses (f evaluated twice) summed, one backward."""
    x, y = model(a), model(b)
    (f(x.detach(), y) - f(x, y.detach())).backward()


def _one_pass(method: Callable[[torch.Tensor, torch.Tensor, Loss], None]) -> Callable[..., None]:
    def run(model: nn.Module, a: torch.Tensor, b: torch.Tensor, f: Loss) -> None:
        method(model(a), model(b), f)

    return run


#: The two-pass method and the DDP settings it was tried with: (DDP keyword arguments, step function).
DDP_TWO_PASS_VARIANTS: dict[str, tuple[dict, Callable[..., None]]] = {
    "default DDP": ({}, _two_pass),
    "find_unused_parameters=True": ({"find_unused_parameters": True}, _two_pass),
    "static_graph=True": ({"static_graph": True}, _two_pass),
    "no_sync() around 1st backward": ({}, _two_pass_no_sync_first),
    "a and b in one forward": ({}, _two_pass_one_forward),
}
#: Two passes written so that DDP all-reduces everything.
DDP_CORRECT_TWO_PASS: dict[str, Callable[..., None]] = {
    "fresh forward, 1st under no_sync": two_pass_fresh_forward,
    "summed losses, one backward": two_pass_summed,
}
#: The one-pass methods of lesson 06, under default DDP.
DDP_ONE_PASS: dict[str, Callable[..., None]] = {
    name: _one_pass(method) for name, method in METHODS.items() if name != "two-pass"
}


def ddp_experiments(rank: int, world_size: int, time_steps: int = 0) -> dict[str, dict]:
    """Run on every rank (by :func:`helpers.distributed.run_on_ranks`): each variant, each method once,
    from the same initial ``g``, on this rank's rows. Returns ``{"grads": {variant: {param: grad}},
    "warnings": {variant: [Python warnings]}, "seconds": {variant: median seconds of one step}}``
    (timed only when ``time_steps`` > 0). One DDP wrapper per set of DDP options, reused (wrapping
    is slow: it imports torch._dynamo), with ``g``'s initial weights restored before each run."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    problem = ddp_problem(world_size)
    a, b = _rows(problem, rank, ROWS_PER_RANK)
    initial = {k: v.clone() for k, v in problem.g.state_dict().items()}
    runs = dict(DDP_TWO_PASS_VARIANTS)
    runs.update({name: ({}, step) for name, step in {**DDP_CORRECT_TWO_PASS, **DDP_ONE_PASS}.items()})
    wrapped: dict[str, nn.Module] = {}
    out: dict[str, dict] = {"grads": {}, "warnings": {}, "seconds": {}}
    for name, (kwargs, step) in runs.items():
        key = repr(sorted(kwargs.items()))
        if key not in wrapped:
            g = ddp_problem(world_size).g
            wrapped[key] = DDP(g, **kwargs)
        model = wrapped[key]
        model.module.load_state_dict(initial)
        model.zero_grad(set_to_none=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            step(model, a, b, problem.f)
        out["grads"][name] = collect_grads(model.module)
        out["warnings"][name] = [str(w.message)[:200] for w in caught]
        if time_steps:
            times = []
            for _ in range(time_steps + 1):  # the first, untimed, is a warm-up
                model.zero_grad(set_to_none=True)
                start = time.perf_counter()
                step(model, a, b, problem.f)
                times.append(time.perf_counter() - start)
            out["seconds"][name] = sorted(times[1:])[len(times[1:]) // 2]
    return out


def pass_gradients(world_size: int, rows_per_rank: int = ROWS_PER_RANK) -> list[dict[str, dict[str, torch.Tensor]]]:
    """Without DDP: for each rank's rows, the gradients of ``g`` from ``l1 = f(x.detach(), y)`` alone
    and from ``l2 = −f(x, y.detach())`` alone: ``[{"l1": grads, "l2": grads}, ...]``, one per rank."""
    problem = ddp_problem(world_size, rows_per_rank)
    out = []
    for rank in range(world_size):
        a, b = _rows(problem, rank, rows_per_rank)
        grads = {}
        for part in ("l1", "l2"):
            problem.g.zero_grad(set_to_none=True)
            x, y = problem.g(a), problem.g(b)
            loss = problem.f(x.detach(), y) if part == "l1" else -problem.f(x, y.detach())
            loss.backward()
            grads[part] = collect_grads(problem.g)
        out.append(grads)
    return out


# --- torch.compile -------------------------------------------------------------------------------------

def graph_ops(graphs: list[torch.fx.GraphModule]) -> list[list[str]]:
    """For each graph Dynamo captured (``torch._dynamo.explain(fn)(*args).graphs``), the names of the
    functions and methods it calls, in order. A graph of ``["neg"]`` alone is a hook's
    ``lambda grad: -grad``, compiled on its own (lesson 08, section 2)."""
    if not isinstance(graphs, (list, tuple)) or not all(isinstance(gm, torch.fx.GraphModule) for gm in graphs):
        raise TypeError("graph_ops takes a list of torch.fx.GraphModule, such as explain(...).graphs")
    return [[getattr(n.target, "__name__", str(n.target)) for n in gm.graph.nodes
             if n.op in ("call_function", "call_method")] for gm in graphs]


# --- torch.func ----------------------------------------------------------------------------------------

class ClassicReverse(torch.autograd.Function):
    """Gradient reversal written the classic way, ``forward(ctx, x)``: fine with ``backward()``, but
    ``torch.func`` transforms refuse it (they need the ``setup_context`` style of
    :class:`helpers.compute_once.GradReverse`)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        return -grad_output


def vjp_then_backward(x: torch.Tensor, y: torch.Tensor, f: Loss) -> None:
    """A one-pass method with ``torch.func.vjp``: f's gradients to x and y from one evaluation, then
    pushed into g with the sign of x's flipped (lesson 08)."""
    _, pullback = torch.func.vjp(f, x, y)
    gx, gy = pullback(torch.ones(()))
    torch.autograd.backward([x, y], [-gx, gy])



# --- tables --------------------------------------------------------------------------------------------

def describe_diff(value: float, tol: float = 1e-6) -> str:
    """``"< 1e-06"`` for float rounding noise, else the value to 2 significant digits (``"0.024"``): text
    that is the same on every machine, device and torch version."""
    return f"< {tol:g}" if value < tol else f"{value:.2g}"


class Table:
    """A measured table: ``Table(["method", "runs?", "max |Δ|"], rows)``; its text is the table, with
    columns padded to their widest entry."""

    def __init__(self, columns: list[str], rows: list[list[object]]):
        if any(len(row) != len(columns) for row in rows):
            raise ValueError(f"every row needs {len(columns)} entries, one per column {columns}")
        self.columns = list(columns)
        self.rows = [[str(v) for v in row] for row in rows]

    def __repr__(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(self.columns, widths)).rstrip(),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in self.rows]
        return "\n".join(lines)


