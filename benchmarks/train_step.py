#!/usr/bin/env python3
"""Time lesson 07's two DANN training steps: two passes through d versus one with a gradient reversal.

    .venv/bin/python benchmarks/train_step.py              # two sizes, ~20 s on one CPU thread
    .venv/bin/python benchmarks/train_step.py --quick      # small sizes, a few seconds (CI)
    .venv/bin/python benchmarks/train_step.py --threads 2  # another pinned thread count

It times exactly the step functions the lesson teaches (``helpers.dann.STEPS``: ``two_pass_step`` and
``one_pass_step``), each a full training step (zero_grad, forward, backward, SGD-with-momentum step), on
the lesson's model (``make_model``) at two sizes. Within one size the two steps run interleaved, round
after round in a rotating order, after a warm-up, and each one's median is reported; on CUDA every call
is synchronised. The CPU thread count is pinned (``--threads``, default 1, as in the lesson, whose
models are too small to gain from more) and printed. It also counts the bytes each step saves for
backward over the whole step (parameters excluded): a total, not a peak. The two-pass step frees its
first graph of d (``loss_d.backward()``) before it evaluates d again, so both steps hold about the same
at once (lesson 07, section 6); the one-pass step saves the second evaluation's work. The last line
is ``one-pass step time ratio: R``: the one-pass step's median time over the two-pass step's, at the
largest size.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from helpers.dann import STEPS, make_batches, make_domains, make_model  # noqa: E402
from helpers.device import describe, pick_device  # noqa: E402
from helpers.measure import saved_tensor_bytes, time_methods  # noqa: E402

#: name -> (batch rows per domain, g's hidden width, d's width, d's hidden layers)
SIZES = {
    "small": (64, 32, 32, 1),  # the lesson's training
    "large": (1024, 64, 512, 3),  # d the expensive part, as f is in the question
}
QUICK_SIZES = {
    "small": (64, 32, 32, 1),
    "large": (256, 32, 128, 2),
}


def measure(label: str, size: tuple[int, int, int, int], device: torch.device, repeat: int,
            warmup: int) -> list[dict]:
    batch_size, hidden, d_width, d_depth = size
    model = make_model(hidden=hidden, d_width=d_width, d_depth=d_depth, seed=0, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    batch = make_batches(make_domains(n=2048, device=device), steps=1, batch_size=batch_size)[0]
    calls = {name: (lambda s=step: s(model, optimizer, batch, 0.5)) for name, step in STEPS.items()}
    timings = time_methods(calls, repeat=repeat, warmup=warmup, device=device)
    saved = {name: saved_tensor_bytes(call, exclude=model) for name, call in calls.items()}
    base_t, base_s = timings["two-pass"].median, saved["two-pass"]
    return [{"step": name, "size": label, "shape": f"{batch_size}+{batch_size} rows, d {d_depth}x{d_width}",
             "median_ms": timings[name].median * 1e3, "time_ratio": timings[name].median / base_t,
             "saved_bytes": saved[name], "saved_ratio": saved[name] / base_s} for name in STEPS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a few seconds)")
    parser.add_argument("--repeat", type=int, help="timed rounds per size (default 21; --quick: 7)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--device", help="cpu or cuda (default: CUDA when available)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    sizes = QUICK_SIZES if args.quick else SIZES
    repeat = args.repeat or (7 if args.quick else 21)
    if repeat < 1:
        parser.error("--repeat must be >= 1")
    device = pick_device(args.device)
    print(f"{describe(device)} ({platform.machine()}); threads pinned to {torch.get_num_threads()}; "
          f"{repeat} timed rounds per size")
    rows = [row for label, size in sizes.items() for row in measure(label, size, device, repeat, warmup=3)]
    print(f"{'step':9} {'size':6} {'shape':26} {'median':>11} {'time ratio':>11} "
          f"{'saved/step':>12} {'saved ratio':>12}")
    for r in rows:
        print(f"{r['step']:9} {r['size']:6} {r['shape']:26} {r['median_ms']:>8.2f} ms {r['time_ratio']:>11.3f} "
              f"{r['saved_bytes']:>12,} {r['saved_ratio']:>12.3f}")
    for label in sizes:
        ratio = next(r["time_ratio"] for r in rows if r["size"] == label and r["step"] == "one-pass")
        print(f"one-pass step time ratio ({label}): {ratio:.3f}")
    largest = list(sizes)[-1]
    ratio = next(r["time_ratio"] for r in rows if r["size"] == largest and r["step"] == "one-pass")
    print(f"one-pass step time ratio: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
