"""helpers.nodes: a tensor's autograd attributes, next_functions by name, the nodes of a graph, node runs."""

import pytest
import torch

from helpers.nodes import entries, graph_nodes, node_runs, tensor_info


def test_describe_leaf_and_non_leaf():
    w = torch.ones(2, requires_grad=True)
    assert tensor_info("w", w) == "w          : requires_grad=True   is_leaf=True   grad_fn=None"
    assert tensor_info("y", w * 2).endswith("is_leaf=False  grad_fn=MulBackward0")
    with pytest.raises(TypeError):
        tensor_info("n", 3.0)


def test_entries_names_and_input_numbers():
    w = torch.ones(3, requires_grad=True)
    assert entries(2 * w) == [("AccumulateGrad", 0), (None, 0)]
    first, _, third = w.unbind()
    assert entries(first * third) == [("UnbindBackward0", 0), ("UnbindBackward0", 2)]
    assert entries((first * third).grad_fn) == entries(first * third)
    with pytest.raises(ValueError, match="leaf"):
        entries(w)


def test_graph_nodes_shared_and_distinct():
    w = torch.ones(3, requires_grad=True)
    h = w.exp()
    a, b = h.sum(), (h * 2).sum()
    names = sorted(type(n).__name__ for n in graph_nodes(a, b))
    assert names == ["AccumulateGrad", "ExpBackward0", "MulBackward0", "SumBackward0", "SumBackward0"]
    assert graph_nodes(w) == set()


def test_node_runs_counts_shared_part_per_call_and_removes_hooks():
    w = torch.ones(3, requires_grad=True)
    h = w.exp()
    l1, l2 = h.sum(), (h * 2).sum()

    def two():
        l1.backward(retain_graph=True)
        l2.backward()

    runs = node_runs((l1, l2), two)
    shared = graph_nodes(h)
    assert len(runs) == 7 and sum(n in shared for n in runs) == 4  # Exp and AccumulateGrad twice
    w.grad = None
    (w * 3).sum().backward()  # the AccumulateGrad node is reused: no hook left on it
    assert torch.equal(w.grad, torch.full((3,), 3.0))


def test_node_runs_removes_hooks_when_backward_raises():
    w = torch.ones(2, requires_grad=True)
    out = w.exp().sum()
    out.backward()
    with pytest.raises(RuntimeError, match="second time"):
        node_runs((out,), out.backward)
    w.grad = None
    runs = node_runs((w.sum(),), lambda: None)
    assert runs == []
