"""Solutions to lesson 09's exercises."""

import torch

from helpers.compute_once import reverse_grad


def solve_09_1():
    def flip(x):
        return reverse_grad(x)

    return flip


def solve_09_2():
    class Flip(torch.autograd.Function):
        generate_vmap_rule = True  # torch.func.vmap derives the batched rule from forward/backward

        @staticmethod
        def forward(x):
            return x.view_as(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad_output):
            return -grad_output

    def flip(x):
        return Flip.apply(x)

    return flip


def solve_09_3():
    def pack(tensor):
        if tensor.numel() > 1000:
            return tensor.dtype, tensor.to(torch.bfloat16)  # 2 bytes per value
        return None, tensor  # small: kept as it is

    def unpack(packed):
        dtype, stored = packed
        return stored if dtype is None else stored.to(dtype)

    return pack, unpack
