"""Checks for lesson 05's exercises (register_hook)."""

from __future__ import annotations

from typing import Any

import torch

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import (
    as_function,
    as_number,
    as_tensor,
    call,
    close,
    count_engine_calls,
    generator,
    learner_code,
)


def _incoming(limit: float, gen: torch.Generator) -> torch.Tensor:
    """A gradient with entries above limit, below -limit and inside, of both signs, shuffled; the big
    ones also exceed 3, so that a hook clipping to a hard-coded ±1, ±2 or ±3 changes them."""
    big = limit * (1.5 + torch.rand(4, generator=gen)) + 3.0
    small = limit * (0.1 + 0.8 * torch.rand(4, generator=gen))
    g = torch.cat([big, -big, small, -small])
    return g[torch.randperm(g.numel(), generator=gen)]


@exercise("05.1", "a clipping hook")
def _check_05_1(answer: Any) -> str:
    clip_hook = as_function(answer, "05.1", "clip_hook")
    gen = generator()
    limit = round(float(0.5 + 2.5 * torch.rand((), generator=gen)), 2)
    limit += 0.37 if limit in (1.0, 2.0, 3.0) else 0.0  # so that a hard-coded ±1, ±2 or ±3 fails
    hook = call(clip_hook, limit, what="clip_hook")
    if hook is None or not callable(hook):
        raise Hint("clip_hook(limit) must *return* a function (a hook), e.g. lambda g: ...")
    g = _incoming(limit, gen)
    want = g.clamp(-limit, limit)
    # 1. called directly, as autograd calls it: the incoming gradient must not be changed in place
    incoming = g.clone()
    out = call(hook, incoming, what="your hook")
    changed = not torch.equal(incoming, g)
    if changed and out is None:
        raise Hint("your hook changes the incoming gradient in place (clamp_) and returns nothing: return "
                   "a clipped copy, g.clamp(-limit, limit), and leave the incoming gradient unchanged.")
    if changed:
        raise Hint("your hook changes the incoming gradient in place: autograd may use that tensor "
                   "elsewhere. Return a clipped copy, g.clamp(-limit, limit), without the trailing _.")
    if out is None:
        raise Hint("the gradient came through unchanged: does your hook *return* the clipped gradient?")
    if not isinstance(out, torch.Tensor):
        raise Hint(f"your hook returns a {type(out).__name__}: a hook returns a tensor (or None), which "
                   "autograd uses in place of the gradient.")
    if out.dtype != g.dtype or out.shape != g.shape:
        raise Hint(f"your hook turns a {g.dtype} gradient of shape {tuple(g.shape)} into a {out.dtype} "
                   f"tensor of shape {tuple(out.shape)}: autograd requires a hook to keep the gradient's "
                   "dtype and shape.")
    got = as_tensor(out, g.shape, "the hook's result")
    # 2. in a real backward pass
    w = torch.randn(g.numel(), generator=gen).requires_grad_(True)
    h = w * 1
    h.register_hook(hook)
    with learner_code("your hook, in backward"):
        (h * g).sum().backward()
    if close(got, want) and close(w.grad, want):
        return "the hook returns a clipped copy; returning it makes autograd use it."
    if close(got, g):
        raise Hint("the gradient came through unchanged: does your hook *return* the clipped gradient?")
    if close(got, g.clamp(max=limit)):
        raise Hint("entries below -limit were not clipped: clamp to [-limit, limit], g.clamp(-limit, limit).")
    if close(got, g.clamp(min=-limit)):
        raise Hint("entries above limit were not clipped: clamp to [-limit, limit], g.clamp(-limit, limit).")
    if close(got, g.abs().clamp(max=limit)) or close(got, want.abs()):
        raise Hint("the clipped gradient lost its signs: clamp each entry to [-limit, limit], "
                   "g.clamp(-limit, limit).")
    if close(got, g * limit / g.norm()) or close(got, g * min(1.0, limit / g.norm().item())):
        raise Hint("that rescales the whole gradient to norm limit; this exercise clamps every entry to "
                   "[-limit, limit]: g.clamp(-limit, limit).")
    for other in (1.0, 2.0, 3.0):
        if close(got, g.clamp(-other, other)):
            raise Hint(f"your hook clips to ±{other:g} whatever limit is: use clip_hook's argument limit "
                       f"(the check passed limit = {limit:g}).")
    raise Hint(f"clamp every entry to [-limit, limit]: with limit {limit:g} and incoming gradient "
               f"{[round(v, 2) for v in g.tolist()]}, expected {[round(v, 2) for v in want.tolist()]}.")


@exercise("05.2", "hooks piling up")
def _check_05_2(answer: Any) -> str:
    value = as_number(answer, "param.grad")
    if close(value, 27.0):
        return "three hooks by the third step, each multiplying by 3: 3³ = 27."
    if value < 0 and close(-value, 27.0):
        raise Hint("the sign is flipped: each hook multiplies by +3, so the gradient stays positive.")
    if close(value, 3.0):
        raise Hint("that would be right with one hook; but a new hook is added every step and none is removed.")
    if close(value, 9.0):
        raise Hint("9 = 3² is the second step; how many hooks are registered by the third?")
    if close(value, 1 + 3 + 9) or close(value, 39.0) or close(value, 3 + 9 + 27):
        raise Hint("param.grad is reset to None each step, so nothing carries over between steps.")
    if close(value, 1.0):
        raise Hint("each hook multiplies the gradient by 3, and hooks are never removed.")
    raise Hint("count the hooks registered by the third step; each one multiplies the gradient by 3.")


@exercise("05.3", "flip one branch, keep the other")
def _check_05_3(answer: Any) -> str:
    adversarial_grads = as_function(answer, "05.3", "adversarial_grads")
    gen = generator()
    signs = torch.tensor([1.0, -1.0, 1.0, -1.0])
    x0 = (torch.rand(4, generator=gen) + 0.5) * signs
    y0 = (torch.rand(4, generator=gen) + 0.5) * signs.flip(0)
    x, y = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
    with count_engine_calls() as engine:
        call(adversarial_grads, x, y, what="adversarial_grads")
    if x.grad is None or y.grad is None:
        raise Hint(f"{'x.grad' if x.grad is None else 'y.grad'} is None: call backward() on "
                   "f(x', y) + r(x), so that it fills both.")
    want_x, want_y = -y0 + 2 * x0, x0
    if engine.total == 0:
        raise Hint("nothing ran backward: the exercise asks for one backward() call on f(x', y) + r(x), "
                   "not gradients written by hand.")
    if engine.total > 1:
        raise Hint(f"the autograd engine ran {engine.total} times: use one backward() call on "
                   "f(x', y) + r(x).")
    if close(x.grad, want_x) and close(y.grad, want_y):
        return "reverse_grad(x) on f's branch only: f's gradient to x is flipped, r's is not."
    implied = ((x.grad - 2 * x0) / y0).mean().item()  # x.grad = implied · y0 + 2 x0: f's share scaled
    if close(x.grad, implied * y0 + 2 * x0) and close(y.grad, want_y) and not close(implied, -1.0) \
            and not close(implied, 1.0):
        raise Hint(f"f's gradient to x arrives multiplied by {implied:.3g}: the reversal must multiply by "
                   "−1 exactly (scale 1), r's gradient is right.")
    if close(x.grad, -(y0 + 2 * x0)):
        raise Hint("the regulariser's gradient is flipped too: a hook on x flips everything that reaches "
                   "x; flip only f's input, e.g. f(reverse_grad(x), y).")
    if close(x.grad, y0 + 2 * x0) and close(y.grad, want_y):
        raise Hint("nothing is flipped: the gradient f sends to x must be negated.")
    if close(x.grad, want_x) and close(y.grad, -want_y):
        raise Hint("y's gradient is flipped too: -f(x, y) negates both inputs' gradients; flip only the "
                   "path into x, f(reverse_grad(x), y).")
    raise Hint("compute (f(reverse_grad(x), y) + r(x)).backward() "
               "with f(x, y) = (x * y).sum(), r(x) = (x ** 2).sum().")
