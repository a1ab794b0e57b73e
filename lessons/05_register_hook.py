# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/05_register_hook.ipynb)
#
# # 05 · register_hook: editing gradients in flight
#
# A hook is a function autograd calls with a gradient *while backward runs*. It can look at the gradient,
# or return a different one that then flows on. It is the shortest answer to the seed question — one
# line that flips the gradient through `x` — and a sharp tool that cuts more than you may intend.
#
# **You will learn**
# - tensor hooks: inspect, scale, clip, replace — and what returning `None` means;
# - hooks on leaves and non-leaves, the order hooks run in, and how they meet `.grad` and `retain_grad()`;
# - hook handles, `remove()`, the bug of hooks piling up in a loop (2×, 4×, 8×…), and a hook left
#   registered that flips a later backward;
# - that a hook on a tensor sees the **sum** of the gradients of all its consumers, and the branch-local
#   fix: a gradient-reversal `torch.autograd.Function` (in the `setup_context` style);
# - `register_post_accumulate_grad_hook`, and module forward / full backward hooks with a caveat each.
#
# Time: about 25 minutes (sections 5–6 can be skimmed). Builds on [01](01_autograd_graph.ipynb)–[04](04_autograd_grad.ipynb).

# %%
# @title Setup (the same in every lesson): make the workshop's `helpers` importable
import os, subprocess, sys
from pathlib import Path

if "google.colab" in sys.modules and not Path("autograd-workshop/helpers").is_dir():
    print("Colab: fetching the workshop's helpers, installing what Colab lacks (about a minute)")
    repo = os.environ.get("AUTOGRAD_WORKSHOP_REPO",
                          "https://github.com/autograd-workshop/autograd-workshop")
    clone = ["git", "clone", "--depth", "1", "--branch", "main", repo, "autograd-workshop"]
    install = ["pip", "install", "-r", "autograd-workshop/requirements-colab.txt"]
    for name, step in (("git clone", clone), ("pip install", [sys.executable, "-m", *install])):
        done = subprocess.run(step, capture_output=True, text=True)  # shown only if it fails
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{done.stdout}{done.stderr}")
for root in [Path.cwd(), *Path.cwd().parents, Path("autograd-workshop").resolve()]:
    if (root / "helpers" / "__init__.py").is_file():
        sys.path.insert(0, str(root))
        break
else:
    raise RuntimeError("helpers/ not found: start Jupyter from the repository (see README)")

# %%
import warnings
import weakref

import torch
from torch import nn

from helpers import check, draw_graph, expect_error, fmt, pick_device, seed_everything, show_source
from helpers.compute_once import GradReverse, abs_difference, hook_on_x, reverse_grad, seed_example
from helpers.gradflow import gradient_flow
from helpers.gradflow import side_by_side as flows_side_by_side

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. Tensor hooks: inspect, scale, clip, replace
#
# `t.register_hook(fn)` makes autograd call `fn(grad)` with the gradient of the loss with respect to `t`.
# If `fn` returns `None`, the gradient flows on unchanged; if it returns a tensor, **that** tensor flows
# on instead. A hook must not modify `grad` in place.

# %%
def run(hook):
    w = torch.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    h = w * 2
    h.register_hook(hook)
    (h ** 2).sum().backward()  # d/dh = 2h = [4, -8, 12]; d/dw = 2 · d/dh
    return w.grad


seen = []
print("inspect (returns None):", fmt(run(lambda grad: seen.append(grad.clone()))),
      "| the hook saw", fmt(seen[0]))
print("scale by 0.1          :", fmt(run(lambda grad: grad * 0.1)))
print("clip to [-5, 5]       :", fmt(run(lambda grad: grad.clamp(-5, 5))))
print("replace by ones       :", fmt(run(lambda grad: torch.ones_like(grad))))

# %% [markdown]
# ## 2. Leaves, non-leaves, order, `.grad` and `retain_grad()`
#
# Hooks on one tensor run in the order they were registered, each receiving what the previous one
# returned. On a **non-leaf** with `retain_grad()`, `.grad` stores the gradient *after* all hooks,
# whether `retain_grad()` was called before or after registering them (PyTorch 2.0+; the autograd
# notes give the order). On a **leaf**, hooks run before the gradient is added into `.grad`.
#
# (Before 2.0, `.grad` missed the changes made by hooks registered after `retain_grad()`. Links:
# [pytorch/pytorch#85849](https://github.com/pytorch/pytorch/pull/85849),
# ["Backward Hooks execution"](https://pytorch.org/docs/stable/notes/autograd.html#backward-hooks-execution).)

# %%
a = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
h = a * 3
h.retain_grad()                                            # called first …
# print(...) returns None, so `print(...) or grad * 10` prints, then returns grad * 10
h.register_hook(lambda grad: print("hook 1 gets", fmt(grad)) or grad * 10)
h.register_hook(lambda grad: print("hook 2 gets", fmt(grad)) or grad + 1)  # gets hook 1's result
h.sum().backward()
print("h.grad (after both hooks):", fmt(h.grad), "| a.grad = 3 · 11:", fmt(a.grad))

# %%
a.grad = torch.full_like(a, 100.0)                         # an existing gradient on the leaf
handle = a.register_hook(lambda grad: print("leaf hook gets", fmt(grad), "(the new gradient only)")
                         or grad * 2)
(a * 1).sum().backward()
print("a.grad = 100 + 2 · 1:", fmt(a.grad))
handle.remove()

# %% [markdown]
# ## 3. Handles and hooks that pile up
#
# `register_hook` returns a handle; `handle.remove()` unregisters the hook. Forgetting that is a classic
# bug: register a hook on a **parameter** inside the training loop, and every step adds one more.

# %%
param = torch.tensor([1.0], device=device, requires_grad=True)
for step in range(1, 5):
    param.register_hook(lambda grad: grad * 2)  # BUG: one more hook every step
    param.grad = None
    (param * 1).sum().backward()
    print(f"step {step}: gradient {fmt(param.grad)}  (expected 2.0)")

# %% [markdown]
# The gradient doubles once per hook: 2, 4, 8, 16. The fixes: register the hook **once**, before the loop,
# or keep the handle and `remove()` it when you are done:

# %%
param = torch.tensor([1.0], device=device, requires_grad=True)
for step in range(1, 5):
    handle = param.register_hook(lambda grad: grad * 2)
    param.grad = None
    (param * 1).sum().backward()
    handle.remove()
    print(f"step {step}: gradient {fmt(param.grad)}")

# %% [markdown]
# Hooks on *non-leaf* tensors do not pile up this way: each forward pass makes a new non-leaf tensor,
# with a new node, and its hooks go with them.

# %%
param = torch.tensor([1.0], device=device, requires_grad=True)
for step in range(1, 4):
    h = param * 1                       # a new non-leaf tensor every step
    h.register_hook(lambda grad: grad * 2)
    param.grad = None
    h.sum().backward()
    print(f"step {step}: gradient {fmt(param.grad)}")

# %% [markdown]
# Where does a hook on a non-leaf live? Autograd registers it on the node that made the tensor
# (`h.grad_fn`), so it runs even after `del h`, as long as the graph holds the node (a weak
# reference, `weakref.ref(h)`, tells whether the tensor object itself is gone):

# %%
w = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
h = w * 2
h.register_hook(lambda grad: print("  the hook on h runs, gets", fmt(grad)) or -grad)
h_ref = weakref.ref(h)
loss = (h * 3).sum()  # multiplying by a number saves no reference to h
del h
print("the tensor h is gone:", h_ref() is None)
loss.backward()
print("w.grad:", fmt(w.grad), "(flipped: the hook ran)")

# %% [markdown]
# So a hook acts as long as its tensor's node is in a graph (on a leaf, as long as the tensor):
# **every** later backward that passes through it calls the hook again. The seed's accepted
# answer (lesson 06) is `x.register_hook(lambda grad: -grad)` on `x = g(a)`, then
# `f(x, y).backward()`, with the seed's numbers from lesson 04 (`f = |x − y|`, weight 1, `a = 1`,
# `b = 2`; `seed_example` and `abs_difference` in the helpers). Use `x` again afterwards — here in
# a regulariser `(x²).sum()` that should train `g` normally, with weight gradient 2x · a (= 2, as
# x = a = 1 in the seed's example) — and the forgotten hook flips that too:

# %%
g, a, b = seed_example(device)
x, y = g(a), g(b)
handle = x.register_hook(lambda grad: -grad)       # the accepted answer's hook
abs_difference(x, y).backward(retain_graph=True)   # keep g's saved tensors for the later backward
print("f(x, y).backward()   : weight grad", fmt(g.weight.grad), "(3, as wanted)")

g.weight.grad = None
(x ** 2).sum().backward(retain_graph=True)         # later: should give 2x · a = 2 (x = a = 1)
print("later (x²).backward(): weight grad", fmt(g.weight.grad), "← flipped: the hook is still on x")

handle.remove()
g.weight.grad = None
(x ** 2).sum().backward()
print("after handle.remove(): weight grad", fmt(g.weight.grad))

# %% [markdown]
# So keep the handle and remove the hook once its backward is done. The helper that lesson 06 runs as
# "the accepted answer" does exactly that:

# %%
show_source(hook_on_x)

# %% [markdown]
# ## 4. A hook sees the sum of all consumers' gradients
#
# This is the seed question's trap. Let `x` feed **two** terms: `f(x, y)`, whose gradient we want to flip
# for `x`, and a regulariser `r(x) = ‖x‖²` that should train `x` normally. The gradient that arrives at
# `x` is the **sum** of both terms' gradients, and a hook on `x` flips all of it.

# %%
def x_and_y():
    x = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = torch.tensor([0.5, -1.0], device=device, requires_grad=True)
    return x, y


def f(x, y):
    return (x * y).sum()      # df/dx = y = [0.5, -1.0]


def r(x):
    return (x ** 2).sum()     # dr/dx = 2x = [2.0, 4.0]


x, y = x_and_y()
(-f(x, y) + r(x)).backward()
print("wanted : -df/dx + dr/dx =", fmt(x.grad))

x, y = x_and_y()
x.register_hook(lambda grad: -grad)
(f(x, y) + r(x)).backward()
print("hook   : -(df/dx + dr/dx) =", fmt(x.grad), "← the regulariser is flipped too")

# %% [markdown]
# The fix is to flip the gradient **only on the branch that enters `f`**. A custom
# `torch.autograd.Function` does it: the identity going forward, `−scale ×` the gradient coming back
# (`scale` is the λ of lesson 07; here 1). It lives in the helpers, because lessons 06 and 07 use it
# too. It is written in the `setup_context` style (PyTorch 2.0+), three static methods:
# - `forward(x, scale)` computes the output, without `ctx` (a view of `x`: same values, a new node);
# - `setup_context(ctx, inputs, output)` stores on `ctx` what `backward` will need (here `scale`);
# - `backward(ctx, grad)` returns one gradient per input of `forward`: `−scale · grad` for `x`, `None`
#   for the number `scale`.
#
# You never call these yourself: `GradReverse.apply(x, scale)` does, and `reverse_grad(x, scale=1.0)`
# wraps it with checks of its arguments.

# %%
show_source(GradReverse)

# %%
x, y = x_and_y()
(f(reverse_grad(x), y) + r(x)).backward()
wanted = torch.tensor([1.5, 5.0], device=device)
print("reversal on f's branch:", fmt(x.grad), "= wanted:", torch.equal(x.grad, wanted))

# %% [markdown]
# Why the separate `setup_context`? The *combined* style, a static `forward(ctx, x)` doing both jobs,
# is still supported and works with `backward()` (first line of the cell below). But `torch.func`
# transforms — `torch.func.grad`, `vjp`, …, which compute gradients of *functions* instead of filling
# `.grad` ([lesson 09](09_compile_and_func.ipynb) uses them) — run an `autograd.Function` only if it
# has a `setup_context`. `torch.func.grad` of `f(reverse_grad(x), y)` with respect to `x` is `−y`;
# the combined style is refused. (`torch.func.vmap` would need one more thing, a `vmap` rule, which
# `GradReverse` does not define.)

# %%
class CombinedReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


x, y = x_and_y()
(f(CombinedReverse.apply(x), y) + r(x)).backward()
print("combined style with backward()     :", fmt(x.grad), "= wanted:", torch.equal(x.grad, wanted))

x0, y0 = x.detach(), y.detach()
grad_of_x = torch.func.grad(lambda t: f(reverse_grad(t), y0))
print("torch.func.grad through GradReverse:", fmt(grad_of_x(x0)), "= -y")
with expect_error(RuntimeError, contains="must override the setup_context staticmethod"):
    torch.func.grad(lambda t: f(CombinedReverse.apply(t), y0))(x0)

# %% [markdown]
# The style that *was* removed is older still: a `Function` whose `forward(self, x)` is an ordinary
# method, called on an instance, `LegacyReverse()(x)`. PyTorch refuses it, and warns that a
# `Function` should not be instantiated (its methods are all static, used through `.apply`):

# %%
class LegacyReverse(torch.autograd.Function):
    def forward(self, x):  # not static, no ctx: the legacy style
        return x.view_as(x)

    def backward(self, grad):
        return -grad


legacy_error = "Legacy autograd function with non-static forward method is deprecated"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with expect_error(RuntimeError, contains=legacy_error):
        LegacyReverse()(x_and_y()[0])
print("warning:", str(caught[0].message).split(". ")[0])

# %% [markdown]
# In the graph, the reversal is a node of its own (`GradReverseBackward`) on the path from `x` into `f`
# only; `r`'s path from `x` does not pass through it:

# %%
x, y = x_and_y()
draw_graph(f(reverse_grad(x), y) + r(x), {"x": x, "y": y})

# %% [markdown]
# The gradient on every edge, both ways side by side (`gradient_flow` records what each backward node
# sends to each of its inputs in one `backward()`; the text under the picture lists the same numbers).
# On the left, the hook on `x` flips the **sum** `[0.5, -1] + [2, 4]` that arrives at `x`; on the
# right, `GradReverseBackward` flips only `f`'s `[0.5, -1]`, before the sum.

# %%
x, y = x_and_y()
x.register_hook(lambda grad: -grad)
loss = f(x, y) + r(x)
with gradient_flow(loss, {"x": x, "y": y, "loss": loss}) as hooked:
    loss.backward()

x, y = x_and_y()
loss = f(reverse_grad(x), y) + r(x)
with gradient_flow(loss, {"x": x, "y": y, "loss": loss}) as reversed_f:
    loss.backward()

pictures = flows_side_by_side(hook_on_x=hooked, reversal_on_f=reversed_f)
print(pictures)
pictures

# %% [markdown]
# (This is the gradient-reversal layer of domain-adversarial training, Ganin & Lempitsky, 2015.)

# %% [markdown]
# ## 5. `register_post_accumulate_grad_hook`
#
# A tensor hook runs *before* the gradient reaches `.grad`. `p.register_post_accumulate_grad_hook(fn)`
# (PyTorch 2.1+) runs *after* it has been accumulated, and receives the parameter itself, `.grad`
# filled in. It is used to update each parameter as soon as its gradient is ready, inside backward
# (the "optimizer in backward" pattern), so that gradients need not be kept for the whole model.

# %%
p = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
lr = 0.1


def sgd_in_backward(param):
    with torch.no_grad():
        param -= lr * param.grad
    param.grad = None  # the gradient is no longer needed


p.register_post_accumulate_grad_hook(sgd_in_backward)
(p ** 2).sum().backward()   # gradient 2p = [2, 4]
print("p after backward:", fmt(p), "| p.grad:", p.grad)

# %% [markdown]
# It is for leaves only: a non-leaf has no `AccumulateGrad` node (its `.grad`, if you ask for one with
# `retain_grad()`, is stored by another mechanism), and registering the hook on one fails:

# %%
with expect_error(RuntimeError, contains="cannot be registered on non-leaf tensors"):
    (p * 2).register_post_accumulate_grad_hook(sgd_in_backward)

# %% [markdown]
# ## 6. Module hooks, and one caveat each
#
# Modules have their own hooks. A **forward hook** `fn(module, inputs, output)` runs after the module's
# forward pass — handy to record activations. Caveat: it runs when the module is *called*
# (`layer(x)`), not when you call `layer.forward(x)` directly.

# %%
layer = nn.Linear(3, 2).to(device)
calls = []
layer.register_forward_hook(lambda module, inputs, output: calls.append(tuple(output.shape)))
inp = torch.ones(4, 3, device=device)
layer(inp)
print("after layer(x):        hook calls =", len(calls))
layer.forward(inp)
print("after layer.forward(x): hook calls =", len(calls), "(not called)")

# %% [markdown]
# A **full backward hook** `fn(module, grad_input, grad_output)` gets the gradients with respect to the
# module's *inputs* and *outputs*. Caveat: `grad_input` is about the inputs, not the parameters — for a
# first layer fed with data (which does not require grad) it is `None`, and PyTorch warns about it.

# %%
layer = nn.Linear(3, 2).to(device)
seen = {}
layer.register_full_backward_hook(lambda module, gin, gout: seen.update(gin=gin, gout=gout))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    layer(inp).sum().backward()
print("grad_input:", seen["gin"],
      "| grad_output shapes:", [tuple(grad.shape) for grad in seen["gout"]])
print("warning:", str(caught[0].message).split(". See")[0])  # without the link to the docs

# %% [markdown]
# ## Summary
#
# | use this | when | remember |
# |---|---|---|
# | `t.register_hook(fn)` | inspect or change the gradient flowing through one tensor | returns `None` = unchanged; sees the **sum** over all consumers |
# | `handle.remove()` | a hook is needed only for a while | a hook stays as long as its tensor (on a non-leaf, its node `grad_fn`, even after `del`): it acts in every later backward through it; on parameters, hooks registered in a loop pile up |
# | `t.retain_grad()` | keep a non-leaf's gradient | stores the gradient after all hooks (PyTorch 2.0+) |
# | a `torch.autograd.Function` (e.g. `GradReverse`) | change the gradient on one branch only | static `forward` (no `ctx`), `setup_context`, `backward`; applied with `.apply`; the `setup_context` style also runs under `torch.func`; the combined `forward(ctx, x)` runs with `backward()` and `autograd.grad`, not under `torch.func` |
# | `p.register_post_accumulate_grad_hook(fn)` | act once `.grad` is final (optimizer in backward) | leaves only; PyTorch 2.1+ |
# | `module.register_forward_hook` / `register_full_backward_hook` | record activations / gradients at module boundaries | not called by `.forward()`; `grad_input` is about inputs, not parameters |
#
# Next: [06 · compute once, backpropagate twice](06_compute_once.ipynb) — the seed question, four ways, measured.

# %% [markdown]
# ## Exercises
#
# **05.1** Write `clip_hook(limit)` that returns a hook function which clamps every entry of the gradient
# to `[-limit, limit]`, returning a new tensor (a hook must not change the gradient it receives).

# %%
def clip_hook(limit):
    return None  # your code


check("05.1", clip_hook)

# %% [markdown]
# **05.2** A parameter gets `param.register_hook(lambda grad: grad * 3)` at the start of each of 3
# training steps (and the hooks are never removed). Each step resets `param.grad` to `None` and
# backpropagates a loss whose plain gradient is 1. What is `param.grad` after the **third** step?
# Give a number.

# %%
answer = None
check("05.2", answer)

# %% [markdown]
# **05.3** Write `adversarial_grads(x, y)` for `x`, `y` that require grad: it must leave in `x.grad` the
# gradient of `-f(x, y) + r(x)` and in `y.grad` that of `f(x, y)`, with `f` and `r` as in section 4,
# using **one** `backward()` call on `f(x', y) + r(x)`, where `x'` is `x` passed through a function
# of your choice.

# %%
def adversarial_grads(x, y):
    return None  # your code


check("05.3", adversarial_grads)
