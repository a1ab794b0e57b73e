"""Compute ``f(x, y)`` once, backpropagate it twice: the methods of lesson 06, in one place.

The question: ``x`` and ``y`` come from a shared module ``g``; we want the gradients of
``l1 = f(x.detach(), y)`` plus those of ``l2 = -f(x, y.detach())`` — without evaluating ``f`` twice.

Each method takes ``x``, ``y`` (still attached to ``g``'s graph) and ``f``, and accumulates the
gradients into the ``.grad`` of ``g``'s parameters, exactly as the two-pass reference does.
Lesson 06 prints this code (``show_source``) and ``benchmarks/compute_once.py`` times the very same
functions, so what is taught is what is measured.

:class:`GradReverse` is introduced in lesson 05 (a branch-local alternative to a tensor hook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from helpers.compare import collect_grads

__all__ = [
    "METHODS",
    "GradReverse",
    "Problem",
    "abs_difference",
    "grad_then_backward",
    "hook_on_x",
    "PairCritic",
    "make_problem",
    "reversal",
    "reverse_grad",
    "run_method",
    "seed_example",
    "two_pass",
    "two_pass_no_retain",
]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class GradReverse(torch.autograd.Function):
    """The identity in the forward pass; multiplies the gradient by ``-scale`` in the backward pass.

    Unlike a hook on a tensor, it acts only where it is applied: ``f(reverse_grad(x), y)`` flips the
    gradient that ``f`` sends to ``x`` and leaves every other use of ``x`` alone. ``scale`` is the λ of
    domain-adversarial training (lesson 07); it gets no gradient.

    Written in the ``setup_context`` style (``forward`` without ``ctx``), so that it also works under
    ``torch.func`` transforms such as ``torch.func.grad`` and ``vjp`` (lesson 08).
    """

    @staticmethod
    def forward(x: torch.Tensor, scale: float) -> torch.Tensor:
        return x.view_as(x)  # a view: same values, and a new node in the graph

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        _, scale = inputs
        ctx.scale = scale

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad_output, None


def reverse_grad(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x`` in the forward pass, ``-scale * gradient`` in the backward pass (see :class:`GradReverse`)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"reverse_grad takes a tensor, got {type(x).__name__}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"scale must be a number (λ), got {type(scale).__name__}")
    return GradReverse.apply(x, float(scale))


# --- the four methods ------------------------------------------------------------------------------

def two_pass(x: torch.Tensor, y: torch.Tensor, f: Loss) -> None:
    """The reference, as the question writes it: f evaluated twice, backward twice."""
    l1 = f(x.detach(), y)
    l1.backward(retain_graph=True)  # as in the question; lesson 06, section 2, shows when it is needed
    l2 = -f(x, y.detach())
    l2.backward()


def two_pass_no_retain(x: torch.Tensor, y: torch.Tensor, f: Loss) -> None:
    """The fair baseline: the two passes without ``retain_graph``. Valid when ``x`` and ``y`` share no
    node of the graph (two calls of ``g``): the first backward frees only what the second does not need.
    Where they share nodes (one call of ``g``, then split) the second backward raises instead."""
    f(x.detach(), y).backward()
    (-f(x, y.detach())).backward()


def hook_on_x(x: torch.Tensor, y: torch.Tensor, f: Loss) -> None:
    """The accepted answer: negate every gradient that flows through x, then one backward.

    The hook is removed afterwards: a tensor hook lives as long as the tensor, so a hook left on ``x``
    would flip every later backward through ``x``, and on a leaf reused across steps the hooks would
    pile up (lesson 06, section 3)."""
    handle = x.register_hook(lambda grad: -grad)
    try:
        f(x, y).backward()
    finally:
        handle.remove()


def grad_then_backward(x: torch.Tensor, y: torch.Tensor, f: Loss) -> None:
    """The asker's "one possibility": gradients to x and y, then push them on by hand."""
    gx, gy = torch.autograd.grad(f(x, y), [x, y])
    torch.autograd.backward([x, y], [-gx, gy])


def reversal(x: torch.Tensor, y: torch.Tensor, f: Loss) -> None:
    """A gradient-reversal function, applied only where x enters f."""
    f(reverse_grad(x), y).backward()


METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor, Loss], None]] = {
    "two-pass": two_pass,
    "hook": hook_on_x,
    "autograd.grad": grad_then_backward,
    "reversal": reversal,
}


# --- the seed's own example -------------------------------------------------------------------------

def seed_example(device: torch.device | str = "cpu") -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """The accepted answer's example: ``g`` a 1 × 1 linear layer, no bias, weight 1; ``a = 1``, ``b = 2``.
    With ``f = abs_difference`` the two passes give ``g.weight.grad == 3`` (lessons 04 and 06)."""
    g = nn.Linear(1, 1, bias=False).to(device)
    with torch.no_grad():
        g.weight.fill_(1.0)
    return g, torch.tensor([1.0], device=device), torch.tensor([2.0], device=device)


def abs_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The seed example's ``f(x, y) = |x − y|`` (summed, so that it is a scalar)."""
    return (x - y).abs().sum()


# --- the scaled-up problem ---------------------------------------------------------------------------

class PairCritic(nn.Module):
    """``f(x, y)``: a small MLP that scores each pair of rows ``[x_i, y_i]``, averaged.

    Its weights are fixed (``trainable=False``) in the main comparison, so that only ``g`` learns —
    as in the question, where ``f`` is "some function". It is deep enough to cost far more than
    ``g``, which is what makes evaluating it twice expensive. With ``trainable=True`` it has
    parameters of its own; ``dropout > 0`` adds a dropout layer and ``batchnorm=True`` a
    ``BatchNorm1d`` after its first linear layer (lesson 06, section 3: where one pass and two differ).
    The linear layers' weights are drawn from ``generator`` in the same order whatever the options.
    """

    def __init__(self, dim: int, width: int, trainable: bool = False, generator: torch.Generator | None = None,
                 dropout: float = 0.0, batchnorm: bool = False):
        super().__init__()
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        first: list[nn.Module] = [nn.Linear(2 * dim, width)]
        if batchnorm:
            first.append(nn.BatchNorm1d(width))
        first.append(nn.Tanh())
        if dropout:
            first.append(nn.Dropout(float(dropout)))
        self.net = nn.Sequential(*first, nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1))
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    for p in layer.parameters():
                        p.copy_(torch.randn(p.shape, generator=generator) / p.shape[-1] ** 0.5)
        self.requires_grad_(trainable)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, y], dim=1)).mean()


@dataclass
class Problem:
    """A shared module ``g``, two batches ``a`` and ``b``, and the loss ``f``."""

    g: nn.Module
    a: torch.Tensor
    b: torch.Tensor
    f: nn.Module  # a PairCritic in the lessons; any f(x, y) module in the benchmark

    def features(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``x = g(a)`` and ``y = g(b)``: two calls of the shared module, as in the question."""
        return self.g(self.a), self.g(self.b)


def make_problem(n: int = 512, dim_in: int = 16, dim: int = 32, width: int = 256,
                 device: torch.device | str = "cpu", seed: int = 0, trainable_f: bool = False,
                 dropout: float = 0.0, batchnorm: bool = False) -> Problem:
    """A small MLP ``g`` (dim_in -> dim -> dim), ``n`` rows in each of ``a`` and ``b``, and a
    :class:`PairCritic` ``f`` of the given width (``trainable_f``, ``dropout`` and ``batchnorm`` are
    passed on to it). Made on the CPU from ``seed``, then moved, so every device starts from the same
    numbers."""
    gen = torch.Generator().manual_seed(seed)
    g = nn.Sequential(nn.Linear(dim_in, dim), nn.Tanh(), nn.Linear(dim, dim))
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
    a = torch.randn(n, dim_in, generator=gen)
    b = torch.randn(n, dim_in, generator=gen) + 0.5
    f = PairCritic(dim, width, trainable=trainable_f, generator=gen, dropout=dropout, batchnorm=batchnorm)
    return Problem(g.to(device), a.to(device), b.to(device), f.to(device))


def run_method(method: Callable[[torch.Tensor, torch.Tensor, Loss], None], problem: Problem) -> dict[str, torch.Tensor]:
    """Zero ``g``'s gradients, run one method from a fresh forward of ``g``, return the gradients."""
    problem.g.zero_grad(set_to_none=True)
    x, y = problem.features()
    method(x, y, problem.f)
    return collect_grads(problem.g)
