"""Checks for lesson 09's exercises (torch.compile, torch.func, saved-tensor hooks)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_function, build_module, call, close, generator, learner_code


@exercise("09.1", "a gradient flip that works under torch.func")
def _check_09_1(answer: Any) -> str:
    flip = as_function(answer, "09.1", "flip")
    gen = generator()
    t = torch.randn(5, generator=gen)
    weights = torch.randn(5, generator=gen) + torch.tensor([2.0, -2.0, 2.0, -2.0, 2.0])  # mixed signs
    u = t.clone().requires_grad_()
    out = call(flip, u, what="flip(x)")
    if not isinstance(out, torch.Tensor):
        raise Hint(f"flip(x) must return a tensor, got {type(out).__name__}.")
    if out.shape != t.shape or not close(out.detach(), t):
        raise Hint("in the forward pass flip(x) must return x's values unchanged.")
    if not out.requires_grad:
        raise Hint("flip(x) is cut from the graph (detached?): the gradient must flow, negated.")
    with torch.enable_grad():
        (out * weights).sum().backward()
    if u.grad is None or not close(u.grad, -weights):
        if u.grad is not None and close(u.grad, weights):
            raise Hint("with backward(), the gradient passes unchanged: it must be negated.")
        raise Hint("with backward(), the gradient of flip(x) must be minus the incoming gradient.")
    # the flip must act on what goes through flip(x) only, not on every gradient reaching x (a hook)
    other = torch.randn(5, generator=gen) - 2 * torch.sign(weights)  # mostly opposite signs to weights
    u = t.clone().requires_grad_()
    with torch.enable_grad():
        ((call(flip, u, what="flip(x)") * weights).sum() + (u * other).sum()).backward()
    if u.grad is None or not close(u.grad, other - weights):
        if u.grad is not None and close(u.grad, -(other + weights)):
            raise Hint("flip(x) negates every gradient that reaches x, also one that does not go through "
                       "flip(x) (a hook on x does that): return a new tensor whose backward negates, "
                       "e.g. with an autograd.Function.")
        raise Hint("for (flip(x) * w).sum() + (x * w2).sum(), x's gradient must be −w + w2: only the part "
                   "through flip(x) is negated.")
    try:
        g = torch.func.grad(lambda v: (flip(v) * weights).sum())(t)
    except RuntimeError as exc:
        if "setup_context" in str(exc):
            raise Hint("torch.func.grad refuses an autograd.Function with forward(ctx, x): write "
                       "forward(x) and a separate setup_context (as GradReverse does).") from None
        raise Hint(f"under torch.func.grad, flip raised RuntimeError: {str(exc).splitlines()[0]}") from None
    if not close(g, -weights):
        raise Hint("under torch.func.grad the gradient is not −(incoming gradient), though backward() "
                   "gives it: use an autograd.Function with setup_context, or reverse_grad.")
    return "the identity forward, the negated gradient backward, in both worlds."


@exercise("09.2", "a gradient flip that works under vmap(grad(...))")
def _check_09_2(answer: Any) -> str:
    flip = as_function(answer, "09.2", "flip")
    gen = generator()
    batch = torch.randn(4, 5, generator=gen)
    weights = torch.randn(5, generator=gen) + torch.tensor([2.0, -2.0, 2.0, -2.0, 2.0])  # mixed signs
    u = batch[0].clone().requires_grad_()
    with learner_code("flip(x)"), torch.enable_grad():
        out = flip(u)
        if not isinstance(out, torch.Tensor):
            raise Hint(f"flip(x) must return a tensor, got {type(out).__name__}.")
        if out.shape != u.shape or not close(out.detach(), u.detach()):
            raise Hint("in the forward pass flip(x) must return x's values unchanged.")
        if not out.requires_grad:
            raise Hint("flip(x) is cut from the graph (detached?): the gradient must flow, negated.")
        (out * weights).sum().backward()
    if u.grad is None or not close(u.grad, -weights):
        raise Hint("with backward(), the gradient of flip(x) must be minus the incoming gradient.")

    def per_row(v: torch.Tensor) -> torch.Tensor:
        return (flip(v) * weights).sum() + (v * v).sum()  # the second term keeps its gradient, 2v

    try:
        got = torch.func.vmap(torch.func.grad(per_row))(batch)
    except RuntimeError as exc:
        text = str(exc)
        if "setup_context" in text:
            raise Hint("torch.func refuses an autograd.Function with forward(ctx, x): write forward(x) and "
                       "a separate setup_context.") from None
        if "vmap" in text:
            raise Hint("vmap needs a rule for your Function: set generate_vmap_rule = True on the class "
                       "(or write a vmap staticmethod).") from None
        raise Hint(f"under vmap(grad(...)), flip raised RuntimeError: {text.splitlines()[0]}") from None
    if close(got, -weights + 2 * batch):
        return "identity forward, −gradient backward, with backward(), torch.func.grad and vmap."
    if close(got, -(weights + 2 * batch)):
        raise Hint("under vmap(grad(...)) every gradient that reaches x is negated, also the one that does "
                   "not go through flip(x): negate only the gradient through flip's output.")
    raise Hint("under vmap(grad(...)) the gradient through flip(x) is not −(incoming gradient).")


def _model(gen: torch.Generator) -> nn.Module:
    return build_module(lambda: nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                                              nn.Linear(32, 1)), gen)


def _saved_bytes(packed: Any) -> int:
    """Bytes of the tensors in what ``pack`` returned (a tensor, or a tuple/list holding tensors)."""
    if isinstance(packed, torch.Tensor):
        return packed.numel() * packed.element_size()
    if isinstance(packed, (tuple, list)):
        return sum(_saved_bytes(p) for p in packed)
    return 0


@exercise("09.3", "saved-tensor hooks that store large activations in bfloat16")
def _check_09_3(answer: Any) -> str:
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and all(callable(a) for a in answer)):
        raise Hint("give the two functions as a pair: check('09.3', (pack, unpack)).")
    pack, unpack = answer
    gen = generator()
    for rows, dtype in ((40, torch.float32), (40, torch.float64), (5, torch.float32)):
        t = torch.randn(rows, 50, generator=gen, dtype=dtype)  # 2000 elements, or 250
        back = call(unpack, call(pack, t, what="pack"), what="unpack")
        if not isinstance(back, torch.Tensor):
            raise Hint(f"unpack must return a tensor, got {type(back).__name__}.")
        if back.shape != t.shape:
            raise Hint(f"unpack(pack(t)) must have t's shape {tuple(t.shape)}, got {tuple(back.shape)}.")
        if back.dtype != t.dtype:
            raise Hint(f"unpack must give back the saved tensor's own dtype ({t.dtype}), got {back.dtype}: "
                       "keep the dtype in what pack returns and convert back with .to(dtype).")
        small = t.numel() <= 1000
        if small and not torch.equal(back, t):
            raise Hint("a tensor of 1,000 elements or fewer must come back exactly as it was: keep it as it is.")
        kept = _saved_bytes(call(pack, t, what="pack"))
        if not small and kept > t.numel() * 2:
            raise Hint(f"pack keeps {kept} bytes for a tensor of {t.numel()} elements ({t.dtype}): store a "
                       "tensor of more than 1,000 elements as bfloat16 (2 bytes per value).")
        if not small and not torch.allclose(back, t, rtol=1e-2, atol=1e-2):
            raise Hint("unpack(pack(t)) must be t up to bfloat16 rounding (about 3 significant digits).")
    model = _model(gen)
    x = torch.randn(64, 6, generator=gen)
    want = torch.autograd.grad(model(x).sum(), list(model.parameters()))
    with learner_code("your hooks (during forward and backward)"), torch.enable_grad():
        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            loss = model(x).sum()
        got = torch.autograd.grad(loss, list(model.parameters()))
    if not all(float((u - v).abs().max()) <= 2e-2 * float(v.abs().max()) for u, v in zip(got, want)):
        raise Hint("with your hooks the gradients are far from the plain ones: unpack must return the "
                   "saved tensor's values (in its dtype).")
    return "large saved tensors in half the bytes, small ones untouched; gradients equal to bfloat16 rounding."
