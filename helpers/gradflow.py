"""Gradient flow: the gradient that travelled along each edge of the autograd graph in a backward pass.

Introduced in lesson 01, used again in lessons 05 and 06. :func:`gradient_flow` walks the graph behind
one or more tensors (with :mod:`helpers.graphs`' walk), puts a recording hook on every backward node,
and records what each node sent to each of its inputs while you run ``backward()`` inside the
``with`` block. On leaving the block the hooks are removed. The result shows, on every edge, the
gradient that flowed along it: the rounded value for a tensor of up to four elements, shape and
norm for a larger one. Where a tensor hook changed a gradient, the node shows the value that arrived
and the value passed on; where a tensor has several consumers, the node shows each contribution and
their sum; an input that does not require grad (a ``detach()``, a constant) shows as a cut edge.

Jupyter shows a PNG drawn by Graphviz (when ``dot`` is installed; otherwise only the text). The
plain-text form (``repr``) lists the same numbers, rounded, in a stable order, and is identical with
and without Graphviz, so a notebook's stored output checks the numbers themselves.

Recording changes no gradient: the hooks are ``Node.register_hook`` post-hooks that only copy what
they see (``torch.autograd.graph.Node``), and they return ``None``. Tensor hooks run before a node's
own hooks, so a node sees the gradient *after* the tensor's hooks; the gradient that arrived before
them is the sum of what the node's consumers sent, which is recorded on their side of the edge. (That
holds for tensors inside the graph; for a tensor in ``outputs`` itself, what is shown is the gradient
after its own hooks, and a hook on an output is not shown as such.)

The seed example (lesson 06): ``f(x, y) = |x − y|`` with ``x = w·1`` and ``y = w·2``, and a hook that
negates every gradient flowing into ``x``::

    from helpers.compute_once import abs_difference, seed_example
    from helpers.gradflow import gradient_flow

    g, a, b = seed_example()
    x, y = g(a), g(b)
    x.register_hook(lambda grad: -grad)
    loss = abs_difference(x, y)
    with gradient_flow(loss, {"w": g.weight, "x": x, "y": y, "loss": loss}) as flow:
        loss.backward()
    flow   # x: hook [-1] -> [1]; w's AccumulateGrad: [[1]] + [[2]] = [[3]]; w.grad = [[3]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from helpers.graphs import _FILL, _NODE_ATTR, GraphPanel, _as_outputs, _as_params, _shape, _Walk, graphviz_available

__all__ = ["FlowEdge", "GradientFlow", "gradient_flow", "side_by_side"]

#: Tensors with at most this many elements are shown value by value; larger ones by shape and norm.
MAX_VALUES = 4
#: Significant digits of every number shown.
DIGITS = 4
_GRAD_COLOUR = "firebrick"
_CUT_COLOUR = "gray50"


def _number(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    text = f"{v:.{DIGITS}g}"
    return "0" if text == "-0" else text


def format_grad(t: torch.Tensor | None) -> str:
    """A gradient as text: ``none``, the rounded values (up to :data:`MAX_VALUES` elements, nested
    as the tensor is), or ``shape (3, 4), norm 1.234``."""
    if t is None:
        return "none"
    t = t.detach().to("cpu", torch.float64)
    if t.numel() > MAX_VALUES:
        return f"shape {_shape(tuple(t.shape))}, norm {_number(float(t.norm()))}"

    def nested(v: Any) -> str:
        return "[" + ", ".join(nested(u) for u in v) + "]" if isinstance(v, list) else _number(v)

    return nested(t.tolist())


@dataclass(frozen=True)
class FlowEdge:
    """One edge, in the direction the gradient flows: from the node ``sender`` (a consumer in the
    forward pass) to the node ``receiver`` (its input). ``slot`` is the input's position among
    ``sender``'s ``next_functions``; ``grad`` what was sent along it (``None``: nothing was)."""

    sender: int
    receiver: int
    slot: int
    output_nr: int
    grad: torch.Tensor | None


@dataclass
class GradientFlow:
    """The gradients recorded on one autograd graph; use it as a context manager (see
    :func:`gradient_flow`). Shown as a PNG in Jupyter, as the list of gradients in text."""

    outputs: list[torch.Tensor]
    params: dict[str, torch.Tensor]
    _walk: _Walk = field(repr=False)
    _functions: dict[int, Any] = field(repr=False)  # node index -> backward node
    _names: dict[tuple[int, int], str] = field(repr=False)  # (node index, output_nr) -> tensor name
    _sent: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict, repr=False)
    _received: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict, repr=False)
    _handles: list[Any] = field(default_factory=list, repr=False)
    _png: bytes | None = field(default=None, repr=False)

    # --- recording ------------------------------------------------------------------------------
    def _record(self, index: int):
        def hook(grad_inputs: tuple, grad_outputs: tuple) -> None:
            for store, grads in ((self._sent, grad_inputs), (self._received, grad_outputs)):
                for slot, g in enumerate(grads):
                    if g is not None:
                        g = g.detach().clone()
                        key = (index, slot)
                        store[key] = store[key] + g if key in store else g
            self._png = None
        return hook

    def __enter__(self) -> GradientFlow:
        if not self._handles:
            self._handles = [fn.register_hook(self._record(i)) for i, fn in self._functions.items()]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the recording hooks (leaving the ``with`` block does this)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # --- what was recorded ------------------------------------------------------------------------
    @property
    def edges(self) -> list[FlowEdge]:
        """Every edge between backward nodes, senders in graph order."""
        edges = []
        for i, fn in self._functions.items():
            for slot, (child, nr) in enumerate(fn.next_functions):
                if child is not None:
                    edges.append(FlowEdge(i, self._walk.index[id(child)], slot, nr, self._sent.get((i, slot))))
        return edges

    def cuts(self) -> list[tuple[int, int]]:
        """``(node, slot)`` of every input that does not require grad: no gradient flows there."""
        return [(i, slot) for i, fn in self._functions.items()
                for slot, (child, _) in enumerate(fn.next_functions) if child is None]

    def received(self, node: int, output_nr: int = 0) -> torch.Tensor | None:
        """What the node ``node`` worked with for its output ``output_nr``: after tensor hooks."""
        return self._received.get((node, output_nr))

    def title(self, node: int) -> str:
        n = self._walk.nodes[node]
        names = [name for (i, _), name in self._names.items() if i == node]
        return f"[{node}] {n.title}" + (f" ({', '.join(names)})" if names else "")

    def _arrivals(self) -> dict[tuple[int, int], list[torch.Tensor]]:
        arrivals: dict[tuple[int, int], list[torch.Tensor]] = {}
        for e in self.edges:
            if e.grad is not None:
                arrivals.setdefault((e.receiver, e.output_nr), []).append(e.grad)
        return arrivals

    def _node_notes(self) -> dict[int, list[str]]:
        """Per node: the sum of several contributions, and a hook's change."""
        notes: dict[int, list[str]] = {}
        for (node, nr), parts in self._arrivals().items():
            arrived = sum(parts[1:], parts[0])
            if len(parts) > 1:
                notes.setdefault(node, []).append(
                    " + ".join(format_grad(p) for p in parts) + f" = {format_grad(arrived)}")
            passed = self.received(node, nr)
            if passed is not None and (passed.shape != arrived.shape
                                       or not torch.allclose(passed, arrived, rtol=1e-5, atol=1e-8)):
                notes.setdefault(node, []).append(
                    f"hook: arrived {format_grad(arrived)}, passed on {format_grad(passed)}")
        return notes

    def _tensor_edges(self) -> list[tuple[Any, str, torch.Tensor | None]]:
        """The edges to tensor nodes: ``(edge, "leaf", what .grad received)`` for a leaf and its
        ``AccumulateGrad``, ``(edge, "output", the gradient it got)`` for an output (for a loss
        without hooks, what backward starts with: 1)."""
        found = []
        for e in self._walk.edges:
            src, dst = self._walk.nodes[e.source], self._walk.nodes[e.target]
            if e.style or src.kind == dst.kind:
                continue
            if src.kind == "leaf":
                found.append((e, "leaf", self.received(e.target)))
            elif dst.kind in ("output", "base"):
                t = self._walk.keep[e.target]
                found.append((e, "output", self.received(e.source, t.output_nr)))
        return found

    def _tensor_lines(self) -> list[str]:
        lines = []
        for e, kind, grad in self._tensor_edges():
            if kind == "leaf":
                lines.append(f"  {self._walk.nodes[e.source].title}: .grad receives {format_grad(grad)}")
            else:
                lines.append(f"  {self._walk.nodes[e.target].title}: gradient {format_grad(grad)}")
        return lines

    @property
    def text(self) -> str:
        """The recorded gradients as text: every edge with its gradient, sums and hooks, leaves."""
        nodes = self._walk.nodes
        lines = [f"gradient flow: {len(nodes)} nodes, {len(self.edges)} edges between backward nodes"]
        lines.append("gradients sent (from a node to its input):")
        for e in self.edges:
            lines.append(f"  {self.title(e.sender)} -> {self.title(e.receiver)}: {format_grad(e.grad)}")
        for node, slot in self.cuts():
            lines.append(f"  {self.title(node)} -> input {slot}: not sent (it does not require grad)")
        notes = self._node_notes()
        if notes:
            lines.append("sums over incoming edges, and hooks:")
            for node in sorted(notes):
                lines += [f"  {self.title(node)}: {note}" for note in notes[node]]
        tensors = self._tensor_lines()
        if tensors:
            lines.append("tensors:")
            lines += tensors
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text

    # --- the picture ----------------------------------------------------------------------------
    def _emit(self, dot: Any, prefix: str = "n") -> None:
        """Add the nodes and edges, labelled with gradients, to the Graphviz graph ``dot``."""
        notes = self._node_notes()
        for node in self._walk.nodes:
            label = node.label if node.shape is None else f"{node.label}\n {_shape(node.shape)}"
            names = [name for (i, _), name in self._names.items() if i == node.index]
            if names:
                label += "\n= " + ", ".join(names)
            for note in notes.get(node.index, []):
                label += "\n" + note.replace("hook: arrived ", "hook: ").replace(", passed on ", " → ")
            attrs = {} if node.shape is None else {"fillcolor": _FILL[node.kind]}
            dot.node(f"{prefix}{node.index}", label, **attrs)
        for e in self._walk.edges:
            if e.style == "dotted":
                dot.edge(f"{prefix}{e.source}", f"{prefix}{e.target}", style="dotted")
        for e, _, grad in self._tensor_edges():
            self._edge(dot, f"{prefix}{e.source}", f"{prefix}{e.target}", grad)
        for e in self.edges:
            self._edge(dot, f"{prefix}{e.receiver}", f"{prefix}{e.sender}", e.grad)
        for node, slot in self.cuts():
            cut = f"{prefix}{node}cut{slot}"
            dot.node(cut, "no grad", shape="plaintext", style="", fontcolor=_CUT_COLOUR)
            # laid out like an input (above its consumer), the bar at the input's end: the gradient
            # would travel from the node towards that input and stops before it; nothing flows in
            dot.edge(cut, f"{prefix}{node}", style="dashed", color=_CUT_COLOUR, dir="back", arrowtail="tee")

    @staticmethod
    def _edge(dot: Any, source: str, target: str, grad: torch.Tensor | None) -> None:
        # drawn input -> consumer (the forward layout of draw_graph), the arrow pointing back to the
        # input: the way the gradient flows
        if grad is None:
            dot.edge(source, target, style="dashed", color=_CUT_COLOUR, dir="back")
        else:
            dot.edge(source, target, label=f" {format_grad(grad)}", color=_GRAD_COLOUR, fontcolor=_GRAD_COLOUR,
                     fontsize="10", fontname="monospace", dir="back")

    @property
    def dot(self) -> Any:
        """The Graphviz graph (``graphviz.Digraph``) of the picture."""
        from graphviz import Digraph

        dot = Digraph(node_attr=_NODE_ATTR)
        self._emit(dot)
        return dot

    def png(self) -> bytes | None:
        """The picture as PNG bytes, or ``None`` without Graphviz."""
        if self._png is None and graphviz_available():
            self._png = self.dot.pipe(format="png", quiet=True)
        return self._png

    def _repr_png_(self) -> bytes | None:
        return self.png()


def gradient_flow(
    outputs: torch.Tensor | Sequence[torch.Tensor],
    params: Mapping[str, torch.Tensor] | None = None,
) -> GradientFlow:
    """Record the gradients that flow through the graph behind ``outputs``.

    Use it as ``with gradient_flow(loss, {"w": w}) as flow: loss.backward()``, then show ``flow``.
    Every backward pass run inside the block is recorded (several passes: summed per edge); the
    hooks are removed when the block ends. Nodes created after the call are not watched.

    Args:
        outputs: a tensor, or a tuple/list of tensors, that require grad.
        params: names for tensors: leaves (``dict(model.named_parameters())``), outputs, and
            intermediate tensors (their backward node is labelled with the name).

    Raises:
        TypeError: ``outputs`` is not a tensor or a sequence of tensors, or ``params`` is not a
            mapping of names to tensors.
        ValueError: an output does not require grad, or ``outputs`` is empty.
    """
    items = _as_outputs(outputs)
    named = _as_params(params)
    names = {id(t): n for n, t in named.items()}
    for i, t in enumerate(items):
        names.setdefault(id(t), "output" if len(items) == 1 else f"output {i}")
    walk = _Walk(names, show_saved=False, show_attrs=False, max_attr_chars=50)
    for t in items:
        walk.add_output(t)
    functions = {i: obj for i, obj in enumerate(walk.keep) if walk.nodes[i].kind == "function"}
    inner = {}
    for name, t in named.items():
        if t.grad_fn is not None and id(t.grad_fn) in walk.index and id(t) not in walk.index:
            inner[(walk.index[id(t.grad_fn)], t.output_nr)] = name
    return GradientFlow(items, named, walk, functions, inner)


def side_by_side(**flows: GradientFlow) -> GraphPanel:
    """Several gradient flows next to each other, titled by the keyword names (underscores become
    spaces): ``side_by_side(hook=flow1, reversal=flow2)``. The text lists each under its title."""
    if not flows:
        raise ValueError("side_by_side needs at least one gradient flow")
    for title, flow in flows.items():
        if not isinstance(flow, GradientFlow):
            raise TypeError(f"{title}: expected a GradientFlow from gradient_flow, got {type(flow).__name__}")
    from graphviz import Digraph

    titled = {title.replace("_", " "): flow for title, flow in flows.items()}
    dot = Digraph(node_attr=_NODE_ATTR)
    for i, (title, flow) in enumerate(titled.items()):
        with dot.subgraph(name=f"cluster_{i}") as sub:
            sub.attr(label=title, fontname="sans-serif", fontsize="12", color="gray")
            flow._emit(sub, prefix=f"g{i}n")
    return GraphPanel(titled, dot)  # type: ignore[arg-type]  # GraphPanel needs only .text and repr
