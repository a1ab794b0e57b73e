"""Solutions to lesson 02's exercises."""

import torch


def solve_02_1():
    p = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (p * p.detach()).sum()
    loss.backward()
    return p.grad.tolist()


def solve_02_2():
    def sign_ste(x):
        return x + (torch.sign(x) - x).detach()

    return sign_ste


def solve_02_3():
    return "requires_grad_(False)"
