"""Checks for lesson 08's exercises (the trick at scale: DDP, FSDP, checkpointing, mixed precision).

08.2 checks what DDP needs without starting processes: one forward of each batch, one evaluation of
``f`` (:class:`~helpers.exercises.answers.Counted`), and **one backward pass reaching the parameters**
(with DDP's default options, once a backward has reached every parameter the reducer has all-reduced,
and what later backwards add stays local), counted by a post-accumulate-grad hook.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import Counted, as_floats, as_function, build_module, call, close, generator


@exercise("08.1", "what each rank holds after the two passes under DDP")
def _check_08_1(answer: Any) -> str:
    got = as_floats(answer, 2, "the answer ([rank 0's w.grad, rank 1's w.grad])")
    # l1 is all-reduced (mean 3.0), l2 stays local: rank 0: 3 + 1, rank 1: 3 - 3
    if close(got, [4.0, 0.0]):
        return ("l1's backward is averaged across ranks (3.0), l2's stays local: 3 + 1 = 4 and 3 − 3 = 0. "
                "The right gradient, 2.0 on both ranks, is on neither.")
    if close(got, [0.0, 4.0]):
        raise Hint("those are the right numbers for the wrong ranks: rank 0 adds its own l2 (1.0).")
    if close(got, [2.0, 2.0]):
        raise Hint("2.0 is what the ranks *should* get (the mean of 3 and 1); DDP averages only the "
                   "first backward after a forward when it reaches every parameter, as l1's does.")
    if close(got, [3.0, 1.0]):
        raise Hint("that is no averaging at all: DDP does average l1's backward, the first one.")
    if close(got, [3.0, 3.0]):
        raise Hint("l2's backward still adds to w.grad on each rank, only without averaging.")
    if close(got, [2.0, -2.0]):
        raise Hint("the first backward (l1) is the one that is averaged, not the second (l2).")
    if close(got, [1.0, -3.0]) or close(got, [-1.0, -1.0]):
        raise Hint("those are l2's parts alone: l1's backward (the averaged one) adds to w.grad too.")
    raise Hint("the mean of l1's gradients over the ranks, plus each rank's own l2 gradient.")


class _Critic:
    """A fixed pair-scoring f (no parameters): a random layer, tanh, a random readout, averaged."""

    def __init__(self, gen: torch.Generator):
        self.w = torch.randn(8, 5, generator=gen)
        self.v = torch.randn(5, generator=gen)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(torch.cat([x, y], dim=1) @ self.w) @ self.v).mean()


def _setup(seed: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor, _Critic]:
    gen = generator(seed)
    model = build_module(lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4)), gen)
    a, b = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen) + 0.5
    return model, a, b, _Critic(gen)


@exercise("08.2", "a DDP-safe step with one evaluation of f")
def _check_08_2(answer: Any) -> str:
    step = as_function(answer, "08.2", "ddp_step")
    seed = generator().initial_seed()  # fresh each check: a hard-coded result cannot pass
    model, a, b, f = _setup(seed)
    x, y = model(a), model(b)
    want = torch.autograd.grad(f(x.detach(), y) - f(x, y.detach()), list(model.parameters()))

    model, a, b, critic = _setup(seed)
    f = Counted(critic)
    forwards, passes = [], []
    model.register_forward_hook(lambda *_: forwards.append(1))
    for p in model.parameters():  # once per backward pass that reaches p: what DDP's reducer reacts to
        p.register_post_accumulate_grad_hook(lambda p: passes.append(p))
    call(step, model, a, b, f, what="ddp_step")
    got = [p.grad for p in model.parameters()]
    if any(g is None for g in got):
        raise Hint("the model's parameters got no gradient: call backward() (or autograd.backward) in ddp_step.")
    if len(forwards) > 2:
        raise Hint(f"the model ran {len(forwards)} times: one forward of a and one of b is enough.")
    if f.calls > 1:
        raise Hint(f"f was evaluated {f.calls} times: evaluate it once and flip the gradient through x.")
    per_param = max(sum(q is p for q in passes) for p in model.parameters())
    if per_param > 1:
        raise Hint(f"{per_param} backward passes reached the parameters: under DDP only the first is "
                   "all-reduced. Run one.")
    if all(close(u, v) for u, v in zip(got, want)):
        return "one forward, one evaluation of f, one backward: DDP all-reduces all of it."
    if all(close(u, -v) for u, v in zip(got, want)):
        raise Hint("every gradient has the wrong sign: flip only the gradient through x, not through y.")
    model, a, b, critic = _setup(seed)  # the two parts: through y (kept) and through x (to be flipped)
    x, y = model(a), model(b)
    through_y = torch.autograd.grad(critic(x.detach(), y), list(model.parameters()))
    through_x = torch.autograd.grad(critic(x, y.detach()), list(model.parameters()))
    flat = [torch.cat([t.flatten() for t in ts]) for ts in (got, through_y, through_x)]
    scale = -float((flat[0] - flat[1]) @ flat[2] / (flat[2] @ flat[2]))  # got ≈ through_y − scale·through_x
    if min(abs(scale - 1), abs(scale + 1)) > 1e-3 and close(flat[0], flat[1] - scale * flat[2]):
        raise Hint(f"the gradient through x is multiplied by {-scale:.3g}, not by −1: the flip must only "
                   "change its sign (reverse_grad(x) with its default scale 1, or a hook returning −grad).")
    raise Hint("the gradients differ from the two passes': the gradient through x must be negated, "
               "the one through y kept (reverse_grad(x), or a hook on x).")
