"""helpers.show.expect_warning: a warning a lesson shows, as stable text."""

import warnings

import pytest
import torch

from helpers.show import expect_warning


def test_prints_first_line_without_triggered_tail(capsys):
    with expect_warning(UserWarning):
        warnings.warn("Something odd. (Triggered internally at /tmp/x.cpp:12.)", UserWarning)
    assert capsys.readouterr().out == "UserWarning: Something odd.\n"


def test_contains_prints_the_phrase_only(capsys):
    y = torch.ones(2, requires_grad=True) * 2
    with expect_warning(UserWarning, contains="rather than torch.tensor(sourceTensor)"):
        torch.tensor(y)
    assert capsys.readouterr().out == "UserWarning: …rather than torch.tensor(sourceTensor)…\n"


def test_catches_a_warning_shown_before():
    for _ in range(2):
        with expect_warning(contains="shown twice"):
            warnings.warn("shown twice")


def test_fails_without_a_matching_warning():
    with pytest.raises(AssertionError, match="expected a UserWarning"):
        with expect_warning(UserWarning):
            pass
    with pytest.raises(AssertionError, match="containing 'other'"):
        with expect_warning(contains="other"):
            warnings.warn("this one")
    with pytest.raises(AssertionError):
        with expect_warning(DeprecationWarning):
            warnings.warn("a UserWarning", UserWarning)


def test_rejects_bad_arguments():
    with pytest.raises(TypeError):
        with expect_warning(ValueError):
            pass
    with pytest.raises(ValueError):
        with expect_warning(contains=" "):
            pass
