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
# we evaluate it once? Yes: flip the gradient that flows through `x`.
#
# **You will learn**
# - why the seed example's weight gradient is 3 (and a plain backward's is 1);
# - four methods — two passes, a hook (the accepted answer), `autograd.grad` +
#   `autograd.backward`, a gradient-reversal function — and that they agree on a larger model;
# - the three caveats you meet first: what `f`'s own parameters receive, `x` used elsewhere, a hook
#   that stays registered. Every other case is in the reference notebook
#   [11 · When one pass is not two](11_one_pass_vs_two.ipynb);
# - what one pass saves: bytes (exact) and time (measured against a fair baseline).
#
# Time: about 20 minutes (06.2 and 06.3 as homework). Uses [02 · detach](02_detach.ipynb),
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

from helpers import (check, compare_gradients, expect_error, fmt, format_bytes,
                     pick_device, saved_tensor_bytes, seed_everything, show_source, time_methods)
from helpers.compute_once import (METHODS, abs_difference, make_problem, reverse_grad, run_method,
                                  seed_example, two_pass_no_retain)
from helpers.gradflow import gradient_flow

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. The seed's own example
#
# `g` is a 1 × 1 linear layer without bias and with weight `w = 1`; `a = 1`, `b = 2`;
# `f(x, y) = |x − y|` (`seed_example` and `abs_difference` in `helpers/compute_once.py`).

# %%
f_abs = abs_difference  # f(x, y) = |x − y|, summed to a scalar

g, a, b = seed_example(device)
x, y = g(a), g(b)
f_abs(x.detach(), y).backward(retain_graph=True)
(-f_abs(x, y.detach())).backward()
print("two passes    :", fmt(g.weight.grad))

g, a, b = seed_example(device)
x, y = g(a), g(b)
x.register_hook(lambda grad: -grad)  # the accepted answer
f_abs(x, y).backward()
print("hook on x     :", fmt(g.weight.grad))

# %%
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
# through `x`** — which is exactly what the hook flips. The gradient on every edge of the hook's one
# backward pass (`gradient_flow`, lesson 01): −1 arrives at `x`, the hook passes +1 on, and `w`'s
# `AccumulateGrad` adds 1 (through `x`, `a = 1`) and 2 (through `y`, `b = 2`): 3.

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
# ## 2. Four methods on a larger model
#
# Now `g` is a small MLP (16 → 32 → 32) applied to 256 rows each of `a` and `b`, and `f` is a
# `PairCritic`: an MLP (64 → 256 → 256 → 256 → 1, fixed weights) that scores each pair `[xᵢ, yᵢ]` —
# a stand-in for an expensive `f`. The four methods live in `helpers/compute_once.py`, so that
# `benchmarks/compute_once.py` times exactly this code. Each accumulates into `g`'s `.grad`:

# %%
for method in METHODS.values():
    show_source(method)
    print()

# %% [markdown]
# `hook_on_x` removes its hook after the backward (section 3 shows why). `grad_then_backward` makes
# two engine calls — `autograd.grad` back to `x` and `y`, then `autograd.backward` from them into
# `g` — and one pass through `f`. Each method runs from a fresh forward of `g` (`run_method`); `g`'s
# gradients against the two passes (max |Δ|, rounded to 4 decimals):

# %%
problem = make_problem(n=256, device=device)
results = {name: run_method(method, problem) for name, method in METHODS.items()}
compare_gradients(results, reference="two-pass", decimals=4)

# %% [markdown]
# The methods do the same arithmetic: `f`'s backward is linear in the gradient it receives, and
# negating a float is exact, so `−(∂f/∂x)` is the same number whether the minus enters before `f`'s
# backward (`l2 = −f`) or after it (a hook, the reversal). Multithreaded math libraries and GPUs may
# still sum in another order from one run to the next, so the table rounds.
#
# ### Does the reference need `retain_graph=True`?
#
# Not here: `x = g(a)` and `y = g(b)` are two calls of `g` on data (`a` and `b` carry no graph of
# their own), so the two backward passes use disjoint parts of the graph. The fair baseline for
# timing is therefore the two passes **without** it (`two_pass_no_retain`). If `g` runs once on the
# batch and is split, both passes go through the same nodes, and the second needs what the first
# freed (lesson 03) — as it does when `a` and `b` come from one shared encoder. The one-pass methods
# run either way:

# %%
def batched_features():
    return problem.g(torch.cat([problem.a, problem.b])).split(256)  # one call of g, then split


x, y = problem.features()  # two calls of g
two_pass_no_retain(x, y, problem.f)
print("two calls of g: two passes without retain_graph run")
x, y = batched_features()
with expect_error(RuntimeError, contains="Trying to backward through the graph a second time"):
    two_pass_no_retain(x, y, problem.f)
for name in ("hook", "autograd.grad", "reversal"):
    METHODS[name](*batched_features(), problem.f)
print("one call of g: hook, autograd.grad and reversal run without retain_graph")

# %% [markdown]
# ## 3. Three caveats you meet first
#
# Each on a small copy of the problem (64 rows, on the CPU); each has its section in
# [the catalogue](11_one_pass_vs_two.ipynb), with every method measured.
#
# ### `f`'s own parameters θ: zeros, `None`, or ∂f/∂θ
#
# If `f` has trainable parameters θ (not `g`'s), the two passes give them ∂f/∂θ − ∂f/∂θ = exactly 0
# (for a deterministic `f`: no dropout, no state); one backward of `f(x, y)` gives ∂f/∂θ;
# `autograd.grad` writes nothing:

# %%
trainable = make_problem(n=64, width=32, trainable_f=True)
for name, method in METHODS.items():
    run_method(method, trainable)
    theta = [p.grad for p in trainable.f.parameters()]
    print(f"{name:14} θ's .grad:", "None" if theta[0] is None else
          f"Σ|grad| = {sum(float(t.abs().sum()) for t in theta):.4f}")
    trainable.f.zero_grad(set_to_none=True)

# %% [markdown]
# Zeros and `None` are not the same to an optimizer: `torch.optim`'s optimizers skip a parameter
# whose `.grad` is `None` but step on zeros, so after the two passes AdamW still moves θ (its default weight
# decay), and SGD with momentum and Adam move it once earlier steps have filled their buffers — as
# when θ also learns from a loss of its own ([the catalogue](11_one_pass_vs_two.ipynb#theta) shows the
# step). If θ should not learn from these losses, ask backward for `g`'s parameters only (lesson 04):
# `f(reverse_grad(x), y).backward(inputs=list(g.parameters()))` leaves θ's `.grad` as it was. This
# holds only while θ is not `g`'s: where `f` re-applies `g` (tied weights), only `autograd.grad` is
# exact — [the catalogue](11_one_pass_vs_two.ipynb#tied-weights) measures it.
#
# ### `x` used elsewhere
#
# Add a regulariser `r(x) = mean(x²)` that should train `g` normally. A hook on `x` flips **every**
# gradient through `x`, `r`'s included (lesson 05: a hook sees the sum); the reversal, applied where
# `x` enters `f`, flips only `f`'s:

# %%
def r(x):
    return x.pow(2).mean()


def two_pass_plus_r(x, y, f):
    r(x).backward(retain_graph=True)
    METHODS["two-pass"](x, y, f)


def hook_plus_r(x, y, f):
    handle = x.register_hook(lambda grad: -grad)
    (f(x, y) + r(x)).backward()
    handle.remove()


def reversal_plus_r(x, y, f):
    (f(reverse_grad(x), y) + r(x)).backward()


small = make_problem(n=64, width=32)
compare_gradients({name: run_method(m, small) for name, m in {"two-pass + r": two_pass_plus_r,
                   "hook + r": hook_plus_r, "reversal + r": reversal_plus_r}.items()}, decimals=4)

# %% [markdown]
# The same holds whenever `x` reaches the loss by another path — `y` computed from `x`, `f(x, x)` —
# and then the `autograd.grad` method is wrong too. A hook on an alias only `f` uses,
# `x.view_as(x)`, is as branch-local as the reversal. All in [the catalogue](11_one_pass_vs_two.ipynb#x-elsewhere).
#
# ### A hook that stays registered
#
# A tensor hook lives as long as what holds it (on a non-leaf, `x.grad_fn`). The accepted answer
# never removes its hook. On a leaf `x` reused every step — an `nn.Parameter` used directly as `x`,
# such as learned prototypes — each step adds one more, and the sign alternates (here `f = Σ x·y`:
# the wanted `x.grad` is `−y`):

# %%
def accepted_answer(x, y, f):  # as posted: the hook is never removed
    x.register_hook(lambda grad: -grad)
    f(x, y).backward()


y_leaf = torch.tensor([[2.0, 1.0], [-1.0, 0.5]])
for method in (accepted_answer, METHODS["hook"]):
    x_leaf = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    signs = []
    for step in range(4):
        x_leaf.grad = None
        method(x_leaf, y_leaf, lambda x, y: (x * y).sum())
        signs.append("−y" if torch.equal(x_leaf.grad, -y_leaf) else "+y")
    print(f"{method.__name__:16} x.grad at steps 1–4: {', '.join(signs)}")

# %% [markdown]
# Keep the handle and remove it (`hook_on_x` does), or use the reversal, which registers nothing
# ([the catalogue](11_one_pass_vs_two.ipynb#hook-stays)).
#
# Everything else — `f` that re-applies `g`, `y` that depends on `x`, a gradient penalty
# (`create_graph=True`), in-place changes, `x` made under `no_grad`, `retain_grad()`, module hooks,
# state (spectral_norm, a queue), dropout, BatchNorm, autocast — is a section of
# [11 · When one pass is not two](11_one_pass_vs_two.ipynb).

# %% [markdown]
# ## 4. What it costs
#
# **Memory**: the bytes autograd saves for backward in one step (activations; the parameters
# excluded). They depend on the shapes and on which tensors require grad — not on the machine:

# %%
params = list(problem.g.parameters()) + list(problem.f.parameters())
x_in, y_in = (t.detach().requires_grad_(True) for t in problem.features())  # f's inputs alone
g_bytes = saved_tensor_bytes(problem.features, exclude=params)
f_bytes = saved_tensor_bytes(lambda: problem.f(x_in, y_in), exclude=params)
saved = {name: saved_tensor_bytes(lambda m=method: run_method(m, problem), exclude=params)
         for name, method in METHODS.items()}
print(f"g saves {format_bytes(g_bytes)}, f saves {format_bytes(f_bytes)}")
for name, n_bytes in saved.items():
    print(f"{name:14} {format_bytes(n_bytes):>9} = g + {(n_bytes - g_bytes) / f_bytes:.3f} × f")

# %% [markdown]
# Here the two passes save `f`'s activations twice, one pass once — bytes saved over the step, not
# the peak (a backward frees what its graph saved unless `retain_graph=True`, lesson 03). That is
# exact when `f` combines `x` and `y` before it saves anything (this critic concatenates them), so
# each pass saves what one pass saves. An op that takes `x` and `y` as separate operands saves for
# each only what the other's gradient needs: for `f = Σ x·y`, `l1` saves `x`, `l2` saves `y`, one
# pass both — no bytes saved:

# %%
def f_product(x, y):  # x and y enter one product as separate operands
    return (x * y).sum()


for name in ("two-pass", "reversal"):
    step = lambda: METHODS[name](*problem.features(), f_product)  # noqa: E731 (one step, measured)
    n_bytes = saved_tensor_bytes(step, exclude=params)
    print(f"f = Σ x·y, {name:9} {format_bytes(n_bytes - g_bytes):>9} beyond g")

# %% [markdown]
# A separable `f = h(x) + k(y)` (parameters frozen) saves nothing either: `l1` saves only `k`'s
# activations, `l2` only `h`'s. The benchmark's attention-like `f` lies between: its two passes save
# 1.75 × `f`'s one-pass bytes at 256 rows, 1.90 × at 1,024.
#
# **Time**: each method against the fair baseline (`two_pass_no_retain`), interleaved, median of 5
# runs. It depends on the machine, its load, the device and the sizes, so this output is not compared:

# %%
# NBVAL_IGNORE_OUTPUT
timed = {"two-pass, no retain": two_pass_no_retain,
         **{name: m for name, m in METHODS.items() if name != "two-pass"}}
timings = time_methods({name: (lambda m=m: run_method(m, problem)) for name, m in timed.items()},
                       repeat=5, warmup=1, device=device)
fair = timings["two-pass, no retain"].median
for name, t in timings.items():
    print(f"{name:20} {t!r:>28}   {t.median / fair:.2f} × fair baseline")

# %% [markdown]
# One pass runs `f`'s forward once instead of twice, and its backward once to both inputs instead of
# once to each. So its time is at best (G + F) / (G + Fx + Fy) of the fair baseline, with G `g`'s
# forward and backward, F `f`'s forward and backward, Fx and Fy `f`'s forward and backward to one
# input: near ½ when `f` dominates and its backward to one input costs as much as to both, as here.
# `benchmarks/compute_once.py` measures that limit and the methods for four shapes of `f` (the
# README's "Lesson 06 in numbers", measured on a loaded machine): this critic gains about half the
# time, an attention-like `f` a little less (limit ≈ 0.6); a separable `f = h(x) + k(y)` saves only
# its second forward; an `f` much cheaper than `g` next to nothing.

# %% [markdown]
# ## Summary
#
# | method | one pass | `f`'s θ gets | `x` used elsewhere | hook left behind |
# |---|---|---|---|---|
# | two passes | no (the reference) | zeros | exact | — |
# | hook on `x` | yes | ∂f/∂θ | **flips it too** | **flips later backwards**: remove it |
# | `autograd.grad` + `backward` | yes | `None` | exact if `r(x)` is pushed along too | — |
# | reversal | yes | ∂f/∂θ | exact | — |
#
# With `backward(inputs=list(g.parameters()))`, θ's `.grad` is left as it was. One pass saves `f`'s
# second forward, part of its backward and at most one copy of its activations — `f`'s share of the
# step, no more, and less where `x` and `y` meet only as separate operands. Use the
# reversal when `x` has other uses or you want the code to say where the flip happens; the hook,
# with its handle removed, when `x` feeds only `f`. Anything else: the catalogue's
# [summary table](11_one_pass_vs_two.ipynb#summary).

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
