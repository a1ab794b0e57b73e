"""Lessons 08 and 09's code: the compute-once methods under DDP, FSDP2, checkpointing, mixed precision,
torch.compile and torch.func.

The functions that ranks run (:func:`at_scale_experiments` for lesson 08, :func:`compile_ddp_experiments`
for lesson 09) live here because :func:`helpers.distributed.run_on_ranks` starts its processes with
*spawn*: a new process imports the function it runs, so it cannot be one defined in a notebook. Each
lesson starts its processes once and runs every case in that one launch.

Two settings. Lesson 07's DANN model, the whole model in DDP, trained for :data:`DANN_STEPS` steps
(:func:`train_on_rank`; reference :func:`dann_reference`). And lesson 06's problem: ``g`` (the module DDP
or FSDP2 wraps) on a batch split across the ranks, ``f`` the fixed :class:`helpers.compute_once.PairCritic`.
Since the losses average over rows and every rank has as many, the average of the ranks' gradients (what
DDP computes) equals the gradient of one process on the whole batch (:func:`seed_reference`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import torch
from torch import nn

from helpers.compare import collect_grads
from helpers.compute_once import METHODS, Loss, Problem, make_problem, reverse_grad
from helpers.dann import Batch, domain_loss, label_loss, make_batches, make_domains, make_model

__all__ = [
    "DANN_DDP_STEPS",
    "DDP_OPTIONS",
    "MICRO_BATCHES",
    "ClassicReverse",
    "Table",
    "amp_gradients",
    "at_scale_experiments",
    "checkpoint_placements",
    "compile_ddp_experiments",
    "dann_forward",
    "dann_reference",
    "ddp_problem",
    "describe_diff",
    "graph_ops",
    "max_abs_diff",
    "pass_gradients",
    "rank_device",
    "seed_reference",
    "train_on_rank",
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


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """The largest |a − b| over every parameter's gradient (both dicts need the same names)."""
    if set(a) != set(b):
        raise ValueError(f"different parameters: {sorted(a)} vs {sorted(b)}")
    return max(float((a[n] - b[n]).abs().max()) for n in a)


# --- lesson 07's DANN step under DDP: the rule's three outcomes --------------------------------------
# Each step takes the DDP-wrapped DANN and this rank's slice of the batch. It goes through the wrapper's
# forward (``ddp(points, with_features=True)``): that is what arms DDP's reducer for one backward.

def dann_forward(ddp: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, int]:
    """DDP's forward on both domains' points: features ``h``, the label loss ``L_c``, and ``n``, the rows
    of each domain (``d`` runs outside it, in the step)."""
    h, logits = ddp(torch.cat([batch.xs, batch.xt]), with_features=True)  # DDP's forward: g and c
    n = len(batch.xs)
    return h, label_loss(logits[:n], batch.ys), n


def dann_disjoint(ddp: nn.Module, batch: Batch, lam: float) -> None:
    """Lesson 07's two-pass step: pass 1 reaches only d, pass 2 only g and c (``inputs=``)."""
    h, loss_c, n = dann_forward(ddp, batch)
    d = ddp.module.d
    domain_loss(d(h.detach()), n).backward()
    g_and_c = [*ddp.module.g.parameters(), *ddp.module.c.parameters()]
    (loss_c - lam * domain_loss(d(h), n)).backward(inputs=g_and_c)


def dann_overlapping(ddp: nn.Module, batch: Batch, lam: float) -> None:
    """Lesson 07's 5a, the literal two passes: pass 1 reaches d, pass 2 g, c **and** d again."""
    h, loss_c, n = dann_forward(ddp, batch)
    d = ddp.module.d
    domain_loss(d(h.detach()), n).backward()
    (loss_c - lam * domain_loss(d(h), n)).backward()


def dann_first_reaches_all(ddp: nn.Module, batch: Batch, lam: float) -> None:
    """Two passes that are right in one process: pass 1 (c's and d's losses) reaches g, c and d; pass 2
    adds −λ·L_d into g only."""
    h, loss_c, n = dann_forward(ddp, batch)
    d = ddp.module.d
    (loss_c + domain_loss(d(h.detach()), n)).backward(retain_graph=True)  # pass 2 goes through g again
    (-lam * domain_loss(d(h), n)).backward(inputs=list(ddp.module.g.parameters()))


def dann_one_pass(ddp: nn.Module, batch: Batch, lam: float) -> None:
    """The one-pass step: d once, on reverse_grad(h, λ), one backward."""
    h, loss_c, n = dann_forward(ddp, batch)
    (loss_c + domain_loss(ddp.module.d(reverse_grad(h, lam)), n)).backward()


#: The DANN steps tried under DDP, with what their passes reach (lesson 08's table of the rule).
DANN_DDP_STEPS: dict[str, Callable[[nn.Module, Batch, float], None]] = {
    "first pass reaches every parameter": dann_first_reaches_all,
    "passes overlap partly (07's 5a)": dann_overlapping,
    "passes reach disjoint parameters (07's step)": dann_disjoint,
    "one pass (reversal)": dann_one_pass,
}
#: DDP options other than the defaults that change the rule's outcomes (lesson 08 shows how).
DDP_OPTIONS: tuple[str, ...] = ("static_graph", "find_unused_parameters")
DANN_STEPS, DANN_LAM, DANN_ROWS = 10, 0.5, 32  # training steps, λ, rows of each domain per rank


def rank_device() -> torch.device:
    """``cuda:LOCAL_RANK`` when the process group uses NCCL and CUDA is there, else the CPU."""
    import torch.distributed as dist

    if dist.is_initialized() and dist.get_backend() == "nccl" and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def rank_batches(rank: int, world_size: int, device: torch.device) -> list[Batch]:
    """Rank ``rank``'s slice of each of :data:`DANN_STEPS` batches (all ranks' slices: the full batch)."""
    full = make_batches(make_domains(n=512, seed=0), DANN_STEPS, DANN_ROWS * world_size, seed=0)
    part = slice(rank * DANN_ROWS, (rank + 1) * DANN_ROWS)
    return [Batch(b.xs[part].to(device), b.ys[part].to(device), b.xt[part].to(device)) for b in full]


def train_on_rank(rank: int, world_size: int, step: Callable[[nn.Module, Batch, float], None],
                  **ddp_options: bool) -> torch.Tensor:
    """What every rank runs: DDP around lesson 07's model, one step per batch; the final parameters."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    device = rank_device()
    model = make_model(seed=0, device=device)  # the same initial weights on every rank
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None, **ddp_options)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    for batch in rank_batches(rank, world_size, device):  # this rank's slice of each batch
        optimizer.zero_grad(set_to_none=True)
        step(ddp, batch, DANN_LAM)  # forward (arms the reducer) and the backward(s)
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()]).cpu()


def dann_reference(world_size: int, step: Callable[[nn.Module, Batch, float], None] | None = None
                   ) -> torch.Tensor:
    """One process, no DDP: ``step`` (by default lesson 07's two-pass step, :func:`dann_disjoint`) on
    the full batches; the final parameters."""
    step = dann_disjoint if step is None else step
    model = make_model(seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for batch in make_batches(make_domains(n=512, seed=0), DANN_STEPS, DANN_ROWS * world_size, seed=0):
        optimizer.zero_grad(set_to_none=True)
        step(_Unwrapped(model), batch, DANN_LAM)
        optimizer.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


class _Unwrapped(nn.Module):
    """Gives a plain model DDP's ``.module`` attribute, so that one step function serves both."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.module = model

    def forward(self, *args: object, **kwargs: object) -> object:
        return self.module(*args, **kwargs)


def _outcome(fn: Callable[[], object]) -> tuple[str, object]:
    """``("ok", value)`` or ``("error", "RuntimeError: first line")``."""
    try:
        return "ok", fn()
    except RuntimeError as exc:
        return "error", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


# --- the seed's problem at scale: DDP, no_sync accumulation, comm hooks, FSDP2 -------------------------

MICRO_BATCHES = 4  # no_sync gradient accumulation: micro-batches per optimizer step


def _micro(problem: Problem, rank: int, k: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    a, b = _rows(problem, rank, ROWS_PER_RANK)
    return list(zip(a.chunk(k), b.chunk(k)))


def seed_reference(world_size: int, k: int = 1) -> dict[str, torch.Tensor]:
    """One process, both ranks' rows: the two-pass gradients summed over ``k`` micro-batches."""
    problem = ddp_problem(world_size)
    for i in range(k):
        a = torch.cat([_micro(problem, r, k)[i][0] for r in range(world_size)])
        b = torch.cat([_micro(problem, r, k)[i][1] for r in range(world_size)])
        METHODS["two-pass"](problem.g(a), problem.g(b), problem.f)
    return collect_grads(problem.g)


def pass_gradients(world_size: int, k: int = 1) -> list[list[dict[str, dict[str, torch.Tensor]]]]:
    """No DDP: per rank, per micro-batch, the gradients of ``g`` from l1 alone and from l2 alone."""
    problem = ddp_problem(world_size)
    out = []
    for rank in range(world_size):
        per_micro = []
        for a, b in _micro(problem, rank, k):
            grads = {}
            for part in ("l1", "l2"):
                problem.g.zero_grad(set_to_none=True)
                x, y = problem.g(a), problem.g(b)
                (problem.f(x.detach(), y) if part == "l1" else -problem.f(x, y.detach())).backward()
                grads[part] = collect_grads(problem.g)
            per_micro.append(grads)
        out.append(per_micro)
    return out


class _Collectives:
    """Counts FSDP2's all-gathers and reduce-scatters: in torch 2.13 and 2.14 it calls
    ``torch.distributed.all_gather_single`` and ``reduce_scatter_single``, wrapped here."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self.counts = {"all-gathers": 0, "reduce-scatters": 0}
        for key, name in (("all-gathers", "all_gather_single"), ("reduce-scatters", "reduce_scatter_single")):
            setattr(dist, name, self._counting(key, getattr(dist, name)))

    def _counting(self, key: str, fn: Callable[..., object]) -> Callable[..., object]:
        def counted(*args: object, **kwargs: object) -> object:
            self.counts[key] += 1
            return fn(*args, **kwargs)

        return counted

    def take(self) -> dict[str, int]:
        out = dict(self.counts)
        self.counts = dict.fromkeys(self.counts, 0)
        return out


def at_scale_experiments(rank: int, world_size: int) -> dict[str, dict]:
    """Everything lesson 08 runs on the ranks, in one launch (starting processes is the slow part)."""
    import torch.distributed as dist
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
    from torch.distributed.fsdp import fully_shard
    from torch.nn.parallel import DistributedDataParallel as DDP

    out: dict[str, dict] = {"rule": {}, "ddp": {}, "no_sync": {}, "comm_hook": {}, "fsdp": {},
                            **{option: {} for option in DDP_OPTIONS}}
    for name, step in DANN_DDP_STEPS.items():
        out["rule"][name] = _outcome(lambda: train_on_rank(rank, world_size, step))
        for option in DDP_OPTIONS:  # the same step with one non-default DDP option
            out[option][name] = _outcome(lambda: train_on_rank(rank, world_size, step, **{option: True}))
    problem = ddp_problem(world_size)
    initial = {k: v.clone() for k, v in problem.g.state_dict().items()}
    collectives = _Collectives()
    for name, method in METHODS.items():
        problem.g.load_state_dict(initial)
        model = DDP(problem.g)
        ((a, b),) = _micro(problem, rank, 1)
        model.zero_grad(set_to_none=True)
        method(model(a), model(b), problem.f)
        out["ddp"][name] = collect_grads(problem.g)
        model.zero_grad(set_to_none=True)  # k micro-batches, all but the last under no_sync()
        for i, (a, b) in enumerate(_micro(problem, rank, MICRO_BATCHES)):
            with model.no_sync() if i < MICRO_BATCHES - 1 else contextlib.nullcontext():
                method(model(a), model(b), problem.f)
        out["no_sync"][name] = collect_grads(problem.g)
        ((a, b),) = _micro(problem, rank, 1)
        calls: list[int] = []
        model.register_comm_hook(None, lambda state, bucket: (calls.append(1), allreduce_hook(state, bucket))[1])
        model.zero_grad(set_to_none=True)
        method(model(a), model(b), problem.f)
        out["comm_hook"][name] = len(calls)
        g = ddp_problem(world_size).g  # FSDP2 shards a fresh copy of g
        fully_shard(g)
        collectives.take()
        method(g(a), g(b), problem.f)
        counts = collectives.take()
        out["fsdp"][name] = (counts, {n: p.grad.full_tensor() for n, p in g.named_parameters()})
    dist.barrier()
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
    """``"0.0"`` when exactly equal, ``"< 10⁻⁶ (rounding)"`` for float rounding noise (its exact size
    depends on the machine's kernels), else the value to 2 significant digits (``"0.024"``): text that
    is the same on every machine and torch version."""
    if value == 0:
        return "0.0"
    return "< 10⁻⁶ (rounding)" if value < tol else f"{value:.2g}"


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




# --- DDP and torch.compile (lesson 09) -------------------------------------------------------------------

def compile_ddp_experiments(rank: int, world_size: int) -> dict[str, dict]:
    """Lesson 09, on the ranks: ``torch.compile(DDP(g))`` and ``DDP(torch.compile(g))``, each compiled
    once and run with the two passes and with the reversal (both call the same forward of ``g``). Per
    case: ``{"result": ("ok", grads) or ("error", text), "graphs": n}``, ``n`` the graphs Dynamo handed
    to the backend for that wrapping (a counting wrapper around ``aot_eager``)."""
    import torch._dynamo
    from torch.nn.parallel import DistributedDataParallel as DDP

    graphs: list[int] = []

    def counting_backend(gm: torch.fx.GraphModule, example_inputs: list) -> Callable[..., object]:
        graphs.append(1)
        return torch._dynamo.lookup_backend("aot_eager")(gm, example_inputs)

    problem = ddp_problem(world_size)
    ((a, b),) = _micro(problem, rank, 1)
    initial = {k: v.clone() for k, v in problem.g.state_dict().items()}
    wrappings = {"compile(DDP(g))": lambda g: torch.compile(DDP(g), backend=counting_backend),
                 "DDP(compile(g))": lambda g: DDP(torch.compile(g, backend=counting_backend))}
    out: dict[str, dict] = {}
    for wrap_name, wrap in wrappings.items():
        torch._dynamo.reset()
        graphs.clear()
        g = ddp_problem(world_size).g
        model = wrap(g)
        for name in ("two-pass", "reversal"):
            g.load_state_dict(initial)
            g.zero_grad(set_to_none=True)
            result = _outcome(lambda: (METHODS[name](model(a), model(b), problem.f), collect_grads(g))[1])
            out[f"{wrap_name}, {name}"] = {"result": result, "graphs": len(graphs)}
    torch._dynamo.reset()
    return out


# --- activation checkpointing and mixed precision (lesson 08) ---------------------------------------------

def checkpoint_placements(f: Loss, use_reentrant: bool, hook: Callable[[torch.Tensor], torch.Tensor],
                          registered_on: list[torch.Tensor] | None = None
                          ) -> dict[str, Callable[[torch.Tensor, torch.Tensor], None]]:
    """Each method with ``f`` checkpointed (``torch.utils.checkpoint.checkpoint``), and three places for
    the flip ``hook``: each entry takes ``(x, y)`` and runs the backward. The hook inside the checkpoint
    appends each tensor it is registered on to ``registered_on`` (if given)."""
    from torch.utils.checkpoint import checkpoint

    def ckpt(fn: Callable[..., torch.Tensor], *args: torch.Tensor) -> torch.Tensor:
        return checkpoint(fn, *args, use_reentrant=use_reentrant)

    def f_with_hook_inside(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x.register_hook(hook)  # runs again when checkpoint recomputes f in backward
        if registered_on is not None:
            registered_on.append(x)
        return f(x, y)

    def hook_outside(x: torch.Tensor, y: torch.Tensor) -> None:
        x.register_hook(hook)
        ckpt(f, x, y).backward()

    return {
        "two passes": lambda x, y: METHODS["two-pass"](x, y, lambda u, v: ckpt(f, u, v)),
        "autograd.grad + backward": lambda x, y: METHODS["autograd.grad"](x, y, lambda u, v: ckpt(f, u, v)),
        "hook inside the checkpoint": lambda x, y: ckpt(f_with_hook_inside, x, y).backward(),
        "hook outside the checkpoint": hook_outside,
        "reversal inside the checkpoint": lambda x, y: ckpt(lambda u, v: f(reverse_grad(u), v), x, y).backward(),
    }


def amp_gradients(problem: Problem, method: Callable[[torch.Tensor, torch.Tensor, Loss], None],
                  init_scale: float = 256.0) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """``method`` under ``torch.autocast("cpu", dtype=torch.bfloat16)`` with a ``GradScaler``: every
    evaluation of ``f`` it makes is scaled (``scaler.scale``), then the gradients are unscaled
    (``scaler.unscale_``). Returns ``g``'s gradients and what a hook on ``x`` saw arrive."""
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
    optimizer = torch.optim.SGD(problem.g.parameters(), lr=0.0)  # unscale_ works through an optimizer
    problem.g.zero_grad(set_to_none=True)
    seen: list[torch.Tensor] = []
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x, y = problem.features()
        x.register_hook(lambda grad: seen.append(grad.detach().clone()))  # returns None: grad unchanged
        method(x, y, lambda u, v: scaler.scale(problem.f(u, v)))
    scaler.unscale_(optimizer)
    return collect_grads(problem.g), seen
