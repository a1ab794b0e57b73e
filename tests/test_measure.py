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
