#!/usr/bin/env python3
"""Time the four "compute f(x, y) once, backpropagate twice" methods of lesson 06.

    .venv/bin/python benchmarks/compute_once.py            # two sizes, ~10 s on two CPU cores
    .venv/bin/python benchmarks/compute_once.py --quick    # small sizes, a few seconds (CI)

It times exactly the functions the lesson teaches (``helpers.compute_once.METHODS``), on the problem
the lesson uses (``make_problem``), at several sizes. Within one size the methods run interleaved,
round after round in a rotating order, after a warm-up, and each one's median is reported; on CUDA every
call is synchronised. It also counts the bytes each method saves for backward (parameters excluded).
The last line is ``worst one-pass time ratio: R``: the largest time ratio of the hook and reversal
methods to the two-pass method at the largest size (one evaluation of f instead of two: about 0.5).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from helpers.compute_once import METHODS, make_problem, run_method  # noqa: E402
from helpers.device import describe, pick_device  # noqa: E402
from helpers.measure import saved_tensor_bytes, time_methods  # noqa: E402

ONE_PASS_CHECKED = ("hook", "reversal")


def measure(n: int, device: torch.device, repeat: int, warmup: int) -> list[dict]:
    problem = make_problem(n=n, device=device)
    params = list(problem.g.parameters()) + list(problem.f.parameters())
    timings = time_methods({name: (lambda m=m: run_method(m, problem)) for name, m in METHODS.items()},
                           repeat=repeat, warmup=warmup, device=device)
    saved = {name: saved_tensor_bytes(lambda m=m: run_method(m, problem), exclude=params)
             for name, m in METHODS.items()}
    base_t, base_s = timings["two-pass"].median, saved["two-pass"]
    return [{"method": name, "n": n, "median_ms": timings[name].median * 1e3,
             "time_ratio": timings[name].median / base_t, "saved_bytes": saved[name],
             "saved_ratio": saved[name] / base_s} for name in METHODS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a few seconds)")
    parser.add_argument("--sizes", type=int, nargs="+", help="rows in each of a and b (default 256 2048)")
    parser.add_argument("--repeat", type=int, help="timed rounds per size (default 21; --quick: 7)")
    parser.add_argument("--device", help="cpu or cuda (default: CUDA when available)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([128, 512] if args.quick else [256, 2048])
    repeat = args.repeat or (7 if args.quick else 21)
    device = pick_device(args.device)
    print(f"{describe(device)} ({platform.machine()}); {repeat} timed rounds per size")
    rows = [row for n in sorted(sizes) for row in measure(n, device, repeat, warmup=3)]
    print(f"{'method':14} {'n':>6} {'median':>11} {'time ratio':>11} {'saved':>12} {'saved ratio':>12}")
    for r in rows:
        print(f"{r['method']:14} {r['n']:>6} {r['median_ms']:>8.2f} ms {r['time_ratio']:>11.3f} "
              f"{r['saved_bytes']:>12,} {r['saved_ratio']:>12.3f}")
    largest = max(sizes)
    worst = max(r["time_ratio"] for r in rows if r["n"] == largest and r["method"] in ONE_PASS_CHECKED)
    print(f"worst one-pass time ratio: {worst:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
