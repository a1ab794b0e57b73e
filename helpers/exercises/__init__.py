"""Exercise checks: ``check("01.2", answer)`` says "correct" or gives a hint for the usual mistakes.

Introduced in lesson 01; every lesson ends with exercises checked here. Each lesson's checks live in
``helpers/exercises/lessonNN.py`` and register themselves with :func:`exercise`. Solutions are kept
apart, in ``solutions/``, for instructors (:func:`show_solution` prints one); the test suite runs every
solution through its check, so no exercise ships unsolvable.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Feedback", "Hint", "check", "exercise", "exercise_ids", "show_solution", "solution_function"]

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"


class Hint(Exception):
    """Raised by a check to reject an answer; its message is the hint shown to the learner."""


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer. ``correct`` is True or False; ``message`` says why."""

    exercise: str
    correct: bool
    message: str

    def __repr__(self) -> str:
        mark = "✅ correct" if self.correct else "❌ not yet"
        return f"Exercise {self.exercise}: {mark}. {self.message}"

    def __bool__(self) -> bool:
        return self.correct


@dataclass(frozen=True)
class _Exercise:
    id: str
    title: str
    checker: Callable[[Any], str]


_REGISTRY: dict[str, _Exercise] = {}


def exercise(exercise_id: str, title: str) -> Callable[[Callable[[Any], str]], Callable[[Any], str]]:
    """Register a check. The decorated function takes the answer, raises :class:`Hint` to reject
    it, and returns the message for a correct answer."""

    def register(checker: Callable[[Any], str]) -> Callable[[Any], str]:
        if exercise_id in _REGISTRY:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        _REGISTRY[exercise_id] = _Exercise(exercise_id, title, checker)
        return checker

    return register


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("lesson"):
            importlib.import_module(f"{__name__}.{info.name}")


def exercise_ids() -> list[str]:
    """Every registered exercise, in lesson order."""
    _load_all()
    return sorted(_REGISTRY)


def check(exercise_id: str, answer: Any) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id`` ("01.1", "02.3", …).

    Returns a :class:`Feedback` whose text says "correct" or gives a hint. An answer still ``None``
    (or ``...``) is reported as not answered yet. A check that itself fails on an unexpected answer
    (say, a function that raises) turns the error into a hint rather than a traceback.
    """
    _load_all()
    if exercise_id not in _REGISTRY:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(_REGISTRY))}")
    ex = _REGISTRY[exercise_id]
    if answer is None or answer is Ellipsis:
        return Feedback(exercise_id, False, "Not answered yet: replace the `None` with your answer and "
                                            "run the cell again.")
    try:
        message = ex.checker(answer)
    except Hint as hint:
        return Feedback(exercise_id, False, f"Hint: {hint}")
    except Exception as exc:  # the learner's function raised: show it as a hint, not a traceback
        return Feedback(exercise_id, False, f"Your answer raised {type(exc).__name__}: {exc}")
    return Feedback(exercise_id, True, message)


def solution_function(exercise_id: str) -> Callable[[], Any]:
    """The function in ``solutions/`` that returns the answer to ``exercise_id`` (for instructors
    and tests): ``solutions/lessonNN.py``, function ``solve_NN_K``."""
    lesson, number = exercise_id.split(".")
    path = SOLUTIONS_DIR / f"lesson{lesson}.py"
    if not path.exists():
        raise FileNotFoundError(f"no solutions file {path}: solutions ship with the repository, not with Colab")
    spec = importlib.util.spec_from_file_location(f"_solutions_lesson{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, f"solve_{lesson}_{number}")


def show_solution(exercise_id: str) -> None:
    """Print the solution of an exercise (instructors: reveal it after the exercise)."""
    print(inspect.getsource(solution_function(exercise_id)))
