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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/06_compute_once.ipynb)
#
# # 06 · Compute once, backpropagate twice
#
# The question this workshop is built around: `x = g(a)` and `y = g(b)` come from a shared module
# `g`. We want to train `g` with
#
# - `l1 = f(x.detach(), y)` — `f` as a function of `y` only, **and**
# - `l2 = −f(x, y.detach())` — minus `f`, as a function of `x` only,
#
# which, written literally, evaluates `f` twice and runs backward twice. `f` may be expensive. Can
# we evaluate it once? Yes: flip the gradient that flows through `x`. This lesson solves it four
# ways, shows where they agree and where they don't, and measures what they save.
#
# **You will learn**
# - why the seed example's weight gradient is 3 (and a plain backward's is 1), by hand and by code;
# - four methods — two passes, a hook (the accepted answer), `autograd.grad` +
#   `autograd.backward`, a gradient-reversal function — and that they give the same gradients on a
#   larger model;
# - every case where the one-pass tricks are *not* what the two passes compute — `f` with
#   parameters, other uses of `x`, `y` that depends on `x`, hooks that stay, dropout, BatchNorm,
#   in-place changes — each measured, and what to do;
# - what each method costs: memory saved per step and at the peak (exact), and time (measured, and
#   what the ratio depends on).
#
# Time: about 50 minutes. Uses [02 · detach](02_detach.ipynb),
# [03 · retain_graph](03_retain_graph.ipynb), [04 · autograd.grad](04_autograd_grad.ipynb) and
# [05 · register_hook](05_register_hook.ipynb).

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
from matplotlib.figure import Figure

from helpers import (check, collect_grads, compare_gradients, draw_graph, expect_error, fmt,
                     format_bytes, pick_device, saved_tensor_bytes, seed_everything, show_source,
                     time_methods)
from helpers.compute_once import (METHODS, abs_difference, grad_then_backward, hook_on_x,
                                  make_problem, reversal, reverse_grad, run_method, seed_example,
                                  two_pass)
from helpers.gradflow import gradient_flow
from helpers.gradflow import side_by_side as flows_side_by_side
from helpers.graphs import side_by_side
from helpers.measure import SavedTensorTracker
from helpers.show import FigurePicture

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. The seed's own example
#
# `g` is a 1 × 1 linear layer without bias and with weight `w = 1`; `a = 1`, `b = 2`;
# `f(x, y) = |x − y|` (the same example as lesson 04, section 7; `seed_example` in
# `helpers/compute_once.py` builds it).

# %%
f_abs = abs_difference  # f(x, y) = |x − y|, summed to a scalar
show_source(seed_example)

# %%
g, a, b = seed_example(device)
x, y = g(a), g(b)
f_abs(x.detach(), y).backward(retain_graph=True)
(-f_abs(x, y.detach())).backward()
print("two passes   :", fmt(g.weight.grad))

g, a, b = seed_example(device)
x, y = g(a), g(b)
x.register_hook(lambda grad: -grad)  # the accepted answer
f_abs(x, y).backward()
print("hook on x    :", fmt(g.weight.grad))

g, a, b = seed_example(device)
x, y = g(a), g(b)
f_abs(x, y).backward()  # for comparison: NOT what we want
print("plain backward:", fmt(g.weight.grad))

# %% [markdown]
# ### Why 3, and why 1
#
# With `w = 1`: `x = w·a = 1`, `y = w·b = 2`, so `f = |x − y| = y − x` near this point:
# ∂f/∂x = −1 and ∂f/∂y = +1. And ∂x/∂w = a = 1, ∂y/∂w = b = 2.
#
# | term | path to `w` | contribution |
# |---|---|---|
# | `l1 = f(x.detach(), y)` | through `y` only | ∂f/∂y · b = (+1)(2) = **2** |
# | `l2 = −f(x, y.detach())` | through `x` only | −∂f/∂x · a = −(−1)(1) = **1** |
# | the two passes | both | 2 + 1 = **3** |
# | plain `f(x, y)` | both, unflipped | ∂f/∂y · b + ∂f/∂x · a = 2 − 1 = **1** |
#
# The only difference between the plain backward and the wanted result is the **sign of the gradient
# through `x`** — which is exactly what the hook flips. The contributions, computed:

# %%
g, a, b = seed_example(device)
x, y = g(a), g(b)
dfdx, dfdy = torch.autograd.grad(f_abs(x, y), [x, y])
print("∂f/∂x =", fmt(dfdx), "| ∂f/∂y =", fmt(dfdy))
print("l1's contribution ∂f/∂y · b =", fmt(dfdy * b), "| l2's −∂f/∂x · a =", fmt(-dfdx * a),
      "| sum =", fmt(dfdy * b - dfdx * a))

# %% [markdown]
# The same, as the gradient on every edge of the hook's one backward pass (`gradient_flow`, lesson
# 01): −1 arrives at `x` and the hook passes +1 on; `w`'s `AccumulateGrad` adds 1 (through `x`:
# the 1 stays 1 because `a = 1`) and 2 (through `y`, `b = 2`): 3.

# %%
g, a, b = seed_example(device)
x, y = g(a), g(b)
x.register_hook(lambda grad: -grad)
loss = f_abs(x, y)
with gradient_flow(loss, {"w": g.weight, "x": x, "y": y, "loss": loss}) as flow:
    loss.backward()
print(flow)
flow

# %% [markdown]
# ### The graphs
#
# The two passes backpropagate through two graphs of `f`; every one-pass method through one. A
# hook does not show in a graph (it is attached to the tensor `x`, not a node); the reversal
# function does:

# %%
g, a, b = seed_example(device)
x, y = g(a), g(b)
names = {"w": g.weight, "a": a, "b": b}
side_by_side(**{
    "two-pass: l1": draw_graph(f_abs(x.detach(), y), names),
    "two-pass: l2": draw_graph(-f_abs(x, y.detach()), names),
    "hook, autograd.grad: f(x, y)": draw_graph(f_abs(x, y), names),
    "reversal": draw_graph(f_abs(reverse_grad(x), y), names),
})

# %% [markdown]
# What each method sends back into `g` — the graphs of `f` differ, what reaches `g` does not: +1 into
# `x` (for the hook, after it has flipped `f`'s −1, as in the picture above) and +1 into `y`, and
# `w`'s `AccumulateGrad` adds 1 + 2 = 3. Here only `g`'s part is watched (`f`'s graph is built
# inside each method), so the hook's flip itself does not show; one line per method, and the
# pictures of two of them (the other two are the same picture):

# %%
flows = {}
for name, method in METHODS.items():
    g, a, b = seed_example(device)
    x, y = g(a), g(b)
    with gradient_flow([x, y], {"w": g.weight, "x": x, "y": y}) as flows[name]:
        method(x, y, f_abs)
for name, flow in flows.items():  # the numbers in the pictures below
    lines = [line.strip() for line in flow.text.splitlines()
             if " = " in line or ": gradient" in line]  # w's sum; x's and y's gradients
    print(f"{name:14}", " | ".join(lines))
flows_side_by_side(two_pass=flows["two-pass"], hook=flows["hook"])


# %% [markdown]
# ## 2. Four methods on a larger model
#
# Now `g` is a small MLP (16 → 32 → 32) applied to 512 rows each of `a` and `b`, and `f` is a
# `PairCritic`: an MLP (64 → 256 → 256 → 256 → 1, fixed weights) that scores each pair `[xᵢ, yᵢ]` —
# a stand-in for an expensive `f`. The four methods live in `helpers/compute_once.py`, so that
# `benchmarks/compute_once.py` times exactly this code. `hook_on_x` removes its hook after the
# backward (section 3 shows why):

# %%
for method in METHODS.values():
    show_source(method)
    print()

# %% [markdown]
# Each method is run from a fresh forward pass of `g` (`run_method`), and the gradients of `g`'s
# parameters compared with the two-pass reference (max |Δ| rounded to 4 decimals):

# %%
problem = make_problem(n=512, device=device)
results = {name: run_method(method, problem) for name, method in METHODS.items()}
comparison = compare_gradients(results, reference="two-pass", decimals=4)
comparison

# %%
comparison.plot()

# %% [markdown]
# All points lie on the diagonal. The methods do the same arithmetic: `f`'s backward is linear in
# the gradient it receives, negating a float is exact, and rounding treats `v` and `−v` alike; so
# `−(∂f/∂x)` is the same number whether the minus enters before `f`'s backward (`l2 = −f`) or after
# it (a hook, the reversal). And each of `g`'s parameters receives two contributions (one per call
# of `g`), whose sum does not depend on their order. On the CPU the gradients therefore usually come
# out **bitwise** equal, as on this small copy of the problem:

# %%
small_copy = make_problem(n=64, width=32)  # on the CPU, whatever `device` is
small_results = {name: run_method(method, small_copy) for name, method in METHODS.items()}
for name in ("hook", "autograd.grad", "reversal"):
    bitwise = all(torch.equal(small_results[name][p], small_results["two-pass"][p])
                  for p in small_results[name])
    print(f"{name:14} bitwise equal to two-pass: {bitwise}")

# %% [markdown]
# Bitwise equality is not guaranteed, though: once in 16 runs of the 512-row problem on our busy
# CPU the last bits differed (max |Δ| ≈ 1e-6) — multithreaded math libraries may sum in another
# order from one run to the next, and so may a GPU. That is why the table above rounds.
#
# ### Does the reference need `retain_graph=True`?
# Here `x = g(a)` and `y = g(b)` are two separate calls of `g`, so `l1`'s backward (through `y`) and
# `l2`'s backward (through `x`) use disjoint parts of the graph: without `retain_graph`, it works.
# If `g` is run once on the batch and split — which is how one usually batches — both passes go
# through the same nodes, and the second needs what the first freed (lesson 03; its message is
# printed in full: it is worth recognising). The one-pass methods work either way:

# %%
def two_pass_without_retain(x, y, f):
    f(x.detach(), y).backward()
    (-f(x, y.detach())).backward()


def batched_features():
    return problem.g(torch.cat([problem.a, problem.b])).split(512)  # one call of g, then split


problem.g.zero_grad()
x, y = problem.features()  # two calls of g
two_pass_without_retain(x, y, problem.f)
print("separate calls of g: two passes without retain_graph work")

x, y = batched_features()
with expect_error(RuntimeError):
    two_pass_without_retain(x, y, problem.f)

for name in ("hook", "autograd.grad", "reversal"):
    x, y = batched_features()
    METHODS[name](x, y, problem.f)
print("batched call of g: hook, autograd.grad and reversal work without retain_graph")

# %% [markdown]
# The hook and the reversal run one backward. The `autograd.grad` method makes **two** engine calls
# — `autograd.grad` back to `x` and `y`, then `autograd.backward` from `x` and `y` into `g` — and
# needs no `retain_graph` as long as the second call does not go back through nodes that the first
# one ran *and whose saved tensors it freed*. Section 3 shows a case where it does.

# %% [markdown]
# ## 3. When the trick is not exact
#
# Each case below runs on a small problem on the CPU (64 rows, `f` of width 32), made from a seeded
# CPU generator, so that the rounded numbers it prints are the same on every machine. Dropout's
# random masks are not: PyTorch's CPU builds draw them with Intel's MKL on Intel CPUs only,
# otherwise with PyTorch's own generator, and on a GPU with another; so the dropout case prints only
# what does not depend on the masks. Each case is measured against the two passes; `exact` keeps the
# largest max |Δ| of each method for the table at the end of the section.

# %%
def small_problem(**options):
    return make_problem(n=64, width=32, **options)  # on the CPU


def grads_of(method, p, features=lambda p: p.features(), f=None):
    """g's gradients after `method`, from a fresh forward of g (`features` makes x and y)."""
    p.g.zero_grad(set_to_none=True)
    x, y = features(p)
    method(x, y, p.f if f is None else f)
    return collect_grads(p.g)


exact = {}  # case -> {method: largest max |Δ| against the two passes, over g's parameters}


def record(case, comparison):
    exact[case] = {m: max(comparison.max_abs_diff[m].values()) for m in comparison.methods}
    return comparison

# %% [markdown]
# ### `f` with parameters of its own
#
# If `f` has trainable parameters θ, the two passes give them ∂l1/∂θ + ∂l2/∂θ = ∂f/∂θ − ∂f/∂θ,
# while one backward of `f(x, y)` gives them ∂f/∂θ. What each method leaves in θ's `.grad`:

# %%
trainable = small_problem(trainable_f=True)


def grad_text(grads):
    """What a list of .grad attributes holds: None, exact zeros, or how much."""
    if all(g is None for g in grads):
        return "None"
    total = sum(float(g.abs().sum()) for g in grads)
    return "tensors of zeros" if total == 0 else f"tensors, Σ|grad| = {total:.4g}"


def theta_grad_text(method):
    run_method(method, trainable)
    grads = [p.grad for p in trainable.f.parameters()]
    trainable.f.zero_grad(set_to_none=True)
    return grad_text(grads)


for name, method in METHODS.items():
    print(f"{name:14} θ's .grad: {theta_grad_text(method)}")

# %% [markdown]
# - **two-pass**: tensors of **zeros** — the two contributions are the same numbers, computed the
#   same way, added with opposite signs, so they cancel exactly.
# - **hook** and **reversal**: ∂f/∂θ, the gradient of `f` itself.
# - **autograd.grad**: `None` — it asks only for the gradients with respect to `x` and `y`
#   (lesson 04), so nothing is written into θ.
#
# Zeros and `None` are not the same to an optimizer. PyTorch's optimizers skip a parameter whose
# `.grad` is `None`, but step on a tensor of zeros: SGD with momentum keeps moving θ along its
# momentum buffer, and AdamW decays θ (weight decay) and follows its running averages. One step of
# each, after one earlier step of `f`'s own training so that the optimizers have state:

# %%
def hook_then_discard(x, y, f):
    hook_on_x(x, y, f)
    f.zero_grad(set_to_none=True)  # drop θ's gradients: .grad back to None


def theta_change(method, make_optimizer):
    """How far one optimizer step moves θ after `method` (largest |change| of any entry)."""
    p = small_problem(trainable_f=True)
    optimizer = make_optimizer(p.f.parameters())
    x, y = p.features()
    p.f(x.detach(), y.detach()).backward()  # an earlier step of f's own training
    optimizer.step()
    optimizer.zero_grad()  # sets θ's .grad to None
    before = [t.detach().clone() for t in p.f.parameters()]
    x, y = p.features()
    method(x, y, p.f)
    optimizer.step()
    return max(float((t.detach() - b).abs().max()) for t, b in zip(p.f.parameters(), before))


optimizers = {"SGD(momentum=0.9)": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
              "AdamW": lambda ps: torch.optim.AdamW(ps, lr=0.01)}
print("largest |change| of θ in one step:")
for name, method in {"two-pass": two_pass, "autograd.grad": grad_then_backward,
                     "hook + discard": hook_then_discard}.items():
    print(f"  {name:15}" + "".join(f"  {o}: {theta_change(method, make):.4f}"
                                   for o, make in optimizers.items()))

# %% [markdown]
# After the two passes θ moves, on zero gradients; after the other two it does not. Which one you
# want depends on θ: if θ should not learn from these losses at all, ask backward for `g`'s
# parameters only — lesson 04's `inputs=`. θ's `.grad` stays `None`, and `g`'s gradients are the
# two passes'. (Unlike discarding afterwards, this also keeps whatever θ's `.grad` held before.)

# %%
def hook_for_g_only(x, y, f, g):
    handle = x.register_hook(lambda grad: -grad)
    f(x, y).backward(inputs=list(g.parameters()))  # only g's parameters receive .grad
    handle.remove()


trainable.g.zero_grad(set_to_none=True)
x, y = trainable.features()
hook_for_g_only(x, y, trainable.f, trainable.g)
print("θ's .grad all None:", all(p.grad is None for p in trainable.f.parameters()))
g_only = collect_grads(trainable.g)
record("f has parameters θ (g's gradients)", compare_gradients({
    "two-pass": grads_of(two_pass, trainable), "hook": g_only,
    "autograd.grad": grads_of(grad_then_backward, trainable),
    "reversal": grads_of(reversal, trainable)}, decimals=4))

# %% [markdown]
# (The `hook` column is `hook_for_g_only`.) If instead you need the two passes' exact behaviour —
# zeros that momentum and weight decay still act on — give θ zero gradients yourself. If `f` must
# learn from its own objective, give it that objective separately.
#
# ### `x` feeds another loss term too
#
# Add a regulariser on the features, `r(x) = mean(x²)`, which should train `g` normally. A hook on
# `x` flips **every** gradient through `x` (lesson 05), `r`'s included; the reversal function,
# applied where `x` enters `f`, flips only `f`'s. The `autograd.grad` method is exact when `r(x)` is
# pushed along with `x` and `y`:

# %%
def r(x):
    return x.pow(2).mean()


def two_pass_plus_r(x, y, f):
    r(x).backward(retain_graph=True)
    two_pass(x, y, f)


def hook_plus_r(x, y, f):
    handle = x.register_hook(lambda grad: -grad)
    (f(x, y) + r(x)).backward()
    handle.remove()


def grad_then_backward_plus_r(x, y, f):
    gx, gy = torch.autograd.grad(f(x, y), [x, y])
    torch.autograd.backward([x, y, r(x)], [-gx, gy, None])  # r's own gradient pushed with the rest


def reversal_plus_r(x, y, f):
    (f(reverse_grad(x), y) + r(x)).backward()


regularised = small_problem()
with_r = {name: grads_of(method, regularised) for name, method in {
    "two-pass": two_pass_plus_r, "hook": hook_plus_r, "autograd.grad": grad_then_backward_plus_r,
    "reversal": reversal_plus_r}.items()}
record("x feeds another loss r(x)", compare_gradients(with_r, reference="two-pass", decimals=4))

# %% [markdown]
# The hook's gradients are off by exactly twice `r`'s own contribution (it is subtracted instead of
# added):

# %%
r_only = grads_of(lambda x, y, f: r(x).backward(), regularised)
hook_error = {n: with_r["hook"][n] - with_r["two-pass"][n] for n in r_only}
compare_gradients({"hook − reference": hook_error,
                   "−2 × r's gradient": {n: -2 * r_only[n] for n in r_only}}, decimals=4)

# %% [markdown]
# ### `y` depends on `x`, or `y` is `x`
#
# Suppose `y = g(b) + 0.1·x`, or `y` is `x` itself (`f(x, x)`). The two passes'
# `l1 = f(x.detach(), y)` still reaches `x` — *through `y`* — and `l2` only through `f`'s first
# input. Only a flip placed exactly where `x` enters `f` reproduces that: the reversal. A hook on
# `x` also flips what reaches `x` through `y`. And the `autograd.grad` method's second call has to
# go back through the node that `0.1 * x` added, whose saved value the first call freed (lesson
# 03's message). With `y = g(b) + x`, nothing between is saved, and it runs:

# %%
dependent = small_problem()


def y_depends_on_x(p):
    x = p.g(p.a)
    return x, p.g(p.b) + 0.1 * x


def y_is_x(p):
    x = p.g(p.a)
    return x, x


def y_plus_x(p):
    x = p.g(p.a)
    return x, p.g(p.b) + x


with expect_error(RuntimeError, contains="backward through the graph a second time"):
    grads_of(grad_then_backward, dependent, y_depends_on_x)
grads_of(grad_then_backward, dependent, y_plus_x)
print("y = g(b) + x: autograd.grad + backward runs")
same_x = grads_of(grad_then_backward, dependent, y_is_x)
print("y is x: autograd.grad + backward runs; g's gradients all exactly 0:",
      all(not v.any() for v in same_x.values()))

# %% [markdown]
# `retain_graph=True` in `autograd.grad` makes it run — and gives other gradients than the two
# passes. `autograd.grad` returns the *total* gradient with respect to `x`, the path through `y`
# included; the method negates it all, then pushes `gy` through `y`, which reaches `x` again.
# How many times each method counts the gradient along the path from `x` through `y` into `g`:
#
# | two passes | hook on `x` | `autograd.grad` (retained) | reversal |
# |---|---|---|---|
# | +1 (the reference) | −1 (it arrives at `x` and is flipped) | 0 (−1 in `gx`, +1 pushed via `y`) | +1 |
#
# With `y` is `x` nothing
# needs retaining (above): `autograd.grad(f(x, x), [x, x])` returns the total gradient twice, and
# pushing −total and +total into the same `x` sends exactly 0 into `g`. The `autograd.grad` column
# below is the retained version (for `y` is `x` the same as without):

# %%
def grad_then_backward_retained(x, y, f):
    gx, gy = torch.autograd.grad(f(x, y), [x, y], retain_graph=True)
    torch.autograd.backward([x, y], [-gx, gy])


for case, features in {"y = g(b) + 0.1·x": y_depends_on_x, "y is x": y_is_x}.items():
    print(case)
    print(record(case, compare_gradients({
        name: grads_of(method, dependent, features) for name, method in {
            "two-pass": two_pass, "hook": hook_on_x, "autograd.grad": grad_then_backward_retained,
            "reversal": reversal}.items()}, decimals=4)))

# %% [markdown]
# ### A hook that stays registered
#
# A tensor hook lives as long as the tensor (lesson 05). The accepted answer's
# `x.register_hook(lambda grad: -grad)` never removes its hook; `hook_on_x` removes it after the
# backward. Where a hook left behind goes wrong: `x` a **leaf reused across steps** — say learned
# embeddings, trained directly. Every step adds one more hook, so the sign alternates step after
# step (here `f(x, y) = Σ x·y`, so the wanted gradient of `x` is `−y`):

# %%
def accepted_answer(x, y, f):  # as posted: the hook is never removed
    x.register_hook(lambda grad: -grad)
    f(x, y).backward()


def f_dot(x, y):
    return (x * y).sum()


y_leaf = torch.tensor([[2.0, 1.0], [-1.0, 0.5]])


def leaf_grads(method, steps=4):
    """x.grad after each of `steps` steps, with the same leaf x every step."""
    x_leaf = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    grads = []
    for _ in range(steps):
        x_leaf.grad = None
        method(x_leaf, y_leaf.clone().requires_grad_(), f_dot)
        grads.append(x_leaf.grad)
    return grads


for method in (two_pass, accepted_answer, hook_on_x):
    signs = ["−y" if torch.equal(g, -y_leaf) else "+y" for g in leaf_grads(method)]
    print(f"{method.__name__:16} x.grad at steps 1–4: {', '.join(signs)}")
print(record("x a leaf reused: step 2", compare_gradients({
    name: {"x": leaf_grads(method, steps=2)[1]} for name, method in {
        "two-pass": two_pass, "hook": accepted_answer, "autograd.grad": grad_then_backward,
        "reversal": reversal}.items()}, decimals=4)))

# %% [markdown]
# (The `hook` column is the accepted answer as posted; `hook_on_x` gives 0.) A hook left on a
# non-leaf `x` also flips any **later** gradient through `x` — here a diagnostic ∂r/∂x after the
# step, which should be `2x / numel`:

# %%
for method in (accepted_answer, hook_on_x):
    x, y = dependent.features()
    method(x, y, dependent.f)
    (later,) = torch.autograd.grad(r(x), x)
    wanted = 2 * x.detach() / x.numel()
    print(f"{method.__name__:16} later ∂r/∂x: max |Δ| = {fmt((later - wanted).abs().max())}"
          f"   (max |∂r/∂x| = {fmt(wanted.abs().max())})")

# %% [markdown]
# ### `f` with dropout
#
# Every evaluation of `f` draws new dropout masks. The two passes evaluate `f` twice, so `l1` and
# `l2` see different masks; one pass uses one mask for both. Restoring the random state between
# the passes (`torch.random.fork_rng`) gives the second pass the first one's masks — and then the
# two passes agree with one pass:

# %%
noisy = small_problem(dropout=0.5)


def two_pass_same_masks(x, y, f):
    with torch.random.fork_rng(devices=[]):  # the CPU's random state is restored on exit...
        f(x.detach(), y).backward(retain_graph=True)
    (-f(x, y.detach())).backward()  # ...so this pass draws the same masks


def seeded(method, seed=0):
    torch.manual_seed(seed)
    return run_method(method, noisy)


new_masks = compare_gradients({name: seeded(method) for name, method in METHODS.items()})
print("every one-pass method differs from the two passes (max |Δ| > 0.001):",
      all(max(d.values()) > 1e-3 for d in new_masks.max_abs_diff.values()))
compare_gradients({"two-pass, same masks": seeded(two_pass_same_masks), "hook": seeded(hook_on_x),
                   "reversal": seeded(reversal)}, decimals=4)

# %% [markdown]
# Over many draws of the masks, the two passes and one pass average to the same gradient — `l1`'s
# and `l2`'s terms each have the same expectation whichever mask they see — but any one draw
# differs, as above. (How far depends on the masks, so it is not printed.)

# %% [markdown]
# ### `f` with BatchNorm in training mode
#
# BatchNorm in training mode normalises with the batch's statistics and updates its running
# statistics at every evaluation. Both evaluations of the two passes see the same batch, so `g`'s
# gradients agree — but the running statistics are updated **twice**, and the affine parameters
# (γ, β) get exactly 0, like any θ above:

# %%
def with_batchnorm(method):
    p = small_problem(trainable_f=True, batchnorm=True)
    grads = run_method(method, p)
    return p.f.net[1], grads  # net[1] is the BatchNorm1d


batchnorm_runs = {name: with_batchnorm(method) for name, method in METHODS.items()}
one_pass_mean = batchnorm_runs["hook"][0].running_mean
for name, (bn, _) in batchnorm_runs.items():
    ratio = float((bn.running_mean / one_pass_mean).mean())
    affine = grad_text([bn.weight.grad, bn.bias.grad])
    print(f"{name:14} num_batches_tracked = {int(bn.num_batches_tracked)}, "
          f"running_mean = {ratio:.2f} × one pass's, γ and β's .grad: {affine}")
record("f with BatchNorm (training)", compare_gradients(
    {name: grads for name, (_, grads) in batchnorm_runs.items()}, decimals=4))

# %% [markdown]
# With momentum 0.1 from zeros, one update puts the running mean at 0.1 × the batch mean, two at
# 0.19 ×: 1.9 times one pass's. The evaluation-mode model then normalises with other statistics.
#
# ### An in-place operation on `f`'s input
#
# Suppose `f` begins by changing its input in place, as `nn.ReLU(inplace=True)` does.
# `reverse_grad` returns a *view* of `x` (no copy), and autograd refuses an in-place change of a
# view made by a custom `Function`: its view-and-in-place handling would replace the Function's
# backward, and the flip with it. PyTorch's message (shortened here to its stable phrase) ends by
# suggesting the fix: clone the Function's output.

# %%
inplace = small_problem()


def f_inplace(x, y):
    return inplace.f(x.relu_(), y)  # f changes its input x in place


with expect_error(RuntimeError, contains="is a view and is being modified inplace"):
    grads_of(reversal, inplace, f=f_inplace)


def reversal_then_clone(x, y, f):
    f(reverse_grad(x).clone(), y).backward()  # f may change the clone in place


record("in-place op on f's input", compare_gradients({
    name: grads_of(method, inplace, f=f_inplace) for name, method in {
        "two-pass": two_pass, "hook": hook_on_x, "autograd.grad": grad_then_backward,
        "reversal": reversal_then_clone}.items()}, decimals=4))

# %% [markdown]
# With the clone (the `reversal` column) the reversal matches, and so do the hook and the
# `autograd.grad` method. (In the two passes, `x.detach().relu_()` changes `x` itself too —
# lesson 02 — which is harmless here: ReLU applied twice is ReLU, and nothing saved `x` for
# backward.)
#
# ### Which method is exact when…
#
# Every case of this section, measured: the largest max |Δ| of `g`'s gradients against the two
# passes (0.0000: exact to 4 decimals):

# %%
print(f"{'case':36}{'hook':>10}{'autograd.grad':>15}{'reversal':>10}")
for case, row in exact.items():
    print(f"{case:36}{row['hook']:>10.4f}{row['autograd.grad']:>15.4f}{row['reversal']:>10.4f}")

# %% [markdown]
# Notes to the table: for θ, `hook` is `hook_for_g_only`; for `y = g(b) + 0.1·x` and `y is x`,
# `autograd.grad` is the retained version (without `retain_graph` the first one fails; for `y is x`
# it makes no difference); for the reused leaf, `hook` is the accepted answer as posted
# (`hook_on_x` gives 0); for the in-place case, `reversal` clones first (without the clone it
# fails). Dropout is not in the table (its numbers depend on the masks): every one-pass method
# differs from the two passes as an estimator, not as a computation — restoring the random state
# makes them agree.

# %% [markdown]
# ## 4. What it costs
#
# **Memory saved per step**: the bytes autograd saves for backward during one step, added up
# (activations; the parameters of `g` and `f` excluded, since they are in memory anyway). They
# depend on the shapes **and on which tensors require grad** — not on the machine:

# %%
params = list(problem.g.parameters()) + list(problem.f.parameters())
saved = {name: saved_tensor_bytes(lambda m=method: run_method(m, problem), exclude=params)
         for name, method in METHODS.items()}
for name, n_bytes in saved.items():
    print(f"{name:14} saves {format_bytes(n_bytes):>9} per step   "
          f"{n_bytes / saved['two-pass']:.3f} × two-pass")

# %% [markdown]
# The two passes save `f`'s activations twice (one graph per evaluation) and `g`'s once; every
# one-pass method saves each once. Measured separately:

# %%
def g_forward():
    problem.features()


x_in, y_in = (t.detach().requires_grad_(True) for t in problem.features())  # made outside f


def f_forward():
    problem.f(x_in, y_in)


g_bytes = saved_tensor_bytes(g_forward, exclude=params)
f_bytes = saved_tensor_bytes(f_forward, exclude=params)
print(f"g: {format_bytes(g_bytes)}, f: {format_bytes(f_bytes)}")
print("two-pass = g + 2 f:", saved["two-pass"] == g_bytes + 2 * f_bytes, "| one pass = g + f:",
      all(saved[m] == g_bytes + f_bytes for m in ("hook", "autograd.grad", "reversal")))

# %% [markdown]
# **Peak memory** is another matter: a backward frees the saved tensors of the graph it ran, unless
# `retain_graph=True`. `two_pass` keeps `l1`'s graph (`retain_graph=True`, as in the question), so
# when `l2`'s forward ends both copies of `f`'s activations are alive. Without `retain_graph`
# (enough here, section 2), or with `del l1` before `l2`'s forward, the first copy is gone by then.
# `SavedTensorTracker` (lesson 03) tells what the graphs still hold; the most is held right after
# an evaluation of `f`:

# %%
def peak_saved(method, p=problem):
    """The most bytes of saved tensors alive at once while `method` runs (checked after each f)."""
    held = []

    def f_then_look(x, y):
        out = p.f(x, y)
        held.append(tracker.held_bytes())
        return out

    with SavedTensorTracker(exclude=params) as tracker:
        p.g.zero_grad(set_to_none=True)
        x, y = p.features()
        method(x, y, f_then_look)
    return max(held)


def two_pass_del_l1(x, y, f):
    l1 = f(x.detach(), y)
    l1.backward(retain_graph=True)
    del l1  # the last reference to l1's graph of f: its saved tensors are freed
    (-f(x, y.detach())).backward()


peaks = {name: peak_saved(method) for name, method in {
    "two-pass": two_pass, "two-pass, no retain": two_pass_without_retain,
    "two-pass, del l1": two_pass_del_l1, "hook (one pass)": hook_on_x}.items()}
for name, n_bytes in peaks.items():
    print(f"{name:20} peak {format_bytes(n_bytes):>9}   "
          f"{n_bytes / peaks['two-pass']:.3f} × two-pass")

# %% [markdown]
# The two passes' larger peak (g + 2 f) is the price of keeping `l1`'s graph, not of evaluating `f`
# twice: without it, they hold as much at once as one pass (g + f). What one pass always saves is
# **time** — `f`'s forward and backward run once instead of twice.

# %% [markdown]
# Which tensors require grad changes what `f` saves: a linear layer keeps its input only if its
# weight needs a gradient, and its weight only if its input does. The same `f`, with its inputs
# or its parameters requiring grad or not:

# %%
learning = make_problem(n=512, device=device, trainable_f=True)  # same numbers; θ requires grad
for label, p in (("θ frozen", problem), ("θ requires grad", learning)):
    exclude = list(p.g.parameters()) + list(p.f.parameters())
    with_inputs = saved_tensor_bytes(lambda p=p: p.f(x_in, y_in), exclude=exclude)
    without = saved_tensor_bytes(lambda p=p: p.f(x_in.detach(), y_in.detach()), exclude=exclude)
    print(f"{label:16} f saves {format_bytes(with_inputs):>9} (x, y require grad), "
          f"{format_bytes(without):>9} (they don't)")

# %% [markdown]
# **Time**: each method, interleaved with the others so that drift of the machine affects all alike;
# the median of 10 runs. The ratios depend on the machine, on what else runs on it, on the device,
# the number of threads and the sizes — how much of the step `f` is — so a learner sees other
# numbers, and this cell's output is not compared:

# %%
# NBVAL_IGNORE_OUTPUT
timings = time_methods({name: (lambda m=method: run_method(m, problem))
                        for name, method in METHODS.items()}, repeat=10, warmup=2, device=device)
time_ratio = {name: t.median / timings["two-pass"].median for name, t in timings.items()}
for name, t in timings.items():
    print(f"{name:14} {t!r:>28}   {time_ratio[name]:.2f} × two-pass")

# %%
# NBVAL_IGNORE_OUTPUT (the picture shows this machine's timings)
fig = Figure(figsize=(8, 3), layout="constrained")
ax_mem, ax_time = fig.subplots(1, 2)
names = list(METHODS)
ax_mem.bar(names, [saved[n] / saved["two-pass"] for n in names], color="tab:blue")
ax_mem.set_title("saved per step (× two-pass)", fontsize=10)
ax_time.bar(names, [time_ratio[n] for n in names], color="tab:orange")
ax_time.set_title("time (× two-pass, this machine)", fontsize=10)
for ax in (ax_mem, ax_time):
    ax.axhline(0.5, color="gray", lw=0.8, ls="--")
    ax.set_ylim(0, max(1.1, 1.1 * max(time_ratio.values())))
    ax.tick_params(axis="x", labelsize=8)
FigurePicture(fig, "bar charts: bytes saved per step and time of each method, "
                   "as a fraction of two-pass")

# %% [markdown]
# The memory ratio is exact: (g + f) / (g + 2 f) of the bytes saved per step. The time ratio
# depends on the machine and its load: it approaches one half when `f`'s forward and backward
# dominate the step and nothing else competes for the machine, and is nearer 1 with a cheap `f`; on
# a busy machine even the medians can fall outside that range, as the numbers stored above may.
# `benchmarks/compute_once.py` measures the same methods at two sizes
# (`.venv/bin/python benchmarks/compute_once.py`); the README quotes its results.

# %% [markdown]
# ## Summary
#
# | when… (exact = `g` gets the two passes' gradients) | hook on `x` | `autograd.grad` | reversal |
# |---|---|---|---|
# | `x`, `y` separate, `f` plain | exact | exact | exact |
# | `f` has parameters θ | exact; θ: ∂f/∂θ † | exact; θ: `None` | exact; θ: ∂f/∂θ † |
# | `x` feeds another loss | **flips it too** | exact, if pushed too | exact |
# | `y` depends on `x`, or `y` is `x` | **wrong** | **fails** ¶ / **wrong** | exact |
# | `x` a leaf reused across steps | remove the handle | exact | exact |
# | `f` with dropout ‡ | one mask, not two | one mask, not two | one mask, not two |
# | `f` with BatchNorm (training) | exact; stats once | exact; stats once | exact; stats once |
# | `f` changes its input in place | exact | exact | **refuses**: clone |
# | cost | one pass | one pass | one pass |
#
# † With the hook or the reversal, `backward(inputs=list(g.parameters()))` leaves θ's `.grad`
# `None`; the two passes leave zeros in it. ‡ A different estimator of the same expected gradient;
# restoring the random state between the two passes makes them agree with one pass.
# ¶ Fails if the path from `x` to `y` saved tensors (`y = g(b) + 0.1·x`); with `retain_graph=True`,
# or when nothing on that path is saved (`y = g(b) + x`, `y` is `x`), it runs and is wrong (`y` is
# `x`: exactly 0).
#
# The two passes run `f`'s forward and backward twice (about 2× its time) and save its activations
# twice per step (both copies alive at once only while `l1`'s graph is kept), update BatchNorm
# statistics twice, and leave zeros — not `None` — in θ's `.grad`, which optimizers with momentum or
# weight decay act on. Use the reversal function when `x` has other uses, when `y` depends on `x`,
# or when you want the code to say where the flip happens; the hook (with its handle removed) when
# `x` feeds only `f` and one line matters; `autograd.grad` when you want to inspect the gradients on
# the way.

# %% [markdown]
# ## Exercises
#
# **06.1** In the seed example, change `b` to `3.0` (keep `w = 1`, `a = 1`, `f = |x − y|`). What
# weight gradient do the two passes give? Work it out with the table of section 1, then give the
# number.

# %%
answer = None
check("06.1", answer)

# %% [markdown]
# **06.2** Write `one_pass(x, y, f, extra)` that accumulates into `g`'s parameters the gradients of
# `f(x.detach(), y) − f(x, y.detach()) + extra(x)`, evaluating `f` once and backpropagating
# through it once — where `extra(x)` must be trained normally.

# %%
def one_pass(x, y, f, extra):
    return None  # your code


check("06.2", one_pass)

# %% [markdown]
# **06.3** `f` is an `nn.Module` with parameters θ. Write `one_pass(x, y, f, g)` — `x` and `y` come
# from `g` — that evaluates `f` once, accumulates into `g`'s parameters the two-pass gradients, and
# leaves every θ's `.grad` untouched — `None` stays `None`, an existing gradient stays as it was —
# and no hook behind on `x`.

# %%
def one_pass(x, y, f, g):
    return None  # your code


check("06.3", one_pass)
