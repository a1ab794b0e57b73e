"""Exercise checks: ``check("01.2", answer)`` says "correct" or gives a hint for the usual mistakes.

Introduced in lesson 01; every lesson ends with exercises checked here. Each lesson's checks live in
``helpers/exercises/lessonNN.py`` and register themselves with :func:`exercise`. Solutions are kept
apart, in ``solutions/``, for instructors (:func:`show_solution` prints one); the test suite runs every
solution through its check, so no exercise ships unsolvable.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import linecache
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["Feedback", "Hint", "check", "exercise", "exercise_ids", "show_solution", "solution_function"]

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"

#: what check() says to a ``None`` answer: the placeholder ``answer = None`` left as it is and a value
#: computed as None (``answer = u.grad`` before ``backward()``) look the same to it, so it names both
NONE_ANSWER = ("Not answered yet, or your answer is None. If the cell still says `answer = None`, replace "
               "the None with your answer and run the cell again. If you computed it: a tensor's .grad is "
               "None until backward() has filled it (and stays None for a tensor that gets no gradient), "
               "so call backward() first, then read .grad.")


class Hint(Exception):
    """Raised by a check to reject an answer; its message is the hint shown to the learner."""


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer. ``correct`` is True or False; ``message`` says why."""

    exercise: str
    correct: bool
    message: str

    def __repr__(self) -> str:
        mark = "✅ correct" if self.correct else "❌ not yet"
        return f"Exercise {self.exercise}: {mark}. {self.message}"

    def __bool__(self) -> bool:
        return self.correct


@dataclass(frozen=True)
class _Exercise:
    id: str
    title: str
    checker: Callable[[Any], str]


_REGISTRY: dict[str, _Exercise] = {}


def exercise(exercise_id: str, title: str) -> Callable[[Callable[[Any], str]], Callable[[Any], str]]:
    """Register a check. The decorated function takes the answer, raises :class:`Hint` to reject
    it, and returns the message for a correct answer."""

    def register(checker: Callable[[Any], str]) -> Callable[[Any], str]:
        if exercise_id in _REGISTRY:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        _REGISTRY[exercise_id] = _Exercise(exercise_id, title, checker)
        return checker

    return register


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("lesson"):
            importlib.import_module(f"{__name__}.{info.name}")


def exercise_ids() -> list[str]:
    """Every registered exercise, in lesson order."""
    _load_all()
    return sorted(_REGISTRY)


def check(exercise_id: str, answer: Any) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id`` ("01.1", "02.3", …).

    Returns a :class:`Feedback` whose text says "correct" or gives a hint. An answer ``...`` or the
    lesson's untouched placeholder function is reported as not answered yet, and so is ``None`` when
    the calling cell certainly is the untouched placeholder (:func:`_untouched_placeholder`); any
    other ``None`` gets one message that names both of its causes, the placeholder and a computation
    that gave ``None`` (a ``.grad`` read before ``backward()``). An
    exception raised by the learner's code becomes a hint that names it; an exception of the check
    itself is reported as the check's failure, never blamed on the answer. "The learner's code" is
    every frame the error passed through that is not the workshop's ``helpers``, PyTorch or Python's own
    library (:func:`_learner_frame`): a function the check called, a generator it consumed, a hook or a
    ``backward`` the autograd engine ran. The check runs with grad mode on and inference mode off, and
    leaves both, and the global RNG, as they were.
    """
    from helpers.exercises.answers import is_unanswered

    _load_all()
    if exercise_id not in _REGISTRY:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(_REGISTRY))}")
    ex = _REGISTRY[exercise_id]
    if answer is None and not _untouched_placeholder():
        return Feedback(exercise_id, False, NONE_ANSWER)
    if is_unanswered(answer):
        what = ("write the function's body" if callable(answer) else "write the functions' bodies"
                if isinstance(answer, (tuple, list)) else "replace the `None` with your answer")
        return Feedback(exercise_id, False, f"Not answered yet: {what} and run the cell again.")
    grad_enabled = torch.is_grad_enabled()
    try:
        # grad mode on and inference mode off, whatever the learner's kernel has: both restored after
        with torch.inference_mode(False), torch.enable_grad():
            message = ex.checker(answer)
    except Hint as hint:
        return Feedback(exercise_id, False, f"Hint: {hint}")
    except Exception as exc:
        where = _learner_frame(exc)
        if where is not None:  # raised in (or below) the learner's code, whichever way the check called it
            return Feedback(exercise_id, False, f"Hint: {_describe_learner_error(exc, where)}")
        if _refused_by_autograd(exc):  # what the learner's backward or hook returned, checked by the engine
            first = str(exc).strip().splitlines()[0]
            return Feedback(exercise_id, False, "Hint: autograd refused what your Function's backward or "
                                                f"your hook returned: {first}")
        return Feedback(exercise_id, False, f"The check itself failed ({type(exc).__name__}: {exc}). "
                                            "This is a bug in the workshop, not a verdict on your "
                                            "answer: please tell the instructor.")
    finally:
        torch.set_grad_enabled(grad_enabled)
    return Feedback(exercise_id, True, message)


def _untouched_placeholder() -> bool:
    """True only when check()'s caller is module-level code (a notebook cell, a script) whose source
    linecache knows and is the lesson's placeholder cell as shipped: an ``answer = None`` line and
    ``check(...)`` (or ``name = check(...)``) lines, nothing else but comments and blank lines.
    Anything else (no source, ``check("01.1", None)`` typed directly, ``answer`` computed in this cell
    or in another one) is not certain, and gets :data:`NONE_ANSWER`."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    if caller is None or caller.f_code.co_name != "<module>":
        return False
    lines = [line.split("#", 1)[0].strip()
             for line in linecache.getlines(caller.f_code.co_filename, caller.f_globals)]
    code = [line for line in lines if line]
    return (sum(re.fullmatch(r"answer\s*=\s*None", line) is not None for line in code) == 1
            and all(re.fullmatch(r"answer\s*=\s*None|(\w+\s*=\s*)?check\(.*", line)
                    for line in code))


def _not_learner_roots() -> tuple[str, ...]:
    """Folders whose code is never the learner's: the workshop's helpers, PyTorch, Python's library."""
    import sysconfig

    roots = {Path(__file__).resolve().parents[1], Path(torch.__file__).resolve().parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(Path(path).resolve())
    return tuple(str(r) + "/" for r in roots)


_NOT_LEARNER = _not_learner_roots()


def _is_learner_file(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen ...> is Python's; <ipython-input-…>, <string> are the learner's
        return not filename.startswith("<frozen")
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, RuntimeError):  # pragma: no cover - unreadable path
        resolved = filename
    return not any(resolved.startswith(root) for root in _NOT_LEARNER)


def _is_learner_frame(frame: Any) -> bool:
    """A frame of the learner's code. Code compiled from a string (``<string>``: the methods that
    ``dataclasses`` and ``namedtuple`` generate) counts as the code of the module whose globals it
    runs in, so a check's own frozen-dataclass bug is not the learner's."""
    filename = frame.f_code.co_filename
    if filename.startswith("<") and not filename.startswith("<frozen"):
        module_file = frame.f_globals.get("__file__")
        if isinstance(module_file, str) and not _is_learner_file(module_file):
            return False
    return _is_learner_file(filename)


def _learner_frame(exc: BaseException) -> Any:
    """The innermost traceback frame of ``exc`` that is the learner's code (or None). The traceback
    includes the frames of code that PyTorch's engine called back (a hook, a Function's ``backward``)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if _is_learner_frame(tb.tb_frame):
            found = tb.tb_frame
        tb = tb.tb_next
    return found


#: PyTorch's words when the engine checks what a custom Function's backward or a tensor hook returned:
#: code that only the learner writes in these exercises (the checks define no Function and no hook that
#: returns a gradient)
_AUTOGRAD_REFUSALS = (
    re.compile(r"^Function \w+ returned an (invalid gradient|incorrect number of gradients)"),
    re.compile(r"^function \w+ returned an incorrect number of gradients"),
    re.compile(r"^hook '.*' has changed the (size|type|device)"),
)


def _refused_by_autograd(exc: BaseException) -> bool:
    text = str(exc).strip()
    return isinstance(exc, RuntimeError) and any(p.search(text) for p in _AUTOGRAD_REFUSALS)


def _describe_learner_error(exc: BaseException, frame: Any) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    name = frame.f_code.co_name
    where = "your code" if name.startswith("<") else f"your code (in {name})"
    return f"{where} raised {type(exc).__name__}" + (f": {first}" if first else "")


def solution_function(exercise_id: str) -> Callable[[], Any]:
    """The function in ``solutions/`` that returns the answer to ``exercise_id`` (for instructors
    and tests): ``solutions/lessonNN.py``, function ``solve_NN_K``."""
    lesson, number = exercise_id.split(".")
    path = SOLUTIONS_DIR / f"lesson{lesson}.py"
    if not path.exists():
        raise FileNotFoundError(f"no solutions file {path}: solutions ship with the repository, not with Colab")
    spec = importlib.util.spec_from_file_location(f"_solutions_lesson{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, f"solve_{lesson}_{number}")


def show_solution(exercise_id: str) -> None:
    """Print the solution of an exercise (instructors: reveal it after the exercise)."""
    print(inspect.getsource(solution_function(exercise_id)))
