"""Checks for lesson 07's exercises (domain-adversarial training, one pass versus two)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from helpers.compute_once import GradReverse
from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_function, as_number, build_module, call, generator, learner_code


def _graph_nodes(t: torch.Tensor) -> list[Any]:
    """Every node of the graph behind ``t``."""
    seen, stack, nodes = set(), [t.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        nodes.append(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return nodes


def _uses_function(t: torch.Tensor, function: type | None = None) -> bool:
    """Whether a custom ``torch.autograd.Function`` (by default any; else the class ``function`` itself,
    matched by identity, not by name: a learner's own class may have the same name) is in the graph
    behind ``t``."""
    return any(isinstance(n, torch.autograd.function.BackwardCFunction)
               and (function is None or getattr(type(n), "_forward_cls", None) is function)
               for n in _graph_nodes(t))


class _HookSpy(TorchFunctionMode):
    """Counts ``Tensor.register_hook`` calls made inside it (a torch-function mode: local to the
    ``with`` block and this thread, so no global state is touched)."""

    def __init__(self) -> None:
        super().__init__()
        self.hooks = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func is torch.Tensor.register_hook:
            self.hooks += 1
        return func(*args, **(kwargs or {}))


def _heads(gen: torch.Generator) -> tuple[nn.Module, nn.Module, nn.Module]:
    """Small g, c and d in float64, drawn from ``gen`` (the global RNG is left alone)."""
    g = build_module(lambda: nn.Sequential(nn.Linear(2, 5), nn.Tanh()).double(), gen)
    c = build_module(lambda: nn.Linear(5, 1).double(), gen)
    d = build_module(lambda: nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1)).double(), gen)
    return g, c, d


def _losses(h: torch.Tensor, h_for_d: torch.Tensor, c: nn.Module, d: nn.Module
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """A label loss on the first half of ``h`` and a domain-style loss of ``d`` on ``h_for_d``."""
    labels = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    weights = torch.tensor([0.7, -1.3, 0.4, 1.1, -0.6, 0.9], dtype=torch.float64)
    loss_c = (c(h[:3]).squeeze(-1) * labels).sum()
    loss_d = (d(h_for_d).squeeze(-1) * weights).sum()
    return loss_c, loss_d


def _grads(*modules: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            for m in modules for p in m.parameters()]


def _close(got: list[torch.Tensor], want: list[torch.Tensor]) -> bool:
    return all(torch.allclose(u.double(), v, rtol=1e-6, atol=1e-9) for u, v in zip(got, want))


@exercise("07.1", "a branch-local hook instead of a reversal function")
def _check_07_1(answer: Any) -> str:
    as_function(answer, "07.1", "domain_input")
    gen = generator()
    x = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    lam = 0.2 + 0.6 * float(torch.rand((), generator=gen, dtype=torch.float64))
    g, c, d = _heads(gen)
    # the reference: two passes, d kept out of the second
    h = g(x)
    loss_c, loss_d = _losses(h, h.detach(), c, d)
    loss_d.backward()
    _, loss_d2 = _losses(h, h, c, d)
    (loss_c - lam * loss_d2).backward(inputs=[*g.parameters(), *c.parameters()])
    want_g, want_c, want_d = _grads(g), _grads(c), _grads(d)
    for m in (g, c, d):
        m.zero_grad(set_to_none=True)

    h = g(x)
    with _HookSpy() as spy:
        out = call(answer, h, lam, what="domain_input")
    if not isinstance(out, torch.Tensor):
        raise Hint(f"return the tensor to feed to d, not {type(out).__name__}.")
    if out.shape != h.shape or not torch.allclose(out.double(), h):
        raise Hint("the returned tensor must have h's values: the forward pass is unchanged, only the "
                   "gradient flowing back through it changes.")
    if not out.requires_grad:
        raise Hint("the returned tensor is cut off from g (detached?): g must still get d's flipped gradient.")
    if out.dtype != h.dtype:
        raise Hint(f"return a tensor of h's dtype ({h.dtype}), not {out.dtype}: d's weights have h's dtype. "
                   "(A dtype conversion is no copy when h already has that dtype: h.float() of a float32 h "
                   "is h itself, so a hook on it would act on c's branch too.)")
    if _uses_function(out):
        raise Hint("this exercise asks for a hook (register_hook), not an autograd.Function.")
    if spy.hooks == 0:
        raise Hint("domain_input registers no hook: the exercise asks for one (register_hook). (Mixing h "
                   "with a detached copy, such as (1 + λ)·h.detach() − λ·h, gives the values and gradients "
                   "without a hook, but it is not what is asked.)")
    loss_c, loss_d = _losses(h, out, c, d)
    with learner_code("your hook (during backward)"):
        (loss_c + loss_d).backward()
    got_g, got_c, got_d = _grads(g), _grads(c), _grads(d)
    if not _close(got_c, want_c) or not _close(got_d, want_d):
        raise Hint("c's or d's own gradients changed: the hook should only change what flows into g.")
    if _close(got_g, want_g):
        return ("g gets −λ × the gradient from d's branch and c's gradient unchanged, as in the two "
                "passes; d and c get their own gradients.")
    h2 = g(x)
    lc, ld = _losses(h2, h2, c, d)
    mistakes = (
        (-lam * (lc + ld), "the hook flips c's gradient into g too: register it on a copy of h that only "
                           "d sees (h.view_as(h) or h.clone()), not on h itself."),
        (lc - ld, "the hook multiplies by −1, not by −λ: scale it by lam."),
        (lc + lam * ld, "the gradient is scaled by λ but not flipped: multiply by −lam."),
        (lc + ld, "nothing was flipped: the hook must return −lam × grad (a hook's return value "
                  "replaces the gradient)."),
    )
    if out is h and _close(list(torch.autograd.grad(lc + ld, list(g.parameters()), retain_graph=True)), got_g):
        raise Hint("domain_input returned h itself, so d's gradient never passes the hook you registered: "
                   "return the tensor the hook is on (a copy of h that only d sees).")
    for loss, hint in mistakes:
        if _close(list(torch.autograd.grad(loss, list(g.parameters()), retain_graph=True)), got_g):
            raise Hint(hint)
    raise Hint("g's gradients differ from the two passes': the hook should multiply the gradient from d "
               "by −lam, and only on d's branch.")


def _check_reversal(answer: Any, lam: float, gen: torch.Generator) -> None:
    x = torch.randn(4, 3, generator=gen, dtype=torch.float64).requires_grad_(True)
    u = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    v = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    out = call(answer, x, lam, what="my_reverse")
    if not isinstance(out, torch.Tensor):
        raise Hint(f"return a tensor (the reversed x), not {type(out).__name__}.")
    if out.shape != x.shape or not torch.allclose(out.detach().double(), x.detach()):
        raise Hint("the forward pass must return x's values unchanged (the identity); only the backward "
                   "pass is reversed.")
    if not out.requires_grad:
        raise Hint("the output is cut off from x: return x.view_as(x) or x.clone() in forward, not a "
                   "detached tensor.")
    with learner_code("your backward"):
        (gx,) = torch.autograd.grad((out * u).sum() + (x * v).sum(), [x])
    gx = gx.double()
    want = -lam * u + v
    if torch.allclose(gx, want):
        return
    if torch.allclose(gx, -u + v):
        raise Hint("the gradient is flipped but not scaled: multiply it by −lam.")
    if torch.allclose(gx, lam * u + v):
        raise Hint("the gradient is scaled but not flipped: multiply it by −lam, with the minus.")
    if torch.allclose(gx, -lam * (u + v)):
        raise Hint("the other use of x got flipped too: a hook on x acts on every branch; reverse only the "
                   "gradient that comes through your function's output.")
    if lam != 0 and torch.allclose(gx, -u / lam + v):
        raise Hint("divide? No: multiply the gradient by −lam.")
    if torch.allclose(gx, u + v):
        raise Hint("the gradient passes unchanged: the backward must return −lam × grad_output.")
    raise Hint("in backward, return −lam × grad_output for x (and None for lam).")


@exercise("07.2", "the λ-scaled gradient reversal")
def _check_07_2(answer: Any) -> str:
    as_function(answer, "07.2", "my_reverse")
    gen = generator()
    for lam in (0.2 + 0.6 * float(torch.rand((), generator=gen)), 1.0, 2.5):
        _check_reversal(answer, lam, gen)
    x = torch.randn(3, generator=gen, dtype=torch.float64).requires_grad_(True)
    out = call(answer, x, 0.5, what="my_reverse")
    if _uses_function(out, GradReverse):
        raise Hint("the exercise asks for your own torch.autograd.Function, not helpers.compute_once's.")
    if not _uses_function(out):
        raise Hint("my_reverse uses no torch.autograd.Function: the exercise asks for one (a class with "
                   "forward and backward, called with .apply). (A hook, or (1 + λ)·x.detach() − λ·x, gives "
                   "these gradients too, but it is not what is asked.)")
    return "identity forward, −λ × gradient backward, on its own branch only: DANN's reversal layer."


@exercise("07.3", "what d gets from the literal two passes")
def _check_07_3(answer: Any) -> str:
    answer = as_number(answer, "the multiple")
    if math.isclose(answer, 0.25, abs_tol=1e-6):
        return "∂L_d/∂θ_d from pass 1 and −0.75·∂L_d/∂θ_d from pass 2: 0.25 of it, and 0 at λ = 1."
    if math.isclose(answer, 1.0, abs_tol=1e-6):
        raise Hint("1 is what the right two passes give (d kept out of pass 2); here pass 2 reaches d too.")
    if math.isclose(answer, -0.25, abs_tol=1e-6) or math.isclose(answer, -1.75, abs_tol=1e-6):
        raise Hint("the sign: pass 1 gives d +1 × ∂L_d/∂θ_d and pass 2 −0.75 ×; their sum is positive.")
    if math.isclose(answer, 0.0, abs_tol=1e-6):
        raise Hint("0 is the seed's case, λ = 1; with λ = 0.75 the two contributions do not cancel fully.")
    if math.isclose(answer, 1.75, abs_tol=1e-6):
        raise Hint("pass 2 has −λ·L_d: its contribution to d is subtracted, not added.")
    if math.isclose(answer, 0.75, abs_tol=1e-6) or math.isclose(answer, -0.75, abs_tol=1e-6):
        raise Hint("that is pass 2's contribution alone; add pass 1's ∂L_d/∂θ_d.")
    raise Hint("add pass 1's 1 × ∂L_d/∂θ_d and pass 2's −λ × ∂L_d/∂θ_d.")
