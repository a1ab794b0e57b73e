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
#   `.data` is never caught (wrong gradients, silently);
# - what `torch.no_grad()`, `torch.inference_mode()` and `requires_grad_(False)` are each for, and
#   why `model.eval()` is not one of them;
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
import torch

from helpers import (check, compare_gradients, draw_graph, expect_error, fmt, pick_device,
                     seed_everything)
from helpers.graphs import side_by_side

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
# On the right, `MulBackward0` and `PowBackward0` are gone, and so is the `SumBackward0` above them:
# `y.detach() ** 2` is a constant as far as autograd knows. The `SumBackward0` left is `w.sum()`'s,
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
# `detach()` copies nothing: the new tensor is a view of the same storage. That makes it free, and
# it means that changing one changes the other.

# %%
y = w.exp()
d = y.detach()
print("same storage:", d.data_ptr() == y.data_ptr())
print("d.requires_grad:", d.requires_grad, "| d.grad_fn:", d.grad_fn)

# %% [markdown]
# This matters because many operations **save** tensors for backward. `exp` saves its *output*
# (the derivative of eˣ is eˣ). If we modify that output in place through `d`, the gradient would be
# computed from the wrong numbers. Autograd notices: every tensor has a *version counter*
# (`t._version`), bumped by each in-place operation, and backward checks that saved tensors still
# have the version they were saved at. `detach()` **shares** the counter with the original, so an
# in-place change through `d` bumps `y`'s version too:

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
# `sum(exp(w))` is `exp(w)`:

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
# ## 3. Grad modes (`no_grad`, `inference_mode`), freezing (`requires_grad_(False)`) — and `eval()`
#
# `detach()` acts on one tensor. The two grad modes act on a whole block of code, freezing on a
# whole parameter:

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
# Evaluating a model needs `model.eval()` as well (the end of this section).

# %%
with torch.no_grad():
    print("dropout active under no_grad, two calls differ:", not torch.equal(model(x), model(x)))

# %% [markdown]
# `inference_mode` (PyTorch 1.9+) goes further than `no_grad`: it also skips the version counter and
# view tracking. The price: an inference tensor cannot be **saved for backward**, so an operation
# recorded later that would save it fails. Here that is `*`: it saves `out_inference`, because the
# gradient of the product with respect to `model(x)` is `out_inference` (times the incoming one):

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
# `requires_grad_(False)` freezes *parameters*: the forward pass is still recorded for the rest, but
# the frozen ones get no gradient (fine-tuning only the head of a network, say).

# %%
model[0].requires_grad_(False)  # freeze the first layer
model(x).sum().backward()
for name, p in model.named_parameters():
    print(f"{name:9} requires_grad={p.requires_grad!s:5} grad is None: {p.grad is None}")
model[0].requires_grad_(True)
model.zero_grad()

# %% [markdown]
# And `model.eval()`? It changes how *layers* behave (dropout off, batch-norm uses running
# statistics), not whether gradients are recorded. Evaluation code wants both: `eval()` for the
# layers, `no_grad()` (or `inference_mode()`) for the graph.

# %%
model.eval()
out = model(x)
print("after eval(): requires_grad =", out.requires_grad, "| grad_fn:", type(out.grad_fn).__name__)
print("dropout off, so two calls agree:", torch.equal(model(x), model(x)))

with torch.no_grad():                  # evaluation: eval() and no_grad() together
    evaluated = model(x)
print("eval() + no_grad(): requires_grad =", evaluated.requires_grad)
_ = model.train()  # back to training mode

# %% [markdown]
# ## 4. Patterns built on `detach()`
#
# ### A fixed target
# In reinforcement learning (DQN) or self-distillation, a loss compares a network's output with a
# *target* computed by another network (or the same one) that must not be trained through that
# loss.

# %%
online = torch.nn.Linear(3, 1).to(device)
target_net = torch.nn.Linear(3, 1).to(device)
target_net.load_state_dict(online.state_dict())  # a copy, updated only now and then

target = target_net(x).detach() + 1.0             # "reward + value of the next state"
loss = ((online(x) - target) ** 2).mean()
loss.backward()
print("online gets a gradient:", online.weight.grad is not None)
print("target_net gets none  :", target_net.weight.grad is None)

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
# binary codes) cannot learn through it. The trick `x + (q - x).detach()` has the *value* of `q` but
# the *gradient* of `x`: forward rounds, backward pretends nothing happened.

# %%
x_in = torch.tensor([0.2, 0.7, 1.4, -1.6], device=device, requires_grad=True)

q = torch.round(x_in)
q.sum().backward()
plain_grad = x_in.grad.clone()
x_in.grad = None

ste = x_in + (torch.round(x_in) - x_in).detach()
ste.sum().backward()
print("value of the STE   :", fmt(ste), "| equals round(x):", torch.equal(ste, torch.round(x_in)))
print("gradient of round  :", fmt(plain_grad))
print("gradient of the STE:", fmt(x_in.grad))

# %% [markdown]
# ## Summary
#
# | use this | when | remember |
# |---|---|---|
# | `t.detach()` | one value must be a constant in backward (targets, one side of a loss, STE) | shares memory and version counter: in-place changes are caught only where backward saved it |
# | ~~`t.data`~~ | never in new code | in-place changes go unnoticed: wrong gradients |
# | `with torch.no_grad():` | metrics, updating weights by hand; evaluation together with `eval()` | results don't require grad; dropout stays on in training mode |
# | `with torch.inference_mode():` | pure inference, serving | results cannot be saved for backward later: `clone()` them first |
# | `p.requires_grad_(False)` | freezing parameters | the rest of the graph is still recorded |
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
# while the rest trains, without changing the model's forward code. Which one tool do you use?
# Answer with one of the strings
# `"detach"`, `"no_grad"`, `"inference_mode"`, `"requires_grad_(False)"`, `"eval"`.

# %%
answer = None
check("02.3", answer)
