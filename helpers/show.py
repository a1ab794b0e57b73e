"""Printing tensors and code so that a stored output is the same on every device and run.

Introduced in lesson 01. ``print(w.grad)`` shows ``device='cuda:0'`` on a GPU and every digit of
float rounding noise; :func:`fmt` prints values rounded, without the device, so that the stored
output of a cell is the same on a laptop's CPU and on a GPU. :func:`show_source` prints a helper's
code in a lesson, so that a lesson can teach code that a benchmark also runs.
:func:`expect_error` shows an error a lesson talks about, as a stable one-paragraph message;
:func:`expect_warning` does the same for a warning.
"""

from __future__ import annotations

import inspect
import io
import math
import re
import textwrap
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = ["FigurePicture", "error_message", "expect_error", "expect_warning", "fmt", "show_source"]


#: Tensors and arrays with more elements than this are summarised, as ``print(tensor)`` does.
SUMMARY_THRESHOLD = 1000
#: How many entries a summarised dimension shows at each end.
EDGE_ITEMS = 3


def _number(v: float, decimals: int) -> str:
    r = round(float(v), decimals)
    return repr(r + 0.0)  # "+ 0.0" turns -0.0 into 0.0


def _complex(v: complex, decimals: int) -> str:
    im = round(v.imag, decimals) + 0.0
    sign = "-" if im < 0 else "+"
    return f"({_number(v.real, decimals)}{sign}{abs(im)!r}j)"


def _edges(value: Any) -> Any:
    """Keep the first and last ``EDGE_ITEMS`` entries of every long dimension (``...`` between)."""
    if value.ndim == 0:
        return value.item()
    if len(value) > 2 * EDGE_ITEMS:
        head = [_edges(v) for v in value[:EDGE_ITEMS]]
        tail = [_edges(v) for v in value[-EDGE_ITEMS:]]
        return [*head, Ellipsis, *tail]
    return [_edges(v) for v in value]


def fmt(value: Any, decimals: int = 4) -> str:
    """A tensor, number or None as short text, rounded to ``decimals``.

    ``fmt(torch.tensor([1.0, 2.5]))`` is ``'[1.0, 2.5]'``; a 0-dim tensor or a float gives one number;
    ``None`` gives ``'None'``. Nested lists keep their shape. NumPy scalars and arrays are printed like
    numbers and tensors, complex numbers as ``(1.0+2.0j)``. A tensor or array of more than
    :data:`SUMMARY_THRESHOLD` elements is summarised as ``print`` does: the first and last
    :data:`EDGE_ITEMS` entries of each long dimension, ``...`` between, then its shape.

    Raises:
        TypeError: ``value`` is something else (a string, a dict, ...), or ``decimals`` is not an int.
        ValueError: ``decimals`` is negative.
    """
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"decimals must be an int, got {type(decimals).__name__}")
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")
    return _fmt(value, decimals)


def _fmt(value: Any, decimals: int) -> str:
    if value is None:
        return "None"
    if value is Ellipsis:
        return "..."
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            if value.layout != torch.strided:  # sparse: printed as the dense tensor it stands for
                value = value.to_dense()
            if value.is_floating_point():
                value = value.double()
            elif value.is_complex():
                value = value.to(torch.complex128)
        if value.ndim > 0 and math.prod(value.shape) > SUMMARY_THRESHOLD:
            return f"{_fmt(_edges(value), decimals)} (shape {tuple(value.shape)}, summarised)"
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v, decimals) for v in value) + "]"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value, decimals)
    if isinstance(value, complex):
        return _complex(value, decimals)
    raise TypeError(f"fmt takes a tensor, an array, a number, a list of them or None, got {type(value).__name__}")


def show_source(obj: Callable[..., Any] | type) -> None:
    """Print the source code of a function or class (the lesson shows the code a helper runs)."""
    if not (inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isclass(obj)):
        raise TypeError(f"show_source takes a function or a class, got {type(obj).__name__}")
    print(textwrap.dedent(inspect.getsource(obj)).rstrip())


_DEVICE_TYPE = re.compile(r"torch\.cuda\.(\w+Tensor)")


def error_message(exc: BaseException) -> str:
    """``"TypeName: message"`` without what differs between machines: the device in tensor type
    names (``torch.cuda.FloatTensor`` -> ``torch.FloatTensor``), PyTorch's "Hint: …" and
    "(Triggered internally at /path/…)" tails, wrapped at 100 columns."""
    if not isinstance(exc, BaseException):
        raise TypeError(f"error_message takes an exception, got {type(exc).__name__}")
    text = _DEVICE_TYPE.sub(r"torch.\1", str(exc)).split("\n")[0]
    text = re.split(r"\s*(?:Hint:|\(Triggered internally at)", text)[0].strip()
    return textwrap.fill(f"{type(exc).__name__}: {text}", width=100, subsequent_indent="    ")


@contextmanager
def expect_error(*types: type[BaseException], contains: str | None = None) -> Iterator[None]:
    """Run a block that must fail, and print the error instead of a traceback.

    ``with expect_error(RuntimeError): y.backward()`` prints ``RuntimeError: …`` (see
    :func:`error_message`): use it where the learner must recognise PyTorch's exact words.
    ``with expect_error(RuntimeError, contains="modified by an inplace operation"): …`` checks that the
    message contains that phrase (case-insensitive) and prints only ``RuntimeError: …modified by an
    inplace operation…``: use it where the wording around the phrase (tensor names, version counts) may
    change between PyTorch versions and is not the point.

    It raises ``AssertionError`` when the block does *not* fail, or fails without the phrase, so a
    lesson that claims an error cannot silently stop showing it.
    """
    if not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        bad = next(t for t in types if not (isinstance(t, type) and issubclass(t, BaseException)))
        raise TypeError(f"expect_error takes exception classes such as RuntimeError, got {bad!r}")
    if contains is not None and (not isinstance(contains, str) or not contains.strip()):
        raise ValueError(f"contains must be a non-empty phrase, got {contains!r}")
    expected = types or (Exception,)
    try:
        yield
    except expected as exc:
        if contains is None:
            print(error_message(exc))
            return
        message = " ".join(str(exc).split())
        if contains.lower() not in message.lower():
            raise AssertionError(f"{type(exc).__name__} was raised, but its message does not contain "
                                 f"{contains!r}: {message[:300]}") from exc
        print(f"{type(exc).__name__}: …{contains}…")
    else:
        raise AssertionError(f"expected {' or '.join(t.__name__ for t in expected)}, but nothing was raised")


@contextmanager
def expect_warning(*categories: type[Warning], contains: str | None = None) -> Iterator[None]:
    """Run a block that must warn, and print the first matching warning as stable text.

    Prints ``UserWarning: …`` (the first line, without PyTorch's "(Triggered internally at …)" tail,
    wrapped at 100 columns), or with ``contains`` only ``UserWarning: …phrase…``. Every warning is
    caught while the block runs (``simplefilter("always")``), so a warning that Python already showed
    once is caught again. It raises ``AssertionError`` when no matching warning is raised. (A warning
    that PyTorch itself issues only once per process cannot be caught a second time.)
    """
    expected = categories or (Warning,)
    if not all(isinstance(c, type) and issubclass(c, Warning) for c in expected):
        raise TypeError(f"expect_warning takes warning classes such as UserWarning, got {expected!r}")
    if contains is not None and (not isinstance(contains, str) or not contains.strip()):
        raise ValueError(f"contains must be a non-empty phrase, got {contains!r}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        message = " ".join(str(w.message).split())
        if not issubclass(w.category, expected):
            continue
        if contains is None:
            text = re.split(r"\s*\(Triggered internally at", message)[0].strip()
            print(textwrap.fill(f"{w.category.__name__}: {text}", width=100, subsequent_indent="    "))
            return
        if contains.lower() in message.lower():
            print(f"{w.category.__name__}: …{contains}…")
            return
    seen = "; ".join(str(w.message)[:120] for w in caught) or "none"
    raise AssertionError(f"expected a {' or '.join(c.__name__ for c in expected)}"
                         f"{f' containing {contains!r}' if contains else ''}; warnings seen: {seen}")


class FigurePicture:
    """A matplotlib figure that Jupyter shows as a PNG, with a plain-text form that says what it shows
    (instead of ``<Figure size 640x480 with 2 Axes>``), whatever matplotlib backend is active.

    ``FigurePicture(fig, "what it shows")``; ``.figure`` is the figure itself.
    """

    def __init__(self, figure: Any, text: str):
        if not hasattr(figure, "savefig"):
            raise TypeError(f"FigurePicture takes a matplotlib figure, got {type(figure).__name__}")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"FigurePicture needs a text that says what the figure shows, got {text!r}")
        self.figure = figure
        self.text = text

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def __repr__(self) -> str:
        return self.text
