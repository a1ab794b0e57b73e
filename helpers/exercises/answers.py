"""Reading learners' answers: numbers, arrays, names, functions — accepted in any reasonable form.

Introduced in lesson 01 (every lesson's exercises use it); shared by the checks in
``helpers/exercises/lessonNN.py``. The rules, the same for every exercise:

* **Numbers and arrays** (:func:`as_number`, :func:`as_floats`, :func:`as_tensor`): a Python or NumPy
  number, a 0-d or size-1 tensor, a list or tuple (nested or of 0-d tensors), a NumPy array, in any
  real dtype, on any device, requiring grad or not. Shapes must agree after dropping size-1
  dimensions, and only then: a (4, 3) answer is never broadcast onto (3,).
* **Comparisons** (:func:`close`) use a tolerance: relative ``max(1e-5, 4·eps)`` of the answer's own
  dtype (so a float16 answer is not held to float64 precision), never exact float equality.
* **Names** (:func:`normalise_name`, :func:`as_choice`, :func:`as_names`): case, spaces, quotes, a
  ``torch.`` prefix and a trailing ``()`` do not matter; a function or class stands for its name.
* **Functions** (:func:`as_function`, :func:`call`, :func:`learner_code`): an exception raised by the
  learner's code becomes a hint that names it; an exception of the check itself is never blamed on the
  learner (``check`` reports it as the check's own failure). ``check`` also catches, generically, what
  escapes these wrappers: any error whose traceback passes through the learner's code (a generator the
  check consumes, a Function's ``backward`` or a hook the engine runs) is the learner's.
* **Counting** (:class:`Counted`, :func:`count_engine_calls`): "evaluate f once" counts calls of ``f``
  and backward passes through its output; "one backward" counts runs of the autograd engine
  (``backward()`` and ``autograd.grad`` each run it once).
* **Randomness** (:func:`generator`, :func:`build_module`): checks draw from a local
  ``torch.Generator`` and never touch the global RNG.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from helpers.exercises import Hint

__all__ = [
    "Counted",
    "EngineCalls",
    "Floats",
    "Number",
    "as_bool",
    "as_choice",
    "as_floats",
    "as_function",
    "as_int",
    "as_names",
    "as_number",
    "as_tensor",
    "build_module",
    "call",
    "close",
    "count_engine_calls",
    "generator",
    "is_placeholder",
    "is_unanswered",
    "learner_code",
    "normalise_name",
    "tolerance",
]

try:  # NumPy is optional for the checks: answers may be NumPy values only if it is installed
    import numpy as np
except ImportError:  # pragma: no cover - numpy is pinned in requirements.txt
    np = None


# --- not answered yet ---------------------------------------------------------------------------------

def _placeholder_codes() -> list[bytes]:
    def returns_none(*args, **kwargs):
        return None

    def passes(*args, **kwargs):
        pass

    def documented(*args, **kwargs):
        """Only a docstring."""

    return [f.__code__.co_code for f in (returns_none, passes, documented)]


_PLACEHOLDER_CODES = _placeholder_codes()


def is_placeholder(answer: Any) -> bool:
    """True for a function whose body does nothing: ``return None``, ``pass``, ``...`` or only a
    docstring — the lessons' ``def f(...): return None  # your code`` left untouched."""
    code = getattr(answer, "__code__", None)
    if not isinstance(code, type(_placeholder_codes.__code__)):
        return False
    return (code.co_code in _PLACEHOLDER_CODES and not code.co_names and not code.co_freevars
            and all(c is None or c is Ellipsis or isinstance(c, str) for c in code.co_consts))


def is_unanswered(answer: Any) -> bool:
    """``None``, ``...``, an untouched placeholder function (:func:`is_placeholder`), or a pair (tuple
    or list) of them."""
    if isinstance(answer, (tuple, list)) and answer:
        return all(is_placeholder(a) for a in answer)
    return answer is None or answer is Ellipsis or is_placeholder(answer)


# --- numbers and arrays -------------------------------------------------------------------------------

def tolerance(dtype: torch.dtype | None = None) -> float:
    """The relative tolerance for an answer of this dtype: ``max(1e-5, 4·eps)``. Python floats are
    held to 1e-5 too, since they usually come from float32 tensors (``.item()``)."""
    if dtype is None or not dtype.is_floating_point:
        return 1e-5
    return max(1e-5, 4 * torch.finfo(dtype).eps)


class Number(float):
    """A float that remembers the relative tolerance its source dtype allows (see :func:`close`)."""

    rtol: float = 1e-5


class Floats(list):
    """A list of floats that remembers the relative tolerance its source dtype allows."""

    rtol: float = 1e-5


def _kind(answer: Any) -> str:
    if isinstance(answer, str):
        return "a string"
    name = type(answer).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def _is_numpy(answer: Any) -> bool:
    return np is not None and isinstance(answer, (np.ndarray, np.generic))


def _to_tensor(answer: Any, what: str) -> torch.Tensor:
    """Any reasonable numeric answer as a detached CPU tensor (float dtypes kept, others -> float64)."""
    if isinstance(answer, torch.Tensor):
        if answer.is_meta:
            raise Hint(f"{what} is a tensor on the 'meta' device, which has a shape but no values: "
                       "compute it on the CPU (or GPU).")
        t = answer.detach()
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.cpu()
        if t.dtype == torch.bool:
            raise Hint(f"{what} holds numbers; you gave a tensor of True/False values.")
        if t.is_complex():
            raise Hint(f"{what} is real; you gave a complex tensor.")
        return t if t.is_floating_point() else t.to(torch.float64)
    if _is_numpy(answer):
        arr = np.asarray(answer)
        if arr.dtype == np.bool_:
            raise Hint(f"{what} holds numbers; you gave True/False values.")
        if np.iscomplexobj(arr):
            raise Hint(f"{what} is real; you gave complex numbers.")
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise Hint(f"{what} holds numbers; you gave a NumPy array of {arr.dtype}.")
        dtype = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32}.get(arr.dtype)
        return torch.tensor(arr.astype(np.float64)).to(dtype or torch.float64)
    if isinstance(answer, bool):
        raise Hint(f"{what} is a number; you gave {answer} (a bool).")
    if isinstance(answer, numbers.Complex) and not isinstance(answer, numbers.Real):
        raise Hint(f"{what} is real; you gave a complex number.")
    if isinstance(answer, numbers.Real):
        return torch.tensor(float(answer), dtype=torch.float64)
    if isinstance(answer, (list, tuple)):
        if len(answer) == 0:
            raise Hint(f"{what} is not empty; you gave an empty {type(answer).__name__}.")
        parts = [_to_tensor(v, what) for v in answer]
        shapes = {tuple(p.shape) for p in parts}
        if len(shapes) > 1:
            raise Hint(f"{what}: the entries of your {type(answer).__name__} have different shapes "
                       f"{sorted(shapes)}.")
        dtype = parts[0].dtype if len({p.dtype for p in parts}) == 1 else torch.float64
        return torch.stack([p.to(dtype) for p in parts])
    if isinstance(answer, str):
        raise Hint(f"give {what} without quotes: it is numeric, not a string.")
    if isinstance(answer, (set, frozenset)):
        raise Hint(f"a set has no order: give {what} as a list, e.g. [1.0, 2.0, 3.0].")
    raise Hint(f"give {what} as numbers (a number, a list or a tensor), not {_kind(answer)}.")


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def _describe_shape(shape: tuple[int, ...]) -> str:
    if not shape:
        return "a single number"
    if len(shape) == 1:
        return f"{shape[0]} numbers"
    return f"shape {shape}"


def as_tensor(answer: Any, shape: tuple[int, ...] | torch.Size, what: str = "the answer") -> torch.Tensor:
    """The answer as a detached CPU tensor of exactly ``shape``, in its own float dtype (integers and
    Python numbers become float64). Shapes are compared after dropping size-1 dimensions: (1, 3),
    (3, 1) and (3,) all stand for 3 numbers, but (4, 3) never does. NaN or infinity is rejected."""
    shape = tuple(shape)
    t = _to_tensor(answer, what)
    if _squeezed(tuple(t.shape)) != _squeezed(shape):
        raise Hint(f"{what} is {_describe_shape(_squeezed(shape))}; you gave "
                   f"{_describe_shape(_squeezed(tuple(t.shape)))}"
                   + (f" (shape {tuple(t.shape)})." if t.dim() > 1 else "."))
    t = t.reshape(shape)
    if not torch.isfinite(t).all():
        raise Hint(f"{what} contains nan or inf: check your computation.")
    return t


def as_number(answer: Any, what: str = "the answer") -> Number:
    """A single number: int, float, NumPy scalar, 0-d or size-1 tensor/array/list, any real dtype.
    Returns a :class:`Number` (a float) that carries the tolerance of its source dtype."""
    t = as_tensor(answer, (), what)
    number = Number(t.item())
    number.rtol = tolerance(t.dtype if t.dtype != torch.float64 or isinstance(answer, torch.Tensor)
                            else None)
    return number


def as_floats(answer: Any, n: int, what: str) -> Floats:
    """``n`` numbers (a list, tuple, tensor or array of any real dtype) as a :class:`Floats` list."""
    t = as_tensor(answer, (n,), what)
    floats = Floats(float(v) for v in t.tolist())
    floats.rtol = tolerance(t.dtype if isinstance(answer, torch.Tensor) or t.dtype != torch.float64 else None)
    return floats


def as_int(answer: Any, what: str = "the answer") -> int:
    """A whole number: int, NumPy integer, a float or size-1 tensor with an integral value."""
    value = as_tensor(answer, (), what).item()
    if value != math.floor(value):
        raise Hint(f"{what} is a whole number; you gave {value:g}.")
    return int(value)


def close(a: Any, b: Any, rtol: float | None = None, atol: float | None = None) -> bool:
    """``a`` (the answer) equals ``b`` (the expected value) up to a tolerance, elementwise:
    ``|a − b| ≤ atol + rtol·|b|``. Numbers, lists, arrays or tensors of any dtype and device; shapes
    must agree after dropping size-1 dimensions. ``rtol`` defaults to the answer's own tolerance
    (:func:`tolerance` of its dtype, or the ``rtol`` that :func:`as_number` / :func:`as_floats`
    attached), ``atol`` to ``rtol`` times the largest expected magnitude (at least 1)."""
    if rtol is None:
        rtol = getattr(a, "rtol", None)
        if rtol is None:
            rtol = tolerance(a.dtype) if isinstance(a, torch.Tensor) else tolerance()
    try:
        ta, tb = _to_tensor(a, "a").to(torch.float64), _to_tensor(b, "b").to(torch.float64)
    except Hint:
        return False
    if _squeezed(tuple(ta.shape)) != _squeezed(tuple(tb.shape)):
        return False
    ta, tb = ta.reshape(tb.shape), tb
    if atol is None:
        atol = rtol * max(1.0, tb.abs().max().item() if tb.numel() else 1.0)
    return bool(((ta - tb).abs() <= atol + rtol * tb.abs()).all())


# --- booleans and names -------------------------------------------------------------------------------

_QUOTES = "'\"`‘’“”"


def normalise_name(name: Any) -> str:
    """One spelling for a name: lower case, no spaces or quotes, no ``torch.`` prefix, no trailing
    ``()``. A function, method or class stands for its ``__name__`` (``torch.no_grad`` -> "no_grad")."""
    if not isinstance(name, str):
        name = getattr(name, "__name__", None)
        if not isinstance(name, str):
            raise TypeError("normalise_name takes a string or a named function/class")
    key = "".join(name.split()).strip(_QUOTES).lower()
    while True:
        before = key
        key = key.strip(_QUOTES)
        if key.startswith("torch."):
            key = key[len("torch."):]
        if key.endswith("()"):
            key = key[:-2]
        if key == before:
            return key


def _key(name: str, loose: bool) -> str:
    return name.replace("_", "").replace("-", "") if loose else name


def as_choice(answer: Any, choices: dict[str, tuple[str, ...]] | list[str], what: str = "the answer") -> str:
    """The choice the answer names. ``choices`` maps each canonical choice to its other accepted
    spellings (all compared through :func:`normalise_name`); a plain list has no other spellings."""
    if not isinstance(choices, dict):
        choices = {c: () for c in choices}
    listed = ", ".join(f'"{c}"' for c in choices)
    if not isinstance(answer, str) and not callable(answer):
        raise Hint(f"answer with one of the strings {listed}; you gave {_kind(answer)}.")
    try:
        key = normalise_name(answer)
    except TypeError:
        raise Hint(f"answer with one of the strings {listed}.") from None
    for loose in (False, True):  # exact spelling first; then "no grad", "no-grad", "nograd" too
        for choice, aliases in choices.items():
            if _key(key, loose) in {_key(normalise_name(c), loose) for c in (choice, *aliases)}:
                return choice
    raise Hint(f"answer with one of the strings {listed}.")


def as_bool(answer: Any, what: str = "the answer") -> bool:
    """True or False: a bool, a NumPy bool, a one-element bool tensor, or the string "True"/"False"."""
    if isinstance(answer, torch.Tensor) and answer.dtype == torch.bool and answer.numel() == 1:
        return bool(answer.item())
    if np is not None and isinstance(answer, np.bool_):
        return bool(answer)
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, str) and normalise_name(answer) in ("true", "false"):
        return normalise_name(answer) == "true"
    raise Hint(f"answer True or False; you gave {_kind(answer)}.")


def as_names(answer: Any, what: str = "the names") -> set[str]:
    """A set of names: a set, list or tuple of strings, or one string ("w" or "w, x"); each name
    normalised (:func:`normalise_name`)."""
    if isinstance(answer, str):
        answer = answer.replace(",", " ").strip("{}[]() ").split()
    if not isinstance(answer, (set, frozenset, list, tuple)):
        raise Hint(f'give {what} as a set of strings, e.g. {{"a", "b"}}; you gave {_kind(answer)}.')
    if not all(isinstance(a, str) for a in answer):
        bad = next(a for a in answer if not isinstance(a, str))
        raise Hint(f'give {what} as strings, e.g. {{"a", "b"}}, not the objects themselves '
                   f"(you gave {_kind(bad)}).")
    return {normalise_name(a) for a in answer if normalise_name(a)}


# --- the learner's functions --------------------------------------------------------------------------

def as_function(answer: Any, exercise_id: str, name: str) -> Callable[..., Any]:
    """The learner's function itself (not its result)."""
    if not callable(answer):
        raise Hint(f"give the function itself: check('{exercise_id}', {name}); you gave {_kind(answer)}.")
    return answer


@contextlib.contextmanager
def learner_code(what: str) -> Iterator[None]:
    """Run code that calls the learner's code (their function, or a hook they wrote, inside a
    backward the check runs): an exception there becomes a hint naming ``what`` and the error."""
    try:
        yield
    except Hint:
        raise
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Hint(f"{what} raised {type(exc).__name__}" + (f": {message}" if message else "")) from exc


def call(fn: Callable[..., Any], *args: Any, what: str = "your function") -> Any:
    """``fn(*args)`` with grad mode on, an exception turned into a hint (see :func:`learner_code`)."""
    with learner_code(what), torch.enable_grad():
        return fn(*args)


# --- counting what "once" means -----------------------------------------------------------------------

@dataclass
class EngineCalls:
    """Runs of the autograd engine while counting: ``backward`` (``.backward()`` /
    ``autograd.backward``, which accumulate into ``.grad``) and ``grad`` (``autograd.grad``)."""

    kinds: list[str] = field(default_factory=list)
    batched: int = 0  # runs that backpropagated a batch of vectors at once (vmap, is_grads_batched)

    @property
    def total(self) -> int:
        return len(self.kinds)

    @property
    def backward(self) -> int:
        return self.kinds.count("backward")

    @property
    def grad(self) -> int:
        return self.kinds.count("grad")


def _is_batched(t: Any) -> bool:
    """True for a tensor inside ``vmap`` (torch.func's or the legacy one ``is_grads_batched`` uses)."""
    if not isinstance(t, torch.Tensor):
        return False
    functorch = getattr(torch._C, "_functorch", None)
    return any(getattr(functorch, name, lambda _: False)(t)
               for name in ("is_batchedtensor", "is_legacy_batchedtensor"))


@contextlib.contextmanager
def count_engine_calls(_fallback: bool = False) -> Iterator[EngineCalls]:
    """Count the runs of the autograd engine inside the block. ``Tensor.backward()``,
    ``autograd.backward`` and ``autograd.grad`` all go through ``torch.autograd._engine_run_backward``
    (torch 2.x), which is wrapped for the block only and restored afterwards; where a torch version
    lacks it, ``autograd.backward`` and ``autograd.grad`` themselves are wrapped. ``batched`` counts
    the runs that pushed a whole batch of vectors at once (a Jacobian built by ``vmap``)."""
    import torch.autograd as autograd

    calls = EngineCalls()
    if hasattr(autograd, "_engine_run_backward") and not _fallback:
        original = autograd._engine_run_backward

        def counting(t_outputs, *args, **kwargs):
            accumulate = kwargs.get("accumulate_grad", args[-1] if args else True)
            calls.kinds.append("backward" if accumulate else "grad")
            grads = args[0] if args else kwargs.get("grad_tensors", ())
            if any(_is_batched(g) for g in (grads or ())):
                calls.batched += 1
            return original(t_outputs, *args, **kwargs)

        patches = {"_engine_run_backward": counting}
    else:  # a torch version without it (tests use _fallback=True)
        def wrap(name: str, kind: str):
            fn = getattr(autograd, name)

            def counted(*args, **kwargs):
                calls.kinds.append(kind)
                return fn(*args, **kwargs)

            return counted

        patches = {"backward": wrap("backward", "backward"), "grad": wrap("grad", "grad")}
    saved = {name: getattr(autograd, name) for name in patches}
    for name, fn in patches.items():
        setattr(autograd, name, fn)
    try:
        yield calls
    finally:
        for name, fn in saved.items():
            setattr(autograd, name, fn)


class Counted:
    """Wraps a loss ``f(x, y)`` (a function or a module): counts evaluations (``calls``) and backward
    passes through its output (``backward_passes``: a hook on each output tensor counts the gradients
    that flow into it)."""

    def __init__(self, fn: Callable[..., torch.Tensor]):
        self.fn = fn
        self.calls = 0
        self.backward_passes = 0

    def _seen(self, grad: torch.Tensor) -> None:
        self.backward_passes += 1

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        self.calls += 1
        out = self.fn(*args, **kwargs)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            out.register_hook(self._seen)
        return out


# --- randomness ---------------------------------------------------------------------------------------

def generator(seed: int | None = None) -> torch.Generator:
    """A local CPU generator: seeded with ``seed``, or fresh from the operating system's entropy so
    that a hard-coded answer cannot pass. The global RNG is never touched."""
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    return torch.Generator().manual_seed(seed)


def build_module(factory: Callable[[], torch.nn.Module], gen: torch.Generator) -> torch.nn.Module:
    """``factory()`` with its parameters redrawn from ``gen`` (normal, scaled by 1/√fan-in). The
    module's own initialisation draws from the global RNG, so it runs inside ``fork_rng``, which puts
    the global state back afterwards."""
    with torch.random.fork_rng(devices=[]):
        module = factory()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) / max(1, p.shape[-1]) ** 0.5)
    return module
