"""helpers.diagnose: one test per cause it reports, and proof that it changes nothing."""

from __future__ import annotations

import pytest
import torch

from helpers.diagnose import Diagnosis, diagnose, walk_graph


def leaves():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, generator=g).requires_grad_()
    b = torch.randn(1, generator=g).requires_grad_()
    x = torch.randn(3, generator=g)
    return w, b, x


def flat(d):
    return " ".join(str(d).split())


def test_all_good():
    w, b, x = leaves()
    d = diagnose((w * x).sum() + b, {"w": w, "b": b})
    assert isinstance(d, Diagnosis) and d.ok
    assert str(d).startswith("loss: a graph of 5 nodes and 2 leaves, from AddBackward0")
    assert "w: gets .grad" in str(d) and "b: gets .grad" in str(d)


def test_no_grad():
    w, b, x = leaves()
    with torch.no_grad():
        loss = (w * x).sum()
    d = diagnose(loss, {"w": w})
    assert not d.ok
    assert "element 0 of tensors does not require grad" in flat(d)
    assert "cannot tell these apart" in flat(d)
    assert "inference" not in str(d)


def test_inference_mode():
    w, b, x = leaves()
    with torch.inference_mode():
        loss = (w * x).sum()
    assert "made under torch.inference_mode()" in str(diagnose(loss, {"w": w}))


def test_grad_mode_off_now():
    w, b, x = leaves()
    loss = (w * x).sum().detach()
    with torch.no_grad():
        assert "grad mode is off right now" in str(diagnose(loss, {"w": w}))
    assert "grad mode is off" not in str(diagnose(loss, {"w": w}))


def test_item_and_numpy_and_rewrap():
    w, b, x = leaves()
    assert "Python float, not a tensor" in str(diagnose((w * x).sum().item(), {"w": w}))
    numpy_loss = torch.from_numpy((w * x).detach().numpy()).sum()
    assert "cannot tell these apart" in flat(diagnose(numpy_loss, {"w": w}))
    rewrapped = torch.tensor((w * x).sum().item(), requires_grad=True)
    text = str(diagnose(rewrapped, {"w": w}))
    assert "it is a leaf" in text and "w: NO .grad" in text and "not reachable" in text


def test_all_frozen():
    model = torch.nn.Linear(3, 1)
    model.requires_grad_(False)
    text = str(diagnose(model(torch.ones(2, 3)).sum(), model))
    assert "none of the expected tensors requires grad" in text
    assert "weight: NO .grad" in text and "bias: NO .grad" in text


def test_non_differentiable_ops():
    w, b, x = leaves()
    text = str(diagnose((w > 0).sum(), {"w": w}))
    assert "dtype is int64" in text and "non-differentiable" in text


def test_non_differentiable_op_cast_to_float_is_named():
    w, b, x = leaves()
    loss = ((w * x) > 0).float().sum()
    assert "a non-differentiable op (argmax, a comparison) cast to float" in flat(diagnose(loss, {"w": w}))


def test_a_view_is_not_called_a_to_copy():
    m = torch.randn(2, 3).requires_grad_().t()
    text = flat(diagnose((m * 2).sum(), {"m": m}))
    assert "a non-leaf view or copy of a leaf (TBackward0 <- an unnamed leaf of shape (2, 3))" in text
    assert ".to()" not in text and "m: NO .grad" in text


def test_complex_loss_fails():
    w, b, x = leaves()
    d = diagnose((w * (1 + 1j)).sum(), {"w": w})
    assert d.backward_fails and "w: NO .grad" in str(d)
    assert "grad can be implicitly created only for real scalar outputs" in flat(d)
    with pytest.raises(RuntimeError, match="only for real scalar outputs"):
        (w * (1 + 1j)).sum().backward()


def test_does_not_require_grad():
    w, b, x = leaves()
    frozen = torch.ones(3)
    text = str(diagnose((w * x * frozen).sum(), {"w": w, "frozen": frozen}))
    assert "frozen: NO .grad\n  - it does not require grad" in text


def test_not_reachable_lists_the_leaves():
    w, b, x = leaves()
    text = str(diagnose((w * x).sum(), {"w": w, "b": b}))
    assert "b: NO .grad\n  - not reachable from the loss" in text
    assert "leaves on the loss's graph: w" in text


def test_non_leaf_copy_names_its_leaf():
    w, b, x = leaves()
    w64 = w.to(torch.float64)
    text = str(diagnose((w64 * x).sum(), {"w": w, "w64": w64}))
    assert "w: gets .grad" in text
    assert "w64: NO .grad\n  - a non-leaf copy of a leaf (ToCopyBackward0 <- w)" in text


def test_non_leaf_and_retain_grad():
    w, b, x = leaves()
    h = w * 2
    assert "stays None" in str(diagnose((h * x).sum(), {"h": h}))
    h.retain_grad()
    assert "h: gets .grad" in str(diagnose((h * x).sum(), {"h": h}))


def test_hooks_and_existing_grad():
    w, b, x = leaves()
    w.register_hook(lambda g: g * 2)
    w.register_post_accumulate_grad_hook(lambda p: None)
    w.grad = torch.zeros(3)
    text = str(diagnose((w * x).sum(), {"w": w}))
    assert "1 tensor hook(s) and 1 post-accumulate hook(s) registered on it" in text
    assert "already holds a .grad" in text


def test_freed_graph():
    w, b, x = leaves()
    h = (w * x).exp()
    h.sum().backward()
    d = diagnose((h * 3).sum(), {"w": w})
    assert not d.ok
    assert "already freed by an earlier backward (first: ExpBackward0)" in str(d)
    with pytest.raises(RuntimeError, match="second time"):
        (h * 3).sum().backward()


def test_modified_in_place():
    w, b, x = leaves()
    a = w.sigmoid()
    loss = a.sum() * 2
    loss = (a * x).sum()
    a.mul_(2)
    d = diagnose(loss, {"w": w})
    assert "a tensor saved by" in str(d) and "modified by an inplace operation" in str(d)
    assert not d.ok


def test_custom_function_freed():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return 2 * t * g

    w, b, x = leaves()
    h = Square.apply(w)
    assert diagnose(h.sum(), {"w": w}).ok
    h.sum().backward()
    assert "already freed" in str(diagnose(h.sum(), {"w": w}))


def test_non_scalar_loss():
    w, b, x = leaves()
    d = diagnose(w * x, {"w": w})
    assert "implicitly created only for scalar outputs" in flat(d) and not d.ok


def test_bad_expected():
    w, b, x = leaves()
    with pytest.raises(TypeError):
        diagnose((w * x).sum(), {"w": 3.0})
    with pytest.raises(TypeError):
        diagnose((w * x).sum(), 3)


def snapshot(tensors, loss):
    return {
        "grads": [None if t.grad is None else t.grad.clone() for t in tensors],
        "versions": [t._version for t in tensors],
        "hooks": [len(t._backward_hooks or {}) for t in tensors],
        "graph": [n.name() for n in walk_graph(loss).nodes],
    }


def test_changes_nothing_and_backward_still_works():
    w, b, x = leaves()
    h = w * x
    h.register_hook(lambda g: g * 3)
    h.retain_grad()
    loss = (h.sigmoid() * b).sum()
    w.grad = torch.full((3,), 0.5)
    before = snapshot([w, b, h], loss)
    for _ in range(2):
        text = str(diagnose(loss, {"w": w, "b": b, "h": h}))
    assert text == str(diagnose(loss, {"w": w, "b": b, "h": h}))  # deterministic
    after = snapshot([w, b, h], loss)
    assert before["versions"] == after["versions"] and before["hooks"] == after["hooks"]
    assert before["graph"] == after["graph"]
    assert all((u is None and v is None) or torch.equal(u, v) for u, v in zip(before["grads"], after["grads"]))
    loss.backward()
    w2, b2, x2 = leaves()
    h2 = w2 * x2
    h2.register_hook(lambda g: g * 3)
    (h2.sigmoid() * b2).sum().backward()
    assert torch.allclose(w.grad, w2.grad + 0.5) and torch.allclose(b.grad, b2.grad)


def test_saved_tensor_hooks_are_not_run_and_a_checkpoint_is_not_recomputed():
    from torch.utils.checkpoint import checkpoint
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh())
    loss = checkpoint(net, torch.randn(8, 3), use_reentrant=False).pow(2).sum()
    stats = net[1].running_mean.clone(), net[1].num_batches_tracked.item()
    d = diagnose(loss, net)
    assert torch.equal(net[1].running_mean, stats[0]) and net[1].num_batches_tracked.item() == stats[1]
    assert "behind saved-tensor hooks" in flat(d) and d.ok
    unpacked = []
    w, b, x = leaves()
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: unpacked.append(1) or t):
        h = (w * x).exp()
    assert diagnose(h.sum(), {"w": w}).ok and unpacked == []
    h.sum().backward()
    assert unpacked  # backward unpacked them; diagnose (above) did not
    assert "already freed" in flat(diagnose((h * 2).sum(), {"w": w}))  # freeing dropped the hook


def test_walk_graph_sees_shared_nodes_once():
    w, b, x = leaves()
    h = w * x
    graph = walk_graph((h + h).sum())
    assert [n.name() for n in graph.nodes].count("MulBackward0") == 1
    assert len(graph.leaves) == 1 and graph.leaves[0] is w


def test_a_graph_without_saved_tensors_is_not_reported_freed_and_really_works_twice():
    w, b, x = leaves()
    h = w + b
    h.sum().backward()
    d = diagnose((h + 1).sum(), {"w": w})
    assert "freed" not in str(d) and not d.backward_fails
    (h + 1).sum().backward()  # a second backward through AddBackward0: nothing was saved, nothing freed
    assert torch.equal(w.grad, torch.full((3,), 2.0))


def test_show_warnings_prints_stable_lines(capsys):
    import warnings

    from helpers.diagnose import show_warnings

    with show_warnings() as lines:
        warnings.warn("first line\nsecond line (Triggered internally at /some/path.cpp:1.)")
        warnings.warn("first line\nsecond line")  # shown again, even though it was just shown
    assert lines == ["UserWarning: first line", "UserWarning: first line"]
    assert capsys.readouterr().out == "UserWarning: first line\nUserWarning: first line\n"


def test_show_warnings_prints_even_when_the_block_raises(capsys):
    import warnings

    from helpers.diagnose import show_warnings
    with pytest.raises(ValueError):
        with show_warnings():
            warnings.warn("first")
            raise ValueError("boom")
    assert capsys.readouterr().out == "UserWarning: first\n"


def test_show_warnings_names_the_forward_call_of_anomaly_mode(capsys):
    from helpers.diagnose import show_warnings

    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with show_warnings() as lines, torch.autograd.set_detect_anomaly(True):
        a = torch.sigmoid(w)
        a.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            a.sum().backward()
    assert lines[0].startswith("UserWarning: Error detected in SigmoidBackward0.")
    assert lines[1] == "  forward call: a = torch.sigmoid(w)"
    out = capsys.readouterr().out
    assert "/" not in out.replace("Traceback of forward call", "")  # no file paths
