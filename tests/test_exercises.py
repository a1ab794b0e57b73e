"""Every exercise is solvable and its check catches the usual wrong answers with a specific hint."""

import re
from pathlib import Path

import pytest
import torch

from helpers.exercises import Feedback, check, exercise_ids, show_solution, solution_function

ROOT = Path(__file__).resolve().parent.parent


def notebook_exercise_ids():
    ids = set()
    for path in (ROOT / "lessons").glob("[0-9][0-9]_*.py"):
        ids |= set(re.findall(r'check\("(\d\d\.\d+)"', path.read_text(encoding="utf-8")))
    return ids


def test_every_exercise_in_the_lessons_has_a_check_and_the_reverse():
    assert notebook_exercise_ids() == set(exercise_ids())


def test_every_lesson_has_at_least_two_exercises():
    per_lesson = {}
    for ex in exercise_ids():
        per_lesson.setdefault(ex.split(".")[0], []).append(ex)
    lessons = sorted(p.name[:2] for p in (ROOT / "lessons").glob("[0-9][0-9]_*.py"))
    assert sorted(per_lesson) == lessons
    assert all(len(v) >= 2 for v in per_lesson.values())


@pytest.mark.parametrize("exercise_id", exercise_ids())
def test_solution_passes_its_check(exercise_id):
    feedback = check(exercise_id, solution_function(exercise_id)())
    assert isinstance(feedback, Feedback)
    assert feedback.correct, repr(feedback)
    assert repr(feedback).startswith(f"Exercise {exercise_id}: ✅ correct.")


@pytest.mark.parametrize("exercise_id", exercise_ids())
def test_unanswered_is_reported_as_such(exercise_id):
    feedback = check(exercise_id, None)
    assert not feedback and "Not answered yet" in feedback.message


def test_unknown_exercise():
    with pytest.raises(KeyError, match="no exercise '99.9'"):
        check("99.9", 1)


def test_show_solution_prints_the_code(capsys):
    show_solution("01.3")
    assert "def solve_01_3" in capsys.readouterr().out


def _accumulating(w, batches):
    out = []
    for xb in batches:
        ((w * xb).sum() ** 2).backward()
        out.append(w.grad.clone())
    return out


def _not_cloned(w, batches):
    out = []
    for xb in batches:
        w.grad = None
        ((w * xb).sum() ** 2).backward()
        out.append(w.grad)
    w.grad.add_(1.0)
    return [w.grad] * len(batches)


def _raises(w, batches):
    raise RuntimeError("boom")


WRONG = [
    ("01.1", 58.0, "twice the expected value"),
    ("01.1", 27, "u**3 alone"),
    ("01.1", torch.tensor(33.0), "v itself"),
    ("01.1", "29", "as a number"),
    ("01.2", {"w", "y"}, "not leaves"),
    ("01.2", {"w", "x"}, "do not require grad"),
    ("01.2", "w", "a set of names"),
    ("01.3", _accumulating, "running sums"),
    ("01.3", _not_cloned, "clone"),
    ("01.3", _raises, "raised RuntimeError: boom"),
    ("01.3", 5, "the function itself"),
]


@pytest.mark.parametrize("exercise_id, answer, hint", WRONG, ids=[f"{w[0]}-{w[2][:20]}" for w in WRONG])
def test_wrong_answers_get_specific_hints(exercise_id, answer, hint):
    feedback = check(exercise_id, answer)
    assert not feedback.correct
    assert hint in feedback.message, feedback.message
