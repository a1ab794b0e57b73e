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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/01_autograd_graph.ipynb)
#
# # 01 · The autograd graph
#
# Every lesson in this workshop steers gradients: stops them, keeps them, edits them in flight.
# To steer something you first need to see it. This lesson shows what PyTorch records while you
# compute, and what `backward()` does with that record.
#
# **You will learn**
# - which tensors autograd tracks (`requires_grad`), and the difference between *leaf* and
#   *non-leaf* tensors;
# - what `grad_fn` and `next_functions` are, and how to draw the whole graph;
# - what `backward()` writes into `.grad`, what it frees, why it *adds* rather than overwrites, and
#   how to reset it;
# - how to keep the gradient of an intermediate tensor (`retain_grad()`), and why a parameter moved
#   or scaled after creation gets no `.grad`;
# - why Python control flow just works: the graph is rebuilt on every forward pass.
#
# Time: about 25 minutes.

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

from helpers import (check, draw_graph, expect_error, fmt, gradient_flow, pick_device,
                     seed_everything)
from helpers.nodes import entries, tensor_info
from helpers.show import expect_warning

device = pick_device()  # CUDA when present, else the CPU (or set AUTOGRAD_WORKSHOP_DEVICE)
seed_everything(0)

# %% [markdown]
# ## 1. Tensors that require grad
#
# Autograd records operations only on tensors that *require grad*. You ask for it when you create a
# tensor (`requires_grad=True`); the parameters of an `nn.Module` ask for it themselves. The tensors
# are created directly on `device` (`device=`), not moved there afterwards: section 6 shows why.

# %%
w = torch.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)  # a "parameter"
x = torch.tensor([0.5, 1.0, 2.0], device=device)  # data: no gradient needed

print("w.requires_grad:", w.requires_grad)
print("x.requires_grad:", x.requires_grad)

# %% [markdown]
# The result of a differentiable operation requires grad as soon as **one** of its inputs does, and
# it remembers which operation made it in `grad_fn`. A tensor you created yourself has no `grad_fn`:
# it is a **leaf** of the graph. (`tensor_info`, from the helpers, prints these three attributes.)

# %%
y = w * x         # one input requires grad -> so does the result
s = x * 2         # no input requires grad -> nothing is recorded

for name, t in [("w", w), ("x", x), ("y", y), ("s", s)]:
    print(tensor_info(name, t))

# %% [markdown]
# Two exceptions. Outputs that have no derivative at all, such as comparisons (`w > 0`) and
# `argmax`, never require grad, whatever their inputs. And inside `with torch.no_grad():` nothing is
# recorded, so even `w * x` gives a tensor that does not require grad
# ([lesson 02](02_detach.ipynb) is about such blocks).

# %%
print(tensor_info("w > 0", w > 0))
print(tensor_info("w.argmax()", w.argmax()))
with torch.no_grad():
    print(tensor_info("no_grad w*x", w * x))

# %% [markdown]
# Note that `x` and `s` are leaves too: every tensor that does not require grad counts as a leaf.
# By default only leaves that require grad (like `w`) receive a `.grad` from `backward()`
# (section 6 shows how a non-leaf can keep one).

# %% [markdown]
# ## 2. `grad_fn` and `next_functions`: the graph, by hand
#
# Each `grad_fn` is a node of the **backward graph**: the function that, given the gradient of its
# output, computes the gradients of its inputs. Its `next_functions` holds one pair
# `(node, input_nr)` per differentiable tensor input of the operation: `node` is where that input's
# gradient goes (the node that made the input, or `AccumulateGrad` for a leaf), or `None` when the
# input does not require grad; `input_nr` says which output of `node` the input was (0 here).
# Let's build a small loss and walk the links.

# %%
target = torch.tensor(2.0, device=device)
loss = ((w * x).sum() - target) ** 2


def walk(t: torch.Tensor) -> None:
    """Print each node from t.grad_fn down, following the first input that has a node."""
    node = t.grad_fn
    while node is not None:
        print(f"{type(node).__name__:14} next_functions: {entries(node)}")
        children = [f for f, _ in node.next_functions if f is not None]
        node = children[0] if children else None


walk(loss)

# %% [markdown]
# Read it bottom-up for the forward pass: multiply, sum, subtract, square. `(None, 0)` is the
# entry of `x` in `w * x` and of `target` in `… - target`: they do not require grad, so no
# gradient is sent there. (`entries` is `next_functions` with each node replaced by its type's name;
# the aside at the end of this lesson has the details.) The last node, `AccumulateGrad`, is where
# a gradient arrives at a leaf: it holds the leaf in `.variable`.

# %%
acc = loss.grad_fn                      # PowBackward0
for _ in range(4):                      # -> Sub -> Sum -> Mul -> AccumulateGrad
    acc = acc.next_functions[0][0]
print(type(acc).__name__, "holds w:", acc.variable is w)

# %% [markdown]
# ## 3. Drawing the graph
#
# Walking `next_functions` by hand gets old fast. `draw_graph` does it for you: the picture uses
# torchviz's colours (blue: leaves that require grad; green: the output; grey: backward functions).
# Its arrows point the way the **forward** pass went, from `w` to `loss`. Pass names for your
# tensors in `params`.

# %%
picture = draw_graph(loss, params={"w": w, "loss": loss})
picture

# %% [markdown]
# The picture also has a text form, which `print` shows: the same nodes and edges, in a stable order
# (the tests of this workshop compare it, since a picture is hard to compare).

# %%
print(picture)

# %% [markdown]
# `x` and `target` are not in the graph: they do not require grad, so no gradient flows to them and
# autograd does not record them as nodes (they are still *used*: `MulBackward0` keeps `x`, because
# the gradient of `w * x` with respect to `w` is `x`).

# %% [markdown]
# ## 4. `backward()` fills `.grad`
#
# `loss.backward()` runs the backward graph from `loss` to the leaves and stores
# d loss / d w in `w.grad`. Here `loss = (w·x − 2)²`, so by hand d loss / d w = 2 (w·x − 2) x.
# With these numbers w·x = 4.5 and 2 (w·x − 2) = 5, so `w.grad` is 5x, not `x` itself.
# (`fmt`, from the helpers, prints values rounded and without the device, so that the output is the
# same on a CPU and a GPU; `.detach()` gives the same numbers as a tensor without history, to print:
# [lesson 02](02_detach.ipynb) explains it.)

# %%
loss.backward()

by_hand = 2 * ((w * x).sum() - target) * x
print("w.grad     :", fmt(w.grad))
print("by hand    :", fmt(by_hand.detach()))
print("x          :", fmt(x))
print("same:", torch.allclose(w.grad, by_hand))

# %% [markdown]
# What did `backward()` free? Not the graph: the nodes are still there, and the same walk as in
# section 2 prints the same chain. It freed the tensors the nodes had **saved** for it
# (`PowBackward0` kept its input, `MulBackward0` kept `x`); reading one now fails. That is why a
# second `backward()` through this graph fails, the subject of [lesson 03](03_retain_graph.ipynb).

# %%
walk(loss)
# expect_error (from helpers) prints the error instead of a traceback, and fails if none is raised
with expect_error(RuntimeError, contains="saved tensors after they have already been freed"):
    loss.grad_fn._saved_self  # PowBackward0's saved input

# %% [markdown]
# Where do `w.grad`'s numbers come from? `gradient_flow` (from the helpers) records what each
# backward node sends to each of its inputs during one `backward()`. The layout is that of
# section 3, but here the red arrows point the way the gradient travels, **backward**, from `loss`
# to `w`, each labelled with what was sent (in the text, `A -> B: v` means A sent v to B). A grey
# dashed line from a node to a "no grad" label, with a bar at the label's end, marks an input of that
# node that receives nothing: the gradient stops before it, and nothing flows into the node from it.
#
# The loss's gradient 1 leaves `PowBackward0` as 2 (w·x − 2) · 1 = 5, passes `SubBackward0`
# unchanged (the constant 2 gets nothing), `SumBackward0` hands 5 to each of the three products,
# and `MulBackward0` multiplies by `x`, which itself gets nothing. We run the same forward and
# backward again, from `w.grad = None`, so `w.grad` ends as above.

# %%
w.grad = None
loss = ((w * x).sum() - target) ** 2
with gradient_flow(loss, {"w": w, "loss": loss}) as flow:
    loss.backward()
print(flow)
flow

# %% [markdown]
# ## 5. Gradients accumulate
#
# `backward()` **adds** to `.grad`; it never overwrites. That is deliberate (it lets several losses,
# or several mini-batches, contribute to one update), and it is also the most common bug: run the
# same forward and backward again, and the gradient doubles.

# %%
first_grad = w.grad.clone()
loss = ((w * x).sum() - target) ** 2  # a fresh forward pass: a new graph
loss.backward()
print("after a second backward:", fmt(w.grad))
print("exactly twice the first:", torch.equal(w.grad, 2 * first_grad))

# %% [markdown]
# Reset it between steps. `w.grad = None` (what `optimizer.zero_grad()` does by default since
# PyTorch 2.0) frees the memory; `w.grad.zero_()` keeps a tensor of zeros. (An optimizer from
# [`torch.optim`](https://docs.pytorch.org/docs/stable/optim.html) updates the tensors it is given
# from their `.grad`; [lesson 07](07_training_loop.ipynb) trains with one.)

# %%
opt = torch.optim.SGD([w], lr=0.1)
opt.zero_grad()  # set_to_none=True by default
print("after zero_grad():", w.grad)

loss = ((w * x).sum() - target) ** 2
loss.backward()
print("one backward again:", fmt(w.grad), "| equals the first:", torch.equal(w.grad, first_grad))

# %% [markdown]
# ## 6. Non-leaf tensors keep no `.grad` … unless you ask
#
# Gradients of intermediate (non-leaf) tensors are computed on the way but thrown away, to save
# memory. Reading `.grad` of a non-leaf gives `None` and a warning (`expect_warning`, from the
# helpers, prints it).

# %%
h = w * x               # non-leaf
out = (h ** 2).sum()
out.backward()
with expect_warning(UserWarning, contains="is not a leaf Tensor is being accessed"):
    print("h.grad:", h.grad)

# %% [markdown]
# Call `retain_grad()` on it *before* `backward()` to keep it. Here d out / d h = 2h:

# %%
w.grad = None
h = w * x
h.retain_grad()
out = (h ** 2).sum()
out.backward()
print("h.grad:", fmt(h.grad), "| 2h:", fmt(2 * h.detach()))
print("same:", torch.equal(h.grad, 2 * h.detach()))

# %% [markdown]
# ### A pitfall: moving or scaling a parameter after creating it
#
# `torch.randn(3, requires_grad=True) * 0.01` or `….to(torch.float64)` is not the tensor you
# created: it is the *result* of an operation (`MulBackward0`, `ToCopyBackward0`), a non-leaf. Its
# `.grad` stays `None` (the gradient goes to the leaf before the operation, which you no longer
# hold), and an optimizer refuses it. `.to(device)` and `.cuda()`
# do the same when they really move the tensor (a CPU tensor to a GPU); on the device it already
# has, `.to` returns the tensor itself. Hence the `device=` in section 1. (`model.to(device)` is
# fine: a module moves its parameters in place, and they stay leaves.)

# %%
scaled = torch.randn(3, device=device, requires_grad=True) * 0.01
cast = torch.randn(3, device=device, requires_grad=True).to(torch.float64)
print(tensor_info("scaled", scaled))
print(tensor_info("cast", cast))
(scaled.sum() + cast.sum()).backward()
with expect_warning(UserWarning, contains="is not a leaf Tensor is being accessed"):
    print("scaled.grad:", scaled.grad)
with expect_error(ValueError):
    torch.optim.SGD([scaled], lr=0.1)

# %% [markdown]
# Create the tensor with its final device and dtype, or do the operation first and call
# `requires_grad_()` afterwards: either way you hold a leaf.

# %%
scaled = (torch.randn(3, device=device) * 0.01).requires_grad_()
cast = torch.randn(3, device=device, dtype=torch.float64, requires_grad=True)
(scaled.sum() + cast.sum()).backward()
print(tensor_info("scaled", scaled), "| grad:", fmt(scaled.grad))
print(tensor_info("cast", cast), "| grad:", fmt(cast.grad))

# %% [markdown]
# ## 7. The graph is rebuilt on every forward pass
#
# PyTorch records the graph *while* your code runs (a "define-by-run" graph). An `if` or a loop in
# Python therefore just changes which operations get recorded — there is nothing to compile.

# %%
def f(v: torch.Tensor, steps: int) -> torch.Tensor:
    for _ in range(steps):
        v = torch.tanh(v) if v.sum() > 0 else v * 2
    return v.sum()


a = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
draw_graph(f(a, steps=2), params={"a": a})

# %%
draw_graph(f(-a, steps=3), params={"a": a})

# %% [markdown]
# Same function, different inputs, different graphs: the first took the `tanh` branch twice; the
# second doubled three times (`NegBackward0` is the `-a`). Each `backward()` runs the graph that
# *this* forward pass recorded, then frees the tensors it saved (lesson 03 is about that freeing).

# %% [markdown]
# ## Aside: `next_functions` in detail
#
# Nothing in lessons 01–03 needs this; read it when you walk graphs yourself. `next_functions` has
# one entry per differentiable tensor input **of the operation autograd recorded**, in that
# operation's order — not one per argument of the function you called:
#
# | input of the recorded operation | example | entry |
# |---|---|---|
# | requires grad | `w` in `w * x` | `(node, input_nr)` |
# | differentiable, does not require grad | `x` in `w * x`; the 2 in `2 * w` (wrapped into a 0-dim tensor) | `(None, 0)` |
# | not differentiable, or a number the operation takes as a parameter | the condition of `torch.where`; the index in `w[index]`; the 2 in `** 2` | none |
#
# `input_nr` says *which output* of that node the input was: an operation with several outputs,
# such as `unbind`, gives numbers other than 0.

# %%
first, _, third = w.unbind()  # one UnbindBackward0 node with three outputs
print("first * third:", entries(first * third))  # its outputs 0 and 2
print("2 * w        :", entries(2 * w))
print("where        :", entries(torch.where(w > 0, w, 2 * w)))  # no entry for w > 0
print("w[index]     :", entries(w[torch.tensor([0, 2], device=device)]))

# %% [markdown]
# A list argument gives one entry per tensor in it: `torch.cat([w, v, w])` has three, two of them
# for `w`. And a call can record another operation: `F.linear(x, W, b)` on a 2-D input is recorded
# as `addmm(b, x, Wᵀ)`, so its node is `AddmmBackward0` with entries for `b`, `x` (`None`: it does
# not require grad) and `Wᵀ` (a `TBackward0` node in front of `W`'s `AccumulateGrad`).

# %%
v = torch.tensor([0.5, 0.5, 0.5], device=device, requires_grad=True)
print("cat([w, v, w]):", entries(torch.cat([w, v, w])))
W = torch.randn(2, 3, device=device, requires_grad=True)
b = torch.zeros(2, device=device, requires_grad=True)
out = torch.nn.functional.linear(x.unsqueeze(0), W, b)
print(f"F.linear -> {type(out.grad_fn).__name__}:", entries(out))

# %% [markdown]
# ## Summary
#
# | you want to… | use | remember |
# |---|---|---|
# | track a tensor | `requires_grad=True` (parameters do it themselves) | differentiable ops on it are tracked too, outside `no_grad` |
# | see how a tensor was made | `t.grad_fn`, `.next_functions`, `draw_graph(t)` | leaves have `grad_fn=None` |
# | get gradients of a scalar | `loss.backward()` | only leaves that require grad get `.grad` (and tensors that called `retain_grad()`); saved tensors are freed |
# | start a new step | `opt.zero_grad()` or `p.grad = None` | `.grad` **accumulates** otherwise |
# | see an intermediate gradient | `t.retain_grad()` before `backward()` | or a hook (lesson 05) |
# | a parameter on a GPU, scaled, another dtype | create it so, or `requires_grad_()` after the operation | `randn(…, requires_grad=True).to(…)` or `* 0.01` is a non-leaf: no `.grad`, and optimizers refuse it |
# | branch or loop | plain Python | the graph is rebuilt on each forward |
#
# Next: [02 · detach](02_detach.ipynb) — stopping gradients on purpose.

# %% [markdown]
# ## Exercises
#
# Replace each `None` with your answer and run the cell; `check` says whether it is right or gives
# a hint.
#
# **01.1** Let `u = torch.tensor(3.0, requires_grad=True)` and `v = u**3 + 2*u`. Use autograd to
# find dv/du at u = 3, and give it as a Python number (`u.grad.item()`).

# %%
answer = None  # your code: build u and v, call backward, take u.grad.item()
check("01.1", answer)

# %% [markdown]
# **01.2** Of the tensors `w`, `x`, `y`, `s`, `h` in this notebook, which are leaves that will
# receive a `.grad` from `backward()`? Give their names as a set of strings, e.g. `{"a", "b"}`.

# %%
answer = None
check("01.2", answer)

# %% [markdown]
# **01.3** Write a function `train_grads(w, batches)` that, for each tensor `xb` in `batches`,
# computes `loss = (w * xb).sum() ** 2` and returns a list of **that batch's own** gradient of `w`
# (a clone of `w.grad` per batch). The check calls it with its own `w` (which may already hold a
# `.grad`) and batches.

# %%
def train_grads(w, batches):
    return None  # your code


check("01.3", train_grads)
