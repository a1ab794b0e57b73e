"""Solutions to lesson 05's exercises."""

from helpers.compute_once import reverse_grad


def solve_05_1():
    def clip_hook(limit):
        return lambda g: g.clamp(-limit, limit)

    return clip_hook


def solve_05_2():
    return 3**3  # three hooks by the third step, each multiplying by 3


def solve_05_3():
    def adversarial_grads(x, y):
        f = (reverse_grad(x) * y).sum()
        r = (x**2).sum()
        (f + r).backward()

    return adversarial_grads
