"""Checks for lesson 06's exercises (compute once, backpropagate twice)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_function, as_number


@exercise("06.1", "the seed example with b = 3")
def _check_06_1(answer: Any) -> str:
    answer = as_number(answer)
    if math.isclose(answer, 4.0):
        return "l1 gives ∂f/∂y · b = 3, l2 gives −∂f/∂x · a = 1: 4 in all."
    if math.isclose(answer, 2.0):
        raise Hint("2 = 3 − 1 is the plain backward of f(x, y): the two passes flip the sign of the x path.")
    if math.isclose(answer, 3.0):
        raise Hint("3 was the answer for b = 2; with b = 3, l1's contribution ∂f/∂y · b changes.")
    raise Hint("with x = 1 and y = 3: ∂f/∂x = −1, ∂f/∂y = +1; add ∂f/∂y · b and −∂f/∂x · a.")


class _Counted:
    """An expensive-looking f that counts how often it is evaluated."""

    def __init__(self):
        self.calls = 0
        gen = torch.Generator().manual_seed(3)
        self.W = torch.randn(8, 4, generator=gen)

    def __call__(self, x, y):
        self.calls += 1
        return torch.tanh(torch.cat([x, y], dim=1) @ self.W).pow(2).mean()


def _setup():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    a, b = torch.randn(6, 3), torch.randn(6, 3) + 1
    return g, a, b


def _extra(x):
    return x.pow(2).mean()


@exercise("06.2", "one pass with another use of x")
def _check_06_2(answer: Any) -> str:
    as_function(answer, "06.2", "one_pass")
    g, a, b = _setup()
    f = _Counted()
    x, y = g(a), g(b)
    _extra(x).backward(retain_graph=True)
    f(x.detach(), y).backward(retain_graph=True)
    (-f(x, y.detach())).backward()
    want = [p.grad.clone() for p in g.parameters()]

    g, a, b = _setup()
    f = _Counted()
    x, y = g(a), g(b)
    passes = []
    y.register_hook(lambda grad: passes.append(1))
    answer(x, y, f, _extra)
    got = [p.grad for p in g.parameters()]
    if any(p is None for p in got):
        raise Hint("g's parameters got no gradient: did you call backward()?")
    if f.calls > 1:
        raise Hint(f"f was evaluated {f.calls} times: evaluate it once.")
    if len(passes) > 1:
        raise Hint("use one backward() call.")
    if all(torch.allclose(u, v, atol=1e-6) for u, v in zip(got, want)):
        return "(f(reverse_grad(x), y) + extra(x)).backward(): the flip stays on f's branch."
    raise Hint("a hook on x would flip extra's gradient too: apply reverse_grad(x) only where x enters f.")


@exercise("06.3", "which method leaves f's parameters as the two passes do")
def _check_06_3(answer: Any) -> str:
    if not isinstance(answer, str):
        raise Hint('answer with one of "hook", "autograd.grad", "reversal".')
    key = answer.strip()
    if key in ("autograd.grad", "autograd_grad", "grad_then_backward"):
        return ("it asks only for ∂f/∂x and ∂f/∂y, so θ is untouched — as after the two passes, "
                "where the contributions cancel.")
    if key in ("hook", "reversal"):
        raise Hint(f"the {key} method runs one ordinary backward through f, so θ receives ∂f/∂θ; "
                   "the two passes give θ 0.")
    raise Hint('answer with one of "hook", "autograd.grad", "reversal".')
