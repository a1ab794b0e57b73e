"""Checks for lesson 02's exercises (detach)."""

from __future__ import annotations

from typing import Any

import torch

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import (
    as_choice,
    as_floats,
    as_function,
    as_tensor,
    call,
    close,
    generator,
    learner_code,
)


@exercise("02.1", "gradient of (p * p.detach()).sum()")
def _check_02_1(answer: Any) -> str:
    got = as_floats(answer, 3, "p.grad")
    if close(got, [1.0, 2.0, 3.0]):
        return "the detached factor is a constant c (p's values), so d/dp sum(p · c) = c."
    if close(got, [2.0, 4.0, 6.0]):
        raise Hint("[2, 4, 6] is twice the answer. Either it is the gradient of (p * p).sum(), 2p — but "
                   "the detached copy is a constant, so only one factor counts — or backward() ran twice "
                   "(the cell run again?) and .grad added both: rebuild p, or set p.grad = None, first.")
    if close(got, [-1.0, -2.0, -3.0]) or close(got, [-2.0, -4.0, -6.0]):
        raise Hint("the sign is flipped: the loss grows with p here, so its gradient is positive.")
    if close(got, [0.0, 0.0, 0.0]):
        raise Hint("only one factor is detached; the gradient still flows through the other one.")
    if close(got, [1.0, 1.0, 1.0]):
        raise Hint("1 would be the gradient of p.sum(); here p is multiplied by a constant c = p's values.")
    if close(got, [1.0, 4.0, 9.0]):
        raise Hint("[1, 4, 9] is the loss's terms p · p, not their gradient.")
    raise Hint("treat p.detach() as a constant c: what is d/dp of sum(p * c)?")


@exercise("02.2", "a straight-through sign")
def _check_02_2(answer: Any) -> str:
    fn = as_function(answer, "02.2", "sign_ste")
    gen = generator()
    # three magnitudes in [0.1, 0.9], three in [1.2, 2.2], every time: a straight-through estimator
    # clipped to |x| <= 1 (hardtanh) is told apart; small values, where x + (sign(x) - x).detach() and
    # sign(x) + (x - x.detach()) give exactly the same value
    magnitudes = torch.cat([0.1 + 0.8 * torch.rand(3, generator=gen), 1.2 + torch.rand(3, generator=gen)])
    signs = torch.tensor([-1.0, 1.0, -1.0, 1.0, 1.0, -1.0])  # each group has both signs
    x = (magnitudes * signs)[torch.randperm(6, generator=gen)].requires_grad_(True)
    upstream = torch.randn(6, generator=gen)
    out = call(fn, x, what="sign_ste")
    if out is None:
        raise Hint("sign_ste returned None: return a tensor.")
    if not isinstance(out, torch.Tensor):
        raise Hint(f"sign_ste should return a tensor; it returned a {type(out).__name__}.")
    value = as_tensor(out, x.shape, "sign_ste(x)")
    if not close(value, torch.sign(x.detach())):
        if close(value, x.detach()):
            raise Hint("the value is x itself: it must be torch.sign(x); the trick changes the gradient, "
                       "not the value.")
        raise Hint("the value must be torch.sign(x): the trick changes the gradient, not the value.")
    if not out.requires_grad:
        raise Hint("your result does not require grad: did you detach the whole expression? "
                   "Only (sign(x) - x) should be detached.")
    with learner_code("backward through sign_ste"):
        (out * upstream.to(out.dtype)).sum().backward()
    if x.grad is None or close(x.grad, torch.zeros(6)):
        raise Hint("the gradient is zero, as for torch.sign itself: add a part whose value is zero and "
                   "whose gradient is 1, torch.sign(x) + (x - x.detach()) (exact for every x), or detach "
                   "the part that changes the value, x + (torch.sign(x) - x).detach().")
    if close(x.grad, upstream):
        return "forward: sign(x); backward: the gradient of x, i.e. 1."
    if close(x.grad, -upstream):
        raise Hint("the gradient is −1: the straight-through estimator passes the gradient unchanged (+1).")
    inside = x.detach().abs() < 1
    if close(x.grad[inside], upstream[inside]) and close(x.grad[~inside], torch.zeros(int((~inside).sum()))):
        raise Hint("your gradient is 1 for |x| < 1 and 0 beyond: that is a clipped straight-through "
                   "estimator (hardtanh's gradient); this exercise passes the gradient unchanged "
                   "everywhere.")
    scale = (x.grad / upstream).mean().item()
    if close(x.grad, scale * upstream):
        raise Hint(f"your gradient is {scale:.3g} × the incoming one; straight through means × 1.")
    raise Hint("the gradient should be 1 everywhere (straight through), whatever x is; yours depends on x.")


FREEZE_CHOICES = {
    "requires_grad_(False)": ("requires_grad_", "requires_grad", "requires_grad=False", "requires_grad_(false)",
                              "param.requires_grad_(False)", "embedding.requires_grad_(False)"),
    "detach": (),
    "no_grad": (),
    "inference_mode": (),
    "eval": (),
}


@exercise("02.3", "freezing a layer")
def _check_02_3(answer: Any) -> str:
    hints = {
        "detach": "detach() acts on one tensor in one forward pass: it freezes the layer only if you "
                  "edit the model's forward to detach the embedding's output at every call. The tool "
                  "you want marks the layer's parameters once.",
        "no_grad": "no_grad() freezes the embedding only if you edit the model's forward so that exactly "
                   "the embedding call runs inside it, at every call (wrap more, e.g. the whole forward, "
                   "and the layers after it get no gradient either). The tool you want marks the layer's "
                   "parameters once, without touching forward.",
        "inference_mode": "inference_mode() needs the same edit of forward as no_grad(), and its output "
                          "is an inference tensor, which the next layers may refuse: a Linear that "
                          "trains raises \"Inference tensors cannot be saved for backward\" (whether "
                          "backward runs depends on what the next layer saves). inference_mode() is for "
                          "code that never needs gradients; the tool you want marks the layer's "
                          "parameters once.",
        "eval": "eval() changes dropout and batch-norm behaviour; gradients still flow and the optimizer "
                "still updates the layer.",
    }
    compact = "".join(answer.split()).lower().strip("'\"`") if isinstance(answer, str) else ""
    if "requires_grad" in compact:  # model.embedding.requires_grad_(False), p.requires_grad = False, …
        if "true" in compact or compact.endswith("requires_grad_()"):
            raise Hint("requires_grad_(True) (also requires_grad_() with no argument) is what parameters "
                       "already have: it keeps the layer training. Freezing is the opposite call.")
        if "detach()" in compact:  # embedding.weight.detach().requires_grad_(False)
            raise Hint("detach() returns a new tensor: requires_grad_(False) on it leaves the embedding's own "
                       "parameters training. Call it on the layer itself, embedding.requires_grad_(False).")
        compact = "requires_grad_(false)"
    choice = as_choice(compact or answer, FREEZE_CHOICES)
    if choice == "requires_grad_(False)":
        return ("embedding.requires_grad_(False): from then on backward() gives its parameters no new "
                "gradient. A .grad they already hold stays: clear it (zero_grad(), whose default sets it "
                "to None), or an optimizer with momentum keeps moving them.")
    raise Hint(hints[choice])
