"""Hooks on autograd Nodes: a trace of the order in which hooks run, and two one-pass methods.

Introduced in lesson 10 (steering at the node level).

* :class:`HookTrace` makes hooks of every kind (tensor hooks, Node pre-hooks and post-hooks,
  post-accumulate-grad hooks) that record, when autograd calls them, what they received and what the
  watched ``.grad`` attributes held at that moment. Its text form is the table lesson 10 prints; its
  :meth:`HookTrace.order` is what the lesson's assertions compare.
* :func:`prehook_on_alias` and :func:`hook_on_alias` answer the seed question (lesson 06) with one
  backward: ``f`` gets an alias of ``x`` (``x.view_as(x)``) that nothing else uses, and the flip is
  attached to the alias, as a Node pre-hook on its ``ViewBackward0`` or as a tensor hook. They take
  ``(x, y, f)`` like the methods of :mod:`helpers.compute_once`. The alias is a view: if ``f``
  changes its input in place, the hooked node leaves the path and the flip is lost silently (no
  error); ``f(x.clone(), y)`` keeps both exact (lesson 10 measures both cases).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["HookCall", "HookTrace", "hook_on_alias", "prehook_on_alias"]

Change = Callable[[torch.Tensor], torch.Tensor]


def _values(t: torch.Tensor | None) -> str:
    if t is None:
        return "None"
    return "[" + ", ".join(f"{v:g}" for v in t.detach().flatten().tolist()) + "]"


@dataclass(frozen=True)
class HookCall:
    """One call of a traced hook: its label, its kind, the gradient it received (for a post-hook,
    the ``grad_inputs`` it may replace; for a post-accumulate-grad hook, the tensor's ``.grad``) and
    the text of each watched ``.grad`` at that moment."""

    label: str
    kind: str
    received: str
    watched: tuple[tuple[str, str], ...]

    def saw(self, name: str) -> str:
        """What the watched attribute ``name`` held when this hook ran (``"None"`` or values)."""
        for key, value in self.watched:
            if key == name:
                return value
        raise KeyError(f"{name!r} is not watched; watched: {[k for k, _ in self.watched]}")


class HookTrace:
    """Hooks that record the order in which autograd calls them.

    ``watch`` maps names to functions without arguments that return a tensor or ``None`` (usually
    ``lambda: h.grad``); every call records what they returned then. Each factory takes a label and
    an optional ``change`` (gradient -> new gradient) that the hook applies and returns, so that a
    later hook, or ``.grad``, shows whether it saw the change::

        trace = HookTrace(watch={"h.grad": lambda: h.grad})
        h.register_hook(trace.tensor_hook("tensor hook on h", change=lambda g: g * 10))
        h.grad_fn.register_prehook(trace.prehook("pre-hook on MulBackward0"))
        loss.backward()
        print(trace)          # one row per call, in order
        trace.order()         # the labels, in order
    """

    def __init__(self, watch: Mapping[str, Callable[[], torch.Tensor | None]] | None = None):
        watch = dict(watch or {})
        for name, fn in watch.items():
            if not callable(fn):
                raise TypeError(f"watch[{name!r}] must be a function returning a tensor or None")
        self._watch = watch
        self.calls: list[HookCall] = []

    def _record(self, label: str, kind: str, received: torch.Tensor | None) -> None:
        watched = tuple((name, _values(fn())) for name, fn in self._watch.items())
        self.calls.append(HookCall(label, kind, _values(received), watched))

    @staticmethod
    def _check(label: str, change: Change | None) -> None:
        if not isinstance(label, str) or not label:
            raise TypeError("a hook's label must be a non-empty string")
        if change is not None and not callable(change):
            raise TypeError("change must be a function gradient -> new gradient, or None")

    def tensor_hook(self, label: str, change: Change | None = None) -> Callable[[torch.Tensor], Any]:
        """For ``t.register_hook``: receives the gradient with respect to ``t``."""
        self._check(label, change)

        def hook(grad: torch.Tensor) -> torch.Tensor | None:
            self._record(label, "tensor hook", grad)
            return None if change is None else change(grad)

        return hook

    def prehook(self, label: str, change: Change | None = None) -> Callable[[tuple], Any]:
        """For ``node.register_prehook``: receives ``grad_outputs`` (the gradients with respect to
        the node's outputs); ``change`` is applied to the first."""
        self._check(label, change)

        def hook(grad_outputs: tuple) -> tuple | None:
            self._record(label, "Node pre-hook", grad_outputs[0])
            return None if change is None else (change(grad_outputs[0]), *grad_outputs[1:])

        return hook

    def posthook(self, label: str, change: Change | None = None) -> Callable[[tuple, tuple], Any]:
        """For ``node.register_hook``: receives ``(grad_inputs, grad_outputs)``; records the first
        of ``grad_inputs`` (what the node computed for its first input; ``None`` for an
        ``AccumulateGrad``, which has no inputs) and applies ``change`` to it."""
        self._check(label, change)

        def hook(grad_inputs: tuple, grad_outputs: tuple) -> tuple | None:
            first = grad_inputs[0] if grad_inputs else None
            self._record(label, "Node post-hook", first)
            if change is None or first is None:
                return None
            return (change(first), *grad_inputs[1:])

        return hook

    def post_accumulate(self, label: str) -> Callable[[torch.Tensor], None]:
        """For ``p.register_post_accumulate_grad_hook``: receives the leaf itself, ``.grad`` filled."""
        self._check(label, None)

        def hook(param: torch.Tensor) -> None:
            self._record(label, "post-accumulate-grad hook", param.grad)

        return hook

    def order(self) -> list[str]:
        """The labels of the calls, in the order autograd made them."""
        return [c.label for c in self.calls]

    def __getitem__(self, label: str) -> HookCall:
        for c in self.calls:
            if c.label == label:
                return c
        raise KeyError(f"no call labelled {label!r}; calls: {self.order()}")

    def __repr__(self) -> str:
        names = list(self._watch)
        rows = [["step", "hook", "kind", "received", *names]]
        rows += [[str(i), c.label, c.kind, c.received, *(v for _, v in c.watched)]
                 for i, c in enumerate(self.calls, start=1)]
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines) if self.calls else "no hook has run yet"


# --- two more one-pass answers to the seed question (lesson 10, section 6) -------------------------

def prehook_on_alias(x: torch.Tensor, y: torch.Tensor, f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """One backward: ``f`` gets an alias of ``x``; a Node pre-hook on the alias's node (where f's
    use of x starts) negates the gradient f sends to x. Nothing else uses the alias, so other uses
    of ``x`` are not flipped; the hook goes with the alias's graph."""
    x_in_f = x.view_as(x)  # a ViewBackward0 node that only f's path passes through
    x_in_f.grad_fn.register_prehook(lambda grad_outputs: (-grad_outputs[0],))
    f(x_in_f, y).backward()


def hook_on_alias(x: torch.Tensor, y: torch.Tensor, f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """One backward: the accepted answer's tensor hook, but on an alias of ``x`` that only ``f``
    uses, so that other uses of ``x`` are not flipped."""
    x_in_f = x.view_as(x)
    x_in_f.register_hook(lambda grad: -grad)
    f(x_in_f, y).backward()
