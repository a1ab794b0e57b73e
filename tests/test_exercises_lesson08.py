"""Lesson 08's exercise checks: right answers in several forms pass, wrong ones get the hint that
names the mistake, and no check touches the global RNG or depends on grad mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from exercise_cases import assert_accepted, assert_rejected, cases

from helpers.compute_once import reverse_grad
from helpers.exercises import check, solution_function

# --- 08.1 -------------------------------------------------------------------------------------------

RIGHT_08_1 = [[4.0, 0.0], (4, 0), torch.tensor([4.0, 0.0]), np.array([4.0, 0.0]),
              torch.tensor([[4.0], [0.0]], dtype=torch.float64), [4.0000001, 0.0]]
WRONG_08_1 = [
    ([0.0, 4.0], "wrong ranks"),
    ([2.0, 2.0], "should"),
    ([3.0, 1.0], "no averaging"),
    ([3.0, 3.0], "still adds"),
    ([2.0, -2.0], "first backward (l1) is the one that is averaged"),
    ([1.0, -3.0], "l2's parts alone"),
    ([5.0, 1.0], "the mean of l1's gradients"),
    ([4.0], "2"),
    (4.0, "2"),
]


# --- 08.2 -------------------------------------------------------------------------------------------

def step_reversal(model, a, b, f):
    x, y = model(a), model(b)
    f(reverse_grad(x), y).backward()


def step_hook(model, a, b, f):
    x, y = model(a), model(b)
    x.register_hook(lambda grad: -grad)
    f(x, y).backward()


def step_autograd_grad(model, a, b, f):
    x, y = model(a), model(b)
    gx, gy = torch.autograd.grad(f(x, y), [x, y])
    torch.autograd.backward([x, y], [-gx, gy])


def step_one_forward_split(model, a, b, f):
    x, y = model(torch.cat([a, b])).split(len(a))
    f(reverse_grad(x), y).backward()


def step_two_pass(model, a, b, f):
    x, y = model(a), model(b)
    f(x.detach(), y).backward(retain_graph=True)
    (-f(x, y.detach())).backward()


def step_summed(model, a, b, f):
    x, y = model(a), model(b)
    (f(x.detach(), y) - f(x, y.detach())).backward()


def step_plain(model, a, b, f):
    x, y = model(a), model(b)
    f(x, y).backward()


def step_all_flipped(model, a, b, f):
    x, y = model(a), model(b)
    (-f(x, y)).backward()


def step_flip_y(model, a, b, f):
    x, y = model(a), model(b)
    f(x, reverse_grad(y)).backward()


def step_fresh_forward(model, a, b, f):
    x, y = model(a), model(b)
    f(x.detach(), y).backward()
    x, y = model(a), model(b)
    (-f(x, y.detach())).backward()


def step_no_backward(model, a, b, f):
    f(reverse_grad(model(a)), model(b))


def step_raises(model, a, b, f):
    raise RuntimeError("boom")


RIGHT_08_2 = [step_reversal, step_hook, step_autograd_grad, step_one_forward_split]
WRONG_08_2 = [
    (step_two_pass, "f was evaluated 2 times"),
    (step_summed, "f was evaluated 2 times"),
    (step_fresh_forward, "the model ran 4 times"),
    (step_plain, "the gradient through x must be negated"),
    (step_all_flipped, "the gradient through x must be negated"),
    (step_flip_y, "wrong sign"),
    (step_no_backward, "got no gradient"),
    (step_raises, "ddp_step raised RuntimeError: boom"),
    ("step_reversal", "give the function itself"),
]


def backward_twice_one_f(model, a, b, f):
    """One evaluation of f, but two backward passes reaching the parameters (what DDP cannot reduce)."""
    x, y = model(a), model(b)
    out = f(x, y)
    gx, gy = torch.autograd.grad(out, [x, y])
    x.backward(-gx, retain_graph=True)
    y.backward(gy)


WRONG_08_2.append((backward_twice_one_f, "2 backward passes reached the parameters"))


def step_reversal_scaled_by_2(model, a, b, f):
    x, y = model(a), model(b)
    f(reverse_grad(x, 2.0), y).backward()


def step_hook_scaled_by_2(model, a, b, f):
    x, y = model(a), model(b)
    x.register_hook(lambda grad: -2 * grad)
    f(x, y).backward()


WRONG_08_2 += [(step_reversal_scaled_by_2, "multiplied by -2, not by −1"),
               (step_hook_scaled_by_2, "multiplied by -2, not by −1")]


CASES_RIGHT, CASES_WRONG = cases({"08.1": RIGHT_08_1, "08.2": RIGHT_08_2},
                                 {"08.1": WRONG_08_1, "08.2": WRONG_08_2})


def test_counts():
    for ex in ("08.1", "08.2"):
        assert sum(c[0] == ex for c in CASES_RIGHT) >= 3
        assert sum(c[0] == ex for c in CASES_WRONG) >= 6


@pytest.mark.parametrize("exercise_id, answer", CASES_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES_RIGHT)])
def test_right_answers_pass(exercise_id, answer):
    assert_accepted(exercise_id, answer)


@pytest.mark.parametrize("exercise_id, answer, hint", CASES_WRONG,
                         ids=[f"{c[0]}-{c[2][:20]}" for c in CASES_WRONG])
def test_wrong_answers_get_their_hint(exercise_id, answer, hint):
    assert_rejected(exercise_id, answer, hint)


@pytest.mark.parametrize("exercise_id", ["08.1", "08.2"])
def test_solutions_pass(exercise_id):
    assert check(exercise_id, solution_function(exercise_id)()).correct
