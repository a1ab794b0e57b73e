"""The answer-normalising layer (helpers/exercises/answers.py): property-based tests with hypothesis,
and examples of the forms it must accept and the mistakes it must name."""

import math
import os
import string
import tempfile

# Hypothesis keeps caches in ./.hypothesis; put them in a temporary folder so that the tests write
# nothing into the repository.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      os.path.join(tempfile.gettempdir(), "autograd-workshop-hypothesis"))

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.exercises import Hint
from helpers.exercises.answers import (
    Counted,
    as_bool,
    as_choice,
    as_floats,
    as_function,
    as_int,
    as_names,
    as_number,
    as_tensor,
    build_module,
    call,
    close,
    count_engine_calls,
    generator,
    is_placeholder,
    is_unanswered,
    normalise_name,
    tolerance,
)

# no example database: the tests write nothing into the repository (no .hypothesis/ folder)
SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def forms(values: list, shape: tuple) -> list:
    """The same numbers in every form a learner might give them (CPU tensors of each float dtype, with
    and without requires_grad, NumPy, nested lists and tuples, lists of 0-d tensors)."""
    arr = np.array(values, dtype=np.float64).reshape(shape)
    t = torch.tensor(arr, dtype=torch.float32)
    out = [arr, arr.astype(np.float32), arr.tolist(), t, t.double().requires_grad_(True), t.unsqueeze(0),
           torch.tensor(arr.tolist(), dtype=torch.bfloat16), t.half(), t.unsqueeze(-1).numpy()]
    if len(shape) == 1:
        out += [tuple(arr.tolist()), [torch.tensor(v) for v in arr.tolist()], [np.float32(v) for v in values]]
    return out


# --- numbers -------------------------------------------------------------------------------------------

@SETTINGS
@given(finite)
def test_as_number_accepts_every_form_and_keeps_the_value(v):
    for form in [v, np.float64(v), np.float32(v), torch.tensor(v), torch.tensor([v]), torch.tensor([[v]]),
                 torch.tensor(v, dtype=torch.float64, requires_grad=True), [v], np.array([v]),
                 torch.tensor(v).half(), torch.tensor(v).bfloat16()]:
        if isinstance(form, torch.Tensor) and not torch.isfinite(form).all():
            continue  # out of float16's range
        got = as_number(form)
        assert isinstance(got, float)
        assert close(got, v), (form, got, v)


@SETTINGS
@given(st.integers(min_value=-10**6, max_value=10**6))
def test_integers_in_any_form_are_numbers_and_whole_numbers(n):
    for form in [n, np.int64(n), np.int32(n), torch.tensor(n), torch.tensor([n]), float(n), np.array([[n]])]:
        assert as_int(form) == n
        assert as_number(form) == n


@SETTINGS
@given(finite, st.floats(min_value=1e-3, max_value=0.5))
def test_close_never_uses_exact_equality_and_rejects_real_differences(v, rel):
    nudged = v * (1 + 1e-7) + 1e-9  # float rounding
    assert close(as_number(nudged), v)
    far = v + rel * max(1.0, abs(v)) * 1.5  # beyond any tolerance, float16's included
    assert not close(as_number(far), v)
    assert not close(as_number(torch.tensor(far, dtype=torch.bfloat16)), v) or rel < 0.05


@pytest.mark.parametrize("bad, hint", [
    (True, "a bool"), ("3", "not a string"), (complex(1, 2), "is real"), (None, "NoneType"),
    ({1.0}, "a set has no order"), ([], "empty"), (float("nan"), "nan"), (float("inf"), "inf"),
    (torch.tensor([1.0, 2.0]), "you gave 2 numbers"), (torch.tensor(True), "True/False"),
    (torch.tensor(1 + 2j), "complex"), (np.array(["a"]), "NumPy array"), (object(), "not an object"),
])
def test_as_number_names_what_is_wrong(bad, hint):
    with pytest.raises(Hint, match=hint.replace("(", r"\(")):
        as_number(bad, "the answer")


# --- arrays and shapes ---------------------------------------------------------------------------------

shapes = st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=3).map(tuple)


@SETTINGS
@given(shapes, st.data())
def test_as_tensor_accepts_every_form_and_size_1_dims_but_nothing_else(shape, data):
    n = math.prod(shape)
    values = data.draw(st.lists(st.floats(-100, 100, allow_nan=False, width=16), min_size=n, max_size=n))
    for form in forms(values, shape):
        got = as_tensor(form, shape, "x")
        assert tuple(got.shape) == shape and not got.requires_grad and got.is_floating_point()
        assert close(got, torch.tensor(values).reshape(shape)), form
        padded = tuple(s for s in shape) + (1,)
        assert tuple(as_tensor(form, padded, "x").shape) == padded


@SETTINGS
@given(shapes, shapes)
def test_shapes_must_agree_after_dropping_size_1_dims_no_broadcasting(a, b):
    squeeze = tuple(s for s in a if s != 1), tuple(s for s in b if s != 1)
    answer = torch.zeros(a)
    if squeeze[0] == squeeze[1]:
        assert tuple(as_tensor(answer, b).shape) == b
    else:
        with pytest.raises(Hint, match="you gave"):
            as_tensor(answer, b)
        assert not close(answer, torch.zeros(b))


def test_a_4_by_3_answer_is_never_broadcast_onto_3():
    with pytest.raises(Hint, match=r"3 numbers; you gave shape \(4, 3\)"):
        as_floats(torch.ones(4, 3), 3, "p.grad")
    assert not close(torch.ones(4, 3), [1.0, 1.0, 1.0])


def test_ragged_lists_and_wrong_lengths_are_named():
    with pytest.raises(Hint, match="different shapes"):
        as_tensor([[1.0, 2.0], [3.0]], (2, 2), "x")
    with pytest.raises(Hint, match="p.grad is 3 numbers; you gave 2 numbers"):
        as_floats([1, 2], 3, "p.grad")


@SETTINGS
@given(st.lists(finite, min_size=1, max_size=5), st.sampled_from(DTYPES))
def test_comparing_across_dtypes_never_raises_and_uses_the_answers_precision(values, dtype):
    t = torch.tensor(values, dtype=dtype)
    if not torch.isfinite(t).all():
        return
    assert close(t, torch.tensor(values, dtype=torch.float64))  # no "Double did not match Float"
    assert close(as_floats(t, len(values), "v"), values)
    assert tolerance(dtype) >= 1e-5


def test_tolerance_follows_the_dtype():
    assert tolerance(torch.float64) == tolerance(torch.float32) == tolerance() == 1e-5
    assert tolerance(torch.float16) == 4 * torch.finfo(torch.float16).eps
    assert tolerance(torch.bfloat16) == 4 * torch.finfo(torch.bfloat16).eps
    assert as_number(torch.tensor(0.1, dtype=torch.bfloat16)).rtol == tolerance(torch.bfloat16)
    assert close(as_number(torch.tensor(0.1, dtype=torch.bfloat16)), 0.1)
    assert not close(as_number(0.1004), 0.1)  # float64 answers are held to 1e-5


def test_tensors_on_any_device_and_with_grad_are_read_without_touching_them():
    t = torch.tensor([1.0, 2.0], requires_grad=True) * 1
    got = as_tensor(t, (2,), "x")
    assert not got.requires_grad and t.requires_grad
    if torch.cuda.is_available():
        assert close(as_tensor(t.cuda(), (2,), "x"), [1.0, 2.0])


# --- names ---------------------------------------------------------------------------------------------

name_chars = st.text(alphabet=string.ascii_letters + string.digits + "_.(=", min_size=1, max_size=20)


@SETTINGS
@given(name_chars, st.sampled_from(["", " ", "  "]), st.sampled_from(["", "'", '"', "`"]), st.booleans(),
       st.booleans(), st.booleans())
def test_names_are_normalised_one_way(name, space, quote, upper, prefix, call_parens):
    written = name.upper() if upper else name
    written = ("torch." if prefix else "") + written + ("()" if call_parens else "")
    written = f"{space}{quote}{written[:1]}{space}{written[1:]}{quote}{space}"  # spaces inside too
    key = normalise_name(name)
    assert normalise_name(written) == key
    assert normalise_name(key) == key  # idempotent
    assert key == key.lower() and " " not in key


def test_functions_and_classes_stand_for_their_names():
    assert normalise_name(torch.no_grad) == "no_grad"
    assert normalise_name(torch.Tensor.detach) == "detach"
    assert normalise_name(torch.nn.Module.eval) == "eval"
    with pytest.raises(TypeError):
        normalise_name(3)


def test_as_choice_accepts_aliases_and_lists_the_choices():
    choices = {"requires_grad_(False)": ("requires_grad=False",), "no_grad": ()}
    for form in ["requires_grad_(False)", " 'REQUIRES_GRAD_(false)' ", "requires_grad = False"]:
        assert as_choice(form, choices) == "requires_grad_(False)"
    assert as_choice(torch.no_grad, choices) == "no_grad"
    assert as_choice("torch.no_grad()", ["no_grad", "eval"]) == "no_grad"
    assert as_choice("No Grad", ["no_grad", "eval"]) == as_choice("no-grad", ["no_grad", "eval"]) == "no_grad"
    for bad in ["freeze", 3, None, ""]:
        with pytest.raises(Hint, match='one of the strings "requires_grad_\\(False\\)", "no_grad"'):
            as_choice(bad, choices)


@SETTINGS
@given(st.sets(st.sampled_from(["w", "x", "y", "s", "h"]), min_size=1))
def test_as_names_reads_sets_lists_and_strings_alike(names):
    expected = set(names)
    ordered = sorted(names)
    for form in [set(names), frozenset(names), ordered, tuple(ordered), ", ".join(ordered), " ".join(ordered),
                 {n.upper() for n in names}, [f"'{n}'" for n in ordered], "{" + ", ".join(ordered) + "}"]:
        assert as_names(form) == expected, form


def test_as_names_names_the_mistake():
    with pytest.raises(Hint, match="not the objects themselves"):
        as_names({torch.tensor(1.0)})
    with pytest.raises(Hint, match="set of strings"):
        as_names(5)


@pytest.mark.parametrize("form, value", [
    (True, True), (False, False), (np.True_, True), (np.False_, False), (torch.tensor(True), True),
    (torch.tensor([False]), False), ("True", True), (" false ", False), ("'TRUE'", True),
])
def test_as_bool_accepts(form, value):
    assert as_bool(form) is value


@pytest.mark.parametrize("bad", [1, 0, "yes", None, "None", torch.tensor([True, False]), 1.0])
def test_as_bool_rejects(bad):
    with pytest.raises(Hint, match="answer True or False"):
        as_bool(bad)


# --- unanswered, functions, errors ---------------------------------------------------------------------

def _untouched(w, batches):
    return None  # your code


def _passes(x):
    pass


def _docstring_only(x):
    """Write me."""


def _ellipsis(x): ...


def test_placeholders_are_unanswered_and_real_functions_are_not():
    for p in [_untouched, _passes, _docstring_only, _ellipsis, lambda g: None, None, ...]:
        assert is_unanswered(p), p

    def returns_x(x):
        return x

    def side_effect(x):
        x.grad = None

    limit = 2

    def closure(g):
        return None if limit else g

    for f in [returns_x, side_effect, closure, print, torch.sign, lambda: 0, 0, "None", []]:
        assert not is_unanswered(f), f
        assert not is_placeholder(f)


def test_as_function_and_call():
    with pytest.raises(Hint, match=r"give the function itself: check\('01.3', train_grads\); you gave an int"):
        as_function(5, "01.3", "train_grads")

    def boom(x):
        raise ValueError("bad input\nsecond line")

    with pytest.raises(Hint, match="train_grads raised ValueError: bad input$"):
        call(boom, 1, what="train_grads")
    with torch.no_grad():
        assert call(lambda: torch.is_grad_enabled()) is True
        assert not torch.is_grad_enabled()


# --- counting ------------------------------------------------------------------------------------------

def test_count_engine_calls_counts_backward_and_grad_and_restores_the_engine():
    import torch.autograd as autograd

    original = autograd._engine_run_backward
    a = torch.ones(3, requires_grad=True)
    with count_engine_calls() as calls:
        (a * 2).sum().backward()
        torch.autograd.grad((a * 3).sum(), a)
        torch.autograd.backward([(a * 4).sum()])
    assert calls.kinds == ["backward", "grad", "backward"]
    assert (calls.total, calls.backward, calls.grad) == (3, 2, 1)
    assert autograd._engine_run_backward is original
    with pytest.raises(RuntimeError), count_engine_calls():
        raise RuntimeError("inside")
    assert autograd._engine_run_backward is original


def test_count_engine_calls_falls_back_to_the_public_functions():
    import torch.autograd as autograd

    backward, grad = autograd.backward, autograd.grad
    a = torch.ones(3, requires_grad=True)
    with count_engine_calls(_fallback=True) as calls:
        (a * 2).sum().backward()
        torch.autograd.grad((a * 3).sum(), a)
    assert calls.kinds == ["backward", "grad"]
    assert (autograd.backward, autograd.grad) == (backward, grad)


def test_counted_counts_evaluations_and_backward_passes_through_f():
    f = Counted(lambda x, y: (x * y).sum())
    x, y = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    out = f(x, y)
    gx, gy = torch.autograd.grad(out, [x, y], retain_graph=True)
    out.backward()
    f(x.detach(), y.detach())  # no graph: nothing to count later
    assert (f.calls, f.backward_passes) == (2, 2)


# --- randomness ----------------------------------------------------------------------------------------

def test_generators_and_modules_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    g1, g2 = generator(), generator()
    assert not torch.equal(torch.randn(4, generator=g1), torch.randn(4, generator=g2))
    assert torch.equal(torch.randn(3, generator=generator(7)), torch.randn(3, generator=generator(7)))
    m1 = build_module(lambda: torch.nn.Linear(3, 2), generator(1))
    m2 = build_module(lambda: torch.nn.Linear(3, 2), generator(1))
    assert torch.equal(m1.weight, m2.weight)
    assert torch.equal(torch.get_rng_state(), state)


def test_count_engine_calls_counts_batched_runs():
    from helpers.exercises.answers import count_engine_calls

    x = torch.randn(3, requires_grad=True)
    with count_engine_calls() as engine:
        torch.autograd.grad((x * 2).sum(), x)
    assert (engine.total, engine.batched) == (1, 0)
    with count_engine_calls() as engine:
        torch.autograd.grad(x * 2, x, grad_outputs=torch.eye(3), is_grads_batched=True)
    assert (engine.total, engine.batched) == (1, 1)
    with count_engine_calls() as engine:
        torch.func.jacrev(lambda t: t * 2)(x.detach())
    assert engine.batched == 1


def test_learner_files_are_everything_but_helpers_torch_and_python():
    import json

    from helpers.exercises import _is_learner_file
    from helpers.exercises import answers as answers_module

    assert _is_learner_file("/tmp/ipykernel_123/456.py") and _is_learner_file("<ipython-input-1-ab>")
    assert _is_learner_file(__file__)  # tests and solutions stand in for the learner
    assert not _is_learner_file(answers_module.__file__) and not _is_learner_file(torch.__file__)
    assert not _is_learner_file(json.__file__) and not _is_learner_file("<frozen importlib._bootstrap>")
