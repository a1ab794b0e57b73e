"""Domain-adversarial training on two moons: the data, the model and the training steps of lesson 07.

A feature extractor ``g`` is shared by a label classifier ``c`` and a domain classifier ``d``
(Ganin & Lempitsky, 2015). ``d`` learns to tell source features from target features; ``g`` learns to
make them indistinguishable, i.e. it *maximises* ``d``'s loss, while ``c`` learns the labels of the
source domain. That is the question of lessons 04–06: one evaluation of ``d`` on ``g``'s features,
backpropagated with opposite signs into ``d`` and into ``g``.

Lesson 07 prints these functions (``show_source``) and ``benchmarks/train_step.py`` times the very
same step functions, so what is taught is what is measured. Everything is made from local
``torch.Generator`` objects on the CPU and then moved, so every device starts from the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from helpers.compute_once import reverse_grad

__all__ = [
    "Batch",
    "DANN",
    "Domains",
    "History",
    "STEPS",
    "accuracy",
    "domain_loss",
    "lambda_schedule",
    "label_loss",
    "make_batches",
    "make_domains",
    "make_model",
    "make_moons",
    "one_pass_step",
    "rotate",
    "train",
    "two_pass_step",
]


# --- data ---------------------------------------------------------------------------------------

def make_moons(n: int, noise: float = 0.1, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of two interleaving half circles (like scikit-learn's ``make_moons``), shuffled.

    Returns ``(points, labels)``: a float tensor of shape ``(n, 2)`` and a long tensor of 0s and 1s.
    Gaussian noise of standard deviation ``noise`` is added to the points. Introduced in lesson 07.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = torch.linspace(0, math.pi, n_outer)
    t_inner = torch.linspace(0, math.pi, n_inner)
    outer = torch.stack([t_outer.cos(), t_outer.sin()], dim=1)
    inner = torch.stack([1 - t_inner.cos(), 0.5 - t_inner.sin()], dim=1)
    points = torch.cat([outer, inner])
    labels = torch.cat([torch.zeros(n_outer, dtype=torch.long), torch.ones(n_inner, dtype=torch.long)])
    points = points + noise * torch.randn(points.shape, generator=generator)
    order = torch.randperm(n, generator=generator)
    return points[order], labels[order]


def rotate(points: torch.Tensor, degrees: float, center: Sequence[float] = (0.5, 0.25)) -> torch.Tensor:
    """``points`` (shape ``(n, 2)``) rotated anticlockwise by ``degrees`` about ``center`` (by default
    the middle of the two moons)."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be a tensor of shape (n, 2), got {getattr(points, 'shape', points)!r}")
    if isinstance(degrees, bool) or not isinstance(degrees, (int, float)):
        raise TypeError(f"degrees must be a number, got {type(degrees).__name__}")
    a = math.radians(degrees)
    turn = torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=points.dtype)
    c = torch.tensor(center, dtype=points.dtype)
    return (points - c) @ turn + c


@dataclass
class Domains:
    """Labelled source points ``xs, ys``; target points ``xt`` (the source's moons, rotated) whose
    labels ``yt`` are used only to measure accuracy, never to train."""

    xs: torch.Tensor
    ys: torch.Tensor
    xt: torch.Tensor
    yt: torch.Tensor
    angle: float

    def __repr__(self) -> str:
        return (f"Domains(source: {len(self.xs)} labelled points, target: {len(self.xt)} points rotated by "
                f"{self.angle:g}°, its labels for evaluation only)")

    def to(self, device: torch.device | str) -> Domains:
        return Domains(self.xs.to(device), self.ys.to(device), self.xt.to(device), self.yt.to(device), self.angle)


def make_domains(n: int = 512, angle: float = 35.0, noise: float = 0.1, seed: int = 0,
                 device: torch.device | str = "cpu") -> Domains:
    """Two-moons source and target domains of ``n`` points each, the target rotated by ``angle``°."""
    gen = torch.Generator().manual_seed(seed)
    xs, ys = make_moons(n, noise, gen)
    xt, yt = make_moons(n, noise, gen)
    return Domains(xs, ys, rotate(xt, angle), yt, float(angle)).to(device)


@dataclass
class Batch:
    """One training batch: source points with labels, target points without."""

    xs: torch.Tensor
    ys: torch.Tensor
    xt: torch.Tensor


def make_batches(domains: Domains, steps: int, batch_size: int = 64, seed: int = 0) -> list[Batch]:
    """``steps`` batches of ``batch_size`` source and ``batch_size`` target points, drawn from a local
    generator, so that two trainings can see exactly the same batches."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        i = torch.randint(len(domains.xs), (batch_size,), generator=gen).to(domains.xs.device)
        j = torch.randint(len(domains.xt), (batch_size,), generator=gen).to(domains.xt.device)
        out.append(Batch(domains.xs[i], domains.ys[i], domains.xt[j]))
    return out


# --- the model ------------------------------------------------------------------------------------

class DANN(nn.Module):
    """Feature extractor ``g`` (2 → hidden → hidden), label classifier ``c`` (hidden → 1 logit) and
    domain classifier ``d`` (hidden → d_width → … → 1 logit, ``d_depth`` hidden layers)."""

    def __init__(self, hidden: int = 32, d_width: int = 32, d_depth: int = 1):
        super().__init__()
        self.g = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.c = nn.Linear(hidden, 1)
        layers: list[nn.Module] = []
        width_in = hidden
        for _ in range(d_depth):
            layers += [nn.Linear(width_in, d_width), nn.Tanh()]
            width_in = d_width
        self.d = nn.Sequential(*layers, nn.Linear(width_in, 1))

    def forward(self, x: torch.Tensor, with_features: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The label logits ``c(g(x))``; with ``with_features=True`` also the features: ``(h, logits)``.
        (Under DDP a step must go through the wrapper's forward, which arms the reducer: lesson 08.)"""
        h = self.g(x)
        logits = self.c(h).squeeze(-1)
        return (h, logits) if with_features else logits


def make_model(hidden: int = 32, d_width: int = 32, d_depth: int = 1, seed: int = 0,
               device: torch.device | str = "cpu") -> DANN:
    """A :class:`DANN` initialised from ``seed`` on the CPU (so every device starts alike), then moved."""
    gen = torch.Generator().manual_seed(seed)
    model = DANN(hidden, d_width, d_depth)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * (2 / p.shape[1]) ** 0.5)
    return model.to(device)


def label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the label classifier on the source batch."""
    return F.binary_cross_entropy_with_logits(logits.squeeze(-1), labels.to(logits.dtype))


def domain_loss(logits: torch.Tensor, n_source: int) -> torch.Tensor:
    """Binary cross-entropy of the domain classifier: the first ``n_source`` rows are source (0), the
    rest target (1)."""
    logits = logits.squeeze(-1)
    target = torch.ones_like(logits)
    target[:n_source] = 0
    return F.binary_cross_entropy_with_logits(logits, target)


def lambda_schedule(p: float) -> float:
    """DANN's λ_p = 2 / (1 + exp(−10 p)) − 1 at training progress ``p`` in [0, 1]: 0 up to ~1."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p is the training progress, a number in [0, 1]; got {p!r}")
    return 2 / (1 + math.exp(-10 * p)) - 1


# --- one training step, two ways -------------------------------------------------------------------

def two_pass_step(model: DANN, optimizer: torch.optim.Optimizer, batch: Batch, lam: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The question's pattern: d evaluated twice, backward twice, then one optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    h = model.g(torch.cat([batch.xs, batch.xt]))
    n = len(batch.xs)
    loss_c = label_loss(model.c(h[:n]), batch.ys)
    # pass 1: d learns to tell the domains apart, from features detached from g
    loss_d = domain_loss(model.d(h.detach()), n)
    loss_d.backward()
    # pass 2: c learns the labels and g maximises d's loss; d is kept out of this update
    g_and_c = [*model.g.parameters(), *model.c.parameters()]
    (loss_c - lam * domain_loss(model.d(h), n)).backward(inputs=g_and_c)
    optimizer.step()
    return loss_c.detach(), loss_d.detach()


def one_pass_step(model: DANN, optimizer: torch.optim.Optimizer, batch: Batch, lam: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One evaluation of d, one backward: the reversal flips (and scales by λ) what d sends to g."""
    optimizer.zero_grad(set_to_none=True)
    h = model.g(torch.cat([batch.xs, batch.xt]))
    n = len(batch.xs)
    loss_c = label_loss(model.c(h[:n]), batch.ys)
    loss_d = domain_loss(model.d(reverse_grad(h, lam)), n)
    (loss_c + loss_d).backward()
    optimizer.step()
    return loss_c.detach(), loss_d.detach()


STEPS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "two-pass": two_pass_step,
    "one-pass": one_pass_step,
}


# --- training and evaluation ------------------------------------------------------------------------

@dataclass
class History:
    """What one training run recorded: per step the label loss, the domain loss and λ; with
    ``record_params``, the flattened parameters after every step (one row per step)."""

    label_loss: torch.Tensor
    domain_loss: torch.Tensor
    lam: torch.Tensor
    params: torch.Tensor | None

    def __repr__(self) -> str:
        return (f"History({len(self.lam)} steps: label loss {float(self.label_loss[-1]):.2f}, "
                f"domain loss {float(self.domain_loss[-1]):.2f} at the end)")


def train(step: Callable[..., tuple[torch.Tensor, torch.Tensor]], model: DANN,
          optimizer: torch.optim.Optimizer, batches: Sequence[Batch], adapt: bool = True,
          record_params: bool = False) -> History:
    """Run ``step(model, optimizer, batch, λ)`` on every batch, λ from :func:`lambda_schedule`
    (``adapt=False``: λ = 0, so g ignores d and the model is trained on the source only)."""
    if not callable(step):
        raise TypeError(f"step must be a function, got {type(step).__name__}")
    losses_c, losses_d, lams, params = [], [], [], []
    for i, batch in enumerate(batches):
        lam = lambda_schedule(i / len(batches)) if adapt else 0.0
        loss_c, loss_d = step(model, optimizer, batch, lam)
        losses_c.append(loss_c)
        losses_d.append(loss_d)
        lams.append(lam)
        if record_params:
            params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return History(torch.stack(losses_c).cpu(), torch.stack(losses_d).cpu(), torch.tensor(lams),
                   torch.stack(params).cpu() if record_params else None)


@torch.no_grad()
def accuracy(model: DANN, points: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of ``points`` whose predicted label (logit > 0) equals ``labels``."""
    if points.shape[0] != labels.shape[0]:
        raise ValueError(f"points and labels differ in length: {points.shape[0]} and {labels.shape[0]}")
    return float(((model(points) > 0).long() == labels).float().mean())


# --- what a step saves for backward (lesson 07, section 6) -------------------------------------------

def step_saved_bytes(step: Callable[..., tuple[torch.Tensor, torch.Tensor]], model: DANN,
                     optimizer: torch.optim.Optimizer, batch: Batch, lam: float) -> tuple[int, int]:
    """``(bytes saved for backward over one step, most bytes held at once)``, parameters excluded,
    counted by :class:`helpers.measure.SavedTensorTracker`. "At once" is looked at right after each
    evaluation of ``d`` (a forward hook on ``model.d``): then ``d``'s activations have just been saved
    and no backward has freed them yet. Both depend only on shapes, not on the machine."""
    from helpers.measure import SavedTensorTracker

    held: list[int] = []
    with SavedTensorTracker(exclude=model) as tracker:
        look = model.d.register_forward_hook(lambda *_: held.append(tracker.held_bytes()))
        try:
            step(model, optimizer, batch, lam)
        finally:
            look.remove()
    return tracker.total_bytes, max(held)
