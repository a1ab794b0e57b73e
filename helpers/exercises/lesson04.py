"""Checks for lesson 04's exercises (torch.autograd.grad and writing .grad)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_function


@exercise("04.1", "autograd.grad leaves .grad alone")
def _check_04_1(answer: Any) -> str:
    if not isinstance(answer, bool):
        raise Hint("answer True or False.")
    if answer:
        return "autograd.grad returns the gradient and writes nothing: q.grad stays None."
    raise Hint("autograd.grad *returns* the gradient [2.0, 4.0]; does it write anything into q.grad?")


@exercise("04.2", "a vector-Jacobian product with autograd.grad")
def _check_04_2(answer: Any) -> str:
    as_function(answer, "04.2", "vjp")
    A = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])

    def fn(t):
        return torch.tanh(A @ t) * 2

    inp = torch.tensor([0.3, -0.1, 0.2])
    u = torch.tensor([1.0, -1.5])
    expected = u @ torch.autograd.functional.jacobian(fn, inp)
    got = answer(fn, inp, u)
    if got is None:
        raise Hint("vjp returned None: return the gradient tensor (autograd.grad returns a tuple: take [0]).")
    if isinstance(got, tuple):
        raise Hint("autograd.grad returns a tuple; return its first element.")
    if not isinstance(got, torch.Tensor) or got.shape != inp.shape:
        raise Hint(f"the result should be a tensor shaped like inp {tuple(inp.shape)}.")
    if torch.allclose(got, expected, atol=1e-6):
        return "uᵀJ by reverse mode, without building the Jacobian."
    ones = torch.ones(2) @ torch.autograd.functional.jacobian(fn, inp)
    if torch.allclose(got, ones, atol=1e-6):
        raise Hint("that is the gradient of fn(inp).sum(): pass grad_outputs=u.")
    raise Hint("inp = inp.detach().requires_grad_(True); out = fn(inp); "
               "return torch.autograd.grad(out, inp, grad_outputs=u)[0].")


@exercise("04.3", "accumulating negated gradients by hand")
def _check_04_3(answer: Any) -> str:
    as_function(answer, "04.3", "flipped_step")

    def setup():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        model[0].weight.grad = torch.full_like(model[0].weight, 0.5)  # an existing gradient
        x = torch.randn(5, 3)
        return model, (model(x) ** 2).mean()

    ref_model, ref_loss = setup()
    (-ref_loss).backward()
    model, loss = setup()
    answer(model, loss)
    names = [n for n, _ in model.named_parameters()]
    got = {n: p.grad for n, p in model.named_parameters()}
    want = {n: p.grad for n, p in ref_model.named_parameters()}
    missing = [n for n in names if got[n] is None]
    if missing:
        raise Hint(f"{', '.join(missing)} still have no .grad: when p.grad is None, set it (p.grad = -g).")
    if all(torch.allclose(got[n], want[n]) for n in names):
        return "same as (-loss).backward(): created where None, added where a gradient existed."
    if torch.allclose(got["0.weight"], want["0.weight"] - 0.5):
        raise Hint("0.weight lost its existing gradient: add to p.grad when it is not None, don't assign.")
    if all(torch.allclose(got[n], -want[n]) for n in names if n != "0.weight"):
        raise Hint("the sign is wrong: accumulate the *negated* gradients.")
    raise Hint("grads = torch.autograd.grad(loss, params); "
               "for each p, g: p.grad = -g if p.grad is None else p.grad - g.")
