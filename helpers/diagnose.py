"""Why does this tensor get no gradient? A read-only look at a loss's graph, in plain text.

Introduced in lesson 12 (the gradient clinic). ``diagnose(loss, {"w": w, "b": b})`` walks the graph
behind ``loss`` (``grad_fn`` and ``next_functions``, the same walk as :mod:`helpers.graphs`) and says,
for each tensor you expected to get a gradient, whether ``loss.backward()`` will fill its ``.grad`` —
and if not, why:

* the loss has no graph (``requires_grad`` False): with what *can* be told from the tensors — an
  inference tensor (made under ``inference_mode``), grad mode off right now, no expected tensor
  requiring grad (all frozen), an integer or bool loss (only non-differentiable ops), a plain number
  (``.item()``), a loss that is itself a leaf (re-wrapped with ``torch.tensor``) — and what cannot:
  ``no_grad`` when the loss was made, a NumPy round trip and a ``torch.tensor`` re-wrap without
  ``requires_grad`` all leave the same tensor behind;
* the tensor does not require grad (frozen, or never asked);
* it is not reachable from the loss (and which leaves are);
* it is a non-leaf copy or view of a leaf (``.to()``/``.cuda()``/``.double()``, or a view, reshape,
  ``.t()`` or ``clone()``, after ``requires_grad=True``): its ``.grad`` stays None; the gradient goes
  to the leaf behind the ``ToCopyBackward0`` (or view) node;
* it is a non-leaf that does not ``retain_grad()``;
* hooks are registered on it (they will change or observe its gradient);
* part of the graph was already freed by an earlier backward, or a saved tensor was modified in
  place: ``backward()`` would fail, and the report says with which error.

It never changes a gradient, a hook, a version counter, a buffer or the graph: it reads ``grad_fn``,
``next_functions``, ``AccumulateGrad.variable`` and the nodes' saved tensors (the ``_saved_*``
attributes, which raise PyTorch's own error when a saved tensor was freed or modified). A saved
tensor behind a saved-tensor hook (``torch.autograd.graph.saved_tensors_hooks``, ``save_on_cpu``,
non-reentrant checkpointing) is not read, because reading it runs the *unpack* hook — a checkpoint
would recompute its forward and update BatchNorm's running statistics; the report counts those
nodes, and an in-place change there goes undetected (a freed one is still seen: freeing drops the hook).
Hooks on intermediate tensors that you do not pass are invisible from the graph and not reported.
A freed node is seen only if it saved tensors: a node that saved none (``AddBackward0``) keeps
nothing to free, and a second backward through it works, so reporting nothing there is right.
"Gets .grad" means the graph reaches the tensor's ``AccumulateGrad`` node; a custom
``autograd.Function`` whose ``backward`` returns None for an input stops the gradient at run time,
which the graph alone does not show.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Diagnosis", "Finding", "GraphWalk", "diagnose", "show_warnings", "walk_graph"]

#: The stable phrases of PyTorch's errors when a saved tensor is read (torch 2.x).
FREED = "already been freed"
MODIFIED = "modified by an inplace operation"
#: Nodes that only copy or re-view one input: a tensor made by them stands for the leaf behind them.
COPY_NODES = ("ToCopyBackward0", "CloneBackward0", "ViewBackward0", "AliasBackward0", "ExpandBackward0",
              "ReshapeAliasBackward0", "UnsqueezeBackward0", "SqueezeBackward0", "SqueezeBackward1",
              "TBackward0", "PermuteBackward0")


#: Lines of the report are wrapped at this width.
WIDTH = 100


def _item(text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="  - ", subsequent_indent="    ")


@dataclass(frozen=True)
class Finding:
    """What ``backward()`` will do for one expected tensor: ``gets_grad`` and the reasons, as text."""

    name: str
    gets_grad: bool
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        mark = "gets .grad" if self.gets_grad else "NO .grad"
        return "\n".join([f"{self.name}: {mark}", *(_item(r) for r in self.reasons)])


@dataclass(frozen=True)
class Diagnosis:
    """The whole report: the loss's state, then one :class:`Finding` per expected tensor.
    ``str()``/``repr()`` is the plain, deterministic text (no addresses, devices or ids)."""

    loss: tuple[str, ...]
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    #: ``loss.backward()`` would raise (no graph, freed or modified saved tensors, not a scalar).
    backward_fails: bool = False

    @property
    def ok(self) -> bool:
        """True when ``backward()`` would run and every expected tensor would get a gradient."""
        return not self.backward_fails and all(f.gets_grad for f in self.findings)

    def __str__(self) -> str:
        head = textwrap.fill("loss: " + self.loss[0], WIDTH, subsequent_indent="    ")
        return "\n".join([head, *(_item(line) for line in self.loss[1:]), *(str(f) for f in self.findings)])

    __repr__ = __str__


@dataclass
class GraphWalk:
    """What :func:`walk_graph` found: the nodes (each once), the leaves their ``AccumulateGrad`` nodes
    write to, and the names of the nodes whose saved tensors were freed or modified in place."""

    nodes: list[Any]
    leaves: list[torch.Tensor]
    freed: list[str]
    modified: list[str]
    #: Nodes whose saved tensors sit behind saved-tensor hooks: not read (reading would run the hook).
    hooked: list[str] = field(default_factory=list)


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"


HOOKED = "behind saved-tensor hooks"


def _hooked(node: Any, name: str) -> bool:
    """Whether the saved tensor(s) ``name`` carry an unpack hook (read through ``_raw_saved_*``,
    which does not unpack). A freed saved tensor has dropped its hook."""
    raw = "_raw" + name if name.startswith("_saved_") else "_raw_saved_tensors"
    try:
        value = getattr(node, raw)
    except (AttributeError, RuntimeError):
        return False
    values = value if isinstance(value, (list, tuple)) else [value]
    return any(getattr(v, "unpack_hook", None) is not None for v in values)


def _probe(node: Any) -> str | None:
    """Read a node's saved tensors: None if they are fine, FREED or MODIFIED if not, HOOKED if
    some were not read because an unpack hook would run."""
    names = [a for a in dir(node) if a.startswith("_saved_")]
    if "saved_tensors" in dir(node):  # a custom autograd.Function's node is its ctx
        names.append("saved_tensors")
    hooked = False
    for name in names:
        if _hooked(node, name):
            hooked = True
            continue
        try:
            getattr(node, name)
        except RuntimeError as exc:
            text = " ".join(str(exc).split())
            if FREED in text:
                return FREED
            if MODIFIED in text:
                return MODIFIED
    return HOOKED if hooked else None


def walk_graph(loss: torch.Tensor) -> GraphWalk:
    """Every node reachable from ``loss.grad_fn`` (depth first, each once), the leaves their
    ``AccumulateGrad`` nodes write to, and the nodes whose saved tensors were freed or modified."""
    nodes: list[Any] = []
    seen: set[int] = set()
    stack = [loss.grad_fn] if loss.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)  # keeps the Python object alive, so its id stays unique during the walk
        stack.extend(fn for fn, _ in reversed(node.next_functions))
    leaves, freed, modified, hooked = [], [], [], []
    for node in nodes:
        if hasattr(node, "variable"):
            leaves.append(node.variable)
        state = _probe(node)
        if state == FREED:
            freed.append(node.name())
        elif state == MODIFIED:
            modified.append(node.name())
        elif state == HOOKED:
            hooked.append(node.name())
    return GraphWalk(nodes, leaves, freed, modified, hooked)


def _named(expected: Any) -> list[tuple[str, torch.Tensor]]:
    if isinstance(expected, torch.nn.Module):
        return list(expected.named_parameters())
    if isinstance(expected, torch.Tensor):
        return [("tensor", expected)]
    if isinstance(expected, Mapping):
        items = list(expected.items())
    elif isinstance(expected, Iterable):
        items = [(f"tensor {i}", t) for i, t in enumerate(expected)]
    else:
        raise TypeError(f"expected tensors as a dict name -> tensor, a list or a module, got {type(expected).__name__}")
    for name, t in items:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name!r} is {type(t).__name__}, not a tensor")
    return [(str(n), t) for n, t in items]


def _no_graph(loss: Any, named: list[tuple[str, torch.Tensor]]) -> tuple[str, ...]:
    if not isinstance(loss, torch.Tensor):
        return (f"no graph: it is a Python {type(loss).__name__}, not a tensor",
                "a number has no graph: .item(), float() or a NumPy value made it; keep the tensor")
    lines = ["no graph (requires_grad=False, grad_fn=None): backward() raises \"element 0 of tensors "
             "does not require grad and does not have a grad_fn\""]
    if loss.is_inference():
        lines.append("it is an inference tensor: it was made under torch.inference_mode()")
    if not torch.is_grad_enabled():
        lines.append("grad mode is off right now (inside torch.no_grad() or set_grad_enabled(False))")
    if not (loss.is_floating_point() or loss.is_complex()):
        lines.append(f"its dtype is {str(loss.dtype).replace('torch.', '')}: only non-differentiable ops "
                     "(argmax, comparisons, integer arithmetic) make such a loss")
    if not (loss.is_floating_point() or loss.is_complex()):
        pass  # the dtype says it all
    elif named and not any(t.requires_grad for _, t in named):
        lines.append("none of the expected tensors requires grad: all frozen (requires_grad_(False)) "
                     "or never asked for")
    elif named:
        lines.append("some expected tensors require grad, yet the loss has no graph: it was computed "
                     "under no_grad, or through .item()/.tolist()/NumPy, or re-wrapped with "
                     "torch.tensor(...), or detached, or from a non-differentiable op (argmax, a "
                     "comparison) cast to float; the tensor alone cannot tell these apart: print "
                     ".requires_grad after each line of the forward")
    return tuple(lines)


def diagnose(loss: Any, expected: Any = ()) -> Diagnosis:
    """Report, in plain text, whether ``loss.backward()`` will give each expected tensor a ``.grad``.

    Args:
        loss: the tensor you call ``backward()`` on (or whatever you have in its place).
        expected: the tensors you expected to get gradients: a dict ``{"name": tensor}``, a list, one
            tensor, or a module (its named parameters).

    Returns:
        A :class:`Diagnosis`; print it. Nothing is changed: no gradient, hook, version or graph.

    Raises:
        TypeError: ``expected`` holds something that is not a tensor.
    """
    named = _named(expected)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        lines = _no_graph(loss, named)
        return Diagnosis(lines, tuple(Finding(n, False, ("the loss has no graph",)) for n, _ in named), True)
    if loss.grad_fn is None:  # a leaf that requires grad: backward() only fills loss.grad
        graph = GraphWalk([], [loss], [], [])
        lines = ["it is a leaf (requires_grad=True, no grad_fn): it was made from values, not from your "
                 "tensors (torch.tensor(x.item(), requires_grad=True)?); backward() fills only its own .grad"]
    else:
        graph = walk_graph(loss)
        lines = [f"a graph of {_count(len(graph.nodes), 'node')} and {_count(len(graph.leaves), 'leaf')}, "
                 f"from {loss.grad_fn.name()}"]
        if loss.is_complex():
            lines.append("backward() would fail: the loss is complex (\"grad can be implicitly created only "
                         "for real scalar outputs\"); take a real part or abs() first")
        elif loss.numel() != 1:
            lines.append(f"backward() would fail: it has {loss.numel()} elements, so backward() needs a "
                         "gradient argument (\"grad can be implicitly created only for scalar outputs\"); "
                         "reduce it first")
        if graph.freed:
            lines.append(f"backward() would fail: {len(graph.freed)} node(s) already freed by an earlier "
                         f"backward (first: {graph.freed[0]}): \"Trying to backward through the graph a "
                         "second time\": detach a tensor carried over from an earlier iteration; to backward "
                         "through the same graph twice on purpose, pass retain_graph=True to the first")
        if graph.hooked:
            lines.append(f"{len(graph.hooked)} node(s) keep saved tensors behind saved-tensor hooks (first: "
                         f"{graph.hooked[0]}; e.g. non-reentrant checkpointing): not read, since reading "
                         "runs the hook; an in-place change of them is not detected here")
        if graph.modified:
            lines.append(f"backward() would fail: a tensor saved by {graph.modified[0]} was modified in "
                         "place: \"one of the variables needed for gradient computation has been modified "
                         "by an inplace operation\"")
    nodes = {id(n) for n in graph.nodes}
    names = {id(t): n for n, t in named}
    findings = [_finding(name, t, graph, nodes, names) for name, t in named]
    fails = bool(graph.freed or graph.modified) or loss.numel() != 1 or loss.is_complex()
    if fails:  # nothing gets a gradient from a backward that fails
        findings = [Finding(f.name, False, ("backward() fails first (see the loss)", *f.reasons[1:]))
                    if f.gets_grad else f for f in findings]
    return Diagnosis(tuple(lines), tuple(findings), fails)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {'leaves' if word == 'leaf' else word + 's'}"


def _leaf_text(t: torch.Tensor, names: dict[int, str]) -> str:
    return names.get(id(t), f"an unnamed leaf of shape {_shape(t)}")


def _finding(name: str, t: torch.Tensor, graph: GraphWalk, nodes: set[int],
             names: dict[int, str]) -> Finding:
    reasons: list[str] = []
    hooks = len(t._backward_hooks or {})
    post = len(getattr(t, "_post_accumulate_grad_hooks", None) or {})
    if hooks or post:
        what = [f"{hooks} tensor hook(s)" if hooks else "", f"{post} post-accumulate hook(s)" if post else ""]
        reasons.append(f"{' and '.join(w for w in what if w)} registered on it: they see (and may change) "
                       "its gradient")
    if not t.requires_grad:
        return Finding(name, False, ("it does not require grad: frozen (requires_grad_(False)), made under "
                                     "no_grad, or never asked (requires_grad_() on a leaf)", *reasons))
    if t.is_leaf:
        if any(leaf is t for leaf in graph.leaves):
            if t.grad is not None:
                reasons.append("it already holds a .grad: backward() adds to it (zero it between steps)")
            return Finding(name, True, ("a leaf on the graph: backward() writes its .grad", *reasons))
        others = [_leaf_text(leaf, names) for leaf in graph.leaves if leaf.requires_grad]
        return Finding(name, False, ("not reachable from the loss: the loss was not computed from it "
                                     "(or only through a detach/.item()/a copy made without grad)",
                                     "leaves on the loss's graph: " + (", ".join(others) or "none"),
                                     *reasons))
    reachable = id(t.grad_fn) in nodes
    source = t.grad_fn
    chain = []
    while source is not None and source.name() in COPY_NODES and len(source.next_functions) >= 1:
        chain.append(source.name())
        source = source.next_functions[0][0]
    if chain and source is not None and hasattr(source, "variable"):
        leaf = source.variable
        if "ToCopyBackward0" in chain:
            what, made = "copy", ".to()/.cuda()/.double() after requires_grad=True"
        else:
            what, made = "view or copy", "a view, reshape, .t() or clone() after requires_grad=True"
        reasons.insert(0, f"a non-leaf {what} of a leaf ({' <- '.join(chain)} <- "
                          f"{_leaf_text(leaf, names)}): {made}; "
                          "the gradient goes to that leaf. Fix: make the tensor as it is used first, then "
                          "requires_grad_() (or nn.Parameter after a move)")
    if not reachable:
        return Finding(name, False, ("not reachable from the loss (its grad_fn is not on the graph)",
                                     *reasons))
    if t.retains_grad:
        return Finding(name, True, ("a non-leaf on the graph that retains its grad (retain_grad())", *reasons))
    if chain:
        return Finding(name, False, tuple(reasons))
    return Finding(name, False, ("a non-leaf on the graph: the gradient flows through it, but its .grad "
                                 "stays None (reading it warns \"not a leaf Tensor\")", *reasons,
                                 "to read it: t.retain_grad() before backward(), or torch.autograd.grad(loss, t)"))


@contextmanager
def show_warnings() -> Iterator[list[str]]:
    """Print each warning raised in the block as stable text, instead of a stderr block with paths.

    Each warning becomes ``Category: first line of its message`` (PyTorch's "(Triggered internally
    at …)" tail dropped). A message that carries a traceback (anomaly mode's "Traceback of forward
    call that caused the error") adds one line, ``forward call: <the last line of code>``, without
    file names or line numbers. Every warning is shown, even one already shown before, and also when
    the block raises; the lines are also yielded as a list."""
    lines: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield lines
    finally:  # also when the block raises: its warnings are shown before the error
        _show(caught, lines)


def _show(caught: list[warnings.WarningMessage], lines: list[str]) -> None:
    for w in caught:
        text = str(w.message)
        first = re.split(r"\s*\(Triggered internally at", text.split("\n")[0])[0].strip()
        lines.append(f"{w.category.__name__}: {first}")
        code = [ln.strip() for ln in text.split("\n")[1:]
                if ln.strip() and not ln.strip().startswith(("File ", "(Triggered"))]
        if "Traceback" in first and code:
            lines.append(f"  forward call: {code[-1]}")
    for line in lines:
        print(textwrap.fill(line, WIDTH, subsequent_indent="    "))
