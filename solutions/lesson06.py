"""Solutions to lesson 06's exercises."""

from helpers.compute_once import reverse_grad


def solve_06_1():
    # x = 1, y = 3, f = y - x: l1 gives (+1)(b = 3) = 3, l2 gives -(-1)(a = 1) = 1
    return 4.0


def solve_06_2():
    def one_pass(x, y, f, extra):
        (f(reverse_grad(x), y) + extra(x)).backward()

    return one_pass


def solve_06_3():
    return "autograd.grad"
