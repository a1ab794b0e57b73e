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


def _flipped_assign(model, loss):
    params = list(model.parameters())
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = -g


def _flipped_wrong_sign(model, loss):
    params = list(model.parameters())
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g if p.grad is None else p.grad + g


def _vjp_ones(fn, inp, u):
    inp = inp.detach().requires_grad_(True)
    return torch.autograd.grad(fn(inp).sum(), inp)[0]


def _sign_plain(x):
    return torch.sign(x)


def _sign_detached(x):
    return (x + (torch.sign(x) - x)).detach()


def _two_backwards(a):
    a.grad = None
    h = a.exp()
    h.sum().backward(retain_graph=True)
    (h**2).sum().backward()
    return a.grad


def _only_l1(a):
    a.grad = None
    a.exp().sum().backward()
    return a.grad


WRONG += [
    ("02.1", [2.0, 4.0, 6.0], "gradient of (p * p).sum()"),
    ("02.1", [0, 0, 0], "only one factor is detached"),
    ("02.1", [1.0, 2.0], "has 3 entries"),
    ("02.2", _sign_plain, "the gradient is zero"),
    ("02.2", _sign_detached, "does not require grad"),
    ("02.3", "no_grad", "layers after the embedding"),
    ("02.3", "eval", "gradients still flow"),
    ("02.3", "freeze", "one of the strings"),
    ("03.1", [2.0, -2.0, 4.0], "does not overwrite"),
    ("03.2", 1, "saved_tensor_bytes"),
    ("03.3", _two_backwards, "backward ran 2 times"),
    ("03.3", _only_l1, "gradient of l1 only"),
    ("04.1", False, "does it write anything"),
    ("04.1", "None", "True or False"),
    ("04.2", _vjp_ones, "grad_outputs=u"),
    ("04.3", _flipped_assign, "lost its existing gradient"),
    ("04.3", _flipped_wrong_sign, "sign is wrong"),
]


def test_03_2_hint_for_counting_parameters():
    from torch import nn

    from helpers.measure import saved_tensor_bytes

    model = nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 1))
    x = torch.randn(128, 64)
    with_params = saved_tensor_bytes(lambda: model(x).pow(2).mean())
    assert "exclude=model" in check("03.2", with_params).message


def _clip_no_return(limit):
    return lambda g: None


def _clip_upper_only(limit):
    return lambda g: g.clamp(max=limit) * 0 + limit


def _hook_on_x(x, y):
    x.register_hook(lambda g: -g)
    ((x * y).sum() + (x**2).sum()).backward()


def _nothing_flipped(x, y):
    ((x * y).sum() + (x**2).sum()).backward()


WRONG += [
    ("05.1", _clip_no_return, "unchanged"),
    ("05.1", _clip_upper_only, "clamp every entry"),
    ("05.1", lambda limit: None, "must *return* a function"),
    ("05.2", 3, "new hook is added every step"),
    ("05.2", 9, "second step"),
    ("05.2", 39, "reset to None"),
    ("05.3", _hook_on_x, "regulariser's gradient is flipped too"),
    ("05.3", _nothing_flipped, "nothing is flipped"),
]


@pytest.mark.parametrize("exercise_id, answer, hint", WRONG, ids=[f"{w[0]}-{w[2][:20]}" for w in WRONG])
def test_wrong_answers_get_specific_hints(exercise_id, answer, hint):
    feedback = check(exercise_id, answer)
    assert not feedback.correct
    assert hint in feedback.message, feedback.message
