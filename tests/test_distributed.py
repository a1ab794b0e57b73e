"""helpers.distributed.run_on_ranks: results by rank, a failing rank's traceback, a hanging rank's
timeout, bad inputs, and no process left behind in any case."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from helpers.distributed import RankFailed, RankResults, RankTimeout, free_port, loopback_interface, run_on_ranks

# Functions the ranks run must be importable by a spawned process: these live in this test module,
# which pytest imports as ``test_distributed`` (tests/ is on sys.path under pytest's rootdir conftest).


def rank_and_sum(rank: int, world_size: int, offset: int = 0) -> dict:
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t)  # a real collective: the ranks are joined in one group
    print(f"hello from rank {rank}")
    return {"rank": rank, "world_size": world_size, "sum": float(t), "offset": offset,
            "ifname": os.environ.get("GLOO_SOCKET_IFNAME")}


def fails_on_rank_1(rank: int, world_size: int) -> int:
    if rank == 1:
        raise ValueError("rank 1 went wrong on purpose")
    return rank


def hangs_on_rank_1(rank: int, world_size: int) -> int:
    if rank == 1:
        time.sleep(600)
    return rank


def no_children_left() -> bool:
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not multiprocessing.active_children()


def test_results_come_back_by_rank_with_logs():
    results = run_on_ranks(rank_and_sum, 2, args=(7,), timeout=120)
    assert isinstance(results, RankResults)
    assert [r["rank"] for r in results] == [0, 1]
    assert all(r["world_size"] == 2 and r["sum"] == 3.0 and r["offset"] == 7 for r in results)
    assert "hello from rank 0" in results.logs[0] and "hello from rank 1" in results.logs[1]
    assert "hello" not in results.logs[0].replace("hello from rank 0", "")
    assert repr(results).startswith("RankResults(2 ranks: dict, dict")
    # gloo's own connections go over loopback (a name the user set is kept)
    want = os.environ.get("GLOO_SOCKET_IFNAME", loopback_interface())
    assert [r["ifname"] for r in results] == [want, want]
    assert no_children_left()


def test_a_failing_rank_is_reraised_with_its_rank_and_traceback():
    with pytest.raises(RankFailed, match="rank 1 failed") as info:
        run_on_ranks(fails_on_rank_1, 2, timeout=120)
    assert info.value.rank == 1
    assert "ValueError: rank 1 went wrong on purpose" in info.value.remote_traceback
    assert "fails_on_rank_1" in str(info.value)  # the traceback names the function
    assert len(info.value.logs) == 2
    assert no_children_left()


def test_a_hanging_rank_times_out_and_is_stopped():
    start = time.monotonic()
    with pytest.raises(RankTimeout) as info:
        run_on_ranks(hangs_on_rank_1, 2, timeout=15)
    assert time.monotonic() - start < 45  # the timeout, plus stopping the processes
    assert 1 in info.value.pending  # (rank 0 too, on a machine so loaded that it had not finished)
    assert "did not finish within 15 s" in str(info.value)
    assert no_children_left()


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="fn must be a function"):
        run_on_ranks("rank_and_sum")
    with pytest.raises(ValueError, match="world_size"):
        run_on_ranks(rank_and_sum, 0)
    with pytest.raises(ValueError, match="world_size"):
        run_on_ranks(rank_and_sum, True)
    with pytest.raises(TypeError, match="args must be a tuple"):
        run_on_ranks(rank_and_sum, 2, args=[1])
    with pytest.raises(ValueError, match="timeout"):
        run_on_ranks(rank_and_sum, 2, timeout=0)
    with pytest.raises(ValueError, match="importable"):
        run_on_ranks(lambda rank, world_size: rank, 2)

    def local(rank, world_size):
        return rank

    with pytest.raises(ValueError, match="importable"):
        run_on_ranks(local, 2)
    assert no_children_left()


def test_free_port_is_a_port():
    port = free_port()
    assert isinstance(port, int) and 0 < port < 65536


def test_loopback_interface_is_chosen_by_name():
    assert loopback_interface(["eth0", "lo", "wlan0"]) == "lo"  # Linux
    assert loopback_interface(("en0", "lo0")) == "lo0"  # macOS
    assert loopback_interface(["eth0", "lo0", "lo"]) == "lo"  # Linux's name first
    assert loopback_interface(["eth0", "lo1", "loop"]) is None  # no loopback: leave gloo's default
    assert loopback_interface([]) is None
    assert loopback_interface() in (None, "lo", "lo0")  # this machine's interfaces
    with pytest.raises(TypeError, match="names"):
        loopback_interface("lo")
    with pytest.raises(TypeError, match="names"):
        loopback_interface([1])


def _local_rank(rank, world_size):
    return os.environ["LOCAL_RANK"]


def test_each_rank_gets_local_rank_as_under_torchrun():
    assert run_on_ranks(_local_rank, 2, timeout=120) == ["0", "1"]
