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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/02_detach.ipynb)
#
# # 02 · detach: stopping gradients
#
# Sometimes a value must take part in the forward pass but *not* in the backward pass: a target the
# model should chase rather than move, one side of a loss, a rounding step that has no useful
# gradient. `detach()` is the tool. This lesson shows exactly what it cuts, what it shares, and its
# relatives.
#
# **You will learn**
# - how `detach()` cuts the graph (drawn side by side with the uncut graph);
# - that a detached tensor **shares memory and the version counter** with the original, when an
#   in-place change to it is caught by autograd and when it silently changes the original, and why
#   `.data` is never caught (wrong gradients, silently); `clone()` versus `detach()`, and how
#   `torch.tensor(t)` cuts the graph;
# - what `torch.no_grad()`, `torch.inference_mode()` and `requires_grad_(False)` are each for, why
#   `model.eval()` is not one of them, and where freezing does not stop an optimizer;
# - three patterns built on `detach()`: a fixed target, a one-sided loss, the straight-through
#   estimator.
#
# Time: about 30 minutes. Builds on [01 · the autograd graph](01_autograd_graph.ipynb).

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
import copy
import warnings

import torch

from helpers import (check, compare_gradients, draw_graph, expect_error, fmt, format_bytes,
                     pick_device, saved_tensor_bytes, seed_everything)
from helpers.graphs import side_by_side
from helpers.show import expect_warning

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. `detach()` cuts the graph
#
# `t.detach()` returns a tensor with the same values that autograd treats as a constant: it has no
# `grad_fn` and does not require grad. Whatever is computed from it is not connected to what `t` was
# computed from.

# %%
w = torch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
y = w * 2

uncut = (y ** 2).sum()
cut = (y.detach() ** 2).sum() + w.sum()  # + w.sum() so that the loss still requires grad

side_by_side(without_detach=draw_graph(uncut, {"w": w}), with_detach=draw_graph(cut, {"w": w}))

# %% [markdown]
# The arrows follow the forward pass, as in lesson 01. On the right, `MulBackward0` and
# `PowBackward0` are gone, and so is the `SumBackward0` after them: `y.detach() ** 2` is a constant
# as far as autograd knows. The `SumBackward0` left is `w.sum()`'s,
# and `AddBackward0` is the `+`: the only path from the loss to `w` is the `+ w.sum()` term. The
# gradients say the same:

# %%
uncut.backward()
print("without detach:", fmt(w.grad), " = 8w")
w.grad = None
cut.backward()
print("with detach   :", fmt(w.grad), " = 1 (only from + w.sum())")
w.grad = None

# %% [markdown]
# ## 2. A detached tensor shares memory with the original
#
# `detach()` copies nothing: the new tensor shares the original's storage. That makes it free, and
# it means that changing one changes the other.

# %%
y = w.exp()
d = y.detach()
print("same storage:", d.data_ptr() == y.data_ptr())
print("d.requires_grad:", d.requires_grad, "| d.grad_fn:", d.grad_fn)

# %% [markdown]
# This matters because many operations **save** tensors for backward. `exp` saves its *output*
# (the derivative of eˣ is eˣ). If we modify that output in place through `d`, the gradient would be
# computed from the wrong numbers. Autograd notices: every tensor (except the inference tensors of
# section 3) has a *version counter* (`t._version`), bumped by each in-place operation, and
# backward checks that saved tensors still have the version they were saved at. `detach()`
# **shares** the counter with the original, so an in-place change through `d` bumps `y`'s version
# too:

# %%
print("before: version of y:", y._version, "| of d:", d._version)
d.clamp_(max=5.0)  # an in-place change, through the detached tensor
print("after : version of y:", y._version, "| of d:", d._version)
print("y now:", fmt(y.detach()))

with expect_error(RuntimeError, contains="modified by an inplace operation"):
    y.sum().backward()

# %% [markdown]
# The check guards only tensors that were **saved** for backward. When nothing saved the original
# (`w + 1` saves no tensor: its gradient is 1 whatever the values), the in-place change through the
# detached tensor goes through without a word and changes the original, and everything computed from
# it afterwards:

# %%
y = w + 1
d = y.detach()
print("y before:", fmt(y.detach()))
d.mul_(10)  # not caught: AddBackward0 saved no tensor
print("y after :", fmt(y.detach()), "| version of y:", y._version)
y.sum().backward()
print("backward ran without error; w.grad =", fmt(w.grad))
w.grad = None

# %% [markdown]
# ### `.data` skips that check — and gives wrong gradients
#
# `t.data` also returns the same values without history, but it has a version counter of its own:
# an in-place change through `.data` leaves the original's `_version` as it was. The backward pass
# then runs happily on modified numbers. Here the same clamp through `.data`; the right gradient of
# `sum(exp(w))` is `exp(w)` (`compare_gradients`, from the helpers, prints the largest difference
# |Δ| per tensor):

# %%
y = w.exp()
y.data.clamp_(max=5.0)  # silently modifies what exp saved for backward
print("version of y after y.data.clamp_:", y._version)
y.sum().backward()
through_data = w.grad.clone()
w.grad = None

right = w.detach().exp()
print("right gradient exp(w):", fmt(right))
print("after .data.clamp_   :", fmt(through_data))
compare_gradients({"right": {"w": right}, ".data clamp_": {"w": through_data}}, decimals=4)

# %% [markdown]
# No error, no warning, two of three entries wrong. **Use `detach()`, never `.data`**: when your
# code modifies a tensor that backward needs, `detach()` tells you.

# %% [markdown]
# ### Copies: `clone()`, `detach()`, `detach().clone()`
#
# `clone()` copies the values **and stays in the graph** (`CloneBackward0`: gradients flow back
# through it); `detach()` leaves the graph but copies nothing; `detach().clone()` does both: new
# memory, no history — a snapshot that later in-place changes cannot reach.

# %%
y = w * 2
for name, t in [("clone()", y.clone()), ("detach()", y.detach()),
                ("detach().clone()", y.detach().clone())]:
    shares = t.untyped_storage().data_ptr() == y.untyped_storage().data_ptr()
    grad_fn = type(t.grad_fn).__name__ if t.grad_fn else None
    print(f"{name:16}: grad_fn={grad_fn!s:14} requires_grad={t.requires_grad!s:5} "
          f"shares memory={shares}")

# %% [markdown]
# `torch.tensor(t)` copies like `detach().clone()`: the result does not require grad, so the
# graph is cut there without an error, only a warning. Building a tensor from a list of
# one-element tensors, `torch.tensor([y[0], y[1]])`, cuts it the same way (it reads each as a
# Python number; PyTorch warns "Converting a tensor with requires_grad=True to a scalar" only once
# per kernel). To combine tensors and keep the graph, use `torch.stack` or `torch.cat`.

# %%
with expect_warning(UserWarning, contains="rather than torch.tensor(sourceTensor)"):
    copied = torch.tensor(y)
with warnings.catch_warnings(record=True):  # its warning, shown once per kernel, is quoted above
    from_list = torch.tensor([y[0], y[1]])
stacked = torch.stack([y[0], y[1]])
print("torch.tensor(y)       : requires_grad =", copied.requires_grad)
print("torch.tensor([y0, y1]): requires_grad =", from_list.requires_grad)
print("torch.stack([y0, y1]) : grad_fn =", type(stacked.grad_fn).__name__)

# %% [markdown]
# ## 3. Grad modes (`no_grad`, `inference_mode`) — and `eval()`
#
# `detach()` acts on one tensor. Two grad modes that turn recording off act on a whole block of
# code:

# %%
model = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.Dropout(0.5), torch.nn.Linear(64, 1))
model = model.to(device)
x = torch.randn(2, 3, generator=torch.Generator().manual_seed(1)).to(device)

with torch.no_grad():                  # records no graph: metrics, updating weights by hand
    out_no_grad = model(x)
with torch.inference_mode():           # like no_grad, with less bookkeeping (see below)
    out_inference = model(x)

print("under no_grad       : requires_grad =", out_no_grad.requires_grad)
print("under inference_mode: requires_grad =", out_inference.requires_grad,
      "| is an inference tensor:", out_inference.is_inference())

# %% [markdown]
# Neither is *evaluation*: this model is in training mode, so its dropout is still active under
# `no_grad`: each call draws a new random mask for its 2 × 64 dropout units, so two calls on the
# same input almost surely give different outputs (the same mask twice has a chance of 2⁻¹²⁸).
# And a batch-norm layer in training mode still **updates its running statistics** under
# `no_grad`: "evaluating" a model that way changes it. Evaluating needs `model.eval()` as well (the
# end of this section).

# %%
bn = torch.nn.BatchNorm1d(3).to(device)  # a new layer: running mean 0, in training mode
with torch.no_grad():
    print("dropout active under no_grad, two calls differ:", not torch.equal(model(x), model(x)))
    bn(x)
print("batch-norm running mean after one no_grad call:", fmt(bn.running_mean))

# %% [markdown]
# `inference_mode` (PyTorch 1.9+) goes further than `no_grad`: it also skips the version counter and
# view tracking. The price, outside the mode: an inference tensor cannot be changed in place, nor
# made to require grad (the messages below are PyTorch's):

# %%
with expect_error(RuntimeError):
    out_inference.mul_(2)
with expect_error(RuntimeError):
    out_inference.requires_grad_()

# %% [markdown]
# — and it cannot be **saved for backward**, so an operation recorded later that would save it
# fails. Here that is `*`: it saves `out_inference`, because the gradient of the product with
# respect to `model(x)` is `out_inference` (times the incoming one):

# %%
with expect_error(RuntimeError, contains="Inference tensors cannot be saved for backward"):
    (out_inference * model(x)).sum().backward()

# %% [markdown]
# Where nothing saves it, it can join a graph: `+` saves neither input. And `clone()`, called
# outside inference mode, makes a normal tensor that can be used anywhere:

# %%
(out_inference + model(x)).sum().backward()
print("out_inference + model(x): backward ran")
normal = out_inference.clone()
print("clone is an inference tensor:", normal.is_inference())
(normal * model(x)).sum().backward()
print("clone * model(x): backward ran")
model.zero_grad()

# %% [markdown]
# And `model.eval()`? It changes how *layers* behave (dropout off, batch-norm uses running
# statistics), not whether gradients are recorded. Evaluation code wants both: `eval()` for the
# layers, `no_grad()` (or `inference_mode()`) for the graph.

# %%
model.zero_grad()
model.eval()
out = model(x)
print("after eval(): requires_grad =", out.requires_grad, "| grad_fn:", type(out.grad_fn).__name__)
print("dropout off, so two calls agree:", torch.equal(model(x), model(x)))

with torch.no_grad():                  # evaluation: eval() and no_grad() together
    evaluated = model(x)
print("eval() + no_grad(): requires_grad =", evaluated.requires_grad)
_ = model.train()  # back to training mode

# %% [markdown]
# ## 4. Freezing parameters: `requires_grad_(False)`
#
# `requires_grad_(False)` freezes *parameters*: the forward pass is still recorded for the rest, but
# the frozen ones get no new gradient (fine-tuning only the head of a network, say).

# %%
model.zero_grad()
model[0].requires_grad_(False)  # freeze the first layer
model(x).sum().backward()
for name, p in model.named_parameters():
    print(f"{name:9} requires_grad={p.requires_grad!s:5} grad is None: {p.grad is None}")
_ = model[0].requires_grad_(True)

# %% [markdown]
# `grad is None` above only because `zero_grad()` ran first: `requires_grad_(False)` does not touch
# a `.grad` the parameter already has:

# %%
model(x).sum().backward()       # every parameter gets a .grad
model[0].requires_grad_(False)  # frozen afterwards
print("frozen, still holds a .grad:", model[0].weight.grad is not None)
_ = model[0].requires_grad_(True)
model.zero_grad()

# %% [markdown]
# PyTorch's optimizers skip a parameter whose `.grad` is `None`, but step one whose `.grad` holds
# zeros. With `zero_grad(set_to_none=False)` the frozen layer holds a `.grad` of zeros, and an
# optimizer with momentum or weight decay (SGD with `momentum=0.9`; AdamW, which has both) keeps
# moving it; plain SGD, with neither, does not. Here the first layer is frozen after one ordinary
# step:

# %%
def frozen_layer_moves(make_optimizer, set_to_none: bool) -> bool:
    """One ordinary step, then freeze the first layer: does the second step move it?"""
    seed_everything(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)).to(device)
    opt = make_optimizer(net.parameters())
    for step in range(2):
        if step == 1:
            net[0].requires_grad_(False)
            frozen = net[0].weight.detach().clone()
        opt.zero_grad(set_to_none=set_to_none)
        net(x).sum().backward()
        opt.step()
    return not torch.equal(frozen, net[0].weight)

# %%
optimizers = {"SGD": lambda p: torch.optim.SGD(p, lr=0.1),
              "SGD, momentum 0.9": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
              "AdamW": lambda p: torch.optim.AdamW(p, lr=0.1)}
for name, make in optimizers.items():
    kept, dropped = frozen_layer_moves(make, False), frozen_layer_moves(make, True)
    print(f"{name:17}: frozen layer moves with zero_grad(set_to_none=False): {kept!s:5} "
          f"| with zero_grad(): {dropped}")

# %% [markdown]
# To freeze for sure, also leave the frozen parameters out of the optimizer (or set their `.grad`
# to `None`).

# %% [markdown]
# ## 5. Patterns built on `detach()`
#
# ### A fixed target
# In reinforcement learning (DQN) or self-distillation, a loss compares a network's output with a
# *target* computed by another network (or the same one) that must not be trained through that
# loss.

# %%
online = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
online = online.to(device)
target_net = copy.deepcopy(online)  # a copy, updated only now and then

target = target_net(x).detach() + 1.0             # "reward + value of the next state"
loss = ((online(x) - target) ** 2).mean()
loss.backward()
print("online gets a gradient:", all(p.grad is not None for p in online.parameters()))
print("target_net gets none  :", all(p.grad is None for p in target_net.parameters()))

# %% [markdown]
# `target_net(x).detach()` first records `target_net`'s graph, saving its activations (here the
# `Tanh` output, 2 × 64 floats), and then drops it. Computing the target under `no_grad` records
# nothing: the same values, no wasted work and no memory peak (`saved_tensor_bytes`, from the
# helpers, counts the bytes autograd saved, leaving out the tensors named in `exclude`: here the
# weights and `x`, which stay in memory anyway; lesson 03 uses it).

# %%
def target_no_grad():
    with torch.no_grad():
        return target_net(x)


kept = [*target_net.parameters(), x]
detached = saved_tensor_bytes(lambda: target_net(x).detach(), exclude=kept)
print("saved by target_net(x).detach():", format_bytes(detached))
print("saved under no_grad            :",
      format_bytes(saved_tensor_bytes(target_no_grad, exclude=kept)))
print("same values:", torch.equal(target_no_grad(), target_net(x).detach()))

# %% [markdown]
# ### Stop-gradient in one branch of a loss
# `(a - b.detach())²` pulls `a` towards `b` without pulling `b` towards `a` (used in SimSiam, BYOL,
# and VQ-VAE's commitment loss). With `a = 3`, `b = 1`: d/da = 2(a − b) = 4, and `b` gets nothing.

# %%
a = torch.tensor(3.0, device=device, requires_grad=True)
b = torch.tensor(1.0, device=device, requires_grad=True)
((a - b.detach()) ** 2).backward()
print("a.grad:", fmt(a.grad), "| b.grad:", b.grad)

# %% [markdown]
# ### The straight-through estimator
# Rounding has zero gradient almost everywhere, so a network with a rounding step (quantisation,
# binary codes) cannot learn through it. The trick `q + (x - x.detach())`, with `q = round(x)`, has
# the *value* of `q` (it adds `x - x`, exactly 0 for finite `x`) but the *gradient* of `x`:
# forward rounds, backward pretends nothing happened.

# %%
x_in = torch.tensor([0.2, 0.7, 1.4, -1.6], device=device, requires_grad=True)

q = torch.round(x_in)
q.sum().backward()
plain_grad = x_in.grad.clone()
x_in.grad = None

ste = torch.round(x_in) + (x_in - x_in.detach())
ste.sum().backward()
print("value of the STE   :", fmt(ste), "| equals round(x):", torch.equal(ste, torch.round(x_in)))
print("gradient of round  :", fmt(plain_grad))
print("gradient of the STE:", fmt(x_in.grad))

# %% [markdown]
# You will also meet the form `x + (q - x).detach()`. It has the same gradient, but its value is
# `q` only up to rounding: `q - x` and then `x + (q - x)` are each rounded to the dtype, which for
# large |x| can lose `q`. For `q = sign(x)` the value is 0 or ±2 for every |x| ≥ 258 in bfloat16,
# ≥ 2050 in float16 and > 2²⁴ in float32:

# %%
for dtype, big in [(torch.bfloat16, 300.0), (torch.float16, 3000.0), (torch.float32, 3e7)]:
    xs = torch.tensor([-big, -1.0, big], dtype=dtype, device=device)
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    other = x1 + (torch.sign(x1) - x1).detach()
    exact = torch.sign(x2) + (x2 - x2.detach())
    (other.sum() + exact.sum()).backward()
    print(f"{str(dtype)[6:]:8} x = {fmt(xs)}: x + (q - x).detach() = {fmt(other)}, "
          f"q + (x - x.detach()) = {fmt(exact)} | gradients equal: {torch.equal(x1.grad, x2.grad)}")

# %% [markdown]
# ## Summary
#
# | use this | when | remember |
# |---|---|---|
# | `t.detach()` | one value must be a constant in backward (targets, one side of a loss, STE `q + (x - x.detach())`) | shares memory and version counter: in-place changes are caught only where backward saved it |
# | ~~`t.data`~~ | never in new code | in-place changes go unnoticed: wrong gradients |
# | `t.detach().clone()` | a snapshot: new memory, no history | `clone()` alone stays in the graph; `torch.tensor(t)` cuts it with only a warning |
# | `with torch.no_grad():` | metrics, targets, updating weights by hand; evaluation together with `eval()` | results don't require grad; dropout and batch-norm statistics stay in training mode |
# | `with torch.inference_mode():` | pure inference, serving | outside the mode, results cannot be changed in place or saved for backward: `clone()` them first |
# | `p.requires_grad_(False)` | freezing parameters | keeps an existing `.grad`; momentum and AdamW move a zero `.grad`: `zero_grad()` (to `None`) or leave it out of the optimizer |
# | `model.eval()` | switching dropout / batch-norm to evaluation | **not** a grad mode: combine with `no_grad` |
#
# Next: [03 · retain_graph](03_retain_graph.ipynb) — backpropagating twice through one graph.

# %% [markdown]
# ## Exercises
#
# **02.1** With `p = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)` and
# `loss = (p * p.detach()).sum()`, what is `p.grad` after `loss.backward()`? Give it as a list of
# numbers.

# %%
answer = None
check("02.1", answer)

# %% [markdown]
# **02.2** Write `sign_ste(x)`: its value is `torch.sign(x)`, its gradient with respect to `x` is 1
# everywhere (a straight-through estimator).

# %%
def sign_ste(x):
    return None  # your code


check("02.2", sign_ste)

# %% [markdown]
# **02.3** You fine-tune a pretrained model and want its embedding layer to stay exactly as it is
# while the rest trains, without changing the model's forward code (your loop resets gradients
# with the default `zero_grad()`). Which one tool do you use?
# Answer with one of the strings
# `"detach"`, `"no_grad"`, `"inference_mode"`, `"requires_grad_(False)"`, `"eval"`.

# %%
answer = None
check("02.3", answer)
