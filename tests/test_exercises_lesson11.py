"""The catalogue's exercise checks (11.1, 11.2): right answers in several forms pass, wrong ones get the
hint that names the mistake; the numbers are the ones the methods compute."""

import numpy as np
import pytest
import torch

from helpers.cases import CASE_METHODS
from helpers.compute_once import abs_difference, seed_example
from helpers.exercises import check, solution_function


def _measured(name):
    g, a, b = seed_example()
    x = g(a)
    CASE_METHODS[name](x, g(b) + x, abs_difference)
    return g.weight.grad


@pytest.mark.parametrize("exercise_id, method", [("11.1", "hook on x"), ("11.2", "autograd.grad")])
def test_right_answers_in_every_form(exercise_id, method):
    want = float(solution_function(exercise_id)())
    for answer in (want, int(want), torch.tensor(want), np.float32(want), [want], _measured(method),
                   torch.tensor([[want]], dtype=torch.float64, requires_grad=True)):
        assert check(exercise_id, answer).correct, answer


@pytest.mark.parametrize("exercise_id, answer, hint", [
    ("11.1", None, "Not answered yet"), ("11.1", 4, "two passes"), ("11.1", 3, "autograd.grad method"),
    ("11.1", -2, "sign is off"), ("11.1", 7, "their sum, flipped"), ("11.1", "2", "not a string"),
    ("11.2", None, "Not answered yet"), ("11.2", 4, "total gradient at x"), ("11.2", 2, "hook's"),
    ("11.2", -3, "sign is off"), ("11.2", 0, "gx = −1 + 1 = 0"),
])
def test_wrong_answers_get_their_hint(exercise_id, answer, hint):
    result = check(exercise_id, answer)
    assert not result.correct
    assert hint in str(result), str(result)
