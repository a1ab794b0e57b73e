"""Lesson 09's exercise checks: right answers in several forms pass, the usual wrong ones get the hint
that names the mistake, and the checks leave the global RNG alone."""

import pytest
import torch
from exercise_cases import assert_accepted, assert_rejected, cases

from helpers.at_scale import ClassicReverse
from helpers.compute_once import reverse_grad
from helpers.exercises import check, solution_function

# --- flips used by 09.1 and 09.2 -------------------------------------------------------------------

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
    return 2 * x.detach() - x  # value x, gradient −1: plain tensor ops, so vmap handles them too


# --- 09.1 -------------------------------------------------------------------------------------------

def flip_with_hook(x):
    """A tensor hook on a view: torch.func.grad runs it too (torch 2.13), so it is a right answer."""
    x = x.view_as(x)
    if x.requires_grad:
        x.register_hook(lambda grad: -grad)
    return x


def flip_input_hook(x):
    """A hook on x itself: it negates every gradient that reaches x, not only the one through flip(x)."""
    x.register_hook(lambda grad: -grad)
    return x


def flip_input_hook_then_copy(x):
    x.register_hook(lambda grad: -grad)
    return x.clone()


RIGHT_09_1 = [reverse_grad, lambda x: reverse_grad(x, 1.0), _flip_class(vmap_rule=False), flip_detach_trick,
              flip_with_hook]


WRONG_09_1 = [
    (ClassicReverse.apply, "setup_context"),
    (lambda x: x, "passes unchanged"),
    (lambda x: -x, "forward pass"),
    (lambda x: x.detach(), "cut from the graph"),
    (lambda x: reverse_grad(x, 2.0), "minus the incoming gradient"),
    (lambda x: x.tolist(), "must return a tensor"),
    (lambda x: reverse_grad(x)[:2], "forward pass"),
    (reverse_grad(torch.ones(2)), "give the function itself"),
    (flip_input_hook, "a hook on x does that"),
    (flip_input_hook_then_copy, "a hook on x does that"),
]


def flip_hook_on_input(x):
    if x.requires_grad:
        x.register_hook(lambda grad: -grad)
    return x.view_as(x)


RIGHT_09_2 = [_flip_class(), flip_detach_trick, solution_function("09.2")()]
WRONG_09_2 = [
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


RIGHT_09_3 = [solution_function("09.3")(), (pack_large, unpack_large),
              [lambda t: pack_large(t, torch.float16), unpack_large]]
WRONG_09_3 = [
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


CASES_RIGHT, CASES_WRONG = cases({"09.1": RIGHT_09_1, "09.2": RIGHT_09_2, "09.3": RIGHT_09_3},
                                 {"09.1": WRONG_09_1, "09.2": WRONG_09_2, "09.3": WRONG_09_3})


@pytest.mark.parametrize("exercise_id, answer", CASES_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES_RIGHT)])
def test_right_answers_pass(exercise_id, answer):
    assert_accepted(exercise_id, answer)


@pytest.mark.parametrize("exercise_id, answer, hint", CASES_WRONG, ids=[f"{c[0]}-{c[2][:20]}" for c in CASES_WRONG])
def test_wrong_answers_get_their_hint(exercise_id, answer, hint):
    assert_rejected(exercise_id, answer, hint)


def test_09_3_untouched_pair_is_not_answered_yet():
    def pack(tensor):
        return None  # your code

    def unpack(packed):
        return None  # your code

    feedback = check("09.3", (pack, unpack))
    assert not feedback.correct and feedback.message.startswith("Not answered yet: write the functions' bodies")


def test_counts():
    for ex in ("09.1", "09.2", "09.3"):
        assert sum(c[0] == ex for c in CASES_RIGHT) >= 3
        assert sum(c[0] == ex for c in CASES_WRONG) >= 6


@pytest.mark.parametrize("exercise_id", ["09.1", "09.2", "09.3"])
def test_solutions_pass(exercise_id):
    assert check(exercise_id, solution_function(exercise_id)()).correct
