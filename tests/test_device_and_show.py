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
    with pytest.raises(ValueError):
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
