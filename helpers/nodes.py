"""What autograd recorded: a tensor's autograd attributes, a node's inputs, every node of a graph,
and how often a backward pass runs each node.

Introduced in lesson 01 (:func:`tensor_info`, :func:`entries`) and lesson 03 (:func:`graph_nodes`,
:func:`node_runs`: the shared part of a graph runs once per ``backward()`` call; a graph that grows
every step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["tensor_info", "entries", "graph_nodes", "node_runs"]


def _name(node: Any) -> str | None:
    return type(node).__name__ if node is not None else None


def tensor_info(name: str, t: torch.Tensor) -> str:
    """One line: ``name``, then whether ``t`` requires grad, is a leaf, and its ``grad_fn``'s type."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"tensor_info takes a tensor, got {type(t).__name__}")
    return (f"{name:11}: requires_grad={t.requires_grad!s:5}  is_leaf={t.is_leaf!s:5}  "
            f"grad_fn={_name(t.grad_fn)}")


def entries(t: torch.Tensor | Any) -> list[tuple[str | None, int]]:
    """``t.grad_fn.next_functions`` (or a node's), each node replaced by its type's name:
    ``[('AccumulateGrad', 0), (None, 0)]``."""
    node = t.grad_fn if isinstance(t, torch.Tensor) else t
    if node is None:
        raise ValueError("this tensor has no grad_fn: it is a leaf, so it has no next_functions")
    return [(_name(f), nr) for f, nr in node.next_functions]


def graph_nodes(*outputs: torch.Tensor) -> set[Any]:
    """Every node of the backward graph behind ``outputs``: a walk along ``next_functions`` from
    each output's ``grad_fn`` (outputs without one add nothing)."""
    seen: set[Any] = set()
    todo = [t.grad_fn for t in outputs]
    while todo:
        node = todo.pop()
        if node is not None and node not in seen:
            seen.add(node)
            todo += [f for f, _ in node.next_functions]
    return seen


def node_runs(outputs: tuple[torch.Tensor, ...] | list[torch.Tensor],
              backward: Callable[[], Any]) -> list[Any]:
    """Run ``backward()`` and return the nodes of ``outputs``' graph in the order the engine ran
    them, one entry per run (a node run twice appears twice).

    It puts a pre-hook (``Node.register_prehook``, called just before the node runs) on every node
    of :func:`graph_nodes` and removes them all afterwards, also when ``backward`` raises: a leaf's
    ``AccumulateGrad`` node is shared with later graphs."""
    runs: list[Any] = []
    handles = [node.register_prehook(lambda grad_outputs, node=node: runs.append(node))
               for node in graph_nodes(*outputs)]
    try:
        backward()
    finally:
        for handle in handles:
            handle.remove()
    return runs
