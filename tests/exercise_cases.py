"""What every exercise test file asserts of a check, written once: a right answer passes, a wrong one
gets the hint that names its mistake, and neither touches the global RNG (nor blames the check)."""

from __future__ import annotations

from typing import Any

import torch

from helpers.exercises import check


def cases(right: dict[str, list[Any]], wrong: dict[str, list[tuple[Any, str]]]):
    """``(exercise_id, answer)`` and ``(exercise_id, answer, hint)`` rows for ``parametrize``."""
    return ([(ex, a) for ex, answers in right.items() for a in answers],
            [(ex, a, h) for ex, answers in wrong.items() for a, h in answers])


def assert_accepted(exercise_id: str, answer: Any) -> None:
    state = torch.get_rng_state()
    with torch.no_grad():  # the check must not depend on the learner's grad mode
        feedback = check(exercise_id, answer)
    assert feedback.correct, repr(feedback)
    assert torch.equal(torch.get_rng_state(), state)


def assert_rejected(exercise_id: str, answer: Any, hint: str) -> None:
    state = torch.get_rng_state()
    feedback = check(exercise_id, answer)
    assert not feedback.correct
    assert hint in feedback.message, feedback.message
    assert "check itself failed" not in feedback.message
    assert torch.equal(torch.get_rng_state(), state)
