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
    normalise_name,
)


@exercise("02.1", "gradient of (p * p.detach()).sum()")
def _check_02_1(answer: Any) -> str:
    got = as_floats(answer, 3, "p.grad")
    if close(got, [1.0, 2.0, 3.0]):
        return "the detached factor is a constant c (p's values), so d/dp sum(p · c) = c."
    if close(got, [2.0, 4.0, 6.0]):
        raise Hint("2p is the gradient of (p * p).sum(): the detached copy is a constant, so only one "
                   "factor counts.")
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
    magnitudes = torch.rand(6, generator=gen) * 2 + 0.1
    x = (magnitudes * torch.tensor([-1.0, 1.0, -1.0, 1.0, 1.0, -1.0])).requires_grad_(True)
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
        raise Hint("the gradient is zero, as for torch.sign itself: detach the part that changes the "
                   "value, x + (torch.sign(x) - x).detach(), so that only x's gradient (1) remains.")
    if close(x.grad, upstream):
        return "forward: sign(x); backward: the gradient of x, i.e. 1."
    if close(x.grad, -upstream):
        raise Hint("the gradient is −1: the straight-through estimator passes the gradient unchanged (+1).")
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
        "inference_mode": "the embedding's output, made under inference_mode(), is an inference "
                          "tensor: the next layer, which trains, raises \"Inference tensors cannot be "
                          "saved for backward\". inference_mode() is for code that never needs gradients.",
        "eval": "eval() changes dropout and batch-norm behaviour; gradients still flow and the optimizer "
                "still updates the layer.",
    }
    if isinstance(answer, str) and normalise_name(answer).endswith("requires_grad_(true)"):
        raise Hint("requires_grad_(True) is what parameters already have: it keeps the layer training. "
                   "Freezing is the opposite call.")
    choice = as_choice(answer, FREEZE_CHOICES)
    if choice == "requires_grad_(False)":
        return ("embedding.requires_grad_(False): its parameters get no .grad, so the optimizer leaves "
                "them alone.")
    raise Hint(hints[choice])
