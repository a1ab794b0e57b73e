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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/03_retain_graph.ipynb)
#
# # 03 · retain_graph: backpropagating twice
#
# The workshop's question wants two backward passes through one graph, and that is the first thing
# that gets in the way: by default **a graph can be used for backward only once if its nodes saved
# tensors (most do)**. This lesson shows why, what `retain_graph=True` keeps alive and what it costs,
# the everyday bug behind the error, and the classic bug `retain_graph` leads to.
#
# **You will learn**
# - why a second `backward()` fails (the saved tensors are freed, not the graph), and why some
#   graphs happen not to fail;
# - what `retain_graph=True` keeps in memory, measured;
# - the everyday cause of the error — a tensor carried over from the previous step, like an RNN's
#   hidden state — and why `detach()`, not `retain_graph=True`, is its fix;
# - that several losses can share one `backward()`: same gradients, and the shared part of the
#   graph runs once instead of once per loss (counted);
# - the difference between `retain_graph` and `create_graph`;
# - the GAN trap: an optimizer step between two backward passes through one graph, and two correct
#   orders.
#
# Time: about 30 minutes. Builds on [01](01_autograd_graph.ipynb) and [02](02_detach.ipynb).

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
from torch import nn

from helpers import (check, collect_grads, compare_gradients, draw_graph, expect_error, fmt,
                     format_bytes, pick_device, saved_tensor_bytes, seed_everything, time_methods)
from helpers.compute_once import abs_difference, seed_example
from helpers.gan import all_changed, make_gan, snapshot
from helpers.measure import SavedTensorTracker
from helpers.nodes import graph_nodes, node_runs

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. The second `backward()` fails
#
# During the forward pass, operations **save** what their backward will need: `w * w` saves both
# factors, `exp` saves its output, a linear layer saves its input. `backward()` uses them once and
# then frees them, because most training loops never need them again. It frees only the saved
# tensors: the nodes of the graph stay as long as you hold the output.

# %% [markdown]
# `draw_graph(..., show_saved=True)` shows the saved tensors (orange), each joined by a line to the
# node that keeps it (arrows follow the forward pass, as in lesson 01): `ExpBackward0` keeps its
# `result` (the derivative of eʷ is eʷ), `MulBackward0` the factor 2 (`other`, a 0-dim tensor),
# `PowBackward0` its input (`self`).

# %%
w = torch.tensor([0.0, 0.5, 1.0], device=device, requires_grad=True)
loss = (w.exp() * 2).pow(2).sum()
draw_graph(loss, {"w": w, "loss": loss}, show_saved=True)

# %% [markdown]
# The first `backward()` uses them and frees them; the second finds them gone. This is the error
# message to recognise, so it is printed in full:

# %%
loss.backward()
print("first backward: w.grad = 8·e²ʷ =", fmt(w.grad, decimals=3))

with expect_error(RuntimeError):
    loss.backward()

# %% [markdown]
# The graph itself is still there: walking `next_functions` from `loss.grad_fn` (lesson 01) still
# finds every node. Only what the nodes saved is gone.

# %%
node, chain = loss.grad_fn, []
while node is not None:
    chain.append(type(node).__name__)
    node = node.next_functions[0][0] if node.next_functions else None
print(" -> ".join(chain))

# %% [markdown]
# ### Some graphs don't fail — that is no licence
#
# Operations whose backward needs no saved tensor (`+`, `sum`: their gradients are just ones)
# survive a second backward: the nodes are still there, and nothing they need was freed.
# Multiplying by a number already saves that number and fails:

# %%
for name, make in [("(w + 1).sum()", lambda: (w + 1).sum()),
                   ("(w + w).sum()", lambda: (w + w).sum()),
                   ("(w * 2).sum()", lambda: (w * 2).sum()),
                   ("w.exp().sum()", lambda: w.exp().sum())]:
    w.grad = None
    out = make()
    out.backward()
    try:
        out.backward()
        print(f"{name:14} second backward works; w.grad is now {fmt(w.grad)} (accumulated twice)")
    except RuntimeError:
        print(f"{name:14} second backward fails")

# %% [markdown]
# Whether a second pass works depends on what every operation in the graph happens to save — an
# implementation detail that changes when you edit the model. If you mean to backpropagate twice,
# say so.

# %% [markdown]
# ### The seed question's two calls
#
# The question ([lesson 06](06_compute_once.ipynb)) trains `g` with `l1 = f(x.detach(), y)` and
# `l2 = −f(x, y.detach())`, one `backward()` each, where `x = g(a)`, `y = g(b)`. `l1`'s pass runs
# through `y`'s history only, `l2`'s through `x`'s only. With two calls of `g` those histories are
# separate nodes, so the passes share nothing: no `retain_graph` needed. With one call of `g` on the
# batch `[a, b]`, both passes run through the same node of `g`, and the first frees what it saved.
# (`seed_example` is the accepted answer's `g` — a 1 × 1 linear layer, weight 1 — with `a = 1`,
# `b = 2`; `abs_difference` is its `f = |x − y|`.)

# %%
def seed_two_calls(one_forward_of_g: bool) -> str:
    g, a, b = seed_example(device)
    x, y = g(torch.stack([a, b])) if one_forward_of_g else (g(a), g(b))
    abs_difference(x.detach(), y).backward()  # no retain_graph
    try:
        (-1 * abs_difference(x, y.detach())).backward()
    except RuntimeError:
        return "second backward fails"
    return f"second backward works, g.weight.grad = {fmt(g.weight.grad)}"


print("x = g(a), y = g(b)     :", seed_two_calls(one_forward_of_g=False))
print("x, y = g([a, b]) batch :", seed_two_calls(one_forward_of_g=True))

# %% [markdown]
# `[[3.0]]` is a 1 × 1 matrix, like `g.weight`: 2 from `l1` (through `y = w·b`, b = 2) plus 1 from
# `l2` (through `x = w·a`, a = 1).

# %% [markdown]
# ## 2. `retain_graph=True` and what it costs
#
# `backward(retain_graph=True)` keeps the saved tensors, so the graph can be used again. The price
# is memory: everything the forward pass saved stays allocated until the graph itself is dropped.
# `SavedTensorTracker` (from `helpers.measure`) watches the saved tensors and tells how many bytes
# the graph still holds, leaving out the tensors we name: the parameters and the input `x`, which
# stay in memory anyway.

# %%
model = nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(),
                      nn.Linear(256, 1)).to(device)
x = torch.randn(128, 64, generator=torch.Generator().manual_seed(0)).to(device)

for retain in (False, True):
    with SavedTensorTracker(exclude=[*model.parameters(), x]) as saved:
        loss = model(x).pow(2).mean()
    before = saved.held_bytes()
    loss.backward(retain_graph=retain)
    print(f"retain_graph={retain!s:5}: held before backward {format_bytes(before)}, "
          f"after {format_bytes(saved.held_bytes())}")
    del loss
print("after `del loss`:", format_bytes(saved.held_bytes()))
model.zero_grad()

# %% [markdown]
# 256.5 KiB: the two hidden activations (128 × 256 floats, 128 KiB each) and the last layer's
# output that `pow` needs (0.5 KiB). Each activation is saved twice — by its `Tanh` (its output)
# and by the next `Linear` (its input) — into **one storage**, so its bytes count once:

# %%
hidden = model[1](model[0](x))
after = model[2](hidden).grad_fn  # AddmmBackward0
print("Tanh saved the activation itself:",
      hidden.grad_fn._saved_result.data_ptr() == hidden.data_ptr())
print("Linear saved a tensor on its storage:",
      after._saved_mat1.untyped_storage().data_ptr() == hidden.untyped_storage().data_ptr())

# %% [markdown]
# In real networks saved activations are often the largest memory cost of training. With
# `retain_graph=True` they stay until the last reference to the graph (here `loss`) goes away.

# %% [markdown]
# ## 3. The everyday cause: a tensor carried over from the previous step
#
# Most learners meet "Trying to backward through the graph a second time" without ever calling
# `backward()` twice on purpose. A value computed in one step and reused in the next — an RNN's
# hidden state, a running average — carries the previous step's graph along, and this step's
# `backward()` runs on into it:

# %%
seed_everything(0)
cell = nn.RNNCell(4, 8).to(device)  # one step: hidden = tanh(W_ih x_t + W_hh hidden + biases)
inputs = torch.randn(100, 3, 4, generator=torch.Generator().manual_seed(3)).to(device)

hidden = torch.zeros(3, 8, device=device)
with expect_error(RuntimeError, contains="Trying to backward through the graph a second time"):
    for step, x_t in enumerate(inputs):
        hidden = cell(x_t, hidden)       # hidden still has step - 1's graph behind it
        hidden.pow(2).mean().backward()  # ... which the previous step's backward freed
print(f"failed at step {step + 1} (counting from 1): the first to reach an old graph")

# %% [markdown]
# `retain_graph=True` silences the error, but it is the wrong fix: every step's `backward()` now
# runs through **all** earlier steps, and every graph stays in memory. `node_runs` (from
# `helpers.nodes`) counts the nodes each backward runs. The right fix is `detach()` at the boundary
# (here every step; truncated backpropagation through time does it every k steps): the gradient
# stops there, and the next steps build a fresh graph.

# %%
def train_rnn(steps: int, fix: str) -> tuple[list[tuple[int, int]], torch.Tensor]:
    hidden, report = torch.zeros(3, 8, device=device), []
    with SavedTensorTracker(exclude=[*cell.parameters(), inputs]) as saved:
        for x_t in inputs[:steps]:
            if fix == "detach":
                hidden = hidden.detach()  # the boundary: nothing flows into the previous step
            hidden = cell(x_t, hidden)
            loss = hidden.pow(2).mean()
            runs = node_runs([loss], lambda: loss.backward(retain_graph=(fix == "retain_graph")))
            report.append((len(runs), saved.held_bytes()))  # nodes run, bytes graphs still hold
    return report, hidden

# %%
for fix in ("retain_graph", "detach"):
    report, _ = train_rnn(50, fix)
    print(f"{fix:12}:", ", ".join(f"step {i + 1}: {report[i][0]} nodes run, "
                                  f"{format_bytes(report[i][1])} held" for i in (0, 1, 9, 49)))

# %% [markdown]
# With `retain_graph=True` each step's backward runs 6 nodes more than the last and the held memory
# grows with every step; with `detach()` both stay constant. The time per step grows with it
# (`time_methods`, from the helpers, runs each function several times and reports its median; this
# cell's output varies from run to run and is not compared):

# %%
# NBVAL_IGNORE_OUTPUT
long_history = torch.zeros(3, 8, device=device)
for x_t in inputs:  # 100 steps with retain_graph=True
    long_history = cell(x_t, long_history)
    long_history.pow(2).mean().backward(retain_graph=True)


def one_step(h: torch.Tensor) -> None:
    cell(inputs[0], h).pow(2).mean().backward(retain_graph=True)


t = time_methods({"carried": lambda: one_step(long_history),
                  "detached": lambda: one_step(long_history.detach())}, repeat=20, device=device)
print(f"a step after 100 retained steps takes {t['carried'].median / t['detached'].median:.0f}x "
      "the time of a step after detach()")

# %% [markdown]
# ## 4. Several losses: one backward on the sum, or one each?
#
# A network with a shared trunk and two heads has two losses. Two ways to get the gradients:

# %%
trunk = nn.Sequential(nn.Linear(64, 256), nn.Tanh()).to(device)
head1, head2 = nn.Linear(256, 1).to(device), nn.Linear(256, 1).to(device)
net = nn.ModuleDict({"trunk": trunk, "head1": head1, "head2": head2})


def losses():
    h = trunk(x)
    return head1(h).pow(2).mean(), (head2(h) - 1).abs().mean(), h


def one_backward_on_the_sum(l1, l2):
    (l1 + l2).backward()


def two_backwards(l1, l2):
    l1.backward(retain_graph=True)  # the trunk's saved tensors are needed again by l2
    l2.backward()

# %%
results = {}
for method in (one_backward_on_the_sum, two_backwards):
    net.zero_grad()
    l1, l2, _ = losses()
    method(l1, l2)
    results[method.__name__] = collect_grads(net)
compare_gradients(results)

# %% [markdown]
# Same gradients: backward is linear, the gradient of a sum is the sum of the gradients. What does
# the second way cost? Not twice the work: each head's part of the graph runs once either way; only
# the part the two losses **share** — the trunk — runs once per `backward()` call. `node_runs`
# counts it (it puts a hook — [lesson 05](05_register_hook.ipynb) — on each node that records
# every run; `graph_nodes`, from the same module, lists every node behind the tensors given):

# %%
for method in (one_backward_on_the_sum, two_backwards):
    l1, l2, h = losses()
    nodes, in_trunk = graph_nodes(l1, l2), graph_nodes(h)
    runs = node_runs([l1, l2], lambda: method(l1, l2))
    print(f"{method.__name__:24}: {len(nodes)} nodes, {len(runs)} node runs, "
          f"{sum(n in in_trunk for n in runs)} of them in the trunk's {len(in_trunk)} nodes")
net.zero_grad()

# %% [markdown]
# (The sum's own `AddBackward0` is not counted: it is not in the graph of `l1` and `l2`.) Only the
# trunk's nodes ran twice: 23 runs = 18 nodes + the trunk's 5 again. How much *time* that costs
# depends on the trunk's share of the work: the timed code also runs the forward pass and the
# heads' backward once either way, so the ratio stays below 2. It also depends on the machine and
# its load, so this cell's output is not compared.

# %%
# NBVAL_IGNORE_OUTPUT
t = time_methods({"sum": lambda: one_backward_on_the_sum(*losses()[:2]),
                  "two": lambda: two_backwards(*losses()[:2])}, repeat=20, warmup=5, device=device)
print(f"forward + two backward calls take {t['two'].median / t['sum'].median:.2f}x "
      "the time of forward + one on the sum")

# %% [markdown]
# Use separate `backward` calls only when something must happen *between* them (section 6 shows
# where that goes wrong). When the losses' graphs do not fit in memory together, `retain_graph` does
# not help either: run forward and backward for one loss at a time (each with its own forward pass
# of the trunk), as gradient accumulation does.

# %% [markdown]
# ## 5. `create_graph` is not `retain_graph`
#
# - `retain_graph=True` keeps the saved tensors, so backward can run through the graph again.
# - `create_graph=True` also **records the backward pass itself** as a graph, so the gradient you
#   get is differentiable: that is how you take gradients of gradients (lesson 04 builds a gradient
#   penalty on it). It implies `retain_graph=True` unless you say otherwise.
#
# The cell uses `torch.autograd.grad(output, input)`, which *returns* the gradient instead of adding
# it to `.grad` ([lesson 04](04_autograd_grad.ipynb) is about it). At z = 3, dz³/dz = 3z² = 27 and
# d²z³/dz² = 6z = 18:

# %%
z = torch.tensor(3.0, device=device, requires_grad=True)

cube = z ** 3
(g_retained,) = torch.autograd.grad(cube, z, retain_graph=True)
(g_again,) = torch.autograd.grad(cube, z)  # runs: the first call kept what z ** 3 saved
print("retain_graph: dz³/dz =", fmt(g_retained), "| again:", fmt(g_again),
      "| requires_grad:", g_retained.requires_grad)

(g_created,) = torch.autograd.grad(z ** 3, z, create_graph=True)
(second,) = torch.autograd.grad(g_created, z)
print("create_graph: dz³/dz =", fmt(g_created), "| requires_grad:", g_created.requires_grad,
      "| d²z³/dz² = 6z =", fmt(second))

# %% [markdown]
# ## 6. The GAN trap: `step()` between two backward passes
#
# In a GAN, one discriminator output `D(G(z))` feeds two losses: the discriminator's loss labels
# the fake as fake (target 0); the generator's labels it as real (target 1). Reusing the graph with
# `retain_graph=True` and stepping the discriminator's optimizer in between looks natural.
# (`make_gan`, from `helpers.gan`, makes a small `G` and `D` and their SGD optimizers, the same
# weights at each call.)

# %%
bce = nn.BCEWithLogitsLoss()  # binary cross-entropy on D's raw scores (logits)
noise = torch.randn(16, 4, generator=torch.Generator().manual_seed(2)).to(device)
ones, zeros = torch.ones(16, 1, device=device), torch.zeros(16, 1, device=device)

G, D, opt_g, opt_d = make_gan(device)
out = D(G(noise))
loss_d = bce(out, zeros)
loss_d.backward(retain_graph=True)
saved = out.grad_fn._saved_mat2      # what D's last Linear saved (read before it is stale)
version_before = D[2].weight._version
opt_d.step()  # updates D's weights IN PLACE ...
loss_g = bce(out, ones)
with expect_error(RuntimeError, contains="modified by an inplace operation"):
    loss_g.backward()  # ... which this backward needs as they were

# %% [markdown]
# `retain_graph=True` kept the saved tensors, but among them are **D's weights**: to send a gradient
# back to `G`, a linear layer needs its weight. The tensor the error is about is the one D's last
# layer saved (`out.grad_fn` is its `AddmmBackward0`; its saved tensors are readable as
# `_saved_<name>`): `D[2].weight` transposed, a view (views share their base's version counter,
# like `detach()` in lesson 02). `opt_d.step()` changed the weight in place, the counter moved, and
# autograd refuses to compute a gradient from the new weights. Reading that saved tensor now raises
# the same error:

# %%
with expect_error(RuntimeError, contains="modified by an inplace operation"):
    out.grad_fn._saved_mat2
print("saved by D's last layer: shape", tuple(saved.shape), "| D[2].weight:",
      tuple(D[2].weight.shape), "| a view of it:", saved._base is D[2].weight)
print("opt_d.step() raised D[2].weight's version by", D[2].weight._version - version_before,
      "| the saved view's version moved with it:", saved._version == D[2].weight._version)

# %% [markdown]
# The snippet has a second bug, which raises nothing: `loss_d.backward()` runs through the whole
# graph, `G` included, so `G`'s `.grad` now holds the gradient of the *discriminator's* loss, which
# a later `opt_g.step()` would apply (and `loss_g`'s gradient would be added to it):

# %%
print("G's parameters with a .grad from loss_d:",
      sum(p.grad is not None for p in G.parameters()), "of", len(list(G.parameters())))
print("G[0].weight.grad, summed |·|:", fmt(G[0].weight.grad.abs().sum()))

# %% [markdown]
# Two correct orders:
#
# **A. Two forward passes of D** (the usual recipe, e.g. PyTorch's DCGAN example): train D on a
# *detached* fake, step, then run D again for G's loss.

# %%
G, D, opt_g, opt_d = make_gan(device)
g_before, d_before = snapshot(G), snapshot(D)  # copies, to tell whether the steps change them
fake = G(noise)
opt_d.zero_grad()
bce(D(fake.detach()), zeros).backward()  # no gradient into G
print("after D's backward, G has no .grad:", all(p.grad is None for p in G.parameters()))
opt_d.step()
opt_g.zero_grad()
bce(D(fake), ones).backward()  # a fresh forward of D, with its new weights
opt_g.step()
print("every parameter changed: G", all_changed(G, g_before), "| D", all_changed(D, d_before))

# %% [markdown]
# **B. Both backward passes first, then both steps.** One forward of D. `backward(inputs=[…])`
# adds gradients only to the tensors listed ([lesson 04](04_autograd_grad.ipynb)), so each loss
# reaches only the parameters it should train. To check, each loss is also run alone, from the
# same weights:

# %%
G_alone, D_copy, _, _ = make_gan(device)
bce(D_copy(G_alone(noise)), ones).backward()  # G's loss alone: G_alone's gradients
G_copy, D_alone, _, _ = make_gan(device)
bce(D_alone(G_copy(noise).detach()), zeros).backward()  # D's loss alone: D_alone's gradients

G, D, opt_g, opt_d = make_gan(device)
g_before, d_before = snapshot(G), snapshot(D)
out = D(G(noise))
bce(out, ones).backward(inputs=list(G.parameters()), retain_graph=True)
bce(out, zeros).backward(inputs=list(D.parameters()))

# %%
for name, both, alone in [("G", G, G_alone), ("D", D, D_alone)]:
    print(compare_gradients({f"{name} after both backwards": collect_grads(both),
                             f"{name}'s loss alone": collect_grads(alone)}))
opt_d.step()
opt_g.step()
print("every parameter changed: G", all_changed(G, g_before), "| D", all_changed(D, d_before))

# %% [markdown]
# They are not the same algorithm: in A, G's loss sees the *updated* D; in B, both see the old one
# (a simultaneous update). Both are correct code, and in both each network gets only its own
# loss's gradient (`detach()` in A: G has no `.grad` after D's backward; `inputs=` in B: the same
# gradients as each loss alone); the first snippet was not.

# %% [markdown]
# ## Summary
#
# | use this | when | remember |
# |---|---|---|
# | `loss.backward()` | once per graph, the usual case | frees the saved tensors |
# | `backward(retain_graph=True)` | you really must run backward through the graph again | memory stays allocated until the graph is dropped |
# | `h = h.detach()` between steps | a value carried from one step to the next (RNN state) | not `retain_graph=True`: the graph and the step time grow every step |
# | `(l1 + l2).backward()` | several losses, nothing to do between them | same gradients as separate calls; the shared part runs once |
# | `create_graph=True` | gradients of gradients (penalties, meta-learning) | records the backward pass: more memory and time |
# | detach, or both backwards before any `step()` | a graph shared by two optimizers (GANs) | `step()` modifies saved weights in place |
#
# Next: [04 · torch.autograd.grad](04_autograd_grad.ipynb) — gradients without `.grad`, and
# writing `.grad` yourself.

# %% [markdown]
# ## Exercises
#
# **03.1** `m = torch.tensor([1.0, -1.0, 2.0], requires_grad=True)`, `out = (m ** 2).sum()`. You
# call `out.backward(retain_graph=True)` and then `out.backward()` without resetting `m.grad`. What
# is `m.grad`? Give a list of numbers.

# %%
answer = None
check("03.1", answer)

# %% [markdown]
# **03.2** For the model of section 2 (`model`, input `x`), how many bytes of saved tensors,
# parameters excluded, does one forward pass `model(x).pow(2).mean()` keep for backward? Compute it
# with `saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=model)` (from `helpers`; its
# first argument is a function without arguments that runs the forward pass) and give the integer.
# This count includes the input `x`, which section 2 left out.

# %%
answer = None
check("03.2", answer)

# %% [markdown]
# **03.3** Write `grads_of_two_losses(a)` that returns the gradient of `l1 + l2` with respect to
# `a`, where `h = a.exp()`, `l1 = h.sum()` and `l2 = (h ** 2).sum()` — using **one** `backward()`
# call. Set `a.grad = None` at the start of the function (`a` may already hold a gradient).

# %%
def grads_of_two_losses(a):
    return None  # your code


check("03.3", grads_of_two_losses)
