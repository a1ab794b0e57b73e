"""Drawing autograd graphs: a picture for people, a plain-text statement of the graph for tests.

Introduced in lesson 01. :func:`draw_graph` walks the graph behind one or more tensors and returns a
:class:`GraphPicture`. Jupyter shows it as a PNG drawn by torchviz's ``make_dot`` and Graphviz; its
plain-text form (``repr``) lists the graph's nodes and edges in a stable order, with leaves named by the
``params`` you pass. Two runs, or two machines, give the same text, so a notebook's stored output
checks the graph itself. Without Graphviz the picture's place shows the same text under a note on how
to install Graphviz; the note is in the PNG only, so the text (what nbval compares) is the same on a
machine with and without Graphviz.

torchviz 0.0.3 names Graphviz nodes by ``id()`` (different on every run), recurses once per node (a
chain of a few thousand operations exceeds Python's recursion limit) and reads ``saved_tensors`` of
custom ``torch.autograd.Function`` nodes, which raises once ``backward()`` has freed them. Here the
graph is walked without recursion, nodes are renamed ``n0, n1, …`` in a stable order, and when
``make_dot`` fails the same picture is drawn from our own walk, in torchviz's colours.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["GraphEdge", "GraphNode", "GraphPanel", "GraphPicture", "draw_graph", "graphviz_available", "side_by_side"]

#: Above this many nodes the plain-text form shows a summary and the first nodes only.
TEXT_NODE_LIMIT = 60
#: Above this many nodes no picture is drawn (Graphviz would take long and the picture be unreadable).
PICTURE_NODE_LIMIT = 3000

INSTALL_HINT = (
    "Graphviz's `dot` program was not found, so only the text form is shown: install Graphviz "
    "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install -c conda-forge graphviz) and restart the kernel."
)

# torchviz's look, so that both drawing paths give the same picture.
_NODE_ATTR = dict(style="filled", shape="box", align="left", fontsize="10", ranksep="0.1",
                  height="0.2", fontname="monospace")
_FILL = {"leaf": "lightblue", "output": "darkolivegreen1", "base": "darkolivegreen3",
         "saved": "orange"}
_SAVED_PREFIX = "_saved_"


@dataclass(frozen=True)
class GraphNode:
    """One node of the drawn graph.

    ``kind`` is ``"function"`` (a backward node such as ``MulBackward0`` or ``AccumulateGrad``),
    ``"leaf"`` (a leaf tensor that requires grad), ``"output"`` (a tensor passed in as an output),
    ``"base"`` (the base tensor of an output that is a view) or ``"saved"`` (a tensor saved for
    backward, shown with ``show_saved=True`` or saved by a custom ``autograd.Function``).
    """

    index: int
    kind: str
    label: str
    shape: tuple[int, ...] | None = None

    @property
    def title(self) -> str:
        """The node's name in the text form: its label, then the tensor's shape if it is a tensor."""
        if self.shape is None:
            return self.label
        return f"{self.label or '(unnamed)'} {_shape(self.shape)}"


@dataclass(frozen=True)
class GraphEdge:
    """An edge in the direction data flows in the forward pass (input -> its consumer)."""

    source: int
    target: int
    style: str = ""  # "" plain, "dotted" (view of a base tensor), "saved" (a saved tensor, no arrow)


@dataclass
class GraphPicture:
    """An autograd graph: shown as a PNG in Jupyter, as a text statement of the graph elsewhere.

    Attributes:
        nodes: the nodes, in a stable order (outputs first, then depth-first along
            ``next_functions``).
        edges: the edges between them, input -> consumer.
        dot: the Graphviz source (deterministic: node names are ``n0, n1, …``), or ``None`` above
            :data:`PICTURE_NODE_LIMIT` nodes.
        renderer: ``"torchviz"`` when ``make_dot`` drew it, ``"helpers"`` when our own walk did.
    """

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    dot: Any = None
    renderer: str = "torchviz"
    notes: list[str] = field(default_factory=list)
    _png: bytes | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """The whole graph as text: every node with its kind, every edge."""
        return "\n".join(self._lines(limit=None))

    def _lines(self, limit: int | None) -> list[str]:
        lines = [f"autograd graph: {len(self.nodes)} nodes, {len(self.edges)} edges"]
        shown = self.nodes if limit is None or len(self.nodes) <= limit else self.nodes[:limit]
        width = len(str(len(self.nodes) - 1))
        for node in shown:
            kind = "" if node.kind == "function" else f"  ({node.kind})"
            lines.append(f"  [{node.index:>{width}}] {node.title}{kind}")
        if len(shown) < len(self.nodes):
            lines.append(f"  … {len(self.nodes) - len(shown)} more nodes (see .text for all)")
            return lines + [f"note: {n}" for n in self.notes]
        if self.edges:
            lines.append("edges (input -> consumer):")
            for e in self.edges:
                src = f"[{e.source}] {self.nodes[e.source].title}"
                dst = f"[{e.target}] {self.nodes[e.target].title}"
                if e.style == "saved":
                    lines.append(f"  {src} is saved by {dst}")
                elif e.style == "dotted":
                    lines.append(f"  {src} -> {dst}  (a view of it)")
                else:
                    lines.append(f"  {src} -> {dst}")
        return lines + [f"note: {n}" for n in self.notes if n != INSTALL_HINT]

    def __repr__(self) -> str:
        return "\n".join(self._lines(limit=TEXT_NODE_LIMIT))

    def png(self) -> bytes | None:
        """The picture as PNG bytes, or ``None`` without Graphviz or for a graph too large to draw."""
        if self._png is None and self.dot is not None and graphviz_available():
            import graphviz

            try:
                self._png = self.dot.pipe(format="png", quiet=True)
            except (graphviz.ExecutableNotFound, graphviz.CalledProcessError):
                return None
        return self._png

    def _repr_png_(self) -> bytes | None:
        # Without Graphviz: the install note and the text form, as a picture. The note is not in the
        # text form, so that a notebook's compared output (text/plain) does not depend on Graphviz.
        data = self.png()
        if data is None and not graphviz_available():
            return _note_png(INSTALL_HINT, repr(self))
        return data

    def save(self, path: str) -> None:
        """Write the picture to ``path`` as PNG."""
        data = self.png()
        if data is None:
            raise RuntimeError("no picture to save: " + (self.notes[-1] if self.notes else INSTALL_HINT))
        with open(path, "wb") as f:
            f.write(data)


def _note_png(note: str, text: str) -> bytes:
    """``note`` (wrapped) above ``text`` in a monospace font, as a PNG 900 pixels wide."""
    import io
    import textwrap

    from matplotlib.figure import Figure

    lines = textwrap.wrap(note, 100) + [""] + text.splitlines()
    fig = Figure(figsize=(9, 0.3 + 0.16 * len(lines)))
    fig.text(0.01, 1 - 0.15 / fig.get_figheight(), "\n".join(lines), va="top", ha="left",
             family="monospace", fontsize=9, linespacing=1.25)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def graphviz_available() -> bool:
    """True when Graphviz's ``dot`` program is on ``PATH``."""
    return shutil.which("dot") is not None


def _shape(shape: tuple[int, ...]) -> str:
    # torchviz's size_to_str: "(2, 3)", and "()" for a 0-dim tensor
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _as_outputs(outputs: Any) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        items = [outputs]
    elif isinstance(outputs, (tuple, list)):
        if not outputs:
            raise ValueError("draw_graph needs at least one output tensor, got an empty sequence")
        items = list(outputs)
    else:
        raise TypeError(
            f"draw_graph expects a tensor or a tuple/list of tensors, got {type(outputs).__name__}"
        )
    for i, t in enumerate(items):
        where = "output" if len(items) == 1 else f"output {i}"
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{where} is a {type(t).__name__}, not a tensor")
        if not t.requires_grad:
            if t.is_inference():
                why = "it was created under torch.inference_mode()"
            else:
                why = ("it was detached (.detach()), created under torch.no_grad(), or computed only "
                       "from tensors that do not require grad")
            raise ValueError(f"{where} does not require grad, so autograd recorded no graph for it: {why}")
    return items


def _as_params(params: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(
            "params must map names to tensors (a dict, or dict(model.named_parameters())), "
            f"got {type(params).__name__}"
        )
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"params keys must be strings, got {name!r}")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"params[{name!r}] is a {type(value).__name__}, not a tensor")
    return dict(params)


class _Walk:
    """Builds the node and edge lists without recursion, in torchviz's visiting order."""

    def __init__(self, names: dict[int, str], show_saved: bool, show_attrs: bool, max_attr_chars: int):
        self.names = names
        self.show_saved = show_saved
        self.show_attrs = show_attrs
        self.max_attr_chars = max_attr_chars
        self.nodes: list[GraphNode] = []
        self.edges: list[GraphEdge] = []
        self.index: dict[int, int] = {}  # id(object) -> node index
        self.keep: list[Any] = []  # keeps walked objects alive, so that id()s stay unique
        self.notes: list[str] = []

    def node(self, obj: Any, kind: str, label: str, shape: tuple[int, ...] | None = None) -> int:
        key = id(obj)
        if key not in self.index:
            self.keep.append(obj)
            self.index[key] = len(self.nodes)
            self.nodes.append(GraphNode(len(self.nodes), kind, label, shape))
        return self.index[key]

    def tensor_node(self, t: torch.Tensor, kind: str, name: str | None = None) -> int:
        label = name if name is not None else self.names.get(id(t), "")
        return self.node(t, kind, label, tuple(t.shape))

    def fn_label(self, fn: Any) -> str:
        if not self.show_attrs:
            return type(fn).__name__
        from torchviz.dot import get_fn_name

        try:
            return get_fn_name(fn, True, self.max_attr_chars)
        except RuntimeError:  # saved values already freed by backward()
            return type(fn).__name__

    def add_output(self, t: torch.Tensor, color_kind: str = "output") -> None:
        if id(t) in self.index:
            return
        me = self.tensor_node(t, color_kind)
        if t.grad_fn is not None:
            fn_index = self.add_function_tree(t.grad_fn)
            self.edges.append(GraphEdge(fn_index, me))
        if t._is_view() and t._base is not None:
            self.add_output(t._base, "base")
            self.edges.append(GraphEdge(self.index[id(t._base)], me, "dotted"))

    def add_function_tree(self, root: Any) -> int:
        stack = [root]
        while stack:
            fn = stack.pop()
            if id(fn) in self.index:
                continue
            me = self.node(fn, "function", self.fn_label(fn))
            self.add_saved(fn, me)
            variable = getattr(fn, "variable", None)
            if isinstance(variable, torch.Tensor):  # AccumulateGrad: the leaf it accumulates into
                leaf = self.tensor_node(variable, "leaf")
                self.edges.append(GraphEdge(leaf, me))
            children = [u for u, _ in getattr(fn, "next_functions", ()) if u is not None]
            for child in children:
                self.edges.append(GraphEdge(-1 - id(child), me))  # resolved once child is indexed
            stack.extend(reversed(children))
        self.edges = [
            GraphEdge(self.index[-1 - e.source], e.target, e.style) if e.source < 0 else e
            for e in self.edges
        ]
        return self.index[id(root)]

    def add_saved(self, fn: Any, me: int) -> None:
        saved: list[tuple[str, torch.Tensor]] = []
        if self.show_saved:
            for attr in dir(fn):
                if not attr.startswith(_SAVED_PREFIX):
                    continue
                try:
                    val = getattr(fn, attr)
                except RuntimeError:
                    continue
                name = attr[len(_SAVED_PREFIX):]
                if isinstance(val, torch.Tensor):
                    saved.append((name, val))
                elif isinstance(val, tuple):
                    saved += [(f"{name}[{i}]", t) for i, t in enumerate(val) if isinstance(t, torch.Tensor)]
        if isinstance(fn, torch.autograd.function.BackwardCFunction):  # a custom autograd.Function
            try:
                saved += [("", t) for t in fn.saved_tensors]
            except RuntimeError:
                self.notes.append(
                    f"the tensors {type(fn).__name__} saved were freed by backward(), so they are not shown"
                )
        for name, t in saved:
            if t.is_leaf and t.requires_grad:  # a parameter saved for backward: shown as the leaf it is
                idx = self.tensor_node(t, "leaf")
            else:
                idx = self.node(t, "saved", name or "saved", tuple(t.shape))
            self.edges.append(GraphEdge(idx, me, "saved"))


def draw_graph(
    outputs: torch.Tensor | Sequence[torch.Tensor],
    params: Mapping[str, torch.Tensor] | None = None,
    *,
    show_attrs: bool = False,
    show_saved: bool = False,
    max_attr_chars: int = 50,
) -> GraphPicture:
    """Draw the autograd graph behind ``outputs``.

    Args:
        outputs: a tensor, or a tuple/list of tensors, that require grad.
        params: names for tensors, usually ``dict(model.named_parameters())`` or ``{"x": x, ...}``.
            Leaves and outputs found here are labelled with their name; an output not found here is
            labelled ``output`` (or ``output 0``, ``output 1``, … for several).
        show_attrs: show each backward node's non-tensor attributes (torchviz's ``show_attrs``).
        show_saved: show the tensors each backward node saved for backward (torchviz's
            ``show_saved``). Tensors saved by a custom ``autograd.Function`` are always shown while
            they still exist.
        max_attr_chars: with ``show_attrs``, the longest attribute value shown.

    Returns:
        A :class:`GraphPicture`: a PNG in Jupyter, the graph's nodes and edges as text.

    Raises:
        TypeError: ``outputs`` is not a tensor or a sequence of tensors, or ``params`` is not a
            mapping of names to tensors.
        ValueError: an output does not require grad (detached, or made under ``no_grad`` or
            ``inference_mode``), or ``outputs`` is empty.
    """
    items = _as_outputs(outputs)
    named = _as_params(params)
    names = {id(t): n for n, t in named.items()}
    out_names = {}
    for i, t in enumerate(items):
        out_names[id(t)] = names.get(id(t), "output" if len(items) == 1 else f"output {i}")
    walk = _Walk({**names, **out_names}, show_saved, show_attrs, max_attr_chars)
    for t in items:
        walk.add_output(t)
    picture = GraphPicture(walk.nodes, walk.edges, notes=walk.notes)
    if len(walk.nodes) > PICTURE_NODE_LIMIT:
        picture.notes.append(f"{len(walk.nodes)} nodes are too many to draw (limit {PICTURE_NODE_LIMIT}): text only")
        picture.renderer = "none"
        return picture
    try:
        picture.dot = _torchviz_dot(items, named, out_names, show_attrs, show_saved, max_attr_chars)
    except (RuntimeError, RecursionError):
        picture.dot = _our_dot(picture)
        picture.renderer = "helpers"
    if not graphviz_available():
        picture.notes.append(INSTALL_HINT)
    return picture


_NODE_LINE = re.compile(r"^\t(\d+)(?: -> (\d+))?(?=[ \n\[]|$)")


def _torchviz_dot(items, named, out_names, show_attrs, show_saved, max_attr_chars):
    """torchviz's ``make_dot``, with its ``id()`` node names replaced by ``n0, n1, …``."""
    from torchviz import make_dot

    labels = dict(named)
    for t in items:
        labels.setdefault(out_names[id(t)], t)
    var = items[0] if len(items) == 1 else tuple(items)
    with warnings.catch_warnings():  # torchviz 0.0.3 compares versions with distutils' LooseVersion
        warnings.simplefilter("ignore", DeprecationWarning)
        dot = make_dot(var, params=labels, show_attrs=show_attrs, show_saved=show_saved,
                       max_attr_chars=max_attr_chars)
    renames: dict[str, str] = {}

    def rename(m: re.Match) -> str:
        out = []
        for ident in m.groups():
            if ident is not None:
                out.append(renames.setdefault(ident, f"n{len(renames)}"))
        return "\t" + " -> ".join(out)

    dot.body = [_NODE_LINE.sub(rename, line) for line in dot.body]
    return dot


def _emit(dot: Any, picture: GraphPicture, prefix: str = "n") -> None:
    """Add ``picture``'s nodes and edges to the Graphviz graph ``dot``, in torchviz's colours."""
    for node in picture.nodes:
        if node.shape is None:
            dot.node(f"{prefix}{node.index}", node.label)
        else:
            dot.node(f"{prefix}{node.index}", f"{node.label}\n {_shape(node.shape)}", fillcolor=_FILL[node.kind])
    for e in picture.edges:
        if e.style == "saved":
            dot.edge(f"{prefix}{e.target}", f"{prefix}{e.source}", dir="none")
        elif e.style == "dotted":
            dot.edge(f"{prefix}{e.source}", f"{prefix}{e.target}", style="dotted")
        else:
            dot.edge(f"{prefix}{e.source}", f"{prefix}{e.target}")


def _our_dot(picture: GraphPicture):
    """The same picture as torchviz would draw, from our own walk (used when make_dot fails)."""
    from graphviz import Digraph
    from torchviz.dot import resize_graph

    dot = Digraph(node_attr=_NODE_ATTR, graph_attr=dict(size="12,12"))
    _emit(dot, picture)
    resize_graph(dot)
    return dot


@dataclass
class GraphPanel:
    """Several autograd graphs side by side, each with a title (see :func:`side_by_side`)."""

    pictures: dict[str, GraphPicture]
    dot: Any = None
    _png: bytes | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return "\n\n".join(f"== {title} ==\n{pic.text}" for title, pic in self.pictures.items())

    def __repr__(self) -> str:
        return "\n\n".join(f"== {title} ==\n{pic!r}" for title, pic in self.pictures.items())

    png = GraphPicture.png
    _repr_png_ = GraphPicture._repr_png_
    save = GraphPicture.save
    notes: list[str] = field(default_factory=list)


def side_by_side(**pictures: GraphPicture) -> GraphPanel:
    """Show graphs from :func:`draw_graph` next to each other, titled by the keyword names:
    ``side_by_side(with_detach=draw_graph(a), without=draw_graph(b))``. Underscores in the names
    become spaces; for other titles unpack a dict: ``side_by_side(**{"two-pass: l1": pic})``.
    The text form lists each graph under its title."""
    if not pictures:
        raise ValueError("side_by_side needs at least one graph")
    for title, pic in pictures.items():
        if not isinstance(pic, GraphPicture):
            raise TypeError(f"{title}: expected a picture from draw_graph, got {type(pic).__name__}")
    from graphviz import Digraph

    titled = {title.replace("_", " "): pic for title, pic in pictures.items()}
    dot = Digraph(node_attr=_NODE_ATTR, graph_attr=dict(size="12,12"))
    for i, (title, pic) in enumerate(titled.items()):
        with dot.subgraph(name=f"cluster_{i}") as sub:
            sub.attr(label=title, fontname="sans-serif", fontsize="12", color="gray")
            _emit(sub, pic, prefix=f"g{i}n")
    notes = [INSTALL_HINT] if not graphviz_available() else []
    return GraphPanel(titled, dot, notes=notes)
