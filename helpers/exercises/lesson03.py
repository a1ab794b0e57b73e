"""Checks for lesson 03's exercises (retain_graph)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import (
    as_floats,
    as_function,
    as_int,
    as_number,
    as_tensor,
    build_module,
    call,
    close,
    count_engine_calls,
    generator,
)
from helpers.measure import saved_tensor_bytes


@exercise("03.1", "two backward passes without zeroing")
def _check_03_1(answer: Any) -> str:
    got = as_floats(answer, 3, "m.grad")
    if close(got, [4.0, -4.0, 8.0]):
        return "each backward adds 2m, so m.grad = 4m."
    if close(got, [2.0, -2.0, 4.0]):
        raise Hint("that is one backward's gradient (2m): the second backward adds to .grad, it does "
                   "not overwrite it.")
    if close(got, [-4.0, 4.0, -8.0]) or close(got, [-2.0, 2.0, -4.0]):
        raise Hint("the sign is flipped: the gradient of sum(m**2) is +2m per backward.")
    if close(got, [1.0, 1.0, 4.0]) or close(got, [2.0, 2.0, 8.0]):
        raise Hint("that looks like m**2 values: the gradient of m**2 is 2m.")
    if close(got, [0.0, 0.0, 0.0]):
        raise Hint("the two backward calls add up, they do not cancel: each adds 2m.")
    if close(got, [8.0, -8.0, 16.0]):
        raise Hint("that is 8m, four backward passes' worth: each of the two adds 2m.")
    raise Hint("d/dm of sum(m**2) is 2m; what does .grad hold after two backward calls?")


def _section2_model() -> tuple[nn.Module, torch.Tensor]:
    gen = generator(0)
    model = build_module(lambda: nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(),
                                               nn.Linear(256, 1)), gen)
    return model, torch.randn(128, 64, generator=gen)


@exercise("03.2", "saved bytes of one forward pass")
def _check_03_2(answer: Any) -> str:
    value = as_number(answer, "the number of bytes")
    model, x = _section2_model()
    expected = saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=model)
    with_params = saved_tensor_bytes(lambda: model(x).pow(2).mean())
    if any(abs(value - expected / unit) <= 0.05 * expected / unit for unit in (1000, 1024, 1000**2, 1024**2)):
        raise Hint("give the exact number of bytes, not kilobytes or megabytes.")
    got = as_int(answer, "the number of bytes")
    if got == expected:
        return (f"{expected} bytes: what the forward saves, parameters excluded — the input x included "
                "(section 2 left it out, since the variable x keeps it alive anyway).")
    without_input = saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=[*model.parameters(), x])
    if got == without_input:
        raise Hint(f"that count leaves out the input x as well, as section 2 does; this exercise counts it: "
                   f"add x's {expected - without_input} bytes (exclude=model only).")
    if got == with_params:
        raise Hint("that count includes the parameters (the linear layers' weights): pass exclude=model.")
    if got * 4 == expected:
        raise Hint("that is a number of float32 elements; each takes 4 bytes.")
    if got == 8 * expected:
        raise Hint("that is a number of bits: give bytes (8 bits each).")
    if got == 2 * expected:
        raise Hint("that is twice the expected count. The section's model and input are float32 (4 bytes "
                   "an element): a float64 model (.double()) saves 8 bytes an element — and measuring "
                   "two forward passes doubles it too. Measure the section's model once.")
    raise Hint("call saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=model) and give its result.")


@exercise("03.3", "two losses, one backward")
def _check_03_3(answer: Any) -> str:
    fn = as_function(answer, "03.3", "grads_of_two_losses")
    gen = generator()
    a0 = torch.randn(4, generator=gen)
    e = a0.exp()
    want = e + 2 * e**2
    for existing in (None, torch.randn(4, generator=gen)):
        a = a0.clone().requires_grad_(True)
        a.grad = None if existing is None else existing.clone()
        with count_engine_calls() as engine:
            raw = call(fn, a, what="grads_of_two_losses")
        if raw is None:
            raise Hint("grads_of_two_losses returned None: return a.grad (or a clone of it).")
        got = as_tensor(raw, a.shape, "the gradient")
        if engine.total == 0:
            raise Hint("nothing ran backward: call (l1 + l2).backward() once and return a.grad.")
        if engine.total > 1:
            raise Hint(f"the autograd engine ran {engine.total} times (backward() or autograd.grad "
                       "calls): add the losses and call backward() once.")
        if close(got, want):
            continue
        if existing is not None and close(got, want + existing):
            raise Hint("a.grad held a gradient before the call and yours adds to it: start from "
                       "a.grad = None.")
        if close(got, -want):
            raise Hint("the sign is flipped: backpropagate l1 + l2 itself, not its negative.")
        if close(got, e):
            raise Hint("that is the gradient of l1 only: l2 contributed nothing. Backpropagate l1 + l2, "
                       "and compute l2 from h itself (not h.detach(), not under no_grad).")
        if close(got, 2 * e**2):
            raise Hint("that is the gradient of l2 only: l1 contributed nothing. Backpropagate l1 + l2, "
                       "and compute l1 from h itself (not h.detach(), not under no_grad).")
        raise Hint("h = a.exp(); (h.sum() + (h ** 2).sum()).backward(); return a.grad.")
    return "d(l1 + l2)/da = eᵃ + 2e²ᵃ, from one backward pass."
