"""Reading learners' answers: numbers, lists of numbers, functions — with a hint when the form is off.

Shared by the lessons' checks (``helpers/exercises/lessonNN.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from helpers.exercises import Hint


def as_number(answer: Any, what: str = "the answer") -> float:
    """A Python number or a one-element tensor, as a float."""
    if isinstance(answer, torch.Tensor):
        if answer.numel() != 1:
            raise Hint(f"{what} is a single number; you gave a tensor of shape {tuple(answer.shape)}.")
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise Hint(f"give {what} as a number, not a {type(answer).__name__}.")
    return float(answer)


def as_floats(answer: Any, n: int, what: str) -> list[float]:
    """A list/tuple/tensor of ``n`` numbers, as floats."""
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().cpu().flatten().tolist()
    if not isinstance(answer, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in answer
    ):
        raise Hint(f"give {what} as a list of {n} numbers, e.g. [1.0, 2.0, 3.0].")
    if len(answer) != n:
        raise Hint(f"{what} has {n} entries, one per entry of the tensor; you gave {len(answer)}.")
    return [float(v) for v in answer]


def close(a: float | list[float], b: float | list[float]) -> bool:
    """Equal up to float rounding (relative 1e-6), for numbers or lists of numbers."""
    pairs = zip(a, b) if isinstance(a, list) else [(a, b)]
    return all(abs(x - y) <= 1e-6 * max(1.0, abs(y)) for x, y in pairs)


def as_function(answer: Any, exercise_id: str, name: str) -> Callable[..., Any]:
    """The learner's function itself (not its result)."""
    if not callable(answer):
        raise Hint(f"give the function itself: check('{exercise_id}', {name}).")
    return answer
