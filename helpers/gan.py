"""A tiny GAN for lesson 03's "step() between two backward passes" trap, and a way to tell which
parameters an optimizer step changed.

Introduced in lesson 03, section 6.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers.device import seed_everything

__all__ = ["all_changed", "make_gan", "snapshot"]


def make_gan(device: torch.device | str = "cpu", seed: int = 1
             ) -> tuple[nn.Sequential, nn.Sequential, torch.optim.SGD, torch.optim.SGD]:
    """``G, D, opt_g, opt_d``: a generator 4 → 8 → 4 and a discriminator 4 → 8 → 1 (Linear, Tanh,
    Linear), each with its own SGD optimizer (lr 0.1). The same ``seed`` gives the same weights."""
    seed_everything(seed)
    G = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4)).to(device)
    D = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)
    return G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)


def snapshot(model: nn.Module) -> list[torch.Tensor]:
    """A copy of each parameter of ``model``, to tell later whether a step changed it."""
    return [p.detach().clone() for p in model.parameters()]


def all_changed(model: nn.Module, before: list[torch.Tensor]) -> bool:
    """Whether every parameter of ``model`` differs from its copy in ``before`` (from :func:`snapshot`)."""
    params = list(model.parameters())
    if len(params) != len(before):
        raise ValueError(f"{len(before)} copies for {len(params)} parameters: not this model's snapshot")
    return all(not torch.equal(p, old) for p, old in zip(params, before))
