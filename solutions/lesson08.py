"""Solutions to lesson 08's exercises."""

from helpers.compute_once import reverse_grad


def solve_08_1():
    # l1 all-reduced: mean(2, 4) = 3 on both ranks; l2 local: rank 0 adds 1, rank 1 adds −3
    return [4.0, 0.0]


def solve_08_2():
    def ddp_step(model, a, b, f):
        x, y = model(a), model(b)
        f(reverse_grad(x), y).backward()

    return ddp_step
