"""Checks for lesson 04's exercises (torch.autograd.grad and writing .grad)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import (
    as_bool,
    as_function,
    as_tensor,
    build_module,
    call,
    close,
    count_engine_calls,
    generator,
)


@exercise("04.1", "autograd.grad leaves .grad alone")
def _check_04_1(answer: Any) -> str:
    if as_bool(answer, "q.grad is None"):
        return "autograd.grad returns the gradient and writes nothing: q.grad stays None."
    raise Hint("autograd.grad *returns* the gradient [2.0, 4.0]; does it write anything into q.grad?")


def _names_used(fn: Any) -> set[str]:
    """Global and attribute names a function's code (and the code nested in it) refers to."""
    names, todo = set(), [getattr(fn, "__code__", None)]
    while todo:
        code = todo.pop()
        if code is not None:
            names |= set(code.co_names)
            todo += [c for c in code.co_consts if isinstance(c, type(code))]
    return names


@exercise("04.2", "a vector-Jacobian product with autograd.grad")
def _check_04_2(answer: Any) -> str:
    vjp = as_function(answer, "04.2", "vjp")
    names = _names_used(vjp)
    if "functional" in names:
        raise Hint("the exercise asks for torch.autograd.grad itself, not torch.autograd.functional "
                   "(which is built on it): one autograd.grad call with grad_outputs=u.")
    if "func" in names and "vjp" in names:
        raise Hint("torch.func.vjp gives uᵀJ too, but the exercise asks for torch.autograd.grad itself: "
                   "one autograd.grad call with grad_outputs=u.")
    if names & {"jacobian", "jacrev", "jacfwd", "hessian"}:
        raise Hint("that builds the whole Jacobian J first: one autograd.grad call with grad_outputs=u "
                   "gives uᵀJ without building J.")
    gen = generator()
    A = torch.randn(2, 3, generator=gen)

    def fn(t):
        return torch.tanh(A.to(t.dtype) @ t) * 2

    inp = torch.randn(3, generator=gen)
    u = torch.randn(2, generator=gen)
    J = torch.autograd.functional.jacobian(fn, inp)
    expected = u @ J
    with count_engine_calls() as engine:
        got = call(vjp, fn, inp.clone(), u.clone(), what="vjp")
    if got is None:
        raise Hint("vjp returned None: return the gradient tensor (autograd.grad returns a tuple: take [0]).")
    if isinstance(got, torch.Tensor) and got.numel() == J.numel() and got.dim() == 2:
        raise Hint("that is the whole Jacobian J: return uᵀJ, a vector shaped like inp.")
    got = as_tensor(got, inp.shape, "vjp's result")
    if close(got, expected):
        if engine.batched:
            raise Hint("autograd pushed a batch of vectors at once (a vmap, as jacobian(..., "
                       "vectorize=True) or is_grads_batched=True do): that builds the whole Jacobian J. "
                       "One autograd.grad call with grad_outputs=u gives uᵀJ without building J.")
        if engine.total > 1:
            raise Hint(f"autograd ran {engine.total} times (once per row of J?): one autograd.grad "
                       "call with grad_outputs=u gives uᵀJ without building J.")
        return "uᵀJ by reverse mode, without building the Jacobian."
    if close(got, torch.ones(2) @ J):
        raise Hint("that is the gradient of fn(inp).sum(): pass grad_outputs=u.")
    if close(got, -expected):
        raise Hint("the sign is flipped: uᵀJ is autograd.grad(out, inp, grad_outputs=u)[0] as it is.")
    raise Hint("inp = inp.detach().requires_grad_(True); out = fn(inp); "
               "return torch.autograd.grad(out, inp, grad_outputs=u)[0].")


def _problem(seed: int) -> tuple[nn.Module, torch.Tensor]:
    gen = generator(seed)
    model = build_module(lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), gen)
    model[0].weight.grad = torch.randn(4, 3, generator=gen)  # an existing gradient
    model[2].bias.grad = torch.randn(1, generator=gen)
    x = torch.randn(5, 3, generator=gen)
    return model, (model(x) ** 2).mean()


@exercise("04.3", "accumulating negated gradients by hand")
def _check_04_3(answer: Any) -> str:
    flipped_step = as_function(answer, "04.3", "flipped_step")
    seed = int(torch.randint(0, 2**31 - 1, (), generator=generator()))
    ref_model, ref_loss = _problem(seed)
    (-ref_loss).backward()
    model, loss = _problem(seed)
    before = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    with count_engine_calls() as engine:
        call(flipped_step, model, loss, what="flipped_step")
    names = [n for n, _ in model.named_parameters()]
    got = {n: p.grad for n, p in model.named_parameters()}
    want = {n: p.grad for n, p in ref_model.named_parameters()}
    missing = [n for n in names if got[n] is None]
    if missing:
        raise Hint(f"{', '.join(missing)} still {'has' if len(missing) == 1 else 'have'} no .grad: when "
                   "p.grad is None, set it (p.grad = -g).")
    fresh = {n: want[n] if before[n] is None else want[n] - before[n] for n in names}  # -∂loss/∂p
    if all(close(got[n], want[n]) for n in names):
        if engine.grad == 0:
            raise Hint("that is (-loss).backward() itself: compute the gradients with torch.autograd.grad "
                       "and accumulate their negatives into .grad by hand.")
        return "same as (-loss).backward(): created where None, added where a gradient existed."
    if all(close(got[n], fresh[n]) for n in names):
        raise Hint("the parameters that had a gradient lost it: add to p.grad when it is not None, "
                   "don't assign.")
    if all(close(got[n], -fresh[n] + (0 if before[n] is None else before[n])) for n in names):
        raise Hint("the sign is wrong: accumulate the *negated* gradients.")
    if all(close(got[n], fresh[n] - (0 if before[n] is None else before[n])) for n in names):
        raise Hint("the existing gradients were negated too: negate only the new gradients g, "
                   "p.grad = p.grad - g.")
    if all(close(got[n], -fresh[n]) for n in names):
        raise Hint("the sign is wrong, and the existing gradients were overwritten: accumulate the "
                   "*negated* gradients, p.grad = p.grad - g where a gradient exists.")
    raise Hint("grads = torch.autograd.grad(loss, params); "
               "for each p, g: p.grad = -g if p.grad is None else p.grad - g.")
