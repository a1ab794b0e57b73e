"""Checks for the catalogue's exercises (notebook 11): the seed example with ``y = g(b) + x``.

With ``w = 1``, ``a = 1``, ``b = 2``: ``x = 1``, ``y = w·b + x = 3``, ``f = |x − y| = y − x``. The two
passes (and the reversal, and the hook on an alias) give ``w.grad = 4``; the hook on ``x`` gives 2;
the ``autograd.grad`` method 3.
"""

from __future__ import annotations

from typing import Any

from helpers.exercises import Hint, exercise
from helpers.exercises.answers import as_number, close


@exercise("11.1", "the hook on x when y = g(b) + x")
def _check_11_1(answer: Any) -> str:
    value = as_number(answer, "the weight gradient")
    if close(value, 2.0):
        return ("f sends −1 to x directly and +1 through y: 0 arrives at x, flipped 0; y's own path "
                "gives ∂f/∂y · b = 2. The two passes give 4.")
    if close(value, 4.0):
        raise Hint("4 is the two passes' (and the reversal's): the hook on x also flips what reaches x "
                   "through y, so the x path contributes (−1 + 1) flipped = 0, not +1 + 1.")
    if close(value, 3.0):
        raise Hint("3 is the autograd.grad method's (11.2) or the plain seed example's; here the hook "
                   "sees the sum −1 + 1 = 0 at x.")
    if close(value, -2.0):
        raise Hint("the sign is off: y's own path gives +∂f/∂y · b = +2.")
    raise Hint("at x arrive −1 (from f) and +1 (through y): their sum, flipped, times a; plus "
               "∂f/∂y · b through y's own path.")


@exercise("11.2", "the autograd.grad method when y = g(b) + x")
def _check_11_2(answer: Any) -> str:
    value = as_number(answer, "the weight gradient")
    if close(value, 3.0):
        return ("gx is the total gradient at x, −1 + 1 = 0, pushed back negated: 0; gy = +1 pushed "
                "through y = w·b + x reaches w as b + a = 3. The two passes give 4.")
    if close(value, 4.0):
        raise Hint("4 is the two passes'; autograd.grad(f, [x, y]) returns the total gradient at x, "
                   "the path through y included: gx = 0.")
    if close(value, 2.0):
        raise Hint("2 is the hook's (11.1); the method pushes gy = 1 back through y, and y = w·b + x "
                   "reaches w twice: b + a.")
    if close(value, -3.0):
        raise Hint("the sign is off: gy = +1, pushed through y = w·b + x, gives +(b + a).")
    raise Hint("gx = −1 + 1 = 0 (the total at x); gy = +1; push −gx into x and gy into y = w·b + x.")
