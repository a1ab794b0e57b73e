"""Checks for lesson 01's exercises (the autograd graph)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from helpers.exercises import Hint, _learner_frame, exercise
from helpers.exercises.answers import (
    as_function,
    as_names,
    as_number,
    as_tensor,
    call,
    close,
    generator,
    learner_code,
)


@exercise("01.1", "dv/du of u**3 + 2u at u = 3")
def _check_01_1(answer: Any) -> str:
    value = as_number(answer, "dv/du")
    if close(value, 29.0):
        return "dv/du = 3u² + 2 = 29 at u = 3."
    if close(value, 58.0):
        raise Hint("your gradient is twice the expected value: did you call backward() twice without "
                   "resetting u.grad?")
    if close(value, -29.0):
        raise Hint("the sign is flipped: dv/du = 3u² + 2 is positive at u = 3. Read u.grad as it is after "
                   "v.backward(), without negating it.")
    if close(value, 27.0):
        raise Hint("27 is the derivative of u**3 alone: the 2*u term adds 2.")
    if close(value, 33.0):
        raise Hint("33 is v itself (27 + 6), not its derivative: read u.grad after v.backward().")
    if close(value, 3.0):
        raise Hint("3 is u itself: read u.grad (after v.backward()), not u.")
    if close(value, 18.0):
        raise Hint("18 is d²v/du² (6u): one backward() gives the first derivative, 3u² + 2.")
    raise Hint(f"{value:g} is not dv/du at u = 3. Build u with requires_grad=True, call v.backward(), "
               "read u.grad.")


NOTEBOOK_TENSORS = ("w", "x", "y", "s", "h")


@exercise("01.2", "which tensors are leaves that receive .grad")
def _check_01_2(answer: Any) -> str:
    names = as_names(answer, "the tensors' names")
    unknown = sorted(names - set(NOTEBOOK_TENSORS))
    if unknown:
        raise Hint(f"choose among {', '.join(NOTEBOOK_TENSORS)}; {', '.join(unknown)} "
                   f"{'is' if len(unknown) == 1 else 'are'} not one of them.")
    if names == {"w"}:
        return ("only w: it is a leaf *and* requires grad. x and s are leaves that do not require grad; "
                "y and h are not leaves.")
    if names & {"y", "h"}:
        picked = sorted(names & {"y", "h"})
        raise Hint(f"{' and '.join(picked)} {'was' if len(picked) == 1 else 'were'} computed from w: "
                   f"{'it has' if len(picked) == 1 else 'they have'} a grad_fn, so "
                   f"{'it is not a leaf' if len(picked) == 1 else 'they are not leaves'}. A non-leaf gets "
                   "a .grad only if it asks for one with retain_grad(), as the notebook's h does; the "
                   "question asks for the leaves that backward() fills by itself.")
    if names & {"x", "s"}:
        raise Hint("x and s are leaves, but they do not require grad, so backward() gives them no .grad.")
    raise Hint("one tensor in this notebook was created with requires_grad=True: that is the leaf that "
               "gets a .grad.")


def _grads(answer: Any, n: int, shape: tuple[int, ...]) -> list[torch.Tensor]:
    if answer is None:
        raise Hint("train_grads returned None: return a list with one gradient tensor per batch.")
    if isinstance(answer, torch.Tensor) and answer.dim() >= 1:
        answer = list(answer.unbind(0))
    elif isinstance(answer, Iterator):  # a generator of gradients, or a map(...), consumed here
        try:
            answer = list(answer)
        except Exception as exc:
            if _learner_frame(exc) is not None:
                raise  # check() names the learner's frame
            # e.g. map(torch.autograd.grad, ...): torch raised, with no frame of the learner's code left
            with learner_code("train_grads's result"):
                raise
    if not isinstance(answer, (list, tuple)):
        raise Hint(f"train_grads should return a list of gradients, one per batch; it returned a "
                   f"{type(answer).__name__}.")
    if len(answer) != n:
        raise Hint(f"expected {n} gradients (one per batch), got {len(answer)}.")
    if any(g is None for g in answer):
        raise Hint("some of your gradients are None: w.grad is None until backward() has run, so read "
                   "it (w.grad.clone()) after loss.backward(), not before.")
    return [as_tensor(g, shape, f"gradient {i + 1}") for i, g in enumerate(answer)]


@exercise("01.3", "one gradient per batch, without accumulation")
def _check_01_3(answer: Any) -> str:
    fn = as_function(answer, "01.3", "train_grads")
    gen = generator()
    n = 3 + int(torch.randint(0, 3, (), generator=gen))
    w0 = torch.randn(3, generator=gen)
    batches = [torch.randn(3, generator=gen) for _ in range(n)]
    expected = [2 * (w0 * xb).sum() * xb for xb in batches]
    for existing in (None, torch.randn(3, generator=gen)):
        w = w0.clone().requires_grad_(True)
        w.grad = None if existing is None else existing.clone()
        raw = call(fn, w, [xb.clone() for xb in batches], what="train_grads")
        if isinstance(raw, (list, tuple)) and len(raw) > 1 and raw[0] is not None and all(g is raw[0] for g in raw):
            raise Hint("all your gradients are the same tensor object: append w.grad.clone(), not "
                       "w.grad itself, which the next backward() changes.")
        result = _grads(raw, n, (3,))
        if all(close(g, e) for g, e in zip(result, expected)):
            continue
        running = torch.stack(expected).cumsum(0)
        if all(close(g, r) for g, r in zip(result, running)):
            raise Hint("your gradients are running sums: .grad accumulates, so reset it (w.grad = None) "
                       "before each backward().")
        if existing is not None and all(close(g, e + (existing if i == 0 else 0))
                                        for i, (g, e) in enumerate(zip(result, expected))):
            raise Hint("the first gradient includes what w.grad held before train_grads was called: "
                       "reset w.grad before every backward(), the first one included.")
        if existing is not None and all(close(g, r + existing) for g, r in zip(result, running)):
            raise Hint("your gradients are running sums, starting from what w.grad held before: reset "
                       "w.grad (w.grad = None) before each backward().")
        if len(result) > 1 and all(close(g, result[-1]) for g in result):
            raise Hint("all your gradients are equal, though the batches differ: did you store w.grad "
                       "itself, which later steps change, rather than w.grad.clone()?")
        if all(close(g, xb) for g, xb in zip(result, batches)):
            raise Hint("that is the gradient of (w * xb).sum(): the loss squares the sum, "
                       "(w * xb).sum() ** 2.")
        if all(close(g, 2 * w0 * xb**2) for xb, g in zip(batches, result)):
            raise Hint("that is the gradient of ((w * xb) ** 2).sum(): square the sum, "
                       "(w * xb).sum() ** 2, not each term.")
        raise Hint("for each batch: reset w.grad, compute loss = (w * xb).sum() ** 2, call backward(), "
                   "append w.grad.clone().")
    return "each batch's gradient stands alone because .grad was reset before each backward()."
