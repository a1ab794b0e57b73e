"""Checks for lesson 01's exercises (the autograd graph)."""

from __future__ import annotations

import math
from typing import Any

import torch

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_function, as_number


@exercise("01.1", "dv/du of u**3 + 2u at u = 3")
def _check_01_1(answer: Any) -> str:
    value = as_number(answer, "dv/du")
    expected = 3 * 3.0**2 + 2  # 29
    if math.isclose(value, expected, rel_tol=1e-6):
        return "dv/du = 3u² + 2 = 29 at u = 3."
    if math.isclose(value, 2 * expected, rel_tol=1e-6):
        raise Hint("your gradient is twice the expected value: did you call backward() twice without resetting u.grad?")
    if math.isclose(value, 27, rel_tol=1e-6):
        raise Hint("27 is the derivative of u**3 alone: the 2*u term adds 2.")
    if math.isclose(value, 33, rel_tol=1e-6):
        raise Hint("33 is v itself (27 + 6), not its derivative: read u.grad after v.backward().")
    raise Hint(f"{value:g} is not dv/du at u = 3. Build u with requires_grad=True, call v.backward(), read u.grad.")


@exercise("01.2", "which tensors are leaves that receive .grad")
def _check_01_2(answer: Any) -> str:
    if isinstance(answer, (list, tuple)):
        answer = set(answer)
    if not isinstance(answer, (set, frozenset)) or not all(isinstance(a, str) for a in answer):
        raise Hint('give a set of names, e.g. {"w"}.')
    expected = {"w"}
    if answer == expected:
        return ("only w: it is a leaf *and* requires grad. x and s are leaves that do not require grad; "
                "y and h are not leaves.")
    if "y" in answer or "h" in answer:
        raise Hint("y and h were computed from w: they have a grad_fn, so they are not leaves "
                   "(their .grad stays None).")
    if "x" in answer or "s" in answer:
        raise Hint("x and s are leaves, but they do not require grad, so backward() gives them no .grad.")
    raise Hint("one tensor in this notebook was created with requires_grad=True: that is the leaf that gets a .grad.")


@exercise("01.3", "one gradient per batch, without accumulation")
def _check_01_3(answer: Any) -> str:
    as_function(answer, "01.3", "train_grads")
    w = torch.tensor([1.0, -1.0, 0.5], requires_grad=True)
    batches = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([0.5, 0.5, 0.5])]
    expected = [2 * (w.detach() * xb).sum() * xb for xb in batches]
    result = answer(w, batches)
    if result is None:
        raise Hint("train_grads returned None: return a list with one gradient tensor per batch.")
    result = list(result)
    if len(result) != len(batches):
        raise Hint(f"expected {len(batches)} gradients (one per batch), got {len(result)}.")
    if not all(isinstance(g, torch.Tensor) for g in result):
        raise Hint("every item of the list should be a tensor (a clone of w.grad).")
    if all(torch.allclose(g, e) for g, e in zip(result, expected)):
        return "each batch's gradient stands alone because .grad was reset before each backward()."
    running = torch.stack(expected).cumsum(0)
    if all(torch.allclose(g, r) for g, r in zip(result, running)):
        raise Hint("your gradients are running sums: .grad accumulates, so reset it (w.grad = None) "
                   "before each backward().")
    if len(result) > 1 and all(g is result[-1] or torch.equal(g, result[-1]) for g in result):
        raise Hint("all your gradients are the same tensor: store w.grad.clone(), not w.grad itself, "
                   "which later steps change.")
    raise Hint("for each batch: reset w.grad, compute loss = (w * xb).sum() ** 2, call backward(), "
               "append w.grad.clone().")
