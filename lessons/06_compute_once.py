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
# The question this workshop is built around: `x = g(a)` and `y = g(b)` come from a shared module `g`.
# We want to train `g` with
#
# - `l1 = f(x.detach(), y)` — `f` as a function of `y` only, **and**
# - `l2 = −f(x, y.detach())` — minus `f`, as a function of `x` only,
#
# which, written literally, evaluates `f` twice and runs backward twice. `f` may be expensive. Can we
# evaluate it once? Yes: flip the gradient that flows through `x`. This lesson solves it four ways,
# proves they agree, finds where they don't, and measures what they save.
#
# **You will learn**
# - why the seed example's weight gradient is 3 (and a plain backward's is 1), by hand and by code;
# - four methods — two passes, a hook (the accepted answer), `autograd.grad` + `autograd.backward`, a
#   gradient-reversal function — and that they give the same gradients on a larger model;
# - the two cases where the one-pass tricks are *not* what the two passes compute, and what to do;
# - what each method costs in memory (exact) and time (measured).
#
# Time: about 40 minutes. Uses [02 · detach](02_detach.ipynb), [03 · retain_graph](03_retain_graph.ipynb),
# [04 · autograd.grad](04_autograd_grad.ipynb) and [05 · register_hook](05_register_hook.ipynb).

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
from matplotlib.figure import Figure
from torch import nn

from helpers import (check, collect_grads, compare_gradients, draw_graph, expect_error, fmt, format_bytes, pick_device,
                     saved_tensor_bytes, seed_everything, show_source, time_methods)
from helpers.compute_once import (METHODS, abs_difference, make_problem, reverse_grad, run_method, seed_example,
                                  two_pass)
from helpers.graphs import side_by_side
from helpers.show import FigurePicture

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. The seed's own example
#
# `g` is a 1 × 1 linear layer without bias and with weight `w = 1`; `a = 1`, `b = 2`; `f(x, y) = |x − y|`
# (the same example as lesson 04, section 7; `seed_example` in `helpers/compute_once.py` builds it).

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
# ### The graphs
#
# The two passes backpropagate through two graphs of `f`; every one-pass method through one. A hook
# does not show in a graph (it is attached to the tensor `x`, not a node); the reversal function does:

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
# ## 2. Four methods on a larger model
#
# Now `g` is a small MLP (16 → 32 → 32) applied to 512 rows each of `a` and `b`, and `f` is a
# `PairCritic`: an MLP (64 → 256 → 256 → 256 → 1, fixed weights) that scores each pair `[xᵢ, yᵢ]` —
# a stand-in for an expensive `f`. The four methods live in `helpers/compute_once.py`, so that
# `benchmarks/compute_once.py` times exactly this code:

# %%
for method in METHODS.values():
    show_source(method)
    print()

# %% [markdown]
# Each method is run from a fresh forward pass of `g` (`run_method`), and the gradients of `g`'s
# parameters compared with the two-pass reference:

# %%
problem = make_problem(n=512, device=device)
results = {name: run_method(method, problem) for name, method in METHODS.items()}
comparison = compare_gradients(results, reference="two-pass")
comparison

# %%
comparison.plot()

# %% [markdown]
# All points lie on the diagonal: the same gradients, up to float rounding (the two passes add their
# contributions in a different order).
#
# ### Does the reference need `retain_graph=True`?
# Here `x = g(a)` and `y = g(b)` are two separate calls of `g`, so `l1`'s backward (through `y`) and
# `l2`'s backward (through `x`) use disjoint parts of the graph: without `retain_graph`, it works.
# If `g` is run once on the batch and split — which is how one usually batches — both passes go through
# the same nodes, and the second needs what the first freed (lesson 03):

# %%
def two_pass_without_retain(x, y, f):
    f(x.detach(), y).backward()
    (-f(x, y.detach())).backward()


problem.g.zero_grad()
x, y = problem.features()  # two calls of g
two_pass_without_retain(x, y, problem.f)
print("separate calls of g: two passes without retain_graph work")

x, y = problem.g(torch.cat([problem.a, problem.b])).split(512)  # one batched call, then split
with expect_error(RuntimeError):
    two_pass_without_retain(x, y, problem.f)

# %% [markdown]
# The one-pass methods need no `retain_graph` in either case: they run backward once.

# %% [markdown]
# ## 3. When the trick is not exact
#
# ### `f` with parameters of its own
#
# If `f` has trainable parameters θ, the two passes give them ∂l1/∂θ + ∂l2/∂θ = ∂f/∂θ − ∂f/∂θ = **0**,
# while one backward of `f(x, y)` gives them ∂f/∂θ.

# %%
trainable = make_problem(n=64, device=device, trainable_f=True)


def f_param_grads(method):
    run_method(method, trainable)
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in trainable.f.named_parameters()}
    got_none = all(p.grad is None for p in trainable.f.parameters())
    trainable.f.zero_grad(set_to_none=True)
    return grads, got_none


f_grads = {}
for name, method in METHODS.items():
    f_grads[name], got_none = f_param_grads(method)
    total = sum(float(v.abs().sum()) for v in f_grads[name].values())
    print(f"{name:14} Σ|grad| over f's parameters = {total:.4g}" + ("   (.grad left None)" if got_none else ""))

# %% [markdown]
# - **two-pass** gives exactly 0: the two contributions cancel.
# - **hook** and **reversal** give ∂f/∂θ, the gradient of `f` itself.
# - **autograd.grad** + `autograd.backward` leaves θ alone: it only asks for gradients with respect to
#   `x` and `y` and pushes those into `g`. That already matches the reference (no change to θ).
#
# Which one is right depends on what you want for θ. If θ should not move through these losses (as in
# the two passes), use the `autograd.grad` method, or discard θ's gradients after the hook or
# reversal method: `f.zero_grad(set_to_none=True)` before anything else writes to them. If `f` must learn
# from its own objective, give it that objective separately. The fix, checked:

# %%
def hook_then_discard_f(x, y, f):
    METHODS["hook"](x, y, f)
    f.zero_grad(set_to_none=True)  # θ gets what the two passes give it: nothing


fixed, _ = f_param_grads(hook_then_discard_f)
compare_gradients({"two-pass": f_grads["two-pass"], "hook + discard": fixed,
                   "autograd.grad": f_grads["autograd.grad"], "hook": f_grads["hook"]}, decimals=4)

# %% [markdown]
# ### `x` feeds another loss term too
#
# Add a regulariser on the features, `r(x) = mean(x²)`, which should train `g` normally. A hook on `x`
# flips **every** gradient through `x` (lesson 05), `r`'s included; the reversal function, applied
# where `x` enters `f`, flips only `f`'s.

# %%
def r(x):
    return x.pow(2).mean()


problem.g.zero_grad(set_to_none=True)
x, y = problem.features()
r(x).backward(retain_graph=True)  # reference: r normally, then the two passes
two_pass(x, y, problem.f)
reference = collect_grads(problem.g)

problem.g.zero_grad(set_to_none=True)
x, y = problem.features()
x.register_hook(lambda grad: -grad)
(problem.f(x, y) + r(x)).backward()
with_hook = collect_grads(problem.g)

problem.g.zero_grad(set_to_none=True)
x, y = problem.features()
(problem.f(reverse_grad(x), y) + r(x)).backward()
with_reversal = collect_grads(problem.g)

problem.g.zero_grad(set_to_none=True)
x, y = problem.features()
gx, gy = torch.autograd.grad(problem.f(x, y), [x, y])
torch.autograd.backward([x, y, r(x)], [-gx, gy, None])  # r's own gradient pushed with the rest
with_autograd_grad = collect_grads(problem.g)

compare_gradients({"two-pass + r": reference, "hook on x": with_hook, "reversal on f's input": with_reversal,
                   "autograd.grad + r": with_autograd_grad}, decimals=4)

# %% [markdown]
# The reversal's gradients match, and so do those of the `autograd.grad` method when `r(x)` is pushed
# along with `x` and `y`. The hook's are off by exactly twice `r`'s own contribution (it is subtracted
# instead of added):

# %%
problem.g.zero_grad(set_to_none=True)
x, _ = problem.features()
r(x).backward()
r_only = collect_grads(problem.g)
compare_gradients({"hook − reference": {n: with_hook[n] - reference[n] for n in reference},
                   "−2 × r's gradient": {n: -2 * r_only[n] for n in r_only}}, decimals=4)

# %% [markdown]
# ## 4. What it costs
#
# **Memory**: the bytes autograd saves for backward (activations; the parameters of `g` and `f`
# excluded, since they are in memory anyway). These depend only on shapes, so they are the same on every
# machine:

# %%
params = list(problem.g.parameters()) + list(problem.f.parameters())
saved = {name: saved_tensor_bytes(lambda m=method: run_method(m, problem), exclude=params)
         for name, method in METHODS.items()}
for name, n_bytes in saved.items():
    print(f"{name:14} {format_bytes(n_bytes):>9}   {n_bytes / saved['two-pass']:.3f} × two-pass")

# %% [markdown]
# The two passes save `f`'s activations twice (one graph per evaluation) and `g`'s once; every one-pass
# method saves each once. Measured separately:

# %%
def g_forward():
    problem.features()


x_in, y_in = (t.detach().requires_grad_(True) for t in problem.features())  # g's outputs, made outside


def f_forward():
    problem.f(x_in, y_in)


g_bytes = saved_tensor_bytes(g_forward, exclude=params)
f_bytes = saved_tensor_bytes(f_forward, exclude=params)
print(f"g: {format_bytes(g_bytes)}, f: {format_bytes(f_bytes)}")
print("two-pass = g + 2 f:", saved["two-pass"] == g_bytes + 2 * f_bytes,
      "| one pass = g + f:", all(saved[m] == g_bytes + f_bytes for m in ("hook", "autograd.grad", "reversal")))
#
# **Time**: each method, interleaved with the others so that drift of the machine affects all alike;
# the median of 20 runs. Timings depend on the machine, so this cell's output is not compared:

# %%
# NBVAL_IGNORE_OUTPUT
timings = time_methods({name: (lambda m=method: run_method(m, problem)) for name, method in METHODS.items()},
                       repeat=20, warmup=3, device=device)
time_ratio = {name: t.median / timings["two-pass"].median for name, t in timings.items()}
for name, t in timings.items():
    print(f"{name:14} {t!r:>28}   {time_ratio[name]:.2f} × two-pass")

# %%
# NBVAL_IGNORE_OUTPUT (the picture shows this machine's timings)
fig = Figure(figsize=(8, 3), layout="constrained")
ax_mem, ax_time = fig.subplots(1, 2)
names = list(METHODS)
ax_mem.bar(names, [saved[n] / saved["two-pass"] for n in names], color="tab:blue")
ax_mem.set_title("saved activations (× two-pass)", fontsize=10)
ax_time.bar(names, [time_ratio[n] for n in names], color="tab:orange")
ax_time.set_title("time (× two-pass, this machine)", fontsize=10)
for ax in (ax_mem, ax_time):
    ax.axhline(0.5, color="gray", lw=0.8, ls="--")
    ax.set_ylim(0, 1.1)
    ax.tick_params(axis="x", labelsize=8)
FigurePicture(fig, "bar charts: saved activations and time of each method, as a fraction of two-pass")

# %% [markdown]
# One evaluation and one backward of `f` instead of two: about half the memory and about half the time
# when `f` dominates the cost. `benchmarks/compute_once.py` measures the same methods at two sizes
# (`.venv/bin/python benchmarks/compute_once.py`); the README quotes its results.

# %% [markdown]
# ## Summary
#
# | method | exact for `g`'s parameters | when `f` has parameters | when `x` has other uses | cost |
# |---|---|---|---|---|
# | two passes (`detach` + `retain_graph`) | the reference | θ gets 0 | fine | `f` twice: ~2× memory and time |
# | hook on `x` (the accepted answer) | yes | θ gets ∂f/∂θ: discard it if unwanted | **flips them too** | one pass |
# | `autograd.grad` + `autograd.backward` | yes | θ untouched (matches) | fine, if you push their gradients too | one pass |
# | gradient reversal on `f`'s input | yes | θ gets ∂f/∂θ: discard it if unwanted | fine: branch-local | one pass |
#
# Use the reversal function when `x` has other uses or when you want the code to say where the flip
# happens; the hook when `x` feeds only `f` and one line matters; `autograd.grad` when `f`'s own
# parameters must stay untouched or you want to inspect the gradients on the way.

# %% [markdown]
# ## Exercises
#
# **06.1** In the seed example, change `b` to `3.0` (keep `w = 1`, `a = 1`, `f = |x − y|`). What weight
# gradient do the two passes give? Work it out with the table of section 1, then give the number.

# %%
answer = None
check("06.1", answer)

# %% [markdown]
# **06.2** Write `one_pass(x, y, f, extra)` that accumulates into `g`'s parameters the gradients of
# `f(x.detach(), y) − f(x, y.detach()) + extra(x)` with **one** evaluation of `f` and one `backward()` —
# where `extra(x)` must be trained normally.

# %%
def one_pass(x, y, f, extra):
    return None  # your code


check("06.2", one_pass)

# %% [markdown]
# **06.3** `f` has parameters θ, and θ must receive exactly what the two passes give it. Which of the
# methods `"hook"`, `"autograd.grad"`, `"reversal"` gets that without any extra line? Answer with the name.

# %%
answer = None
check("06.3", answer)
