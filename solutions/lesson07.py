"""Solutions to lesson 07's exercises."""

import torch


def solve_07_1():
    def domain_input(h, lam):
        h_d = h.view_as(h)  # a new tensor that only d sees: the hook acts on d's branch alone
        h_d.register_hook(lambda grad: -lam * grad)
        return h_d

    return domain_input


def solve_07_2():
    class MyReverse(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, lam):
            ctx.lam = lam
            return x.view_as(x)

        @staticmethod
        def backward(ctx, grad_output):
            return -ctx.lam * grad_output, None

    def my_reverse(x, lam):
        return MyReverse.apply(x, lam)

    return my_reverse


def solve_07_3():
    # pass 1 gives d 1 × ∂L_d/∂θ_d, pass 2 (not kept out) −λ × ∂L_d/∂θ_d: 1 − 0.75
    return 0.25
