"""Lesson 10's exercise checks: right answers in several forms pass, wrong ones get the hint that
names the mistake, and no check touches the global RNG or depends on grad mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from exercise_cases import assert_accepted, assert_rejected, cases

from helpers.exercises import check, solution_function

# --- 10.1 -------------------------------------------------------------------------------------------

RIGHT_10_1 = [[12, 39], (12.0, 39.0), torch.tensor([12.0, 39.0]), np.array([12.0, 39.0]),
              [torch.tensor(12.0), torch.tensor(39.0)], torch.tensor([[12.0], [39.0]], dtype=torch.float64),
              torch.tensor([12.0, 39.0], requires_grad=True)]
WRONG_10_1 = [
    ([13, 39], "before the Node pre-hook runs"),
    ([4, 13], "includes it"),
    ([12, 36], "does reach w"),
    ([12, 12], "multiplies the gradient it receives by 3"),
    ([12, 37], "before the node multiplies by 3"),
    ([6, 18], "tensor hook multiplies it by 3"),
    ([12, 40], "follow the gradient"),
    (12, "2 numbers"),
    ("12, 39", "without quotes"),
]


# --- 10.2 -------------------------------------------------------------------------------------------

def make(forward, backward, vmap_rule=True, save="inputs"):
    def setup_context(ctx, inputs, output):
        ctx.c = inputs[1]

    attrs = {"forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
             "backward": staticmethod(backward)}
    if vmap_rule:
        attrs["generate_vmap_rule"] = True
    return type("ClampGrad", (torch.autograd.Function,), attrs)


ClampClone = make(lambda x, c: x.clone(), lambda ctx, g: (g.clamp(-ctx.c, ctx.c), None))
ClampViewAs = make(lambda x, c: x.view_as(x), lambda ctx, g: (g.clamp(-ctx.c, ctx.c), None))
ClampInputAsIs = make(lambda x, c: x, lambda ctx, g: (g.clamp(-ctx.c, ctx.c), None))
ClampMinMax = make(lambda x, c: x * 1, lambda ctx, g: (torch.clamp(g, min=-ctx.c, max=ctx.c), None))


class ClampVmapStatic(torch.autograd.Function):
    """A hand-written vmap rule instead of generate_vmap_rule."""

    @staticmethod
    def forward(x, c):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.c = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return g.clamp(-ctx.c, ctx.c), None

    @staticmethod
    def vmap(info, in_dims, x, c):
        return ClampVmapStatic.apply(x, c), in_dims[0]


class OldStyle(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, c):
        ctx.c = c
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g.clamp(-ctx.c, ctx.c), None


RIGHT_10_2 = [solution_function("10.2")(), ClampClone, ClampViewAs, ClampInputAsIs, ClampMinMax,
              ClampVmapStatic]
WRONG_10_2 = [
    (make(lambda x, c: x.clone(), lambda ctx, g: (g.clamp(-ctx.c, ctx.c), None), vmap_rule=False),
     "generate_vmap_rule = True"),
    (OldStyle, "setup_context(ctx, inputs, output)"),
    (make(lambda x, c: x.clone(), lambda ctx, g: (g, None)), "unclamped"),
    (make(lambda x, c: x.clone(), lambda ctx, g: (g.clamp(-1.0, 1.0), None)), "whatever c is"),
    (make(lambda x, c: x.clone(), lambda ctx, g: (g.clamp(max=ctx.c), None)), "both sides"),
    (make(lambda x, c: x.clone(), lambda ctx, g: (-g.clamp(-ctx.c, ctx.c), None)), "wrong sign"),
    (make(lambda x, c: x.clamp(-c, c), lambda ctx, g: (g.clamp(-ctx.c, ctx.c), None)), "identity"),
    (make(lambda x, c: x.clone(), lambda ctx, g: (g * min(1.0, ctx.c / g.norm().item()), None)),
     "norm c"),
    (make(lambda x, c: x.clone(), lambda ctx, g: g.clamp(-ctx.c, ctx.c)), "incorrect number of gradients"),
    (lambda x, c: x, "subclass of torch.autograd.Function"),
    (type("ClampGrad", (torch.autograd.Function,), {}), "static methods forward"),
]


# --- 10.3 -------------------------------------------------------------------------------------------

def loop_solution(loss, w, X, Y, C):
    grads = []
    for x, y in zip(X, Y):
        w_i = w.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(w_i, x, y), w_i)
        grads.append(g * min(1.0, C / g.norm().item()))
    return torch.stack(grads).mean(0)


def clip_grad_norm_solution(loss, w, X, Y, C):
    total = torch.zeros_like(w)
    for x, y in zip(X, Y):
        p = w.clone().requires_grad_(True)
        loss(p, x, y).backward()
        torch.nn.utils.clip_grad_norm_([p], C)
        total += p.grad
    return (total / len(X)).tolist()


def float64_solution(loss, w, X, Y, C):
    return solution_function("10.3")()(loss, w.double(), X.double(), Y.double(), C).unsqueeze(0)


def per_sample(loss, w, X, Y):
    return torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(w, X, Y)


RIGHT_10_3 = [solution_function("10.3")(), loop_solution, clip_grad_norm_solution, float64_solution]
WRONG_10_3 = [
    (lambda loss, w, X, Y, C: per_sample(loss, w, X, Y).mean(0), "nothing was clipped"),
    (lambda loss, w, X, Y, C: (lambda m: m * min(1.0, C / m.norm().item()))(per_sample(loss, w, X, Y).mean(0)),
     "clips the mean gradient"),
    (lambda loss, w, X, Y, C: (lambda G: (G * C / G.norm(dim=1, keepdim=True)).mean(0))(per_sample(loss, w, X, Y)),
     "also those already smaller"),
    (lambda loss, w, X, Y, C: (lambda G: (G * (C / G.norm(dim=1, keepdim=True)).clamp(max=1)).sum(0))(
        per_sample(loss, w, X, Y)), "sum over samples"),
    (lambda loss, w, X, Y, C: per_sample(loss, w, X, Y).clamp(-C, C).mean(0), "clamps entries"),
    (lambda loss, w, X, Y, C: [0.0, 0.0, 0.0], "the clipped mean should be"),
    (lambda loss, w, X, Y, C: torch.autograd.grad(loss(w, X[0], Y[0]), w), "raised RuntimeError"),
    (lambda loss, w, X, Y, C: w.mul_(0), "changed w"),
]


CASES_RIGHT, CASES_WRONG = cases({"10.1": RIGHT_10_1, "10.2": RIGHT_10_2, "10.3": RIGHT_10_3},
                                 {"10.1": WRONG_10_1, "10.2": WRONG_10_2, "10.3": WRONG_10_3})


def test_counts():
    for ex in ("10.1", "10.2", "10.3"):
        assert sum(c[0] == ex for c in CASES_RIGHT) >= 3
        assert sum(c[0] == ex for c in CASES_WRONG) >= 6


@pytest.mark.parametrize("exercise_id, answer", CASES_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES_RIGHT)])
def test_right_answers_pass(exercise_id, answer):
    assert_accepted(exercise_id, answer)


@pytest.mark.parametrize("exercise_id, answer, hint", CASES_WRONG,
                         ids=[f"{c[0]}-{c[2][:20]}" for c in CASES_WRONG])
def test_wrong_answers_get_their_hint(exercise_id, answer, hint):
    assert_rejected(exercise_id, answer, hint)


@pytest.mark.parametrize("exercise_id", ["10.1", "10.2", "10.3"])
def test_solutions_pass(exercise_id):
    assert check(exercise_id, solution_function(exercise_id)()).correct


def test_unanswered():
    assert "Not answered yet" in check("10.1", None).message
    assert "Not answered yet" in check("10.3", lambda loss, w, X, Y, C: None).message
