"""Checks for lesson 12's "diagnose this" exercises (the gradient clinic).

12.1 names the cause of a missing ``.grad`` (a choice); 12.2 and 12.3 are fixes, run on fresh random
tensors from a local generator: a manual SGD step that keeps the parameters leaves, and gradient
accumulation that gives the full batch's gradient.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_choice, as_function, build_module, call, close, generator

CAUSES = {
    "non-leaf copy": ("copy", "non-leaf", "nonleaf", "not a leaf", "not leaf", "to", "cuda", ".cuda",
                      ".to", "tocopybackward0", "tocopybackward", "non-leaf copy of a leaf",
                      "non-leaf copy of the leaf", "a non-leaf copy", "a copy", "w is a copy",
                      "w is not a leaf", "not the leaf", "w is not the leaf", "is not a leaf",
                      "a non-leaf copy of the leaf", "a non-leaf copy of a leaf", "it's a copy"),
    "no graph": ("no grad_fn", "no_grad"),
    "not reachable": ("unreachable",),
    "does not require grad": ("frozen", "requires_grad=false"),
    "graph freed": ("freed", "retain_graph"),
}


@exercise("12.1", "why w.grad is None after .cuda()")
def _check_12_1(answer: Any) -> str:
    cause = as_choice(answer, CAUSES, "the cause")
    if cause == "non-leaf copy":
        return ("`.cuda()` returned a copy made by ToCopyBackward0: the gradient flows through it into "
                "the CPU leaf you no longer hold. Make it on the device, then requires_grad_().")
    hints = {
        "no graph": "the loss has a graph here: loss.requires_grad is True and backward() runs.",
        "not reachable": "w is on the graph: the loss is computed from it. Look at what kind of tensor w is.",
        "does not require grad": "w.requires_grad is True (a copy of a tensor that requires grad does too).",
        "graph freed": "nothing was backpropagated before: this is the first backward.",
    }
    raise Hint(hints[cause] + " Print w.is_leaf and w.grad_fn.")


def _params(gen: torch.Generator) -> list[torch.Tensor]:
    return [torch.randn(3, generator=gen).requires_grad_(), torch.randn(2, 2, generator=gen).requires_grad_()]


@exercise("12.2", "a hand-written SGD step that keeps the leaves")
def _check_12_2(answer: Any) -> str:
    step = as_function(answer, "12.2", "sgd_step")
    gen = generator()
    params = _params(gen)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    start = [p.detach().clone() for p in params]
    grads = [p.grad.clone() for p in params]
    lr = 0.05 + torch.rand((), generator=gen).item() / 10
    originals = list(params)
    try:
        result = call(step, params, lr, what="sgd_step")
    except Hint as hint:
        if "leaf Variable that requires grad" in str(hint):
            raise Hint("the in-place update ran while autograd records (case 4's error): do it inside "
                       "`with torch.no_grad():`.") from None
        raise
    if any(p is not q for p, q in zip(params, originals)) or len(params) != len(originals):
        raise Hint("sgd_step changed the list itself: update each tensor in place instead.")
    if isinstance(result, (list, tuple)) and result and all(isinstance(r, torch.Tensor) for r in result) \
            and any(r is not p for r, p in zip(result, params)):
        if all(close(r.detach(), s - lr * g) for r, s, g in zip(result, start, grads)):
            raise Hint("you returned new tensors (p - lr * p.grad): they are non-leaves, and the "
                       "parameters themselves did not change. Update them in place under torch.no_grad().")
    for p in params:
        if not p.is_leaf or not p.requires_grad:
            raise Hint("a parameter stopped being a leaf that requires grad: update its values in place, "
                       "under torch.no_grad(), without detaching or replacing it.")
    moved = [close(p.detach(), s - lr * g) for p, s, g in zip(params, start, grads)]
    if not all(moved):
        if all(close(p.detach(), s) for p, s in zip(params, start)):
            raise Hint("the parameters did not change: subtract lr * p.grad from each, in place.")
        if all(close(p.detach(), s + lr * g) for p, s, g in zip(params, start, grads)):
            raise Hint("that is a step up the gradient: subtract lr * grad.")
        raise Hint("each parameter must become p − lr·p.grad (use the lr argument).")
    if any(p.grad is not None and p.grad.abs().max() > 0 for p in params):
        raise Hint("the step is right, but the gradients are still there: clear them (p.grad = None, "
                   "or p.grad.zero_()), or the next backward adds to them.")
    return "in place under no_grad, gradients cleared: the parameters stay the same leaves, as in torch.optim.SGD."


def _model(gen: torch.Generator) -> nn.Module:
    return build_module(lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), gen)


def _mse(out: torch.Tensor) -> torch.Tensor:
    return (out - 0.5).pow(2).mean()


@exercise("12.3", "gradient accumulation over k micro-batches")
def _check_12_3(answer: Any) -> str:
    accumulate = as_function(answer, "12.3", "accumulate")
    seed = generator().initial_seed()
    gen = generator(seed)
    model, data = _model(gen), torch.randn(12, 3, generator=gen)
    want = torch.autograd.grad(_mse(model(data)), list(model.parameters()))
    for k in (3, 4):
        model = _model(generator(seed))
        calls = []
        model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
        call(accumulate, model, data, _mse, k, what="accumulate")
        got = [p.grad for p in model.parameters()]
        if any(g is None for g in got):
            raise Hint("the model got no gradient: call backward() on each micro-batch's loss.")
        if calls == [len(data)]:
            raise Hint("that is one backward on the full batch: split data into k micro-batches "
                       "(data.chunk(k)).")
        if sorted(calls) != [len(data) // k] * k:
            raise Hint(f"with k = {k} the model saw micro-batches of sizes {calls}: split data into k "
                       "equal micro-batches (data.chunk(k)), using the k argument.")
        if all(close(u, v) for u, v in zip(got, want)):
            continue
        if all(close(u, k * v) for u, v in zip(got, want)):
            raise Hint(f"the gradient is {k}× the full batch's: divide each micro-batch's loss by k.")
        if all(close(u, v / k) for u, v in zip(got, want)):
            raise Hint(f"the gradient is 1/{k} of the full batch's: divide each loss by k once, not twice "
                       "(or sum and divide, not both).")
        flat_got = torch.cat([u.reshape(-1) for u in got])
        flat_want = torch.cat([v.reshape(-1) for v in want])
        ratio = (flat_got @ flat_want / (flat_want @ flat_want)).item()
        if close(flat_got, ratio * flat_want) and abs(ratio) > 1e-6:
            raise Hint(f"the gradient is {ratio:.3g}× the full batch's: divide each micro-batch's mean "
                       "loss by k, and by nothing else.")
        raise Hint("the gradient differs from the full batch's (did you zero the gradients inside the "
                   "loop, so that only the last micro-batch counts?).")
    return "loss / k on each of k equal micro-batches: .grad is the full batch's gradient."
