"""Checks for lesson 05's exercises (register_hook)."""

from __future__ import annotations

import math
from typing import Any

import torch

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_function, as_number


@exercise("05.1", "a clipping hook")
def _check_05_1(answer: Any) -> str:
    as_function(answer, "05.1", "clip_hook")
    hook = answer(2.0)
    if hook is None or not callable(hook):
        raise Hint("clip_hook(limit) must *return* a function (a hook), e.g. lambda g: ...")
    w = torch.tensor([1.0, -3.0, 0.5], requires_grad=True)
    h = w * 1
    h.register_hook(hook)
    (h * torch.tensor([5.0, 4.0, 1.0])).sum().backward()  # incoming gradient [5, 4, 1]
    got = w.grad
    if torch.equal(got, torch.tensor([2.0, 2.0, 1.0])):
        return "the hook returns a clipped copy; returning it makes autograd use it."
    if torch.equal(got, torch.tensor([5.0, 4.0, 1.0])):
        raise Hint("the gradient came through unchanged: does your hook *return* the clipped gradient?")
    if torch.equal(got, torch.tensor([2.0, 2.0, 2.0])) or torch.equal(got, torch.tensor([2.0, -2.0, 1.0])):
        raise Hint("clamp every entry to [-limit, limit]: g.clamp(-limit, limit).")
    raise Hint(f"with limit 2 and an incoming gradient [5, 4, 1], expected [2, 2, 1], got {got.tolist()}.")


@exercise("05.2", "hooks piling up")
def _check_05_2(answer: Any) -> str:
    answer = as_number(answer)
    if math.isclose(answer, 27):
        return "three hooks by the third step, each multiplying by 3: 3³ = 27."
    if math.isclose(answer, 3):
        raise Hint("that would be right with one hook; but a new hook is added every step and none is removed.")
    if math.isclose(answer, 9):
        raise Hint("9 = 3² is the second step; how many hooks are registered by the third?")
    if math.isclose(answer, 1 + 3 + 9) or math.isclose(answer, 39):
        raise Hint("param.grad is reset to None each step, so nothing carries over between steps.")
    raise Hint("count the hooks registered by the third step; each one multiplies the gradient by 3.")


@exercise("05.3", "flip one branch, keep the other")
def _check_05_3(answer: Any) -> str:
    as_function(answer, "05.3", "adversarial_grads")
    x = torch.tensor([1.0, 2.0, -1.0], requires_grad=True)
    y = torch.tensor([0.5, -1.0, 3.0], requires_grad=True)
    passes = []
    y.register_hook(lambda g: passes.append(1))
    answer(x, y)
    if x.grad is None or y.grad is None:
        raise Hint("x.grad or y.grad is None: did you call backward()?")
    if len(passes) > 1:
        raise Hint("use one backward() call.")
    want_x = -y.detach() + 2 * x.detach()
    want_y = x.detach()
    if torch.allclose(x.grad, want_x) and torch.allclose(y.grad, want_y):
        return "reverse_grad(x) on f's branch only: f's gradient to x is flipped, r's is not."
    if torch.allclose(x.grad, -(y.detach() + 2 * x.detach())):
        raise Hint("the regulariser's gradient is flipped too: a hook on x flips everything; flip only "
                   "f's input, e.g. f(reverse_grad(x), y).")
    if torch.allclose(x.grad, y.detach() + 2 * x.detach()):
        raise Hint("nothing is flipped: the gradient f sends to x must be negated.")
    raise Hint("compute (f(reverse_grad(x), y) + r(x)).backward() "
               "with f(x, y) = (x * y).sum(), r(x) = (x ** 2).sum().")
