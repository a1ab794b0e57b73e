#!/usr/bin/env python3
"""What one pass saves, by shape of f: lesson 06's methods against the fair two-pass baseline.

    .venv/bin/python benchmarks/compute_once.py              # four shapes of f, two sizes (~1 min on 1 thread)
    .venv/bin/python benchmarks/compute_once.py --quick      # small sizes, few rounds (a few seconds; the test)
    .venv/bin/python benchmarks/compute_once.py --threads 2  # another pinned thread count

The baseline is **fair**: ``two_pass_no_retain`` (``helpers.compute_once``), the two passes without
``retain_graph`` — enough here, since ``x = g(a)`` and ``y = g(b)`` share no node — so the baseline
does not pay for a kept graph. The one-pass methods are lesson 06's ``hook``, ``autograd.grad`` and
``reversal`` (``helpers.compute_once.METHODS``), the very functions the lesson shows.

Shapes of ``f`` (``g`` is lesson 06's MLP, 16 → 32 → 32, on ``n`` rows of ``a`` and of ``b``):

* ``critic``: lesson 06's ``PairCritic`` (64 → 256 → 256 → 256 → 1 on each pair ``[x_i, y_i]``);
* ``separable``: ``h(x) + k(y)``, two MLPs of the critic's size, one per input;
* ``cheap``: ``mean((x − y)²)``, far cheaper than ``g``;
* ``attention``: ``softmax(q(x) k(y)ᵀ / √d) v(y)``, every row of ``x`` with every row of ``y``.

For each shape and size it times, interleaved round after round in a rotating order (after a warm-up),
the methods and four pieces: ``G`` (``g``'s forward and backward for both calls), ``F`` (``f``'s
forward and backward to both inputs), ``Fx`` and ``Fy`` (``f``'s forward and its backward to one input
only, as in ``l2`` and ``l1``). The **limit** is what one pass can at best achieve against the fair
baseline, (G + F) / (G + Fx + Fy): one forward of ``f`` instead of two, and ``f``'s backward once to
both inputs instead of once to each. Per round it computes the limit and each method's time ratio to
the baseline (paired: a busy moment slows both sides); it prints the median and the spread (min–max
over the rounds), the quotient ratio / limit (1.00: the method gets all one pass can give), and the
bytes saved for backward as a fraction of the baseline's (parameters excluded: exact, not timed).
On CUDA every call is synchronised. The CPU thread count is pinned (``--threads``, default 1).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from helpers.compare import compare_gradients  # noqa: E402
from helpers.compute_once import METHODS, Problem, make_problem, run_method, two_pass_no_retain  # noqa: E402
from helpers.device import describe, pick_device  # noqa: E402
from helpers.measure import saved_tensor_bytes, time_methods  # noqa: E402

FAIR = "two-pass-no-retain"
ONE_PASS = ("hook", "autograd.grad", "reversal")


def _frozen_mlp(dim_in: int, width: int, gen: torch.Generator) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(dim_in, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                        nn.Linear(width, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
    return net.requires_grad_(False)


class Separable(nn.Module):
    """``f(x, y) = mean(h(x)) + mean(k(y))``: no term in which ``x`` and ``y`` meet."""

    def __init__(self, dim: int, width: int, gen: torch.Generator):
        super().__init__()
        self.h, self.k = _frozen_mlp(dim, width, gen), _frozen_mlp(dim, width, gen)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.h(x).mean() + self.k(y).mean()


class Cheap(nn.Module):
    """``f(x, y) = mean((x − y)²)``: far cheaper than ``g``."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).pow(2).mean()


class Attention(nn.Module):
    """``f(x, y) = mean(tanh(softmax(q(x) k(y)ᵀ / √d) v(y)))``: every row of x meets every row of y."""

    def __init__(self, dim: int, width: int, gen: torch.Generator):
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(dim, width, bias=False) for _ in range(3))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
        self.requires_grad_(False)
        self.scale = width ** -0.5

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.q(x) @ self.k(y).T * self.scale, dim=1)
        return torch.tanh(weights @ self.v(y)).mean()


def build(shape: str, n: int, device: torch.device) -> Problem:
    """Lesson 06's ``g``, ``a`` and ``b`` (``make_problem``), with ``f`` of the given shape."""
    problem = make_problem(n=n, device=device)
    gen = torch.Generator().manual_seed(1)
    dim, width = 32, 256
    if shape == "critic":
        return problem
    f = {"separable": lambda: Separable(dim, width, gen), "cheap": Cheap,
         "attention": lambda: Attention(dim, 64, gen)}[shape]()
    return Problem(problem.g, problem.a, problem.b, f.to(device))


SHAPES = ("critic", "separable", "cheap", "attention")


def pieces(problem: Problem) -> dict[str, Callable[[], None]]:
    """G, F, Fx, Fy: the parts of a step whose costs predict the limit."""
    x0, y0 = (t.detach() for t in problem.features())
    xr, yr = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)

    def g_part() -> None:
        x, y = problem.features()
        (x.sum() + y.sum()).backward()

    return {"G": g_part, "F": lambda: problem.f(xr, yr).backward(),
            "Fx": lambda: problem.f(xr, y0).backward(), "Fy": lambda: problem.f(x0, yr).backward()}


def measure(shape: str, n: int, device: torch.device, repeat: int, warmup: int) -> list[dict]:
    problem = build(shape, n, device)
    methods = {FAIR: two_pass_no_retain, **{name: METHODS[name] for name in ONE_PASS}}
    check = compare_gradients({name: run_method(m, problem) for name, m in methods.items()}, FAIR)
    if not all(check.close.values()):
        raise SystemExit(f"the methods disagree for {shape}, n={n}:\n{check}")
    calls = {**pieces(problem), **{name: (lambda m=m: run_method(m, problem)) for name, m in methods.items()}}
    t = {name: timing.times for name, timing in
         time_methods(calls, repeat=repeat, warmup=warmup, device=device).items()}
    rounds = range(repeat)
    limit = [(t["G"][i] + t["F"][i]) / (t["G"][i] + t["Fx"][i] + t["Fy"][i]) for i in rounds]
    params = list(problem.g.parameters()) + list(problem.f.parameters())
    saved = {name: saved_tensor_bytes(lambda m=m: run_method(m, problem), exclude=params)
             for name, m in methods.items()}
    rows = []
    for name in ONE_PASS:
        ratio = [t[name][i] / t[FAIR][i] for i in rounds]
        rows.append({"shape": shape, "n": n, "method": name, "limit": statistics.median(limit),
                     "limit_min": min(limit), "limit_max": max(limit), "ratio": statistics.median(ratio),
                     "ratio_min": min(ratio), "ratio_max": max(ratio),
                     "quotient": statistics.median(ratio) / statistics.median(limit),
                     "saved": saved[name] / saved[FAIR], "fair_ms": statistics.median(t[FAIR]) * 1e3})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few rounds (a few seconds)")
    parser.add_argument("--sizes", type=int, nargs="+", help="rows in each of a and b (default 128 1024)")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, help="shapes of f (default: all four)")
    parser.add_argument("--repeat", type=int, help="timed rounds per shape and size (default 15; --quick: 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--device", help="cpu or cuda (default: CUDA when available)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    sizes = sorted(args.sizes or ([32, 128] if args.quick else [128, 1024]))
    repeat = args.repeat or (5 if args.quick else 15)
    device = pick_device(args.device)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    print(f"{describe(device)} ({platform.machine()}); threads pinned to {torch.get_num_threads()}; "
          f"{repeat} rounds; load average {load} on {os.cpu_count()} CPUs")
    print(f"{'f':10} {'n':>5} {'method':14} {'limit':>5} {'(min–max)':>11} {'ratio':>6} {'(min–max)':>11} "
          f"{'ratio/limit':>11} {'saved':>6} {'fair ms':>8}")
    worst = 0.0
    for shape in args.shapes or SHAPES:
        for n in sizes:
            for r in measure(shape, n, device, repeat, warmup=2):
                print(f"{r['shape']:10} {r['n']:>5} {r['method']:14} {r['limit']:>5.2f} "
                      f"({r['limit_min']:.2f}–{r['limit_max']:.2f}) {r['ratio']:>6.2f} "
                      f"({r['ratio_min']:.2f}–{r['ratio_max']:.2f}) {r['quotient']:>11.2f} "
                      f"{r['saved']:>6.3f} {r['fair_ms']:>8.2f}")
                if shape == "critic" and n == sizes[-1]:
                    worst = max(worst, r["ratio"])
    print("limit = (G + F) / (G + Fx + Fy) from measured pieces; ratio = time / fair two-pass time "
          "(medians over rounds, spread in brackets); saved = bytes saved for backward / the baseline's")
    if worst:
        print(f"worst one-pass time ratio (critic, n={sizes[-1]}): {worst:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
