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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/10_node_hooks_and_custom_rules.ipynb)
#
# # 10 · Steering at the node level, and writing your own gradient rules
#
# Lesson 05 hooked *tensors*; lesson 05's `GradReverse` was a first custom rule. This extension
# goes one level down, to the graph's **nodes** (`grad_fn`), and writes a custom `Function` with
# everything PyTorch offers for it.
#
# **You will learn**
# - Node pre- and post-hooks, and the order of all backward hooks, asserted;
# - `register_multi_grad_hook`, `GradientEdge`, `increment_version`,
#   `allow_mutation_on_saved_tensors`;
# - a custom `Function` done properly, double backward, `gradcheck`, forward mode;
# - the reversal under `torch.func.vmap`; per-sample gradient clipping;
# - two more one-pass answers to the seed question, measured.
#
# Time: about 45 minutes (an extension). Uses [04 · autograd.grad](04_autograd_grad.ipynb),
# [05 · register_hook](05_register_hook.ipynb) and [06 · compute once](06_compute_once.ipynb).

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
import torch.autograd.forward_ad as fwAD
from torch.autograd.function import once_differentiable
from torch.autograd.graph import (allow_mutation_on_saved_tensors, get_gradient_edge,
                                  increment_version, register_multi_grad_hook)

from helpers import (check, compare_gradients, expect_error, fmt, format_bytes, pick_device,
                     saved_tensor_bytes, seed_everything, show_source)
from helpers.compute_once import METHODS, make_problem, reverse_grad, run_method, two_pass
from helpers.node_hooks import HookTrace, hook_on_alias, prehook_on_alias

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. Hooks on a node
#
# Every non-leaf tensor `h` has a `grad_fn`, the node that computes gradients for the inputs of
# the operation that made `h`. A node takes two kinds of hook:
# - `node.register_prehook(fn)`: `fn(grad_outputs)` runs *before* the node, with the gradients with
#   respect to the node's outputs (here `∂loss/∂h`); it may return a replacement tuple.
# - `node.register_hook(fn)`: `fn(grad_inputs, grad_outputs)` runs *after* it; `grad_inputs` are
#   the gradients it computed for the operation's **inputs** (here `∂loss/∂w`), and it may return
#   replacements for those. (The names follow the forward operation: its inputs, its outputs. Its
#   docstring once said the return value replaces `grad_outputs`,
#   [pytorch#99165](https://github.com/pytorch/pytorch/issues/99165).)

# %%
w = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
h = w * 3                                     # h.grad_fn is MulBackward0
node = h.grad_fn                     # print(...) returns None, so "print(...) or new" gives new
node.register_prehook(lambda grad_outputs: print(
    "pre-hook gets ∂loss/∂h =", fmt(grad_outputs[0])) or (grad_outputs[0] * 10,))
node.register_hook(lambda grad_inputs, grad_outputs: print(
    "post-hook gets ∂loss/∂w =", fmt(grad_inputs[0]),
    "and ∂loss/∂h =", fmt(grad_outputs[0]))
    or (grad_inputs[0] + 1, *grad_inputs[1:]))  # one entry per input (None for the 3)
(h * h).sum().backward()                      # ∂loss/∂h = 2h = [6, -12]
print(node.name(), "| w.grad = 3 · 10 · 2h + 1:", fmt(w.grad))

# %% [markdown]
# The post-hook sees `grad_outputs` *after* the pre-hook replaced it, and what it returns is what
# reaches `w`. A tensor hook on a non-leaf is kept by the tensor's node (`grad_fn`), not by the
# tensor: delete the tensor and the hook still runs, as long as the graph is alive (lesson 05's
# "hooks that stay").

# %%
w = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
h = w * 3
h.register_hook(lambda grad: -grad)
loss = (h * 2).sum()                          # nothing in loss's graph saves h
h_alive = weakref.ref(h)
del h
print("the tensor h is gone:", h_alive() is None)
loss.backward()
print("w.grad = −(3 · 2) =", fmt(w.grad), "(flipped: the hook ran)")

# %% [markdown]
# ## 2. The order of the hooks
#
# One backward through `h = w * 3` with every kind of hook registered, each recording what it got
# and what `h.grad` and `w.grad` held at that moment (`HookTrace`, in `helpers/node_hooks.py`).
# Two hooks change the gradient, so the table shows who saw which change: the tensor hook on `h`
# multiplies by 10, the node's pre-hook adds 1. `h.retain_grad()` asks for `h.grad`.

# %%
w = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
h = w * 3
h.retain_grad()
trace = HookTrace(watch={"h.grad": lambda: h.grad, "w.grad": lambda: w.grad})
accumulate = h.grad_fn.next_functions[0][0]   # w's AccumulateGrad node
h.register_hook(trace.tensor_hook("tensor hook on h", change=lambda g: g * 10))
h.grad_fn.register_prehook(trace.prehook("pre-hook, MulBackward0", change=lambda g: g + 1))
h.grad_fn.register_hook(trace.posthook("post-hook, MulBackward0"))
w.register_hook(trace.tensor_hook("tensor hook on w"))
accumulate.register_prehook(trace.prehook("pre-hook, AccumulateGrad"))
w.register_post_accumulate_grad_hook(trace.post_accumulate("post-accumulate on w"))
accumulate.register_hook(trace.posthook("post-hook, AccumulateGrad"))
h.sum().backward()
print(trace)

# %% [markdown]
# The same, as assertions (the cell fails if any of them stops holding):

# %%
assert trace.order() == ["tensor hook on h", "pre-hook, MulBackward0", "post-hook, MulBackward0",
                         "tensor hook on w", "pre-hook, AccumulateGrad", "post-accumulate on w",
                         "post-hook, AccumulateGrad"]
assert trace["tensor hook on h"].saw("h.grad") == "None"       # retain_grad comes after it…
assert trace["pre-hook, MulBackward0"].saw("h.grad") == "[10, 10]"  # …and before the pre-hook
assert fmt(h.grad) == "[10.0, 10.0]"          # so h.grad has the ×10 but not the +1
assert trace["post-hook, MulBackward0"].received == "[33, 33]"  # 3 · (10 + 1)
assert trace["pre-hook, AccumulateGrad"].saw("w.grad") == "None"  # not yet accumulated
assert trace["post-accumulate on w"].received == "[33, 33]"      # .grad is filled
print("all 7 assertions hold")

# %% [markdown]
# | step | what runs (registered with) | what it sees |
# |---|---|---|
# | 1 | tensor hooks on `h` (`h.register_hook`) | the gradient; `h.grad` still `None` |
# | 2 | `retain_grad` stores `h.grad` (`h.retain_grad()`) | what the tensor hooks returned (×10) |
# | 3 | Node pre-hooks (`h.grad_fn.register_prehook`) | that gradient; `h.grad` already set, without their +1 |
# | 4 | the node `MulBackward0`, then its post-hooks (`h.grad_fn.register_hook`) | `grad_inputs` = 3 · (10 + 1) |
# | 5 | tensor hooks on the leaf `w`, then pre-hooks of its `AccumulateGrad` | `w.grad` still `None` |
# | 6 | `AccumulateGrad` adds into `w.grad`, then post-accumulate-grad hooks | `w.grad` filled |
# | 7 | post-hooks of `AccumulateGrad` | no `grad_inputs` (it has no inputs) |
#
# The [autograd notes](https://pytorch.org/docs/stable/notes/autograd.html#backward-hooks-execution)
# list, per node: tensor hooks, Node pre-hooks, `retain_grad`, the node, post-accumulate-grad
# hooks, Node post-hooks. The engine swaps the second and third: it runs the `retain_grad` hook
# right after the tensor hooks (`call_tensor_pre_hooks` in `torch/csrc/autograd/engine.cpp`), as
# asserted above on 2.13 and 2.14.1. What has held since PyTorch 2.0
# ([pytorch#85849](https://github.com/pytorch/pytorch/pull/85849)): tensor hooks run before Node
# pre-hooks, and `retain_grad` after all tensor hooks, whenever it was called (lesson 05).
#
# Node hooks run only when their node runs: `torch.autograd.grad(loss, h)` stops at `h`, so
# `h.grad_fn` and its pre-hook never run (its tensor hooks and `retain_grad` do, lesson 04):

# %%
w = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
h = w * 3
h.retain_grad()
ran = []
h.register_hook(lambda grad: ran.append("tensor hook"))
h.grad_fn.register_prehook(lambda grad_outputs: ran.append("Node pre-hook"))
torch.autograd.grad((h * 4).sum(), h)
print("autograd.grad(loss, h) ran:", ran, "| h.grad:", fmt(h.grad))

# %% [markdown]
# ## 3. Hooks on several tensors, and on edges
#
# `register_multi_grad_hook(tensors, fn)` calls `fn` once per backward when the gradients of
# **all** the tensors this backward reaches are computed (`None` for the others), or, with
# `mode="any"` (PyTorch 2.3+, [pytorch#117984](https://github.com/pytorch/pytorch/pull/117984)),
# with the first one. It is a callback ("these gradients are ready", as FSDP uses it), not a
# steering tool: **its return value is ignored**.

# %%
a = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
b = torch.tensor([3.0], device=device, requires_grad=True)
show_all = lambda grads: print("all ready:", [fmt(g) for g in grads])  # noqa: E731
handle = register_multi_grad_hook((a, b), lambda grads: show_all(grads) or [-g for g in grads])
((a * 2).sum() + (b * 5).sum()).backward()
print("a.grad:", fmt(a.grad), "b.grad:", fmt(b.grad),
      "← not negated: the return value is ignored")
handle.remove()
handle = register_multi_grad_hook((a, b), lambda grad: print("first ready:", fmt(grad)), mode="any")
# b's: of two branches ready at once, the engine runs the one recorded later first
((a * 2).sum() + (b * 5).sum()).backward()
handle.remove()
handle = register_multi_grad_hook((a, b), show_all)
(a * 2).sum().backward()                      # b is not in this graph: None, and not waited for
handle.remove()

# %% [markdown]
# A gradient belongs to an **edge** of the graph (a node and an output number) more than to a
# tensor. After an in-place change `h.mul_(3)`, the name `h` stands for the new value (a new
# `grad_fn`); `get_gradient_edge(h)`, taken before, still names the old one, and
# `autograd.grad` accepts it as an input (PyTorch 2.2+,
# [pytorch#110867](https://github.com/pytorch/pytorch/pull/110867)):

# %%
x = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
h = x * 2
edge = get_gradient_edge(h)                   # (MulBackward0, output 0): h before the change
h.mul_(3)
loss = (h ** 2).sum()                         # ∂loss/∂h = 2h; h before the change got ×3 more
(by_name,) = torch.autograd.grad(loss, h, retain_graph=True)
(by_edge,) = torch.autograd.grad(loss, edge)
print("edge.node is h.grad_fn:", edge.node is h.grad_fn,    # the node of h before the change
      "| by name:", fmt(by_name), "| by edge:", fmt(by_edge))

# %% [markdown]
# Autograd notices that a saved tensor was changed by a **version counter** that every in-place
# operation bumps (lesson 02). A change it cannot see, such as one through `.data` (or by code
# outside PyTorch), gives a silently wrong gradient; `increment_version(t)` (PyTorch 2.1+)
# declares it, and the error returns:

# %%
a = torch.tensor([0.5, 1.0], device=device, requires_grad=True)
t = a.exp()                                   # exp saves its output t for backward
t.data.mul_(2)                                # invisible to autograd
t.sum().backward()
print("after .data change:", fmt(a.grad), "but exp(a) =", fmt(a.detach().exp()))
t = a.exp()
t.data.mul_(2)
increment_version(t)
with expect_error(RuntimeError, contains="has been modified by an inplace operation"):
    t.sum().backward()

# %% [markdown]
# Lesson 02's answer to that error was to avoid the in-place change, or to clone. Inside
# `allow_mutation_on_saved_tensors()`, autograd clones a saved tensor when it is changed in place,
# and backward uses the saved value (the forward *and* the backward must run inside the block):

# %%
def sin_then_change_in_place(a):
    b = a * 1
    c = b.sin()                               # sin saves b
    b.mul_(2)                                 # changes what sin saved
    c.sum().backward()


a = torch.tensor([0.5, 1.0], device=device, requires_grad=True)
with expect_error(RuntimeError, contains="has been modified by an inplace operation"):
    sin_then_change_in_place(a)
with allow_mutation_on_saved_tensors():
    sin_then_change_in_place(a)
print("a.grad:", fmt(a.grad), "= cos(a):", fmt(a.detach().cos()))

# %% [markdown]
# ## 4. A custom `Function` done properly
#
# `GradReverse` (lesson 05) needs only `forward`, `setup_context` and `backward`. The `ctx` object
# has more. In one example, an operation with two outputs, `x · w` and a mask `x · w > 0`:
# - `ctx.save_for_backward` for tensors (checked against in-place changes, section 3);
# - `ctx.mark_non_differentiable(mask)`: the mask gets no gradient and no `grad_fn`;
# - `ctx.set_materialize_grads(False)`: an output that got no gradient arrives in `backward` as
#   `None` rather than zeros, so `backward` can skip work;
# - `ctx.needs_input_grad`: which inputs need a gradient; return `None` for the others.

# %%
class MulAndMask(torch.autograd.Function):
    @staticmethod
    def forward(x, w):
        return x * w, (x * w > 0).to(x.dtype)     # the mask as 0.0 / 1.0

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, grad_product, grad_mask):
        print("backward: needs_input_grad =", ctx.needs_input_grad, "| grad_mask:", fmt(grad_mask))
        x, w = ctx.saved_tensors
        return (grad_product * w if ctx.needs_input_grad[0] else None,
                grad_product * x if ctx.needs_input_grad[1] else None)

# %%
x = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
w = torch.tensor([3.0, 0.5], device=device)   # needs no gradient
product, mask = MulAndMask.apply(x, w)
print("mask requires grad:", mask.requires_grad)
product.sum().backward()
print("x.grad = w:", fmt(x.grad))

# %%
class Materialized(MulAndMask):               # the same without set_materialize_grads(False)
    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)
        ctx.mark_non_differentiable(output[1])


Materialized.apply(x, w)[0].sum().backward()  # the default: grad_mask arrives as zeros

# %% [markdown]
# An operation that changes its input in place calls `ctx.mark_dirty(x)` and returns `x`: the
# output *is* the input, with a new `grad_fn`. Without `mark_dirty`, the input keeps its old
# `grad_fn` though its values changed, and gradients through it are silently wrong (if the input
# was also saved for backward, the version check raises instead):

# %%
class Negate_(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x.neg_()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_dirty(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        return -grad

# %%
class NegateNotDirty(Negate_):
    setup_context = staticmethod(lambda ctx, inputs, output: None)  # forgets mark_dirty


for Negate in (Negate_, NegateNotDirty):
    x = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
    h = x * 1
    out = Negate.apply(h)                     # h is now −x
    h.sum().backward()                        # so ∂Σh/∂x should be −1
    print(f"{Negate.__name__:14} out is h: {out is h!s:5} h.grad_fn: {h.grad_fn.name():17}"
          f" ∂Σh/∂x: {fmt(x.grad)}")

# %% [markdown]
# ### Double backward through the reversal
#
# `GradReverse.backward` returns `−scale · grad`, itself a differentiable operation; so with
# `create_graph=True` (lesson 04) the gradient can be differentiated again, and the second
# backward passes through the reversal once more. For `(reverse(z))³`: the first derivative is
# `−3z²`, the second `(−6z)·(−1) = +6z`. A `backward` written with non-differentiable code (NumPy,
# `.detach()` tricks) should say so with `@once_differentiable`: then a second backward fails with
# this message instead of silently leaving that backward's part out of the second derivative.

# %%
class OnceReverse(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        return -grad

# %%
z = torch.tensor([1.5, -0.5], device=device, requires_grad=True)
(first,) = torch.autograd.grad((reverse_grad(z) ** 3).sum(), z, create_graph=True)
(second,) = torch.autograd.grad(first.sum(), z)
print("first:", fmt(first), "= −3z² | second:", fmt(second), "= +6z")
(first,) = torch.autograd.grad((OnceReverse.apply(z) ** 3).sum(), z, create_graph=True)
with expect_error(RuntimeError):
    first.sum().backward()

# %% [markdown]
# ### `gradcheck` and the reversal
#
# `torch.autograd.gradcheck` compares `backward` with finite differences of `forward` (float64).
# A reversal is *meant* to disagree: its forward is the identity, its backward says −1. So
# gradcheck fails on it, and that is the check working. What can be checked: with `scale = −1`
# the rule is the identity's and must pass (the plumbing: shapes, `None` for `scale`);
# `gradgradcheck` checks that `backward` is itself correctly differentiable (the double backward
# above).

# %%
x64 = torch.randn(3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
x64 = x64.to(device).requires_grad_(True)
with expect_error(RuntimeError, contains="Jacobian mismatch"):  # a GradcheckError
    torch.autograd.gradcheck(reverse_grad, (x64,))
print("gradcheck, scale = −1:", torch.autograd.gradcheck(lambda t: reverse_grad(t, -1.0), (x64,)))
print("gradgradcheck:", torch.autograd.gradgradcheck(reverse_grad, (x64,)))

# %% [markdown]
# ### Forward mode: what "reverse" means for a tangent
#
# Forward-mode AD (`torch.autograd.forward_ad`) pushes a *tangent* (a direction) forward with the
# values, and a custom Function needs a `jvp` staticmethod for it; `GradReverse` has none. Which
# `jvp`? The forward is the identity, so `+tangent` would be its true derivative, but then forward
# and reverse mode would describe different maps. The consistent choice is the map `backward`
# uses, `−scale · tangent`: then `jacfwd` and `jacrev` agree. (`forward` returns a clone here: a
# `Function` whose forward returns a view must return a view from `jvp` too, and `−scale · tangent`
# is none.)

# %%
class Reverse(torch.autograd.Function):
    generate_vmap_rule = True                 # section 5

    @staticmethod
    def forward(x, scale):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.scale = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None

    @staticmethod
    def jvp(ctx, tangent, _):
        return -ctx.scale * tangent

# %%
class ViewReverse(Reverse):
    forward = staticmethod(lambda x, scale: x.view_as(x))   # a view, as in GradReverse


with fwAD.dual_level(), warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 warns about its own jit use here
    dual = fwAD.make_dual(torch.tensor([1.0, 2.0], device=device),
                          torch.tensor([1.0, 0.5], device=device))      # value, tangent
    print("tangent out:", fmt(fwAD.unpack_dual(Reverse.apply(dual, 1.0)).tangent))
    with expect_error(NotImplementedError, contains="must implement the jvp function"):
        reverse_grad(dual)                                              # GradReverse: no jvp
    with expect_error(RuntimeError, contains="the jvp is not returning a view"):
        ViewReverse.apply(dual, 1.0)

# %%
jac_fwd = torch.func.jacfwd(lambda t: Reverse.apply(t, 1.0))(x64.detach())
jac_rev = torch.func.jacrev(lambda t: Reverse.apply(t, 1.0))(x64.detach())
minus_identity = -torch.eye(3, dtype=torch.float64, device=device)
print("jacfwd == jacrev == −I:",
      torch.equal(jac_fwd, jac_rev) and torch.equal(jac_rev, minus_identity))
print("forward AD checked, scale = −1:",
      torch.autograd.gradcheck(lambda t: Reverse.apply(t, -1.0), (x64,), check_forward_ad=True))

# %% [markdown]
# ## 5. `torch.func`: the reversal under `vmap`, per-sample gradients
#
# `torch.func.vmap(fn)` runs `fn` on every row of a batch as if on one sample (lesson 05 used
# `torch.func.grad`). A custom `Function` under `vmap` needs a rule for batching: a `vmap`
# staticmethod, or `generate_vmap_rule = True` (PyTorch 2.0+), which works when `forward`,
# `setup_context`, `backward` (and `jvp`) use only PyTorch operations. `GradReverse` has neither;
# `Reverse` has the flag. The gradient of `Σ reverse(xᵢ) · yᵢ` with respect to each `xᵢ` is `−yᵢ`:

# %%
X = torch.randn(4, 3, generator=torch.Generator().manual_seed(1)).to(device)
Y = torch.randn(4, 3, generator=torch.Generator().manual_seed(2)).to(device)
with expect_error(RuntimeError, contains="does not have vmap support"):
    torch.func.vmap(torch.func.grad(lambda x, y: (reverse_grad(x) * y).sum()))(X, Y)
per_row = torch.func.vmap(torch.func.grad(lambda x, y: (Reverse.apply(x, 1.0) * y).sum()))(X, Y)
print("vmap(grad(...)) with generate_vmap_rule: −Y exactly:", torch.equal(per_row, -Y))

# %% [markdown]
# The same pair `vmap(grad(...))` gives **per-sample gradients**: one gradient of the loss per
# sample, not their mean. That is what per-sample clipping needs (differentially private SGD,
# Abadi et al., 2016): scale each sample's gradient to norm at most `C`, then average. It is one
# more way to steer gradients, and it cannot be done on the averaged `.grad`. Checked against a
# loop over samples that uses PyTorch's own `clip_grad_norm_`:

# %%
def loss(w, x, y):                            # one sample's squared error
    return (x @ w - y) ** 2


w = torch.tensor([0.5, -1.0, 2.0], device=device)
targets = torch.tensor([3.0, -2.0, 0.5, 1.0], device=device)
C = 3.0                                       # clips three of the four samples
# in_dims: w shared by all samples (None); X and targets split along dim 0
per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(w, X, targets)
scale = (C / per_sample.norm(dim=1, keepdim=True)).clamp(max=1.0)
clipped_mean = (per_sample * scale).mean(dim=0)
print("per-sample norms:", fmt(per_sample.norm(dim=1), 2), "| clipped mean:", fmt(clipped_mean))

# %%
looped = []
for x_i, y_i in zip(X, targets):
    w_i = w.clone().requires_grad_(True)
    loss(w_i, x_i, y_i).backward()
    torch.nn.utils.clip_grad_norm_([w_i], max_norm=C)   # scales by C / (norm + 1e-6) if larger
    looped.append(w_i.grad)
# rounded to 6 decimals: the + 1e-6 of clip_grad_norm_ means the two need not be bitwise equal
gap = (clipped_mean - torch.stack(looped).mean(0)).abs().max()
print("max |Δ| against the loop:", fmt(gap, 6))
print("clipping the mean instead:", fmt(per_sample.mean(0) * (C / per_sample.mean(0).norm())
                                        .clamp(max=1.0)), "(not the same)")

# %% [markdown]
# ## 6. Two more one-pass answers to the seed question
#
# Lesson 06's reversal flips the gradient where `x` enters `f`. Node hooks can do the same
# without a custom `Function`: give `f` an **alias** of `x` that nothing else uses,
# `x.view_as(x)`, and flip on it, with a pre-hook on its node (`ViewBackward0`, the node where
# `f`'s use of `x` starts) or with a tensor hook on the alias. Neither needs a handle removed: the
# hook goes with the alias's graph.

# %%
show_source(prehook_on_alias)
show_source(hook_on_alias)

# %% [markdown]
# On lesson 06's larger problem (`g` an MLP, `f` a `PairCritic`, 512 rows), against the two
# passes: `g`'s gradients (max |Δ|) and the bytes saved for backward per step.

# %%
problem = make_problem(n=512, device=device)
methods = {"two-pass": two_pass, "reversal": METHODS["reversal"],
           "pre-hook on alias": prehook_on_alias, "hook on alias": hook_on_alias}
compare_gradients({name: run_method(m, problem) for name, m in methods.items()}, decimals=4)

# %%
params = list(problem.g.parameters()) + list(problem.f.parameters())
saved = {name: saved_tensor_bytes(lambda m=m: run_method(m, problem), exclude=params)
         for name, m in methods.items()}
for name, n_bytes in saved.items():
    ratio = n_bytes / saved["two-pass"]
    print(f"{name:18} saves {format_bytes(n_bytes):>9}   {ratio:.3f} × two-pass")

# %% [markdown]
# Like the reversal, both are exact when `x` also feeds another loss `r(x)` (the flip is on the
# alias, not on `x`). Unlike it, they fail **silently** when `f` changes its input in place
# (`x.relu_()` on the alias): the alias is a *view* of `x`, an in-place change of a view reroutes
# its gradient past the hooked `ViewBackward0`, neither hook runs, and the flip is lost: the result
# is a plain `f(x, y).backward()`'s. (The reversal refuses this case with an error, lesson 06.)
# Giving `f` a clone, `f(x.clone(), y)`, makes both exact again:

# %%
small = make_problem(n=64, width=32)


def r(x):
    return x.pow(2).mean()


def with_r(method):                           # method, plus r(x) on x itself (not on the alias)
    return lambda x, y, f: method(x, y, lambda x_f, y_f: f(x_f, y_f) + r(x))


def reference_with_r(x, y, f):
    r(x).backward(retain_graph=True)
    two_pass(x, y, f)


results = {name: run_method(m, small) for name, m in {
    "two-pass": reference_with_r, "pre-hook on alias": with_r(prehook_on_alias),
    "hook on alias": with_r(hook_on_alias)}.items()}
compare_gradients(results, decimals=4)

# %%
def cloned(method):                           # the same method; f gets a clone of the alias
    return lambda x, y, f: method(x, y, lambda x_f, y_f: f(x_f.clone(), y_f))


f_small = small.f
small.f = lambda x, y: f_small(x.relu_(), y)  # f changes its input in place
results = {name: run_method(m, small) for name, m in {
    "two-pass": two_pass, "plain backward": lambda x, y, f: f(x, y).backward(),
    "pre-hook on alias": prehook_on_alias, "hook on alias": hook_on_alias,
    "pre-hook, clone": cloned(prehook_on_alias), "hook, clone": cloned(hook_on_alias)}.items()}
small.f = f_small
print(compare_gradients(results, decimals=4))
against_plain = compare_gradients({k: results[k] for k in list(results)[1:4]}, decimals=4)
print("the alias methods against a plain backward: max |Δ| =",
      max(max(d.values()) for d in against_plain.max_abs_diff.values()))

# %% [markdown]
# [The catalogue](11_one_pass_vs_two.ipynb) measures the hook on an alias in every case of
# lesson 06.
#
# ## Summary
#
# | tool | steers | runs |
# |---|---|---|
# | `t.register_hook(fn)` | the gradient w.r.t. `t` (returns a replacement) | first, when the gradient reaches `t`; on a non-leaf kept by `t.grad_fn` |
# | `t.retain_grad()` | nothing; keeps `t.grad` | after `t`'s tensor hooks, before Node pre-hooks |
# | `node.register_prehook(fn)` | `grad_outputs` of the node | before the node, if it runs (not for an `autograd.grad` input) |
# | `node.register_hook(fn)` | `grad_inputs` (to the op's inputs) | after the node, if it runs |
# | `p.register_post_accumulate_grad_hook(fn)` | `p` itself (e.g. an optimizer step) | after `p.grad` is accumulated (2.1+) |
# | `register_multi_grad_hook` | nothing: return value ignored | when all (or any) gradients are ready |
# | `get_gradient_edge(t)` | what `autograd.grad` differentiates w.r.t. | — |
# | `increment_version` / `allow_mutation_on_saved_tensors` | the in-place check | at backward |
# | custom `Function` | the rule itself: `backward`, `jvp`, batching | `backward` in the node it creates; `jvp` in the forward pass |
# | `vmap(grad(...))` | per-sample gradients (clip each) | — |
#
# A `Function` done properly: `None` where `needs_input_grad` is false; `mark_non_differentiable`,
# `mark_dirty` where they apply; a differentiable `backward` or `@once_differentiable`; `gradcheck`,
# knowing what it can pass; `generate_vmap_rule = True`.

# %% [markdown]
# ## Exercises
#
# **10.1** `h = w * 3`, `h.retain_grad()`, a tensor hook on `h` returning `grad * 3`, a pre-hook on
# `h.grad_fn` adding 1 to its gradient, and `(h * 4).sum().backward()` with one-element `w`. What are
# `h.grad` and `w.grad`? Give `[h.grad, w.grad]`.

# %%
answer = None
check("10.1", answer)

# %% [markdown]
# **10.2** Write a custom `Function` `ClampGrad`, applied as `ClampGrad.apply(x, c)`: the identity in
# the forward pass, the gradient clamped to `[−c, c]` in the backward pass. It must work with
# `backward()` and under `torch.func.vmap(torch.func.grad(...))`.

# %%
class ClampGrad(torch.autograd.Function):
    pass  # your code


check("10.2", ClampGrad)

# %% [markdown]
# **10.3** Write `clipped_mean_grad(loss, w, X, Y, C)`: the mean over samples `i` of the gradient of
# `loss(w, X[i], Y[i])` with respect to `w`, each scaled to norm at most `C` first (section 5).

# %%
def clipped_mean_grad(loss, w, X, Y, C):
    return None  # your code


check("10.3", clipped_mean_grad)
