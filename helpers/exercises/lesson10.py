"""Checks for lesson 10's exercises (Node hooks and custom gradient rules)."""

from __future__ import annotations

import inspect
from typing import Any

import torch

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_floats, as_function, as_tensor, call, close, generator, learner_code


@exercise("10.1", "the order of tensor hook, retain_grad and Node pre-hook")
def _check_10_1(answer: Any) -> str:
    h_grad, w_grad = as_floats(answer, 2, "[h.grad, w.grad]")
    if close(h_grad, 12.0) and close(w_grad, 39.0):
        return ("4 · 3 = 12 reaches h.grad before the pre-hook runs; the pre-hook's +1 reaches "
                "MulBackward0: w.grad = (12 + 1) · 3 = 39.")
    if close(h_grad, 13.0):
        raise Hint("h.grad is stored right after the tensor hooks, before the Node pre-hook runs: it "
                   "has the hook's ×3 but not the pre-hook's +1.")
    if close(h_grad, 4.0) or close(h_grad, 5.0):
        raise Hint("the tensor hook on h (×3) runs before retain_grad stores h.grad, so h.grad "
                   "includes it.")
    if not close(h_grad, 12.0):
        raise Hint("h.grad: the loss (h · 4).sum() sends 4 to h; the tensor hook multiplies it by 3.")
    if close(w_grad, 36.0):
        raise Hint("w.grad: the pre-hook's +1 changes the gradient MulBackward0 receives, so it does "
                   "reach w: (12 + 1) · 3.")
    if close(w_grad, 12.0) or close(w_grad, 13.0):
        raise Hint("w.grad: MulBackward0 multiplies the gradient it receives by 3 (h = w · 3).")
    if close(w_grad, 37.0):
        raise Hint("w.grad: the +1 is added before the node multiplies by 3, not after: (12 + 1) · 3.")
    raise Hint("w.grad: follow the gradient: 4 from the loss, ×3 (tensor hook), +1 (pre-hook), ×3 "
               "(MulBackward0).")


def _overrides(cls: type, name: str) -> bool:
    return any(name in vars(k) for k in cls.__mro__ if k is not torch.autograd.Function
               and issubclass(k, torch.autograd.Function))


def _upstream(n: int, c: float, gen: torch.Generator) -> torch.Tensor:
    """An incoming gradient with entries above c, below −c and inside, of both signs, shuffled."""
    big = c * (1.5 + torch.rand(n // 4, generator=gen)) + 2.0
    small = c * (0.1 + 0.8 * torch.rand(n // 4, generator=gen))
    g = torch.cat([big, -big, small, -small])
    return g[torch.randperm(g.numel(), generator=gen)]


@exercise("10.2", "a custom Function that clamps the gradient")
def _check_10_2(answer: Any) -> str:
    if not (inspect.isclass(answer) and issubclass(answer, torch.autograd.Function)):
        raise Hint("give the class itself, a subclass of torch.autograd.Function: "
                   "check('10.2', ClampGrad).")
    if not _overrides(answer, "forward") or not _overrides(answer, "backward"):
        raise Hint("ClampGrad needs static methods forward(x, c), setup_context(ctx, inputs, output) "
                   "and backward(ctx, grad).")
    gen = generator()
    c = round(float(0.6 + 2.0 * torch.rand((), generator=gen)), 2)
    c += 0.37 if c in (1.0, 2.0) else 0.0
    g = _upstream(8, c, gen)
    x = _upstream(8, c, gen).requires_grad_(True)  # entries beyond ±c: a clamp in forward shows
    out = call(answer.apply, x, c, what="ClampGrad.apply(x, c)")
    if not isinstance(out, torch.Tensor):
        raise Hint(f"forward returns {type(out).__name__}: it returns a tensor, x's values.")
    if not close(as_tensor(out, x.shape, "ClampGrad's output"), x.detach()):
        raise Hint("the forward pass must be the identity: return x (or x.clone()); clamp only in backward.")
    with learner_code("ClampGrad's backward"):
        (out * g).sum().backward()
    if x.grad is None:
        raise Hint("x got no gradient: backward must return the clamped gradient for x (and None for c).")
    got, want = as_tensor(x.grad, g.shape, "x.grad"), g.clamp(-c, c)
    if not close(got, want):
        if close(got, g):
            raise Hint("the gradient came through unclamped: backward returns grad.clamp(-c, c).")
        if close(got, -want):
            raise Hint("the clamped gradient has the wrong sign: clamp, don't negate.")
        if close(got, g * min(1.0, c / g.norm().item())):
            raise Hint("that rescales the whole gradient to norm c; clamp each entry to [-c, c].")
        if close(got, g.clamp(max=c)) or close(got, g.clamp(min=-c)):
            raise Hint("clamp on both sides: grad.clamp(-c, c).")
        for other in (1.0, 2.0):
            if close(got, g.clamp(-other, other)):
                raise Hint(f"your backward clamps to ±{other:g} whatever c is: save c in setup_context "
                           f"(ctx.c = inputs[1]) and use it (the check used c = {c:g}).")
        raise Hint(f"with c = {c:g} and incoming gradient {[round(v, 2) for v in g.tolist()]}, x.grad "
                   f"should be {[round(v, 2) for v in want.tolist()]}.")
    X = torch.randn(3, 8, generator=gen)
    G = torch.stack([_upstream(8, c, gen) for _ in range(3)])
    per_row = torch.func.vmap(torch.func.grad(lambda xi, gi: (answer.apply(xi, c) * gi).sum()))
    try:
        with torch.enable_grad():
            got = per_row(X, G)
    except RuntimeError as exc:
        text = str(exc)
        if "setup_context" in text:
            raise Hint("it works with backward() but not under torch.func: write forward without ctx and "
                       "a setup_context(ctx, inputs, output) static method.") from None
        if "vmap" in text:
            raise Hint("torch.func.vmap needs a batching rule: add generate_vmap_rule = True to the "
                       "class.") from None
        raise Hint(f"under vmap(grad(...)) ClampGrad raised RuntimeError: {text.splitlines()[0]}") from None
    if not close(as_tensor(got, G.shape, "vmap(grad(...))"), G.clamp(-c, c)):
        raise Hint("under vmap(grad(...)) the per-row gradients are not clamped to [-c, c].")
    return "identity forward, clamped backward, and a vmap rule: it works in backward() and in torch.func."


def _squared(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ w - y) ** 2


def _logistic(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.softplus(-y * (x @ w))


@exercise("10.3", "per-sample gradient clipping")
def _check_10_3(answer: Any) -> str:
    clipped_mean_grad = as_function(answer, "10.3", "clipped_mean_grad")
    gen = generator()
    for loss in (_squared, _logistic):
        for _ in range(50):  # data where some samples are clipped, some not, and the mean is too
            w = torch.randn(3, generator=gen)
            X = torch.randn(8, 3, generator=gen) * 2
            Y = torch.sign(torch.randn(8, generator=gen)) * (1 + torch.rand(8, generator=gen))
            G = torch.stack([torch.func.grad(loss)(w, x, y) for x, y in zip(X, Y)])
            norms = G.norm(dim=1, keepdim=True)
            C = 0.9 * min(float(norms.median()), float(G.mean(0).norm()))
            if float(norms.min()) < 0.9 * C:
                break
        want = (G * (C / norms).clamp(max=1.0)).mean(0)
        w_before = w.clone()
        got = call(clipped_mean_grad, loss, w, X, Y, C, what="clipped_mean_grad")
        if got is None:
            raise Hint("clipped_mean_grad returns None: return the mean of the clipped per-sample gradients.")
        got = as_tensor(got, (3,), "the clipped mean gradient")
        if not torch.equal(w, w_before):
            raise Hint("clipped_mean_grad changed w: compute gradients without updating w.")
        if close(got, want):
            continue
        mean = G.mean(0)
        if close(got, mean * min(1.0, C / mean.norm().item())):
            raise Hint("that clips the mean gradient; clip each sample's gradient first, then average.")
        if close(got, mean):
            raise Hint("nothing was clipped: scale each sample's gradient by min(1, C / its norm).")
        if close(got, (G * (C / norms)).mean(0)):
            raise Hint("every sample was scaled to norm C, also those already smaller: scale by "
                       "min(1, C / norm).")
        if close(got, want * len(G)):
            raise Hint("that is the sum over samples; the exercise asks for the mean.")
        if close(got, G.clamp(-C, C).mean(0)):
            raise Hint("that clamps entries; clipping scales each sample's whole gradient to norm ≤ C.")
        raise Hint(f"for loss {loss.__name__.strip('_')} the clipped mean should be "
                   f"{[round(v, 4) for v in want.tolist()]}; you gave {[round(v, 4) for v in got.tolist()]}.")
    return "each sample clipped to norm ≤ C, then averaged: per-sample clipping."
