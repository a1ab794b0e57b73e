"""Checks for lesson 06's exercises (compute once, backpropagate twice).

"Evaluate f once" is counted for what it means: calls of ``f`` and backward passes through its output
(:class:`~helpers.exercises.answers.Counted`), not calls of ``backward()`` — so the ``autograd.grad``
method of lesson 06 (``autograd.grad`` then ``autograd.backward``: two engine calls, one pass through
``f``) passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import Counted, as_function, as_number, build_module, call, close, generator


@exercise("06.1", "the seed example with b = 3")
def _check_06_1(answer: Any) -> str:
    value = as_number(answer, "the weight gradient")
    if close(value, 4.0):
        return "l1 gives ∂f/∂y · b = 3, l2 gives −∂f/∂x · a = 1: 4 in all."
    if close(value, 2.0):
        raise Hint("2 = 3 − 1 is the plain backward of f(x, y): the two passes flip the sign of the x path.")
    if close(value, 3.0):
        raise Hint("3 was the answer for b = 2; with b = 3, l1's contribution ∂f/∂y · b changes.")
    if close(value, -4.0) or close(value, -2.0):
        raise Hint("the sign is off: l1 = f(x.detach(), y) gives +∂f/∂y · b = +3 and "
                   "l2 = −f(x, y.detach()) gives −∂f/∂x · a = +1.")
    if close(value, 1.0):
        raise Hint("1 is l2's part only (−∂f/∂x · a); add l1's part, ∂f/∂y · b.")
    raise Hint("with x = 1 and y = 3: ∂f/∂x = −1, ∂f/∂y = +1; add ∂f/∂y · b and −∂f/∂x · a.")


# --- the shared set-up of 06.2 and 06.3 -----------------------------------------------------------------

def _g(gen: torch.Generator) -> nn.Module:
    return build_module(lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh()), gen)


def _grads(module: nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in module.parameters()]


def _grads_of(g: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
              a: torch.Tensor, b: torch.Tensor, wrt: nn.Module | None = None) -> list[torch.Tensor]:
    """Gradients of ``loss_fn(g(a), g(b))`` with respect to the parameters of ``wrt`` (default: g)."""
    params = list((wrt or g).parameters())
    return list(torch.autograd.grad(loss_fn(g(a), g(b)), params, allow_unused=True))


def _combine(*terms: tuple[float, list[torch.Tensor]]) -> list[torch.Tensor]:
    return [sum(c * t[i] for c, t in terms) for i in range(len(terms[0][1]))]


def _all_close(got: list[torch.Tensor | None], want: list[torch.Tensor]) -> bool:
    return all(u is not None and close(u, v) for u, v in zip(got, want))


class _Critic:
    """f(x, y) without parameters (06.2): a fixed random layer scoring each pair, averaged."""

    def __init__(self, gen: torch.Generator):
        self.W = torch.randn(8, 3, generator=gen)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.cat([x, y], dim=1) @ self.W).pow(2).mean()


def _two_pass_part(f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    return lambda x, y: f(x.detach(), y) - f(x, y.detach())


# --- 06.2 ------------------------------------------------------------------------------------------------

@exercise("06.2", "one pass with another use of x")
def _check_06_2(answer: Any) -> str:
    one_pass = as_function(answer, "06.2", "one_pass")
    gen = generator()
    g = _g(gen)
    a, b = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen) + 1
    critic = _Critic(gen)
    c = torch.randn(4, generator=gen)

    def extra(x):
        return (x * c).pow(2).mean()

    two = _grads_of(g, _two_pass_part(critic), a, b)
    plain = _grads_of(g, critic, a, b)
    ext = _grads_of(g, lambda x, y: extra(x), a, b)

    f = Counted(critic)
    x, y = g(a), g(b)
    call(one_pass, x, y, f, extra, what="one_pass")
    got = _grads(g)
    if all(p is None for p in got):
        raise Hint("g's parameters got no gradient: did you call backward()?")
    if f.calls > 1:
        raise Hint(f"f was evaluated {f.calls} times: evaluate it once and steer its gradients instead.")
    if f.backward_passes > 1:
        raise Hint(f"you backpropagated through f {f.backward_passes} times: one backward pass through f "
                   "is enough.")
    if _all_close(got, _combine((1, two), (1, ext))):
        return ("f evaluated once and backpropagated once; g's parameters got the two-pass gradients "
                "plus extra(x)'s, unflipped.")
    x_path = _combine((0.5, plain), (-0.5, two))  # what f sends back through x, unflipped
    for scale in (2.0, 0.5):
        reversal_scaled = _combine((1, plain), (-1 - scale, x_path), (1, ext))
        hook_scaled = _combine((1, plain), (-1 - scale, x_path), (-scale, ext))
        if _all_close(got, reversal_scaled) or _all_close(got, hook_scaled):
            where = "" if _all_close(got, reversal_scaled) else " (and so is extra's: a hook on x)"
            raise Hint(f"the gradient f sends to x is multiplied by {-scale:g}, not by −1{where}: "
                       f"reverse_grad(x, {scale:g}) is a reversal scaled by λ = {scale:g}; the two passes "
                       "are λ = 1, reverse_grad(x).")
    if _all_close(got, _combine((-1, two), (-1, ext))):
        raise Hint("every sign is off: the gradients are the negative of the wanted ones — you minimised "
                   "−(f(x.detach(), y) − f(x, y.detach()) + extra(x)). Flip only what f sends to x.")
    if _all_close(got, _combine((1, two), (-1, ext))):
        raise Hint("extra's gradient is flipped too: a hook on x flips everything that reaches x; apply "
                   "reverse_grad(x) only where x enters f.")
    if _all_close(got, _combine((1, plain), (1, ext))):
        raise Hint("nothing is flipped: the gradient f sends to x must be negated.")
    if _all_close(got, _combine((-1, two), (1, ext))):
        raise Hint("the signs are swapped: flip the gradient f sends to x, not to y.")
    if _all_close(got, two):
        raise Hint("extra(x) got no gradient: add it to what you backpropagate, "
                   "(f(reverse_grad(x), y) + extra(x)).backward().")
    raise Hint("(f(reverse_grad(x), y) + extra(x)).backward(): flip only the gradient f sends to x.")


# --- 06.3 ------------------------------------------------------------------------------------------------

class _CountedCritic(nn.Module):
    """f(x, y) with parameters θ (06.3); counts its evaluations and the backward passes through it."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 1))
        self.calls = 0
        self.backward_passes = 0

    def _seen(self, grad: torch.Tensor) -> None:
        self.backward_passes += 1

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.net(torch.cat([x, y], dim=1)).mean()
        if out.requires_grad:
            out.register_hook(self._seen)
        return out


def _hook_left_on(x: torch.Tensor) -> bool:
    """Whether a later use of x would still see its gradient changed (a hook not removed)."""
    (gx,) = torch.autograd.grad((x * 1).sum(), x)
    return not close(gx, torch.ones_like(gx))


@exercise("06.3", "one pass that leaves f's parameters untouched")
def _check_06_3(answer: Any) -> str:
    one_pass = as_function(answer, "06.3", "one_pass")
    gen = generator()
    g = _g(gen)
    a, b = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen) + 1
    f = build_module(_CountedCritic, gen)
    theta = list(f.parameters())

    two = _grads_of(g, _two_pass_part(f), a, b)
    plain = _grads_of(g, f, a, b)
    f_theta = _grads_of(g, f, a, b, wrt=f)  # what a plain backward gives θ

    for run in ("fresh", "existing"):
        g.zero_grad(set_to_none=True)
        f.zero_grad(set_to_none=True)
        g_before = [torch.zeros_like(p) for p in g.parameters()]
        theta_before: list[torch.Tensor | None] = [None] * len(theta)
        if run == "existing":  # gradients from earlier micro-batches: accumulate into g, leave θ's alone
            for p in g.parameters():
                p.grad = torch.randn(p.shape, generator=gen)
            for p in theta:
                p.grad = torch.randn(p.shape, generator=gen)
            g_before, theta_before = _grads(g), _grads(f)
        f.calls = f.backward_passes = 0
        x, y = g(a), g(b)
        call(one_pass, x, y, f, g, what="one_pass")
        got = [None if u is None else u - v for u, v in zip(_grads(g), g_before)]
        got_theta = _grads(f)
        if run == "fresh" and all(p is None for p in got):
            raise Hint("g's parameters got no gradient: did you call backward()?")
        if f.calls > 1:
            zeros = all(t is not None and close(t, torch.zeros_like(t)) for t in got_theta)
            raise Hint(f"f was evaluated {f.calls} times — that is the two passes"
                       + (", and they leave θ.grad zeros, not None" if zeros else "")
                       + ". Evaluate f once and steer the gradient that reaches x.")
        if f.backward_passes > 1:
            raise Hint(f"you backpropagated through f {f.backward_passes} times: once is enough.")
        if not _all_close(got, two):
            if _all_close(got, [-t for t in two]):
                raise Hint("the signs are swapped: flip the gradient that reaches x, keep y's.")
            if _all_close(got, plain):
                raise Hint("nothing is flipped: the gradient f sends to x must be negated.")
            if run == "existing" and _all_close(_grads(g), two):
                raise Hint("g's existing gradients were overwritten or cleared (zero_grad?): accumulate "
                           "into .grad (add), as backward() does.")
            raise Hint("g's gradients differ from the two passes': flip the gradient f sends to x, keep "
                       "y's, with one pass through f.")
        if run == "fresh" and any(t is not None for t in got_theta):
            if _all_close(got_theta, f_theta) or _all_close(got_theta, [-t for t in f_theta]):
                raise Hint("θ received ∂f/∂θ: backward() fills every leaf that requires grad. Pass "
                           "inputs=list(g.parameters()) so that only g's parameters are filled.")
            if all(t is None or close(t, torch.zeros_like(t)) for t in got_theta):
                raise Hint("θ.grad is zeros, not None: leave θ untouched (backward(inputs=...)), "
                           "do not zero it.")
            raise Hint("θ.grad must stay None: pass inputs=list(g.parameters()) to backward().")
        if run == "existing":
            if any(t is None for t in got_theta):
                raise Hint("θ's existing gradients were cleared (zero_grad or .grad = None after the "
                           "backward?): pass inputs=list(g.parameters()) so that backward never touches θ.")
            if not _all_close(got_theta, theta_before):
                raise Hint("θ's existing gradients changed: pass inputs=list(g.parameters()) so that "
                           "backward never touches θ.")
        if not all(p.requires_grad for p in theta):
            raise Hint("θ no longer requires grad after one_pass: f's own training would stop. Leave θ "
                       "as it is and pass inputs=list(g.parameters()) to backward() instead.")
        if _hook_left_on(x):
            raise Hint("a hook is still on x after one_pass: keep its handle and call handle.remove(), "
                       "or every later backward through x is flipped too.")
    return ("f evaluated once, g's parameters got the two-pass gradients, every θ.grad was left as it "
            "was, and nothing is left on x to change a later backward.")
