"""Lesson 09's exercise checks: right answers in several forms pass, the usual wrong ones get the hint
that names the mistake, and the checks leave the global RNG alone."""

import pytest
import torch
from exercise_cases import assert_accepted, assert_rejected, cases

from helpers.at_scale import ClassicReverse
from helpers.compute_once import reverse_grad
from helpers.exercises import check, solution_function


def _flip_class(vmap_rule=True, backward=lambda g: -g):
    class Flip(torch.autograd.Function):
        generate_vmap_rule = vmap_rule

        @staticmethod
        def forward(x):
            return x.clone()

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad):
            return backward(grad)

    return Flip.apply


def flip_detach_trick(x):
    return 2 * x.detach() - x  # value x, gradient −1: plain tensor ops, vmap handles them


def flip_hook_on_input(x):
    if x.requires_grad:
        x.register_hook(lambda grad: -grad)
    return x.view_as(x)


RIGHT_09_1 = [_flip_class(), flip_detach_trick, solution_function("09.1")()]
WRONG_09_1 = [
    (reverse_grad, "generate_vmap_rule = True"),
    (_flip_class(vmap_rule=False), "generate_vmap_rule = True"),
    (ClassicReverse.apply, "setup_context"),
    (lambda x: x, "minus the incoming gradient"),
    (lambda x: -x, "forward pass"),
    (lambda x: x.detach(), "cut from the graph"),
    (_flip_class(backward=lambda g: -2 * g), "minus the incoming gradient"),
    (lambda x: x.tolist(), "must return a tensor"),
    (flip_hook_on_input, "every gradient that reaches x is negated"),
]


def pack_large(t, to=torch.bfloat16, limit=1000):
    return (t.to(to), t.dtype) if t.numel() > limit else t


def unpack_large(p):
    return p[0].to(p[1]) if isinstance(p, tuple) else p


def pack_all_bf16(t):
    return t.to(torch.bfloat16), t.dtype


RIGHT_09_2 = [solution_function("09.2")(), (pack_large, unpack_large),
              [lambda t: pack_large(t, torch.float16), unpack_large]]
WRONG_09_2 = [
    ((lambda t: t, lambda p: p), "store a tensor of more than 1,000 elements as bfloat16"),
    ((pack_all_bf16, unpack_large), "must come back exactly"),
    ((lambda t: t.to(torch.bfloat16), lambda p: p), "own dtype"),
    ((lambda t: pack_large(t).float() if False else (t.to(torch.bfloat16), torch.float32), unpack_large),
     "own dtype (torch.float64)"),
    ((lambda t: t, lambda p: p[:1]), "shape"),
    ((lambda t: pack_large(t), lambda p: torch.zeros(40, 50) if isinstance(p, tuple) else p),
     "up to bfloat16 rounding"),
    ((lambda t: t, lambda p: None), "unpack must return a tensor"),
    (pack_large, "as a pair"),
    ((lambda t: 1 / 0, lambda p: p), "pack raised ZeroDivisionError"),
]


CASES_RIGHT, CASES_WRONG = cases({"09.1": RIGHT_09_1, "09.2": RIGHT_09_2},
                                 {"09.1": WRONG_09_1, "09.2": WRONG_09_2})


@pytest.mark.parametrize("exercise_id, answer", CASES_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES_RIGHT)])
def test_right_answers_pass(exercise_id, answer):
    assert_accepted(exercise_id, answer)


@pytest.mark.parametrize("exercise_id, answer, hint", CASES_WRONG, ids=[f"{c[0]}-{c[2][:20]}" for c in CASES_WRONG])
def test_wrong_answers_get_their_hint(exercise_id, answer, hint):
    assert_rejected(exercise_id, answer, hint)


def test_09_2_untouched_pair_is_not_answered_yet():
    def pack(tensor):
        return None  # your code

    def unpack(packed):
        return None  # your code

    feedback = check("09.2", (pack, unpack))
    assert not feedback.correct and "Not answered yet" in feedback.message
