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
# - how to keep the gradient of an intermediate tensor (`retain_grad()`);
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

device = pick_device()  # CUDA when present, else the CPU (or set AUTOGRAD_WORKSHOP_DEVICE)
seed_everything(0)

# %% [markdown]
# ## 1. Tensors that require grad
#
# Autograd records operations only on tensors that *require grad*. You ask for it when you create a
# tensor (`requires_grad=True`); the parameters of an `nn.Module` ask for it themselves.

# %%
w = torch.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)  # a "parameter"
x = torch.tensor([0.5, 1.0, 2.0], device=device)  # data: no gradient needed

print("w.requires_grad:", w.requires_grad)
print("x.requires_grad:", x.requires_grad)

# %% [markdown]
# The result of a differentiable operation requires grad as soon as **one** of its inputs does, and
# it remembers which operation made it in `grad_fn`. A tensor you created yourself has no `grad_fn`:
# it is a **leaf** of the graph.

# %%
y = w * x         # one input requires grad -> so does the result
s = x * 2         # no input requires grad -> nothing is recorded


def describe(name: str, t: torch.Tensor) -> None:
    op = type(t.grad_fn).__name__ if t.grad_fn else None
    print(f"{name:11}: requires_grad={t.requires_grad!s:5}  is_leaf={t.is_leaf!s:5}  grad_fn={op}")


for name, t in [("w", w), ("x", x), ("y", y), ("s", s)]:
    describe(name, t)

# %% [markdown]
# Two exceptions. Outputs that have no derivative at all, such as comparisons (`w > 0`) and
# `argmax`, never require grad, whatever their inputs. And inside `with torch.no_grad():` nothing is
# recorded, so even `w * x` gives a tensor that does not require grad
# ([lesson 02](02_detach.ipynb) is about such blocks).

# %%
describe("w > 0", w > 0)
describe("w.argmax()", w.argmax())
with torch.no_grad():
    describe("no_grad w*x", w * x)

# %% [markdown]
# Note that `x` and `s` are leaves too: every tensor that does not require grad counts as a leaf.
# Only leaves that require grad (like `w`) receive a `.grad` from `backward()`.

# %% [markdown]
# ## 2. `grad_fn` and `next_functions`: the graph, by hand
#
# Each `grad_fn` is a node of the **backward graph**: the function that, given the gradient of its
# output, computes the gradients of its inputs. `next_functions` links it to the nodes of its
# inputs. Let's build a small loss and walk the links.

# %%
target = torch.tensor(3.0, device=device)
loss = ((w * x).sum() - target) ** 2


def walk(t: torch.Tensor) -> None:
    """Print each node from t.grad_fn down, following the first input that has a node."""
    node = t.grad_fn
    while node is not None:
        pairs = [(type(f).__name__ if f is not None else None, nr) for f, nr in node.next_functions]
        print(f"{type(node).__name__:14} next_functions: {pairs}")
        children = [f for f, _ in node.next_functions if f is not None]
        node = children[0] if children else None


walk(loss)

# %% [markdown]
# Read it bottom-up for the forward pass: multiply, sum, subtract, square. Each node's
# `next_functions` has at most one entry per input of its forward operation, in order. Which inputs
# get one:
#
# | input of the forward operation | example in this section | entry in `next_functions` |
# |---|---|---|
# | requires grad | `w` in `w * x` | `(node, input_nr)` |
# | differentiable, does not require grad | `x` in `w * x`; `target` in `… - target`; the 2 in `2 * w` (`*` wraps the number into a 0-dim tensor) | `(None, 0)`: no gradient is sent there |
# | not differentiable, or a Python number the operation takes as a parameter | the condition of `torch.where`; the index in `w[index]`; the 2 in `** 2` (`pow`'s exponent) | no entry |
#
# In a pair `(node, input_nr)`:
# - `node` is where the gradient for that input goes: the node that made the input, or
#   `AccumulateGrad` for a leaf;
# - `input_nr` says *which output* of that node the input was. It is 0 for every node here, because
#   each made one output; an operation with several outputs, such as `unbind`, gives other numbers:

# %%
first, _, third = w.unbind()  # one UnbindBackward0 node with three outputs
walk(first * third)  # input_nr 0 and 2: its first and third outputs

# %% [markdown]
# The other rows of the table: `2 * w` has two entries, the second `(None, 0)` for the 2;
# `torch.where(w > 0, w, 2 * w)` has three tensor inputs and two entries, none for the condition
# `w > 0`; `w[index]` has one, none for the index tensor.

# %%
def entries(t: torch.Tensor) -> list:
    """t.grad_fn's next_functions, with each node replaced by its type's name."""
    return [(type(f).__name__ if f is not None else None, nr) for f, nr in t.grad_fn.next_functions]


print("2 * w  :", entries(2 * w))
print("where  :", entries(torch.where(w > 0, w, 2 * w)))
print("indexed:", entries(w[torch.tensor([0, 2], device=device)]))

# %% [markdown]
# The last node, `AccumulateGrad`, is where a gradient arrives at a leaf: it holds the leaf in
# `.variable`.

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
# Pass names for your tensors in `params`.

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
# d loss / d w in `w.grad`. Here `loss = (w·x − 3)²`, so by hand d loss / d w = 2 (w·x − 3) x.
# With these numbers 2 (w·x − 3) = 3, so `w.grad` is 3x, not `x` itself.
# (`.detach()` below gives the same numbers as a tensor without history, to print;
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
# Where do `w.grad`'s numbers come from? `gradient_flow` (from the helpers) records what each backward
# node sends to each of its inputs during one `backward()`: the red numbers on the edges of the
# picture, and the same numbers in its text form. The layout is that of section 3, but the arrows
# point the way the gradient travels, from `loss` to `w` (in the text, `A -> B: v` means A sent v
# to B). The loss's gradient 1 leaves `PowBackward0` as 2 (w·x − 3) · 1 = 3, passes `SubBackward0`
# unchanged ("no grad": the constant 3 gets nothing), `SumBackward0` hands 3 to each of the three
# products, and `MulBackward0` multiplies by `x`, which itself gets nothing (the second "no grad").
# We run the same forward and backward again, from `w.grad = None`, so `w.grad` ends as above.

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
# PyTorch 2.0) frees the memory; `w.grad.zero_()` keeps a tensor of zeros.

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
# memory. Reading `.grad` of a non-leaf gives `None` and a warning.

# %%
import warnings

h = w * x               # non-leaf
out = (h ** 2).sum()
out.backward()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    print("h.grad:", h.grad)
print(f"{caught[0].category.__name__}:", str(caught[0].message).split(" Its ")[0])

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
# ## Summary
#
# | you want to… | use | remember |
# |---|---|---|
# | track a tensor | `requires_grad=True` (parameters do it themselves) | differentiable ops on it are tracked too, outside `no_grad` |
# | see how a tensor was made | `t.grad_fn`, `.next_functions`, `draw_graph(t)` | leaves have `grad_fn=None` |
# | get gradients of a scalar | `loss.backward()` | only leaves that require grad get `.grad`; saved tensors are freed |
# | start a new step | `opt.zero_grad()` or `p.grad = None` | `.grad` **accumulates** otherwise |
# | see an intermediate gradient | `t.retain_grad()` before `backward()` | or a hook (lesson 05) |
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
