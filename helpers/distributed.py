"""Run a function on N processes from inside Jupyter, and get each rank's result back.

Introduced in lesson 08 (the trick under ``DistributedDataParallel``). :func:`run_on_ranks` starts
``world_size`` processes with the *spawn* start method (the one that works on Linux, macOS, Windows
and Colab, and the only safe one once a process has used threads or CUDA), joins them into a
``torch.distributed`` process group whose rendezvous store listens on ``127.0.0.1`` at a free port,
calls ``fn(rank, world_size, *args)`` in each, and returns the results as a list indexed by rank.
Gloo's rank-to-rank connections bind to the address the hostname resolves to unless
``GLOO_SOCKET_IFNAME`` names an interface; each rank sets it to the loopback interface
(:func:`loopback_interface`: ``lo`` on Linux, ``lo0`` on macOS) unless it is already set or no such
interface is found, so that on Linux and macOS nothing leaves the machine.

A spawned process starts a fresh Python and *imports* ``fn``: it must be a module-level function of
an importable module (lessons 08 and 09 keep theirs in :mod:`helpers.at_scale`), not one defined in a notebook.

Every run is bounded by ``timeout`` seconds; a rank that raises has its traceback re-raised here as a
:class:`RankFailed` naming the rank; a rank that hangs ends the run with :class:`RankTimeout`. In every
case (success, failure, timeout, ``KeyboardInterrupt``) all processes are terminated, killed if they
do not stop, and joined. Across machines, the same ``fn`` runs under ``torchrun`` with NCCL.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

__all__ = ["RankFailed", "RankResults", "RankTimeout", "free_port", "loopback_interface", "run_on_ranks"]

LOOPBACK_NAMES = ("lo", "lo0")  # Linux, macOS/BSD


class RankResults(list):
    """The ranks' results, ``results[rank]``, and what each rank printed, ``results.logs[rank]``."""

    def __init__(self, values: list[Any], logs: list[str]):
        super().__init__(values)
        self.logs = logs

    def __repr__(self) -> str:
        kinds = ", ".join(type(v).__name__ for v in self)
        printed = sum(bool(log.strip()) for log in self.logs)
        return f"RankResults({len(self)} ranks: {kinds}; {printed} printed something, see .logs)"


class RankFailed(RuntimeError):
    """A rank raised: ``rank`` is which one, ``remote_traceback`` its traceback (also in the message)."""

    def __init__(self, rank: int, remote_traceback: str):
        super().__init__(f"rank {rank} failed:\n{remote_traceback.rstrip()}")
        self.rank = rank
        self.remote_traceback = remote_traceback


class RankTimeout(TimeoutError):
    """Some ranks had not finished after the timeout: ``pending`` lists them."""

    def __init__(self, pending: list[int], timeout: float):
        super().__init__(f"rank(s) {pending} did not finish within {timeout:g} s; all processes were stopped")
        self.pending = pending
        self.timeout = timeout


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def loopback_interface(names: list[str] | None = None) -> str | None:
    """The loopback network interface's name (``"lo"`` or ``"lo0"``), or ``None`` if there is none.

    Args:
        names: the interface names to choose from; by default this machine's
            (:func:`socket.if_nameindex`; none where it is unavailable).

    Raises:
        TypeError: ``names`` is not a list or tuple of strings.
    """
    if names is None:
        try:
            names = [name for _, name in socket.if_nameindex()]
        except (AttributeError, OSError):  # not available on this platform
            return None
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be a list of interface names (str), got {names!r}")
    return next((name for name in LOOPBACK_NAMES if name in names), None)


def _worker(rank: int, world_size: int, port: int, backend: str, timeout: float,
            fn: Callable[..., Any], args: tuple, results: Any, log: str) -> None:
    """What each spawned process runs: join the group, call ``fn``, send back its result or traceback.
    Everything the rank prints (Python, and C++ warnings such as DDP's) goes to the file ``log``."""
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)  # N processes share the machine's cores
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(port)
        os.environ.setdefault("LOCAL_RANK", str(rank))  # one machine: as torchrun sets it
        loopback = loopback_interface()
        if backend == "gloo" and loopback is not None:  # gloo's own connections on loopback too
            os.environ.setdefault("GLOO_SOCKET_IFNAME", loopback)
        dist.init_process_group(backend, rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=timeout))
        try:
            value = fn(rank, world_size, *args)
        finally:
            dist.destroy_process_group()
            sys.stdout.flush()
            sys.stderr.flush()
        payload = ("ok", pickle.dumps(value))  # plain bytes: no shared memory outliving this process
    except BaseException:  # noqa: BLE001 - every failure goes back to the notebook
        payload = ("error", traceback.format_exc())
    results.put((rank, *payload))


def _stop(processes: list[Any]) -> None:
    """Terminate, then kill what is still alive, then join: nothing is left running."""
    processes = [p for p in processes if p.pid is not None]  # started ones only
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 5
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def run_on_ranks(fn: Callable[..., Any], world_size: int = 2, *, args: tuple = (), timeout: float = 120.0,
                 backend: str = "gloo") -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` on ``world_size`` spawned processes; return their results.

    Args:
        fn: a module-level function (spawned processes import it), with a picklable result.
        world_size: the number of processes (ranks), at least 1.
        args: more arguments for ``fn`` (picklable).
        timeout: seconds for the whole run, process start included.
        backend: the ``torch.distributed`` backend: ``"gloo"`` (CPU, any OS) or ``"nccl"`` (GPUs).

    Returns:
        A :class:`RankResults`: ``[result of rank 0, result of rank 1, ...]``, and ``.logs``, what each
        rank printed (kept out of the notebook's output).

    Raises:
        TypeError: ``fn`` is not callable, or ``args`` is not a tuple.
        ValueError: ``world_size`` < 1, ``timeout`` <= 0, or ``fn`` cannot be imported by a new process
            (a lambda, or a function defined in a notebook).
        RankFailed: a rank raised (the first one to report), or died without a result.
        RankTimeout: some rank did not finish in time.
        Either has ``.logs``, what each rank printed.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be an int >= 1, got {world_size!r}")
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple, got {type(args).__name__}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    module = getattr(fn, "__module__", None)
    if module in (None, "__main__") or "<" in getattr(fn, "__qualname__", "<"):
        raise ValueError(f"fn must be a module-level function of an importable module (spawned processes "
                         f"import it), got {getattr(fn, '__qualname__', fn)!r} from {module!r}")
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    log_dir = tempfile.TemporaryDirectory(prefix="run_on_ranks-")
    logs = [os.path.join(log_dir.name, f"rank{rank}.log") for rank in range(world_size)]
    processes = [ctx.Process(target=_worker, args=(rank, world_size, port, backend, float(timeout), fn, args,
                                                   results, logs[rank]), daemon=True, name=f"rank-{rank}")
                 for rank in range(world_size)]
    deadline = time.monotonic() + timeout
    values: dict[int, Any] = {}
    error: RankFailed | RankTimeout | None = None
    try:
        for p in processes:
            p.start()
        while len(values) < world_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RankTimeout(sorted(set(range(world_size)) - set(values)), timeout)
            try:
                rank, status, payload = results.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                dead = [r for r, p in enumerate(processes) if r not in values and p.exitcode is not None]
                if dead:  # killed without reporting (out of memory, a signal): no point in waiting
                    time.sleep(0.5)  # its report may still be in the pipe
                    if results.empty():
                        raise RankFailed(dead[0], f"the process exited with code {processes[dead[0]].exitcode} "
                                                  "without a result") from None
                continue
            if status == "error":
                raise RankFailed(rank, payload)
            values[rank] = pickle.loads(payload)
    except (RankFailed, RankTimeout) as exc:
        error = exc
        raise
    finally:
        _stop(processes)
        results.close()
        results.join_thread()
        printed = [_read(path) for path in logs]
        log_dir.cleanup()
        if error is not None:
            error.logs = printed  # what each rank printed before it failed
    return RankResults([values[r] for r in range(world_size)], printed)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except FileNotFoundError:
        return ""
