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
# - which tensors autograd tracks (`requires_grad`), and the difference between *leaf* and *non-leaf* tensors;
# - what `grad_fn` and `next_functions` are, and how to draw the whole graph;
# - what `backward()` writes into `.grad`, why it *adds* rather than overwrites, and how to reset it;
# - how to keep the gradient of an intermediate tensor (`retain_grad()`);
# - why Python control flow just works: the graph is rebuilt on every forward pass.
#
# Time: about 25 minutes.

# %%
# Setup, the same in every lesson: make the workshop's `helpers` importable.
# On Colab, which opens this notebook alone, it first fetches the repository.
import os, sys, subprocess
from pathlib import Path

if "google.colab" in sys.modules and not Path("autograd-workshop/helpers").is_dir():
    repo = os.environ.get("AUTOGRAD_WORKSHOP_REPO", "https://github.com/autograd-workshop/autograd-workshop")
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", "main", repo,
                    "autograd-workshop"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r",
                    "autograd-workshop/requirements-colab.txt"], check=True)
for root in [Path.cwd(), *Path.cwd().parents, Path("autograd-workshop").resolve()]:
    if (root / "helpers" / "__init__.py").is_file():
        sys.path.insert(0, str(root))
        break
else:
    raise RuntimeError("helpers/ not found: start Jupyter from the repository (see README)")

# %%
import torch

from helpers import check, draw_graph, fmt, pick_device, seed_everything

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
# The result of an operation requires grad as soon as **one** of its inputs does, and it remembers
# which operation made it in `grad_fn`. A tensor you created yourself has no `grad_fn`: it is a
# **leaf** of the graph.

# %%
y = w * x         # one input requires grad -> so does the result
s = x * 2         # no input requires grad -> nothing is recorded

for name, t in [("w", w), ("x", x), ("y", y), ("s", s)]:
    print(f"{name}: requires_grad={t.requires_grad!s:5}  is_leaf={t.is_leaf!s:5}  grad_fn={type(t.grad_fn).__name__ if t.grad_fn else None}")

# %% [markdown]
# Note that `x` and `s` are leaves too: every tensor that does not require grad counts as a leaf.
# Only leaves that require grad (like `w`) receive a `.grad` from `backward()`.

# %% [markdown]
# ## 2. `grad_fn` and `next_functions`: the graph, by hand
#
# Each `grad_fn` is a node of the **backward graph**: the function that, given the gradient of its
# output, computes the gradients of its inputs. `next_functions` links it to the nodes of its inputs.
# Let's build a small loss and walk the links.

# %%
target = torch.tensor(4.0, device=device)
loss = ((w * x).sum() - target) ** 2

node = loss.grad_fn
while node is not None:
    print(type(node).__name__)
    children = [f for f, _ in node.next_functions if f is not None]
    node = children[0] if children else None

# %% [markdown]
# Read it bottom-up for the forward pass: multiply, sum, subtract, square. The last node,
# `AccumulateGrad`, is where a gradient arrives at a leaf: it holds the leaf in `.variable`.

# %%
acc = loss.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0].next_functions[0][0]
print(type(acc).__name__, "holds w:", acc.variable is w)

# %% [markdown]
# ## 3. Drawing the graph
#
# Walking `next_functions` by hand gets old fast. `draw_graph` does it for you: the picture uses
# torchviz's colours (blue: leaves that require grad; green: the output; grey: backward functions),
# and the text under it lists the same nodes and edges. Pass names for your tensors in `params`.

# %%
draw_graph(loss, params={"w": w, "loss": loss})

# %% [markdown]
# `x` and `target` are not in the graph: they do not require grad, so no gradient flows to them and
# autograd does not record them as nodes (they are still *used*: `MulBackward0` keeps `x`, because
# the gradient of `w * x` with respect to `w` is `x`).

# %% [markdown]
# ## 4. `backward()` fills `.grad`
#
# `loss.backward()` runs the backward graph from `loss` to the leaves and stores
# d loss / d w in `w.grad`. Here `loss = (w·x − 4)²`, so by hand d loss / d w = 2 (w·x − 4) x.

# %%
loss.backward()

by_hand = 2 * ((w * x).sum() - target) * x
print("w.grad     :", fmt(w.grad))
print("by hand    :", fmt(by_hand.detach()))
print("same:", torch.allclose(w.grad, by_hand))

# %% [markdown]
# ## 5. Gradients accumulate
#
# `backward()` **adds** to `.grad`; it never overwrites. That is deliberate (it lets several losses,
# or several mini-batches, contribute to one update), and it is also the most common bug: run the
# same forward and backward again, and the gradient doubles.

# %%
first = w.grad.clone()
loss = ((w * x).sum() - target) ** 2  # a fresh forward pass: a new graph
loss.backward()
print("after a second backward:", fmt(w.grad))
print("exactly twice the first:", torch.equal(w.grad, 2 * first))

# %% [markdown]
# Reset it between steps. `w.grad = None` (what `optimizer.zero_grad()` does by default since
# PyTorch 2.0) frees the memory; `w.grad.zero_()` keeps a tensor of zeros.

# %%
opt = torch.optim.SGD([w], lr=0.1)
opt.zero_grad()  # set_to_none=True by default
print("after zero_grad():", w.grad)

loss = ((w * x).sum() - target) ** 2
loss.backward()
print("one backward again:", fmt(w.grad), "| equals the first:", torch.equal(w.grad, first))

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
print("h.grad:", fmt(h.grad), "| 2h:", fmt(2 * h.detach()), "| same:", torch.equal(h.grad, 2 * h.detach()))

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
# second doubled three times (`NegBackward0` is the `-a`). Each `backward()` runs the graph that *this*
# forward pass recorded, then frees it (lesson 03 is about that freeing).

# %% [markdown]
# ## Summary
#
# | you want to… | use | remember |
# |---|---|---|
# | track a tensor | `requires_grad=True` (parameters do it themselves) | results of ops on it are tracked too |
# | see how a tensor was made | `t.grad_fn`, `.next_functions`, `draw_graph(t)` | leaves have `grad_fn=None` |
# | get gradients of a scalar | `loss.backward()` | only leaves that require grad get `.grad` |
# | start a new step | `opt.zero_grad()` or `p.grad = None` | `.grad` **accumulates** otherwise |
# | see an intermediate gradient | `t.retain_grad()` before `backward()` | or a hook (lesson 05) |
# | branch or loop | plain Python | the graph is rebuilt on each forward |
#
# Next: [02 · detach](02_detach.ipynb) — stopping gradients on purpose.

# %% [markdown]
# ## Exercises
#
# Replace each `None` with your answer and run the cell; `check` says whether it is right or gives a hint.
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
# **01.3** Write a function `train_grads(w, batches)` that, for each tensor `xb` in `batches`, computes
# `loss = (w * xb).sum() ** 2` and returns a list of **that batch's own** gradient of `w` (a clone
# of `w.grad` per batch). The check calls it with its own `w` and batches.

# %%
def train_grads(w, batches):
    return None  # your code


check("01.3", train_grads)
