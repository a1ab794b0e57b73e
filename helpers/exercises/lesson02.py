"""Checks for lesson 02's exercises (detach)."""

from __future__ import annotations

from typing import Any

import torch

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_floats, as_function, close


@exercise("02.1", "gradient of (p * p.detach()).sum()")
def _check_02_1(answer: Any) -> str:
    got = as_floats(answer, 3, "p.grad")
    if close(got, [1.0, 2.0, 3.0]):
        return "the detached factor is a constant, so d/dp (p · c) = c = p's values."
    if close(got, [2.0, 4.0, 6.0]):
        raise Hint("2p is the gradient of (p * p).sum(): the detached copy is a constant, so only one factor counts.")
    if close(got, [0.0, 0.0, 0.0]):
        raise Hint("only one factor is detached; the gradient still flows through the other one.")
    raise Hint("treat p.detach() as a constant c: what is d/dp of sum(p * c)?")


@exercise("02.2", "a straight-through sign")
def _check_02_2(answer: Any) -> str:
    as_function(answer, "02.2", "sign_ste")
    x = torch.tensor([-1.5, -0.2, 0.3, 2.0], requires_grad=True)
    out = answer(x)
    if out is None:
        raise Hint("sign_ste returned None: return a tensor.")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise Hint("sign_ste should return a tensor of the same shape as x.")
    if not torch.equal(out.detach(), torch.sign(x.detach())):
        raise Hint("the value must be torch.sign(x): the trick changes the gradient, not the value.")
    if not out.requires_grad:
        raise Hint("your result does not require grad: did you detach the whole expression? "
                   "Only (sign(x) - x) should be detached.")
    out.sum().backward()
    if x.grad is None or torch.equal(x.grad, torch.zeros_like(x)):
        raise Hint("the gradient is zero, as for torch.sign itself: write x + (torch.sign(x) - x).detach().")
    if not torch.equal(x.grad, torch.ones_like(x)):
        raise Hint(f"the gradient should be 1 everywhere, got {x.grad.tolist()}.")
    return "forward: sign(x); backward: the gradient of x, i.e. 1."


CHOICES = 'answer with one of the strings "detach", "no_grad", "inference_mode", "requires_grad_(False)", "eval".'


@exercise("02.3", "freezing a layer")
def _check_02_3(answer: Any) -> str:
    hints = {
        "detach": "detach() acts on one tensor in one forward pass; you would have to remember it "
                  "everywhere the layer is used.",
        "no_grad": "no_grad() stops recording for a whole block: the layers after the embedding would get "
                   "no gradient either.",
        "inference_mode": "inference_mode() is for code that never needs gradients; training the rest needs them.",
        "eval": "eval() changes dropout and batch-norm behaviour; gradients still flow and the optimizer "
                "still updates the layer.",
    }
    if not isinstance(answer, str):
        raise Hint(CHOICES)
    key = answer.strip().replace("torch.", "").replace("()", "")
    if key in ("requires_grad_(False)", "requires_grad_(false)"):
        return "embedding.requires_grad_(False): its parameters get no .grad, so the optimizer leaves them alone."
    if key in hints:
        raise Hint(hints[key])
    raise Hint(CHOICES)
