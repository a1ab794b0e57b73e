"""Lesson 12's exercise checks: right answers in several forms pass, wrong ones get the hint that
names the mistake, and no check touches the global RNG or depends on grad mode."""

from __future__ import annotations

import pytest
import torch
from exercise_cases import assert_accepted, assert_rejected, cases

from helpers.exercises import check, solution_function

# --- 12.1 -------------------------------------------------------------------------------------------

RIGHT_12_1 = ["non-leaf copy", "Non-leaf copy", "copy", "not a leaf", " nonleaf ", "'ToCopyBackward0'",
              ".cuda()", "w is not a leaf", "a non-leaf copy of the leaf", "it's a copy"]
WRONG_12_1 = [
    ("no graph", "the loss has a graph here"),
    ("no_grad", "the loss has a graph here"),
    ("not reachable", "w is on the graph"),
    ("does not require grad", "w.requires_grad is True"),
    ("frozen", "w.requires_grad is True"),
    ("graph freed", "first backward"),
    ("gremlins", "answer with one of the strings"),
    (3, "answer with one of the strings"),
]


# --- 12.2 -------------------------------------------------------------------------------------------

def sgd_no_grad(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    for p in params:
        p.grad = None


def sgd_sub_and_zero(params, lr):
    with torch.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=lr)
            p.grad.zero_()


def sgd_data(params, lr):
    for p in params:
        p.data -= lr * p.grad
        p.grad = None


def sgd_torch_optim(params, lr):
    opt = torch.optim.SGD(params, lr=lr)
    opt.step()
    opt.zero_grad()


def sgd_in_place_grad_on(params, lr):
    for p in params:
        p -= lr * p.grad


def sgd_rebind(params, lr):
    return [p - lr * p.grad for p in params]


def sgd_replace_in_list(params, lr):
    for i, p in enumerate(params):
        params[i] = (p - lr * p.grad).detach().requires_grad_()


def sgd_keeps_grads(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


def sgd_plus(params, lr):
    with torch.no_grad():
        for p in params:
            p += lr * p.grad
    for p in params:
        p.grad = None


def sgd_fixed_lr(params, lr):
    with torch.no_grad():
        for p in params:
            p -= 0.1 * p.grad
    for p in params:
        p.grad = None


def sgd_nothing(params, lr):
    for p in params:
        p.grad = None


def sgd_detach(params, lr):
    for p in params:
        with torch.no_grad():
            p -= lr * p.grad
        p.requires_grad_(False)
        p.grad = None


RIGHT_12_2 = [sgd_no_grad, sgd_sub_and_zero, sgd_data, sgd_torch_optim]
WRONG_12_2 = [
    (sgd_in_place_grad_on, "while autograd records (case 4's error): do it inside `with torch.no_grad():`"),
    (sgd_rebind, "you returned new tensors"),
    (sgd_replace_in_list, "changed the list itself"),
    (sgd_keeps_grads, "the gradients are still there"),
    (sgd_plus, "a step up the gradient"),
    (sgd_fixed_lr, "use the lr argument"),
    (sgd_nothing, "did not change"),
    (sgd_detach, "stopped being a leaf that requires grad"),
    ("sgd_no_grad", "give the function itself"),
]


# --- 12.3 -------------------------------------------------------------------------------------------

def acc_divide(model, data, loss_fn, k):
    for micro in data.chunk(k):
        (loss_fn(model(micro)) / k).backward()


def acc_sum_then_divide(model, data, loss_fn, k):
    total = sum(loss_fn(model(micro)) for micro in data.chunk(k))
    (total / k).backward()


def acc_split(model, data, loss_fn, k):
    for micro in torch.split(data, len(data) // k):
        loss = loss_fn(model(micro))
        loss.backward(gradient=torch.tensor(1.0 / k))


def acc_scaled_grads(model, data, loss_fn, k):
    for micro in data.chunk(k):
        loss_fn(model(micro)).backward()
    for p in model.parameters():
        p.grad /= k


def acc_no_divide(model, data, loss_fn, k):
    for micro in data.chunk(k):
        loss_fn(model(micro)).backward()


def acc_divide_twice(model, data, loss_fn, k):
    total = sum(loss_fn(model(micro)) / k for micro in data.chunk(k))
    (total / k).backward()


def acc_zero_inside(model, data, loss_fn, k):
    for micro in data.chunk(k):
        model.zero_grad()
        (loss_fn(model(micro)) / k).backward()


def acc_divide_by_batch_size(model, data, loss_fn, k):
    for micro in data.chunk(k):
        (loss_fn(model(micro)) / len(data)).backward()


def acc_ignores_k(model, data, loss_fn, k):  # the right gradient, but not k micro-batches
    for micro in data.chunk(2):
        (loss_fn(model(micro)) / 2).backward()


def acc_full_batch(model, data, loss_fn, k):
    loss_fn(model(data)).backward()


def acc_nothing(model, data, loss_fn, k):
    for micro in data.chunk(k):
        loss_fn(model(micro))


def acc_raises(model, data, loss_fn, k):
    raise ValueError("oops")


RIGHT_12_3 = [acc_divide, acc_sum_then_divide, acc_split, acc_scaled_grads]
WRONG_12_3 = [
    (acc_no_divide, "divide each micro-batch's loss by k"),
    (acc_divide_twice, "not twice"),
    (acc_zero_inside, "zero the gradients inside the loop"),
    (acc_full_batch, "one backward on the full batch"),
    (acc_divide_by_batch_size, "0.25× the full batch's"),
    (acc_ignores_k, "micro-batches of sizes [6, 6]: split data into k"),
    (acc_nothing, "got no gradient"),
    (acc_raises, "accumulate raised ValueError: oops"),
    (None, "Not answered yet"),
]


CASES_RIGHT, CASES_WRONG = cases({"12.1": RIGHT_12_1, "12.2": RIGHT_12_2, "12.3": RIGHT_12_3},
                                 {"12.1": WRONG_12_1, "12.2": WRONG_12_2, "12.3": WRONG_12_3})


def test_counts():
    for ex in ("12.1", "12.2", "12.3"):
        assert sum(c[0] == ex for c in CASES_RIGHT) >= 3
        assert sum(c[0] == ex for c in CASES_WRONG) >= 6


@pytest.mark.parametrize("exercise_id, answer", CASES_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES_RIGHT)])
def test_right_answers_pass(exercise_id, answer):
    assert_accepted(exercise_id, answer)


@pytest.mark.parametrize("exercise_id, answer, hint", CASES_WRONG,
                         ids=[f"{c[0]}-{c[2][:20]}" for c in CASES_WRONG])
def test_wrong_answers_get_their_hint(exercise_id, answer, hint):
    assert_rejected(exercise_id, answer, hint)


@pytest.mark.parametrize("exercise_id", ["12.1", "12.2", "12.3"])
def test_solutions_pass(exercise_id):
    assert check(exercise_id, solution_function(exercise_id)()).correct
