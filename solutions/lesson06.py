"""Solutions to lesson 06's exercises."""

from helpers.compute_once import reverse_grad


def solve_06_1():
    # x = 1, y = 3, f = |x - y|: l1 gives (+1)(b = 3) = 3, l2 gives -(-1)(a = 1) = 1
    return 4.0


def solve_06_2():
    def one_pass(x, y, f, extra):
        (f(reverse_grad(x), y) + extra(x)).backward()

    return one_pass


def solve_06_3():
    def one_pass(x, y, f, g):
        handle = x.register_hook(lambda grad: -grad)  # flip what reaches x
        f(x, y).backward(inputs=list(g.parameters()))  # fill g's parameters only: θ stays untouched
        handle.remove()  # later uses of x are not flipped

    return one_pass
