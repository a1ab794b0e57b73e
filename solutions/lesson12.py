"""Solutions to lesson 12's exercises."""

import torch


def solve_12_1():
    # .cuda() after requires_grad=True returns a copy (ToCopyBackward0); the leaf stays on the CPU
    return "non-leaf copy"


def solve_12_2():
    def sgd_step(params, lr):
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        for p in params:
            p.grad = None

    return sgd_step


def solve_12_3():
    def accumulate(model, data, loss_fn, k):
        for micro in data.chunk(k):
            (loss_fn(model(micro)) / k).backward()

    return accumulate
