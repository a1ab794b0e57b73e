"""Checks for lesson 03's exercises (retain_graph)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_floats, as_function, close
from helpers.measure import saved_tensor_bytes


@exercise("03.1", "two backward passes without zeroing")
def _check_03_1(answer: Any) -> str:
    got = as_floats(answer, 3, "m.grad")
    if close(got, [4.0, -4.0, 8.0]):
        return "each backward adds 2m, so m.grad = 4m."
    if close(got, [2.0, -2.0, 4.0]):
        raise Hint("that is one backward's gradient (2m): the second backward adds to .grad, it does not overwrite it.")
    if close(got, [1.0, 1.0, 4.0]) or close(got, [2.0, 2.0, 8.0]):
        raise Hint("that looks like m**2 values: the gradient of m**2 is 2m.")
    raise Hint("d/dm of sum(m**2) is 2m; what does .grad hold after two backward calls?")


def _section2_model() -> tuple[nn.Module, torch.Tensor]:
    model = nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 1))
    return model, torch.randn(128, 64)


@exercise("03.2", "saved bytes of one forward pass")
def _check_03_2(answer: Any) -> str:
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Hint("give the number of bytes as an int (what saved_tensor_bytes returns).")
    model, x = _section2_model()
    expected = saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=model)
    with_params = saved_tensor_bytes(lambda: model(x).pow(2).mean())
    if answer == expected:
        return f"{expected} bytes: activations only; parameters excluded."
    if answer == with_params:
        raise Hint("that count includes the parameters (the linear layers' weights): pass exclude=model.")
    if answer * 4 == expected:
        raise Hint("that is a number of float32 elements; each takes 4 bytes.")
    raise Hint("call saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=model) and give its result.")


@exercise("03.3", "two losses, one backward")
def _check_03_3(answer: Any) -> str:
    as_function(answer, "03.3", "grads_of_two_losses")
    a = torch.tensor([0.0, 0.5, -1.0], requires_grad=True)
    passes = []
    a.register_hook(lambda g: passes.append(1))
    got = answer(a)
    if got is None:
        raise Hint("grads_of_two_losses returned None: return a.grad (or a clone of it).")
    if not isinstance(got, torch.Tensor) or got.shape != a.shape:
        raise Hint("return a tensor shaped like a: its gradient.")
    e = a.detach().exp()
    if len(passes) > 1:
        raise Hint(f"backward ran {len(passes)} times through a: add the losses and call backward() once.")
    if torch.allclose(got, e + 2 * e**2):
        return "d(l1 + l2)/da = eᵃ + 2e²ᵃ, from one backward pass."
    if torch.allclose(got, e):
        raise Hint("that is the gradient of l1 only: backpropagate l1 + l2.")
    if torch.allclose(got, 2 * e**2):
        raise Hint("that is the gradient of l2 only: backpropagate l1 + l2.")
    raise Hint("h = a.exp(); (h.sum() + (h ** 2).sum()).backward(); return a.grad.")
