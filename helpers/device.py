"""Choosing the device and seeding every random number generator.

Introduced in lesson 01. Every lesson calls :func:`pick_device` and :func:`seed_everything` in its
first cells, so the same notebook runs on a GPU when one is present and on the CPU otherwise, with the
same stored outputs.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

#: Environment variable that overrides the automatic choice: ``cpu``, ``cuda`` or ``cuda:N``.
DEVICE_ENV = "AUTOGRAD_WORKSHOP_DEVICE"


def pick_device(preferred: str | None = None) -> torch.device:
    """Return the device the lessons run on.

    The choice, in order: ``preferred`` if given, else the ``AUTOGRAD_WORKSHOP_DEVICE`` environment
    variable if set, else CUDA when available, else the CPU.

    Raises:
        ValueError: the requested device is not a valid device string.
        RuntimeError: CUDA was requested but is not available on this machine.
    """
    choice = preferred if preferred is not None else os.environ.get(DEVICE_ENV, "").strip()
    if not choice:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as exc:
        raise ValueError(f"{choice!r} is not a device: use 'cpu', 'cuda' or 'cuda:N'") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"{choice!r} was requested (argument or {DEVICE_ENV}) but CUDA is not available here"
        )
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"{choice!r}: the lessons support only 'cpu' and 'cuda' devices")
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (CPU and every GPU), and ask cuDNN for
    deterministic kernels, so that a lesson prints the same numbers on every run."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def describe(device: torch.device) -> str:
    """A one-line description of ``device`` for a cell whose output is *not* compared."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"{device} ({torch.cuda.get_device_name(index)}), torch {torch.__version__}"
    return f"cpu ({torch.get_num_threads()} threads), torch {torch.__version__}"
