"""Lesson 07's exercise checks: right answers in several forms pass, the usual wrong ones get the hint
that names the mistake."""

import numpy as np
import pytest
import torch

from helpers.compute_once import reverse_grad
from helpers.exercises import check, solution_function

# --- 07.1: a hook on d's branch only --------------------------------------------------------------

def hook_on_view(h, lam):
    t = h.view_as(h)
    t.register_hook(lambda grad: -lam * grad)
    return t


def hook_on_clone(h, lam):
    t = h.clone()
    t.register_hook(lambda grad: grad * -lam)
    return t


def hook_on_times_one(h, lam):
    t = h * 1.0
    t.register_hook(lambda grad: -(lam * grad))
    return t


def hook_on_h_itself(h, lam):
    h.register_hook(lambda grad: -lam * grad)
    return h


def hook_without_lam(h, lam):
    t = h.view_as(h)
    t.register_hook(lambda grad: -grad)
    return t


def hook_without_minus(h, lam):
    t = h.view_as(h)
    t.register_hook(lambda grad: lam * grad)
    return t


def hook_returns_nothing(h, lam):
    t = h.view_as(h)
    t.register_hook(lambda grad: print(grad.shape) and None)
    return t


def detached(h, lam):
    return h.detach()


def with_reversal(h, lam):
    return reverse_grad(h, lam)


def negated_values(h, lam):
    t = -h
    t.register_hook(lambda grad: lam * grad)
    return t


def returns_the_handle(h, lam):
    return h.view_as(h).register_hook(lambda grad: -lam * grad)


def raises(h, lam):
    raise ValueError("oops")


def hook_on_float_copy(h, lam):
    t = h.float()  # float32: a copy of the check's float64 h, but h itself in a float32 model
    t.register_hook(lambda grad: -lam * grad)
    return t


def no_hook_detach_trick(h, lam):
    return -lam * h + ((1 + lam) * h).detach()  # values of h, gradient −λ, but no hook: not what is asked


def detach_trick_as_in_the_issue(h, lam):
    return (1 + lam) * h.detach() - lam * h


def hook_right_but_h_returned(h, lam):
    t = h.view_as(h)
    t.register_hook(lambda grad: -lam * grad)
    return h  # the hook is on t, which d never sees


def hook_via_tensor_method(h, lam):
    t = h.clone()
    torch.Tensor.register_hook(t, lambda grad: -lam * grad)
    return t


@pytest.mark.parametrize("answer", [hook_on_view, hook_on_clone, hook_on_times_one, hook_via_tensor_method,
                                    solution_function("07.1")()])
def test_07_1_right(answer):
    feedback = check("07.1", answer)
    assert feedback.correct, repr(feedback)
    assert "copy" not in feedback.message  # the praise fits every right answer, with or without one


@pytest.mark.parametrize("answer, hint", [
    (hook_on_h_itself, "flips c's gradient into g too"),
    (hook_without_lam, "multiplies by −1, not by −λ"),
    (hook_without_minus, "scaled by λ but not flipped"),
    (hook_returns_nothing, "nothing was flipped"),
    (detached, "cut off from g"),
    (with_reversal, "asks for a hook"),
    (negated_values, "must have h's values"),
    (returns_the_handle, "return the tensor to feed to d"),
    (raises, "domain_input raised ValueError: oops"),
    (hook_on_float_copy, "return a tensor of h's dtype (torch.float64), not torch.float32"),
    (no_hook_detach_trick, "registers no hook"),
    (detach_trick_as_in_the_issue, "registers no hook"),
    (hook_right_but_h_returned, "returned h itself"),
    (3.0, "give the function itself"),
])
def test_07_1_wrong(answer, hint):
    feedback = check("07.1", answer)
    assert not feedback.correct and hint in feedback.message, repr(feedback)


# --- 07.2: the λ-scaled reversal -----------------------------------------------------------------

class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


class _ReverseSetupContext(torch.autograd.Function):
    @staticmethod
    def forward(x, lam):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.lam = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        return grad.neg().mul(ctx.lam), None


class _ReverseTensorLam(torch.autograd.Function):
    """λ passed on as a tensor, saved for backward."""

    @staticmethod
    def forward(ctx, x, lam):
        ctx.save_for_backward(torch.as_tensor(lam, dtype=x.dtype))
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        (lam,) = ctx.saved_tensors
        return -lam * grad, None


def _function(grad_rule, forward=lambda x: x.view_as(x)):
    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, lam):
            ctx.lam = lam
            return forward(x)

        @staticmethod
        def backward(ctx, grad):
            return grad_rule(grad, ctx.lam), None

    return lambda x, lam: F.apply(x, lam)


class GradReverse(torch.autograd.Function):
    """A learner's own class with the same name as helpers.compute_once's: not to be rejected by name."""

    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


_ReverseNamedGradReverse = GradReverse


def hook_on_x(x, lam):
    x.register_hook(lambda grad: -lam * grad)
    return x.view_as(x)


@pytest.mark.parametrize("answer", [
    lambda x, lam: _Reverse.apply(x, lam),
    lambda x, lam: _ReverseSetupContext.apply(x, lam),
    lambda x, lam: _ReverseTensorLam.apply(x, lam),
    lambda x, lam: _ReverseNamedGradReverse.apply(x, lam),  # the learner's own class called GradReverse
    solution_function("07.2")(),
])
def test_07_2_right(answer):
    feedback = check("07.2", answer)
    assert feedback.correct, repr(feedback)


@pytest.mark.parametrize("answer, hint", [
    (_function(lambda g, lam: -g), "flipped but not scaled"),
    (_function(lambda g, lam: lam * g), "scaled but not flipped"),
    (_function(lambda g, lam: g), "passes unchanged"),
    (_function(lambda g, lam: -g / lam), "multiply the gradient by −lam"),
    (_function(lambda g, lam: -lam * g, forward=lambda x: -x), "x's values unchanged"),
    (_function(lambda g, lam: -lam * g, forward=lambda x: 2 * x), "x's values unchanged"),
    (hook_on_x, "the other use of x got flipped too"),
    (lambda x, lam: x.detach(), "cut off from x"),
    (reverse_grad, "not helpers.compute_once's"),
    (lambda x, lam: (1 + lam) * x.detach() - lam * x, "uses no torch.autograd.Function"),
    (hook_on_view, "uses no torch.autograd.Function"),  # right gradients, but the statement asks for a Function
    (lambda x, lam: x.tolist(), "return a tensor"),
    ("my_reverse", "give the function itself"),
])
def test_07_2_wrong(answer, hint):
    feedback = check("07.2", answer)
    assert not feedback.correct and hint in feedback.message, repr(feedback)


# --- 07.3: what d gets from the literal two passes ------------------------------------------------

@pytest.mark.parametrize("answer", [0.25, 1 / 4, torch.tensor(0.25), torch.tensor([0.25], requires_grad=True),
                                    np.float32(0.25), [0.25], torch.tensor([[0.25]], dtype=torch.float64),
                                    solution_function("07.3")()])
def test_07_3_right(answer):
    feedback = check("07.3", answer)
    assert feedback.correct, repr(feedback)


@pytest.mark.parametrize("answer, hint", [
    (1.0, "d kept out of pass 2"),
    (0, "the seed's case, λ = 1"),
    (1.75, "subtracted, not added"),
    (0.75, "pass 2's contribution alone"),
    (-0.75, "pass 2's contribution alone"),
    (0.5, "add pass 1's"),
    (-0.25, "the sign"),
    (-1.75, "the sign"),
    ([0.25, 0.25], "single number"),
    ("0.25", "not a string"),
])
def test_07_3_wrong(answer, hint):
    feedback = check("07.3", answer)
    assert not feedback.correct and hint in feedback.message, repr(feedback)


def test_checks_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    for ex, answer in (("07.1", hook_on_view), ("07.2", solution_function("07.2")()), ("07.3", 0.25)):
        check(ex, answer)
    assert torch.equal(state, torch.random.get_rng_state())
