"""Measuring what a method costs: the memory autograd keeps for backward, and time.

Introduced in lesson 03 (``retain_graph`` and what it keeps alive); lesson 06 and
``benchmarks/compute_once.py`` use both halves.

* :func:`saved_tensor_bytes` counts the bytes of the tensors autograd saves for backward while a
  function runs. It depends only on shapes and dtypes, so its output is the same on every run and may be
  compared by nbval. :class:`SavedTensorTracker` also tells how much of that a graph still holds
  later (after ``backward()``, with or without ``retain_graph``).
* :func:`time_methods` times several functions, interleaved so that drift of the machine affects all
  of them alike, and reports medians. Timings vary: print them only in cells marked
  ``# NBVAL_IGNORE_OUTPUT``, and compare ratios, not absolute times.
"""

from __future__ import annotations

import statistics
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["SavedTensorTracker", "Timing", "format_bytes", "saved_tensor_bytes", "time_call", "time_methods"]


def _storage_key(t: torch.Tensor) -> tuple[str, int]:
    storage = t.untyped_storage()
    return (str(t.device), storage.data_ptr())


def _tensors(exclude: Iterable[torch.Tensor] | Mapping[str, torch.Tensor] | torch.nn.Module) -> list[torch.Tensor]:
    if isinstance(exclude, torch.nn.Module):
        return list(exclude.parameters()) + list(exclude.buffers())
    if isinstance(exclude, Mapping):
        exclude = exclude.values()
    if isinstance(exclude, torch.Tensor):
        return [exclude]
    if not isinstance(exclude, Iterable) or isinstance(exclude, str):
        raise TypeError(f"exclude must be tensors, a name -> tensor mapping or a module, got {type(exclude).__name__}")
    items = list(exclude)
    for t in items:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"exclude must hold tensors, got a {type(t).__name__}")
    return items


class _Saved:
    """What the pack hook returns: holds the saved tensor. A weak reference to it tells whether the
    graph still keeps the tensor (autograd drops it when backward frees the graph)."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


class SavedTensorTracker:
    """Watch the tensors autograd saves for backward while the ``with`` block runs.

    ``total_bytes`` is what was saved; :meth:`held_bytes` is what the graphs still hold *now* (after a
    ``backward()`` that freed its graph, 0; after ``backward(retain_graph=True)``, everything). Each
    storage counts once, and the storages of ``exclude`` (usually the parameters) not at all::

        with SavedTensorTracker(exclude=model) as saved:
            loss = model(x).sum()
        loss.backward(retain_graph=True)
        saved.held_bytes()   # still all of saved.total_bytes
    """

    def __init__(self, exclude: Iterable[torch.Tensor] | Mapping[str, torch.Tensor] | torch.nn.Module = ()):
        self._skip = {_storage_key(t) for t in _tensors(exclude)}
        self._seen: dict[tuple[str, int], int] = {}
        self._holders: list[tuple[weakref.ref, tuple[str, int]]] = []
        # Every storage seen is held until the block ends, so that its address cannot be reused by a
        # later tensor (a backward inside the block frees the graph's tensors): a key is one storage.
        self._storages: list[Any] = []
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, t: torch.Tensor) -> Any:
        key = _storage_key(t)
        if key in self._skip:
            return t
        if key not in self._seen:
            storage = t.untyped_storage()
            self._storages.append(storage)
            self._seen[key] = storage.nbytes()
        holder = _Saved(t.detach())  # detached: a saved output must not hold its own grad_fn (a cycle)
        self._holders.append((weakref.ref(holder), key))
        return holder

    @staticmethod
    def _unpack(packed: Any) -> torch.Tensor:
        return packed.tensor if isinstance(packed, _Saved) else packed

    def __enter__(self) -> SavedTensorTracker:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)
        self._storages.clear()  # the measurement is over: the graphs alone decide what stays alive

    @property
    def total_bytes(self) -> int:
        """Bytes of every storage saved for backward inside the block."""
        return sum(self._seen.values())

    def held_bytes(self) -> int:
        """Bytes of the saved storages that some graph still holds now."""
        alive = {key for ref, key in self._holders if ref() is not None}
        return sum(self._seen[key] for key in alive)


def saved_tensor_bytes(
    fn: Callable[[], Any],
    exclude: Iterable[torch.Tensor] | Mapping[str, torch.Tensor] | torch.nn.Module = (),
) -> int:
    """Bytes of the tensors autograd saves for backward while ``fn()`` runs.

    Every tensor an operation saves for its backward passes through a pack hook of
    :class:`torch.autograd.graph.saved_tensors_hooks`; this adds up the sizes of their storages,
    counting each storage once (several views of one tensor, or one tensor saved by several
    operations, cost its memory once) and leaving out the storages of ``exclude`` — usually the
    model's parameters, which live in memory anyway. When ``fn`` saves and frees tensors several
    times (a loop of forward and backward), every storage counts: the result is the total saved, not
    the peak, and the same on every call. Each storage is kept alive until ``fn`` returns, so that
    freed memory reused by a later tensor is not mistaken for the same storage; ``fn`` may therefore
    need more memory while it is measured.

    Args:
        fn: a function without arguments that runs the forward pass (and may call backward).
        exclude: tensors, a name -> tensor mapping, or a module (its parameters and buffers).

    Returns:
        The number of bytes, an ``int``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with SavedTensorTracker(exclude) as tracker:
        fn()
    return tracker.total_bytes


def format_bytes(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``: a byte count for people, rounded to one decimal."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"format_bytes takes an int number of bytes, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"a number of bytes cannot be negative, got {n}")
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated calls, in seconds."""

    times: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.times, tuple) or not self.times:
            raise ValueError(f"times must be a non-empty tuple of seconds, got {self.times!r}")
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0 for t in self.times):
            raise ValueError(f"times must be non-negative numbers of seconds, got {self.times!r}")

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def __repr__(self) -> str:
        m = self.median
        shown = f"{m * 1e3:.3f} ms" if m < 1 else f"{m:.3f} s"
        return f"median {shown} over {len(self.times)} runs"


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], *, repeat: int = 15, warmup: int = 3,
              device: torch.device | str | None = None) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then the median of ``repeat`` timed ones.

    On a CUDA ``device`` each timed call is bracketed by ``torch.cuda.synchronize``, so the time
    covers the GPU's work, not only the launching of it.
    """
    return time_methods({"fn": fn}, repeat=repeat, warmup=warmup, device=device)["fn"]


def time_methods(
    methods: Mapping[str, Callable[[], Any]],
    *,
    repeat: int = 15,
    warmup: int = 3,
    device: torch.device | str | None = None,
) -> dict[str, Timing]:
    """Time several functions fairly: warm each up, then run rounds in which every function runs
    once, in an order that rotates from round to round, and report each one's median.

    Every argument is checked before any method runs.

    Raises:
        TypeError: ``methods`` is not a mapping of names to callables, ``repeat`` or ``warmup`` is not
            an int.
        ValueError: no methods, or ``repeat`` < 1 or ``warmup`` < 0, or ``device`` is not a device.
    """
    if not isinstance(methods, Mapping):
        raise TypeError(f"methods must map names to functions, got {type(methods).__name__}")
    if not methods:
        raise ValueError("time_methods needs at least one method")
    for name, fn in methods.items():
        if not callable(fn):
            raise TypeError(f"method {name!r} is not callable: it is a {type(fn).__name__}")
    for arg, value, least in (("repeat", repeat, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{arg} must be an int, got {type(value).__name__}")
        if value < least:
            raise ValueError(f"{arg} must be >= {least}, got {value}")
    if device is not None:
        try:
            torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device {device!r} is not a device") from exc
    names = list(methods)
    for name in names:
        for _ in range(warmup):
            methods[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeat):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            _sync(device)
            start = time.perf_counter()
            methods[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {n: Timing(tuple(times[n])) for n in names}
