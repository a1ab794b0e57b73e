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
#: The largest seed every generator accepts (NumPy's legacy generator takes 32 bits).
MAX_SEED = 2**32 - 1


def pick_device(preferred: str | None = None) -> torch.device:
    """Return the device the lessons run on.

    The choice, in order: ``preferred`` if given, else the ``AUTOGRAD_WORKSHOP_DEVICE`` environment
    variable if set, else CUDA when available, else the CPU. Case and surrounding spaces do not
    matter (``" CUDA "`` is ``cuda``); a :class:`torch.device` is accepted too.

    Raises:
        TypeError: ``preferred`` is neither a string nor a :class:`torch.device`.
        ValueError: the requested device is not a valid device string, or not ``cpu``/``cuda``.
        RuntimeError: CUDA was requested but is not available on this machine, or the GPU index
            ``N`` of ``cuda:N`` does not exist here.
    """
    if preferred is not None and not isinstance(preferred, (str, torch.device)):
        raise TypeError(f"preferred must be a device name such as 'cpu' or 'cuda', got {type(preferred).__name__}")
    if preferred is None:
        where, choice = DEVICE_ENV, os.environ.get(DEVICE_ENV, "")
    else:
        where, choice = "preferred", str(preferred)
    choice = choice.strip().lower()
    if not choice:
        if preferred is not None:
            raise ValueError("preferred is empty: use 'cpu', 'cuda' or 'cuda:N', or None for the default")
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as exc:
        raise ValueError(f"{where}={choice!r} is not a device: use 'cpu', 'cuda' or 'cuda:N'") from exc
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"{where}={choice!r}: the lessons support only 'cpu' and 'cuda' devices")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{where}={choice!r} asks for CUDA, but CUDA is not available here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(f"{where}={choice!r}: this machine has {torch.cuda.device_count()} GPU(s), "
                           f"numbered from 0")
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (CPU and every GPU), and ask cuDNN for
    deterministic kernels, so that a lesson prints the same numbers on every run.

    Raises:
        TypeError: ``seed`` is not an int (a NumPy integer is fine).
        ValueError: ``seed`` is outside ``0 … 2**32 - 1``, the range every generator accepts
            (checked before any generator is seeded).
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and 2**32 - 1 (NumPy's limit), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def describe(device: torch.device) -> str:
    """A one-line description of ``device`` for a cell whose output is *not* compared."""
    if not isinstance(device, torch.device):
        raise TypeError(f"describe takes a torch.device, got {type(device).__name__}")
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"{device} ({torch.cuda.get_device_name(index)}), torch {torch.__version__}"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''}), torch {torch.__version__}"
