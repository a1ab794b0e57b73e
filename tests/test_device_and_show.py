"""helpers.device and helpers.show."""

import random

import numpy as np
import pytest
import torch

from helpers.device import DEVICE_ENV, describe, pick_device, seed_everything
from helpers.show import fmt, show_source


def test_pick_device_default(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device().type == expected


def test_pick_device_environment_override(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")


def test_pick_device_refuses_bad_and_unavailable(monkeypatch):
    with pytest.raises(ValueError, match="not a device"):
        pick_device("gpu please")
    with pytest.raises(ValueError, match="only 'cpu' and 'cuda'"):
        pick_device("meta")
    if not torch.cuda.is_available():
        monkeypatch.setenv(DEVICE_ENV, "cuda")
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            pick_device()


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    seed_everything(123)
    first = draw()
    seed_everything(123)
    assert draw() == first
    with pytest.raises(ValueError):
        seed_everything(-1)
    with pytest.raises(TypeError):
        seed_everything(1.5)


def test_describe_cpu():
    assert describe(torch.device("cpu")).startswith("cpu (")


def test_fmt():
    assert fmt(torch.tensor([1.0, 2.5, -0.0, 1 / 3])) == "[1.0, 2.5, 0.0, 0.3333]"
    assert fmt(torch.tensor(3.0)) == "3.0"
    assert fmt(torch.tensor([[1, 2], [3, 4]])) == "[[1, 2], [3, 4]]"
    assert fmt(torch.tensor(-1e-9)) == "0.0"
    assert fmt(2.123456, decimals=2) == "2.12"
    assert fmt(None) == "None"
    assert fmt(torch.tensor([True, False])) == "[True, False]"
    assert fmt(torch.ones(2, requires_grad=True) * 2) == "[2.0, 2.0]"
    with pytest.raises(TypeError):
        fmt("text")


def test_show_source(capsys):
    show_source(fmt)
    assert capsys.readouterr().out.startswith("def fmt(value")


def test_expect_error_prints_a_stable_message(capsys):
    from helpers.show import expect_error

    with expect_error(RuntimeError):
        raise RuntimeError("modified: [torch.cuda.FloatTensor [3]] is at version 1. Hint: enable anomaly detection")
    assert capsys.readouterr().out == "RuntimeError: modified: [torch.FloatTensor [3]] is at version 1.\n"
    with expect_error(ValueError, KeyError):
        raise KeyError("k")
    assert capsys.readouterr().out.startswith("KeyError:")


def test_expect_error_fails_when_nothing_is_raised():
    from helpers.show import expect_error

    with pytest.raises(AssertionError, match="expected RuntimeError, but nothing was raised"):
        with expect_error(RuntimeError):
            pass
    with pytest.raises(TypeError):  # an unexpected kind of error is not swallowed
        with expect_error(RuntimeError):
            raise TypeError("other")


def test_error_message_drops_internal_paths_and_wraps():
    from helpers.show import error_message

    long = "x " * 80 + "(Triggered internally at /pytorch/aten/src/x.cpp:12.)"
    text = error_message(UserWarning(long))
    assert "Triggered" not in text and "/pytorch" not in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_expect_error_with_a_stable_phrase(capsys):
    from helpers.show import expect_error

    with expect_error(RuntimeError, contains="modified by an inplace operation"):
        raise RuntimeError("one of the variables needed for gradient computation has been modified by an\n"
                           "  inplace operation: [torch.FloatTensor [3]] is at version 1; expected version 0")
    assert capsys.readouterr().out == "RuntimeError: …modified by an inplace operation…\n"
    with pytest.raises(AssertionError, match="does not contain"):
        with expect_error(RuntimeError, contains="modified by an inplace operation"):
            raise RuntimeError("Trying to backward through the graph a second time")


def test_expect_error_rejects_what_is_not_an_exception_class():
    from helpers.show import expect_error

    for bad in ("RuntimeError", RuntimeError("x"), int, None):
        with pytest.raises(TypeError, match="exception classes"):
            with expect_error(bad):
                pass
    with pytest.raises(ValueError, match="non-empty phrase"):
        with expect_error(RuntimeError, contains="  "):
            pass


@pytest.mark.parametrize("text", ["CPU", " cpu ", "Cpu\n"])
def test_pick_device_ignores_case_and_spaces(text, monkeypatch):
    assert pick_device(text) == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, text)
    assert pick_device() == torch.device("cpu")


def test_pick_device_refuses_wrong_types_and_names_the_input(monkeypatch):
    for bad in (0, 1.0, ["cpu"]):
        with pytest.raises(TypeError, match="preferred must be a device name"):
            pick_device(bad)
    with pytest.raises(ValueError, match="preferred is empty"):
        pick_device("  ")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(ValueError, match=f"{DEVICE_ENV}='tpu' is not a device"):
        pick_device()
    if torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="numbered from 0"):
            pick_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(RuntimeError, match="preferred='cuda:0' asks for CUDA"):
            pick_device(" CUDA:0")


@pytest.mark.parametrize("bad, error", [
    (-1, ValueError), (2**32, ValueError), (2**64, ValueError),
    (1.5, TypeError), ("0", TypeError), (True, TypeError), (None, TypeError), (np.float64(3), TypeError),
])
def test_seed_everything_checks_before_touching_any_generator(bad, error):
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    expected = (random.random(), float(np.random.rand()), torch.rand(2).tolist())
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    with pytest.raises(error, match="seed"):
        seed_everything(bad)
    assert (random.random(), float(np.random.rand()), torch.rand(2).tolist()) == expected


def test_seed_everything_takes_the_whole_range_and_numpy_ints():
    seed_everything(2**32 - 1)
    first = torch.rand(1).item()
    seed_everything(np.int64(2**32 - 1))
    assert torch.rand(1).item() == first
    seed_everything(0)


def test_describe_refuses_strings():
    with pytest.raises(TypeError, match="torch.device"):
        describe("cpu")


def test_fmt_numpy_scalars_and_arrays():
    assert fmt(np.float32(1.5)) == "1.5"
    assert fmt(np.float64(1 / 3)) == "0.3333"
    assert fmt(np.int64(3)) == "3"
    assert fmt(np.bool_(True)) == "True"
    assert fmt(np.array([[0.5, -0.0], [2.0, 1 / 3]])) == "[[0.5, 0.0], [2.0, 0.3333]]"
    assert fmt(np.array(2.0)) == "2.0"
    assert fmt(np.float32(0.1)) == "0.1"  # rounded, not 0.10000000149011612


def test_fmt_complex():
    assert fmt(1 + 2j) == "(1.0+2.0j)"
    assert fmt(np.complex64(1.23456 - 0.5j), decimals=2) == "(1.23-0.5j)"
    assert fmt(torch.tensor([1 + 1j, -1e-9 - 2j])) == "[(1.0+1.0j), (0.0-2.0j)]"
    assert fmt(complex(0, -1e-9)) == "(0.0+0.0j)"


def test_fmt_summarises_huge_tensors_like_print():
    text = fmt(torch.arange(2000.0))
    assert text == "[0.0, 1.0, 2.0, ..., 1997.0, 1998.0, 1999.0] (shape (2000,), summarised)"
    big = fmt(torch.ones(100, 100, requires_grad=True) / 3, decimals=2)
    assert big.endswith("(shape (100, 100), summarised)") and len(big) < 400
    assert big.startswith("[[0.33, 0.33, 0.33, ..., 0.33, 0.33, 0.33], [0.33")
    assert fmt(np.zeros(1001)).endswith("(shape (1001,), summarised)")
    assert "..." not in fmt(torch.zeros(1000))  # at the threshold: every entry, as print does


def test_fmt_low_precision_and_sparse_tensors():
    assert fmt(torch.tensor([0.1, 2.5], dtype=torch.bfloat16), 2) == "[0.1, 2.5]"
    assert fmt(torch.tensor([1.0, 0.0, -2.0]).to_sparse()) == "[1.0, 0.0, -2.0]"


@pytest.mark.parametrize("bad, decimals, error", [
    ("text", 4, TypeError), ({"a": 1}, 4, TypeError), (object(), 4, TypeError), (np.array(["a"]), 4, TypeError),
    (1.0, -1, ValueError), (1.0, 2.5, TypeError), (1.0, None, TypeError),
])
def test_fmt_refuses_and_names_bad_input(bad, decimals, error):
    with pytest.raises(error, match="fmt takes|decimals"):
        fmt(bad, decimals)


def test_show_source_error_message_and_figure_picture_refuse_bad_input():
    from helpers.show import FigurePicture, error_message

    with pytest.raises(TypeError, match="function or a class"):
        show_source("fmt")
    with pytest.raises(TypeError, match="takes an exception"):
        error_message("RuntimeError: x")
    with pytest.raises(TypeError, match="matplotlib figure"):
        FigurePicture(None, "a plot")
    from matplotlib.figure import Figure
    with pytest.raises(ValueError, match="says what the figure shows"):
        FigurePicture(Figure(), " ")


def test_describe_says_thread_or_threads():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert describe(torch.device("cpu")).startswith("cpu (1 thread), torch ")
        torch.set_num_threads(2)
        assert describe(torch.device("cpu")).startswith("cpu (2 threads), torch ")
    finally:
        torch.set_num_threads(before)
