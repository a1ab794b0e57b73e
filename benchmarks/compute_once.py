#!/usr/bin/env python3
"""Time the four "compute f(x, y) once, backpropagate twice" methods of lesson 06, against two baselines.

    .venv/bin/python benchmarks/compute_once.py              # two sizes, ~20 s on one CPU thread
    .venv/bin/python benchmarks/compute_once.py --quick      # small sizes, a few seconds (CI)
    .venv/bin/python benchmarks/compute_once.py --threads 2  # another pinned thread count

It times exactly the functions the lesson teaches (``helpers.compute_once.METHODS``), on the problem
the lesson uses (``make_problem``), at several sizes, plus one baseline of its own:

* ``two-pass``: the question's code, ``l1.backward(retain_graph=True)`` then ``l2.backward()``;
* ``two-pass-no-retain``: the same two passes without ``retain_graph``. That works on this problem,
  because ``x = g(a)`` and ``y = g(b)`` share no node of the graph: the first backward frees only what
  it used. (Where x and y share part of the graph, the second pass would need a fresh forward of the
  shared part instead.) It is the fastest correct two-pass method here, so it is the fair baseline;
* the three one-pass methods ``hook``, ``autograd.grad`` and ``reversal``.

Within one size the methods run interleaved, round after round in a rotating order, after a warm-up;
each one's median time is reported, and each time ratio is the median over the rounds of the ratio
within a round (paired, so that a busy moment of the machine slows both sides of a ratio); on CUDA
every call is synchronised. The CPU thread count is pinned
(``--threads``, default 1: the ratio then measures the work each method does, not how well small
kernels use several cores, and other programs on the machine disturb it least) and printed. It also
counts the bytes each method saves for backward (parameters excluded). Columns: the median time; its
ratio to the question's two-pass (``/question``) and to the fair baseline (``/fair``); the saved bytes
and their ratio to the two-pass method's. The last line is ``worst one-pass time ratio: R``: the
largest time ratio of the three one-pass methods to the fair baseline at the largest size (one
evaluation of f instead of two: about 0.5).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from helpers.compare import compare_gradients  # noqa: E402
from helpers.compute_once import METHODS, Loss, make_problem, run_method  # noqa: E402
from helpers.device import describe, pick_device  # noqa: E402
from helpers.measure import saved_tensor_bytes, time_methods  # noqa: E402

QUESTION = "two-pass"
FAIR = "two-pass-no-retain"
ONE_PASS = tuple(name for name in METHODS if name != QUESTION)  # hook, autograd.grad, reversal


def two_pass_no_retain(x: torch.Tensor, y: torch.Tensor, f: Loss) -> None:
    """The question's two passes without ``retain_graph``: valid when x and y share no graph node."""
    l1 = f(x.detach(), y)
    l1.backward()  # frees f's first graph and y's part of g's graph; l2 needs neither
    l2 = -f(x, y.detach())
    l2.backward()


def measure(n: int, device: torch.device, repeat: int, warmup: int) -> list[dict]:
    problem = make_problem(n=n, device=device)
    methods = {QUESTION: METHODS[QUESTION], FAIR: two_pass_no_retain,
               **{name: METHODS[name] for name in ONE_PASS}}
    check = compare_gradients({name: run_method(m, problem) for name, m in methods.items()}, QUESTION)
    if not all(check.close.values()):
        raise SystemExit(f"the methods disagree at n={n}:\n{check}")
    params = list(problem.g.parameters()) + list(problem.f.parameters())
    timings = time_methods({name: (lambda m=m: run_method(m, problem)) for name, m in methods.items()},
                           repeat=repeat, warmup=warmup, device=device)
    saved = {name: saved_tensor_bytes(lambda m=m: run_method(m, problem), exclude=params)
             for name, m in methods.items()}

    def ratio(name: str, baseline: str) -> float:
        # round by round: both ran in the same round, moments apart, so a slower or busier moment of
        # the machine slows both; the median of these paired ratios is steadier than a ratio of medians
        return statistics.median(a / b for a, b in zip(timings[name].times, timings[baseline].times))

    return [{"method": name, "n": n, "median_ms": timings[name].median * 1e3,
             "vs_question": ratio(name, QUESTION), "vs_fair": ratio(name, FAIR),
             "saved_bytes": saved[name], "saved_ratio": saved[name] / saved[QUESTION]} for name in methods]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a few seconds)")
    parser.add_argument("--sizes", type=int, nargs="+", help="rows in each of a and b (default 256 2048)")
    parser.add_argument("--repeat", type=int, help="timed rounds per size (default 61; --quick: 7)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--device", help="cpu or cuda (default: CUDA when available)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    sizes = args.sizes or ([128, 512] if args.quick else [256, 2048])
    repeat = args.repeat or (7 if args.quick else 61)
    device = pick_device(args.device)
    print(f"{describe(device)} ({platform.machine()}); threads pinned to {torch.get_num_threads()}; "
          f"{repeat} timed rounds per size")
    rows = [row for n in sorted(sizes) for row in measure(n, device, repeat, warmup=3)]
    print(f"{'method':19} {'n':>6} {'median':>11} {'/question':>10} {'/fair':>7} {'saved':>12} {'saved ratio':>12}")
    for r in rows:
        print(f"{r['method']:19} {r['n']:>6} {r['median_ms']:>8.2f} ms {r['vs_question']:>10.3f} "
              f"{r['vs_fair']:>7.3f} {r['saved_bytes']:>12,} {r['saved_ratio']:>12.3f}")
    largest = max(sizes)
    worst = max(r["vs_fair"] for r in rows if r["n"] == largest and r["method"] in ONE_PASS)
    print(f"worst one-pass time ratio: {worst:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
