"""helpers.measure: saved-for-backward bytes (exact, deterministic) and fair timings."""

import pytest
import torch

from helpers.measure import Timing, format_bytes, saved_tensor_bytes, time_call, time_methods


def test_counts_saved_activations_exactly():
    a = torch.randn(4, 8, requires_grad=True)
    # a * a saves `a` twice (self and other): one storage, counted once -> 4*8*4 bytes
    assert saved_tensor_bytes(lambda: (a * a).sum()) == 128
    # sin saves its input (a); exp saves its result, a new 128-byte tensor
    assert saved_tensor_bytes(lambda: a.sin().exp().sum()) == 256
    # exp saves its result, and sin saves that same tensor as its input: counted once
    assert saved_tensor_bytes(lambda: a.exp().sin().sum()) == 128


def test_excluding_parameters():
    lin = torch.nn.Linear(8, 16, bias=False)
    x = torch.randn(4, 8, requires_grad=True)  # so the weight is needed for x's gradient

    def forward():
        return torch.tanh(lin(x)).sum()

    everything = saved_tensor_bytes(forward)
    without = saved_tensor_bytes(forward, exclude=lin)
    # linear saves x (4*8*4) and the weight (16*8*4); tanh saves its output (4*16*4)
    assert everything == 128 + 512 + 256
    assert without == 128 + 256
    assert saved_tensor_bytes(forward, exclude=dict(lin.named_parameters())) == without
    assert saved_tensor_bytes(forward, exclude=[lin.weight]) == without


def test_views_of_one_storage_count_once():
    a = torch.randn(10, requires_grad=True)
    b = a * 1  # a new 40-byte storage
    assert saved_tensor_bytes(lambda: (b[:5] * b[5:]).sum()) == 40


def test_deterministic_and_nothing_saved_without_grad():
    a = torch.randn(3, 3, requires_grad=True)
    runs = {saved_tensor_bytes(lambda: (a @ a).relu().sum()) for _ in range(3)}
    assert len(runs) == 1
    with torch.no_grad():
        assert saved_tensor_bytes(lambda: (a @ a).sum()) == 0


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        saved_tensor_bytes(3)
    with pytest.raises(TypeError, match="exclude must hold tensors"):
        saved_tensor_bytes(lambda: None, exclude=[1, 2])


def test_format_bytes():
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**2) == "3.0 MiB"
    assert format_bytes(5 * 1024**4) == "5120.0 GiB"


def test_time_methods_interleaves_and_counts():
    calls = []
    methods = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    result = time_methods(methods, repeat=4, warmup=1)
    assert set(result) == {"a", "b"}
    assert all(len(t.times) == 4 for t in result.values())
    assert calls[:2] == ["a", "b"]  # warm-up
    assert calls[2:] == ["a", "b", "b", "a", "a", "b", "b", "a"]  # rotating order


def test_time_call_and_timing_text():
    t = time_call(lambda: sum(range(100)), repeat=5, warmup=0)
    assert isinstance(t, Timing) and len(t.times) == 5 and t.median > 0
    assert repr(Timing((0.002, 0.001, 0.003))) == "median 2.000 ms over 3 runs"
    assert repr(Timing((2.5,))) == "median 2.500 s over 1 runs"


def test_time_methods_bad_arguments():
    with pytest.raises(ValueError):
        time_methods({})
    with pytest.raises(ValueError):
        time_methods({"a": lambda: None}, repeat=0)
    with pytest.raises(TypeError, match="not callable"):
        time_methods({"a": 3})


def test_tracker_sees_backward_free_or_retain_the_graph():
    from helpers.measure import SavedTensorTracker

    lin = torch.nn.Linear(8, 16)
    x = torch.randn(4, 8)
    for retain, expected_held in ((False, 0), (True, 256)):
        with SavedTensorTracker(exclude=lin) as saved:
            loss = torch.tanh(lin(x)).sum()  # saves x (excluded? no: x is data, 128 B) and tanh's output
        assert saved.total_bytes == 128 + 256
        assert saved.held_bytes() == 128 + 256
        loss.backward(retain_graph=retain)
        # x stays referenced by this test, so its storage cannot be told apart from a held one:
        # only tanh's output (256 B) measures what the graph keeps
        assert saved.held_bytes() - (128 if retain else 0) == expected_held
        del loss
        assert saved.held_bytes() == 0


def test_tracker_gradients_unchanged():
    from helpers.measure import SavedTensorTracker

    a = torch.randn(5, requires_grad=True)
    (a.sin() * a.exp()).sum().backward()
    expected = a.grad.clone()
    a.grad = None
    with SavedTensorTracker():
        loss = (a.sin() * a.exp()).sum()
    loss.backward()
    assert torch.equal(a.grad, expected)


def _training_steps(model, x, steps):
    def run():
        for _ in range(steps):
            model(x).pow(2).mean().backward()  # backward frees the graph: memory is reused at once
    return run


def test_same_count_on_every_call_with_backward_inside():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 1))
    x = torch.randn(32, 64)
    counts = [saved_tensor_bytes(_training_steps(model, x, 3), exclude=model) for _ in range(6)]
    assert len(set(counts)) == 1, counts
    one = saved_tensor_bytes(_training_steps(model, x, 1), exclude=model)
    # each step saves its own activations; x (32*64*4 bytes) is one storage, saved by every step
    x_bytes = 32 * 64 * 4
    assert counts[0] == 3 * (one - x_bytes) + x_bytes
    # a forward alone: linear saves x, tanh its output (32*128*4), the second linear tanh's output
    # again (same storage), pow its input (32*1*4)
    assert saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=model) == x_bytes + 16384 + 128


def test_tracker_lets_go_of_storages_after_the_block():
    from helpers.measure import SavedTensorTracker

    a = torch.randn(1000, requires_grad=True)
    with SavedTensorTracker() as saved:
        loss = (a.exp() * 2).sum()
    assert saved.total_bytes == 4000 and saved._storages == []
    loss.backward()
    assert saved.held_bytes() == 0


@pytest.mark.parametrize("bad", [None, 3, "a"])
def test_bad_exclude_is_named(bad):
    with pytest.raises(TypeError, match="exclude"):
        saved_tensor_bytes(lambda: None, exclude=bad)


def test_time_methods_checks_every_method_before_running_any():
    calls = []
    with pytest.raises(TypeError, match="method 'b' is not callable"):
        time_methods({"a": lambda: calls.append("a"), "b": None}, repeat=2, warmup=1)
    with pytest.raises(TypeError, match="repeat must be an int"):
        time_methods({"a": lambda: calls.append("a")}, repeat=2.5)
    with pytest.raises(TypeError, match="warmup must be an int"):
        time_methods({"a": lambda: calls.append("a")}, warmup=None)
    with pytest.raises(ValueError, match="warmup must be >= 0"):
        time_methods({"a": lambda: calls.append("a")}, warmup=-1)
    with pytest.raises(ValueError, match="device 'gpu'"):
        time_methods({"a": lambda: calls.append("a")}, device="gpu")
    with pytest.raises(TypeError, match="methods must map names"):
        time_methods([lambda: calls.append("a")])
    assert calls == []


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("12", TypeError), (True, TypeError)])
def test_format_bytes_bad_input(bad, error):
    with pytest.raises(error, match="bytes"):
        format_bytes(bad)


@pytest.mark.parametrize("bad", [(), [0.1, 0.2], (0.1, -1.0), ("1",), (True,)])
def test_timing_refuses_what_are_not_times(bad):
    with pytest.raises(ValueError, match="times must be"):
        Timing(bad)
