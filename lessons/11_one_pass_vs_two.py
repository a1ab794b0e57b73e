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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/11_one_pass_vs_two.ipynb)
#
# # 11 · When one pass is not two
#
# A reference, not a lesson: open it when your case is not the one [lesson 06](06_compute_once.ipynb)
# teaches. There, `x = g(a)` and `y = g(b)` come from two calls of a shared module `g`, `f` is a plain
# function, and every method computes the gradients of `l1 = f(x.detach(), y)` plus
# `l2 = −f(x, y.detach())` with `f` evaluated once. Each section below is one case where that is not
# so: titled by what you see, then **what differs**, max |Δ| of every method against the two passes
# (printed), **why**, and **the fix**. The [summary table](#summary) is at the end.
#
# **You will learn**, for your case: what differs from the two passes, by how much, why, and the fix.
#
# Five methods, the same function in every section and column (`helpers/cases.py`; each takes
# `x, y, f`, an optional `extra(x, y)` trained normally, and `create_graph`):
#
# | column | what it does |
# |---|---|
# | `two-pass` | the question's code: `f(x.detach(), y).backward(retain_graph=True)`, then `(−f(x, y.detach())).backward()` |
# | `hook on x` | `x.register_hook(lambda g: −g)`, one backward, the hook removed afterwards |
# | `autograd.grad` | `gx, gy = autograd.grad(f(x, y), [x, y])`, then `autograd.backward([x, y], [−gx, gy])` |
# | `reversal` | `f(reverse_grad(x), y).backward()` (lesson 05's `GradReverse`) |
# | `hook on alias` | the hook on `x.view_as(x)`, an alias that only `f` uses, removed afterwards |
#
# **Find your case by what you see** (the sections, in order; JupyterLab's table of contents lists them):
#
# | what you see | section |
# |---|---|
# | `f`'s own parameters get gradients (or zeros) | θ's .grad is zeros after two passes, not None |
# | `g`'s gradients differ although `f` has no trainable state | g's gradients differ when f re-applies g · The other loss on x is trained backwards · y depends on x |
# | "Trying to backward through the graph a second time" from the `autograd.grad` method | y depends on x |
# | a gradient penalty (`create_graph=True`) disagrees | A gradient penalty through the trick |
# | a leaf's gradient alternates in sign from step to step | A leaf's gradient changes sign every step |
# | "modified by an inplace operation", "is a view and is being modified inplace", or no error and `f` changes `x` in place | RuntimeError: one of the variables needed … (f changes its input in place) |
# | "cannot register a hook on a tensor that doesn't require gradient", "element 0 of tensors does not require grad" when `x` came from `no_grad` | RuntimeError: cannot register a hook … (x computed under no_grad) |
# | `x.grad` is 0, `y.grad` doubled | x.grad is 0 and y.grad doubled after retain_grad() |
# | a module hook on `f` fires twice, or once | A module backward hook on f fires twice |
# | one-pass and two-pass numbers differ with spectral_norm, a queue, dropout, BatchNorm, autocast | f with state · Dropout · BatchNorm · Mixed precision |
#
# Node hooks and custom rules are taught in [10](10_node_hooks_and_custom_rules.ipynb); when your
# gradients are wrong and you do not know why, [the clinic](12_gradient_clinic.ipynb) is the how-to.

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
from torch.nn.utils.parametrizations import spectral_norm

from helpers import check, expect_error, fmt, show_source
from helpers.cases import (CASE_METHODS, Catalogue, finite_difference_grad, grads_after,
                           hook_on_alias, max_abs_diff, rounding_units, small_problem, two_pass)
from helpers.compute_once import reverse_grad

catalogue = Catalogue()  # one row per case: each method's max |Δ| against the two passes
show_source(hook_on_alias)  # the fifth method; the other four are lesson 06's

# %% [markdown]
# Every case starts from `small_problem()`: on the CPU, seeded, `g` = Linear → Tanh → Linear on 16
# rows of `a` and of `b`, `f` a small MLP critic of the pairs (`PairCritic`, lesson 06).
# `grads_after(method, g, features, f)` makes `x, y = features()`, runs the method and returns `g`'s
# gradients. A table entry is `ref` (the reference itself), `< 1e-5` (equal up to float32 rounding),
# a number (max |Δ|), or `raises` (then the section prints the error); [the summary](#summary) lists
# the rest.
#
# ## The baseline: x and y from two calls of g, f plain
#
# Nothing differs; every case below changes one thing of this one.

# %%
p = small_problem()
print(catalogue.measure("baseline", lambda m: grads_after(m, p.g, p.features, p.f)))

# %% [markdown]
# Also when `g` runs once on the batch and is split: the two passes then need the
# `retain_graph=True` they have (both go through the same nodes of `g`, [lesson 03](03_retain_graph.ipynb)).

# %%
def batched():
    return p.g(torch.cat([p.a, p.b])).split(len(p.a))  # one call of g, then split


print(catalogue.measure("x, y split from one call of g",
                        lambda m: grads_after(m, p.g, batched, p.f)))

# %% [markdown]
# <a id="theta" name="theta"></a>
#
# ## θ's .grad is zeros after two passes, not None (f has parameters of its own)
#
# **What differs**: not `g`'s gradients, but those of `f`'s own parameters θ (not shared with `g`).

# %%
pt = small_problem(trainable=True)
for name, method in CASE_METHODS.items():
    grads_after(method, pt.g, pt.features, pt.f)
    theta = [q.grad for q in pt.f.parameters()]
    print(f"{name:14} θ's .grad:", "None" if theta[0] is None else
          f"tensors, Σ|grad| = {sum(float(t.abs().sum()) for t in theta):.4f}")
    pt.f.zero_grad(set_to_none=True)
print(catalogue.measure("f has parameters θ (not g's)",
                        lambda m: grads_after(m, pt.g, pt.features, pt.f)))

# %% [markdown]
# Zeros are not `None` to an optimizer: it skips a parameter whose `.grad` is `None` and steps on
# zeros. One step of SGD with momentum and of AdamW, after an earlier step that filled their state:

# %%
def theta_moves(method, make_optimizer):
    q = small_problem(trainable=True)
    optimizer = make_optimizer(q.f.parameters())
    grads_after(CASE_METHODS["hook on x"], q.g, q.features, q.f)  # earlier step: θ gets ∂f/∂θ
    optimizer.step()
    optimizer.zero_grad()  # θ's .grad back to None
    before = [t.detach().clone() for t in q.f.parameters()]
    grads_after(method, q.g, q.features, q.f)
    optimizer.step()
    return max(float((t.detach() - b).abs().max()) for t, b in zip(q.f.parameters(), before))


optimizers = {"SGD(momentum=0.9)": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
              "AdamW": lambda ps: torch.optim.AdamW(ps, lr=0.01)}
for name in ("two-pass", "autograd.grad"):
    moves = [f"{o} {theta_moves(CASE_METHODS[name], make):.4f}" for o, make in optimizers.items()]
    print(f"after {name:14} θ moves by up to:", ", ".join(moves))

# %% [markdown]
# The fix below, `backward(inputs=…)`, with the reversal: only the parameters named are filled.

# %%
def reversal_into(module):  # the reversal, with backward asked for `module`'s parameters only
    def method(x, y, f, extra=None):
        f(reverse_grad(x), y).backward(inputs=list(module.parameters()))
    return method


pt.f.zero_grad(set_to_none=True)  # θ's .grad: None before
got = grads_after(reversal_into(pt.g), pt.g, pt.features, pt.f)
print("reversal with inputs=g's parameters: θ's .grad all None:",
      all(q.grad is None for q in pt.f.parameters()), "| g's gradients vs two passes: max |Δ| =",
      fmt(max_abs_diff(got, grads_after(two_pass, pt.g, pt.features, pt.f))))
pt.f.zero_grad(set_to_none=True)

# %% [markdown]
# **Why**: the two passes give θ ∂l1/∂θ + ∂l2/∂θ = ∂f/∂θ − ∂f/∂θ, exactly 0 (the same numbers, opposite
# signs). One backward of `f(x, y)` gives θ ∂f/∂θ; `autograd.grad` asks only for `x` and `y`.
# **The fix**: `backward(inputs=list(g.parameters()))` leaves θ's `.grad` as it was (`None` stays
# `None`). Zeros are not `None` to an optimizer: SGD with momentum and AdamW still move a parameter
# whose `.grad` is zeros, and skip one whose `.grad` is `None` (above).
#
# <a id="tied-weights" name="tied-weights"></a>
#
# ## g's gradients differ when f re-applies g (tied weights, a consistency loss)
#
# **What differs**: `f` calls `g` itself — a consistency term `|g(x') − y|²`, or weights tied between
# `g` and `f`. Hook, reversal and alias hook are off; `autograd.grad` is exact. So is
# `backward(inputs=g.parameters())` off: the parameters it fills are the shared ones.

# %%
def f_tied(x, y):  # f uses g's parameters too
    return p.f(x, y) + (p.g(x[:, :4]) - y).pow(2).mean()


print(catalogue.measure("f re-applies g (tied weights)",
                        lambda m: grads_after(m, p.g, p.features, f_tied)))
print("reversal with inputs=g's parameters: max |Δ| =", fmt(max_abs_diff(
    grads_after(reversal_into(p.g), p.g, p.features, f_tied),
    grads_after(two_pass, p.g, p.features, f_tied))))

# %% [markdown]
# **Why**: `f`'s direct use of `g`'s parameters gets ∂f/∂w − ∂f/∂w = 0 in the two passes (as θ
# above), but ∂f/∂w from one backward of `f(x, y)` — and those parameters *are* `g`'s.
# `autograd.grad(f(x, y), [x, y])` never writes a `.grad`, so that term is never added.
# **The fix**: the `autograd.grad` method, or `autograd.grad` to `x` and `y` only in general.
#
# <a id="x-elsewhere" name="x-elsewhere"></a>
#
# ## The other loss on x is trained backwards (x feeds r(x) too)
#
# **What differs**: `x` also feeds a regulariser `r(x) = mean(x²)` that should train `g` normally.

# %%
def r(x, y):
    return x.pow(2).mean()


print(catalogue.measure("x feeds another loss r(x)",
                        lambda m: grads_after(m, p.g, p.features, p.f, r)))

# %% [markdown]
# **Why**: a hook on `x` negates the **sum** of every gradient that reaches `x`, `r`'s included
# ([lesson 05](05_register_hook.ipynb)). The reversal and the alias are used only by `f`, so only
# `f`'s gradient is flipped. `autograd.grad` is exact because `r(x)` is pushed as a third root.
# **The fix**: the reversal, the hook on an alias, or `autograd.grad` with `r` pushed along.
#
# <a id="y-depends-on-x" name="y-depends-on-x"></a>
#
# ## y depends on x: the hook is wrong, and autograd.grad raises "Trying to backward through the graph a second time" — or runs and is wrong
#
# **What differs**: `y = g(b) + x`, `y = g(b) + 0.1·x`, or `y` is `x` (`f(x, x)`).

# %%
def y_plus(k):
    def features():
        x = p.g(p.a)
        return x, (p.g(p.b) + x if k == 1 else p.g(p.b) + k * x)
    return features


with expect_error(RuntimeError, contains="Trying to backward through the graph a second time"):
    grads_after(CASE_METHODS["autograd.grad"], p.g, y_plus(0.1), p.f)
for case, features in {"y = g(b) + x": y_plus(1), "y = g(b) + 0.1·x": y_plus(0.1),
                       "y is x": lambda: (p.g(p.a),) * 2}.items():
    print(catalogue.measure(case, lambda m: grads_after(m, p.g, features, p.f)))

# %% [markdown]
# **Why**: in the two passes `l1 = f(x.detach(), y)` still reaches `x` through `y`, unflipped; only the
# path into `f`'s first input is flipped. A hook on `x` flips the path through `y` too.
# `autograd.grad(…, [x, y])` returns the *total* gradient at `x`, through `y` included; the method
# negates it and then pushes `gy` back through `y` into `x` again: the path through `y` counts 0 times
# instead of once. Its second call must go back through the nodes between `x` and `y`: it raises when
# one of them saved a tensor that the first call freed (`0.1 * x` saves the 0.1) and runs —
# silently wrong — when none did (`+ x`, or `y` is `x`): not failing is no proof here. (In the seed
# example with `y = g(b) + x` the two passes give `w.grad` = 4, the `autograd.grad` method 3: exercise 11.2.)
# **The fix**: the reversal or the hook on an alias.
#
# <a id="create-graph" name="create-graph"></a>
#
# ## A gradient penalty through the trick (create_graph=True) gives three different answers
#
# **What differs**: the steered gradient G (the two passes' `g` gradient) is itself penalised,
# `P = Σ G²`, and `P` is backpropagated (`create_graph=True`, as in a gradient penalty). First-order
# gradients all agree; ∂P/∂w does not. In float64, against two passes and against central finite
# differences of `P` as a function of `g`'s parameters:

# %%
p64 = small_problem(dtype=torch.float64)
params = dict(p64.g.named_parameters())


def penalty_grad(method, create_graph=True):
    """G = what `method` leaves in g's .grad (create_graph); returns ∂(Σ G²)/∂(g's params)."""
    p64.g.zero_grad(set_to_none=True)
    x, y = p64.features()
    method(x, y, p64.f, None, create_graph)
    penalty = sum((q.grad ** 2).sum() for q in params.values())
    p64.g.zero_grad(set_to_none=True)  # also breaks the parameter ↔ .grad reference cycle
    return dict(zip(params, torch.autograd.grad(penalty, list(params.values()))))


def penalty():  # P(w), from first-order gradients (all methods agree on them)
    return sum((q ** 2).sum() for q in grads_after(two_pass, p64.g, p64.features, p64.f).values())

# %%
fd = finite_difference_grad(penalty, p64.g)  # (P(w + ε) − P(w − ε)) / 2ε, entry by entry
print(catalogue.measure("create_graph: ∂P/∂w vs two passes", penalty_grad))
print(catalogue.measure("create_graph: ∂P/∂w vs finite differences", penalty_grad,
                        reference=fd))
print("largest |∂P/∂w|:", fmt(max(float(t.abs().max()) for t in fd.values())))

# %% [markdown]
# **Why**: backpropagating `P` runs back through `g`'s *forward* graph a second time (G depends on `w`
# through `x` and `y`). The removed hooks and `autograd.grad` leave nothing on that graph: they compute
# the true ∂P/∂w (finite differences agree to rounding). The **reversal** is a node of the forward
# graph: the second backward passes it and is flipped again. A hook **left registered** on `x`
# does the same (below). And the **two passes** compute the derivative of *their* graphs, in which
# `x.detach()` and `y.detach()` are constants: the ∂/∂w of `l1`'s gradient misses how it depends on `w`
# through the detached `x`, and `l2`'s through `y`. What a user of a gradient penalty wants is
# ∂P/∂w. **The fix**: `autograd.grad` (`create_graph=True`), or a hook removed before `P`'s backward;
# not the reversal, and not the two passes.

# %%
def hook_kept(x, y, f, extra=None, create_graph=False):  # the accepted answer: never removed
    x.register_hook(lambda grad: -grad)
    f(x, y).backward(create_graph=create_graph)


kept, rev = penalty_grad(hook_kept), penalty_grad(CASE_METHODS["reversal"])
print("hook left registered vs reversal: max |Δ| =", fmt(max_abs_diff(kept, rev), 8))
print("hook left registered vs finite differences: max |Δ| =", fmt(max_abs_diff(kept, fd), 4))

# %% [markdown]
# <a id="hook-stays" name="hook-stays"></a>
#
# ## A leaf's gradient changes sign every step (the hook stays registered)
#
# **What differs**: `x` is a leaf used every step (learned embeddings, say) and the hook is never
# removed, as in the accepted answer: every step adds a hook, and the sign alternates.

# %%
y_leaf = torch.tensor([[2.0, 1.0], [-1.0, 0.5]])


def f_dot(x, y):
    return (x * y).sum()  # ∂f/∂x = y: the two passes give x.grad = −y


for method in (hook_kept, CASE_METHODS["hook on x"]):
    x_leaf = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)  # the same leaf every step
    signs = []
    for step in range(4):
        x_leaf.grad = None
        method(x_leaf, y_leaf.clone().requires_grad_(), f_dot)
        signs.append("−y" if torch.equal(x_leaf.grad, -y_leaf) else "+y")
    print(f"{method.__name__:10} x.grad at steps 1–4:", ", ".join(signs))

# %%
def leaf_steps(method, steps=4):  # x.grad after each step, the same leaf x every step
    x_leaf, grads = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True), {}
    for step in range(steps):
        x_leaf.grad = None
        method(x_leaf, y_leaf.clone().requires_grad_(), f_dot)
        grads[f"step {step + 1}"] = x_leaf.grad.clone()
    return grads


print(catalogue.measure("x a leaf reused for 4 steps (hooks removed)", leaf_steps))

# %% [markdown]
# **Why**: a hook lives as long as what holds it. On a leaf that is the tensor; on a non-leaf it is
# stored on `x.grad_fn`, the node that made `x`, and fires even after the name `x` is gone:

# %%
fired = []
h = p.g(p.a)
h.register_hook(lambda grad: fired.append(True))
loss = h.sum()
del h  # the tensor object is gone; its node, x.grad_fn, is still in loss's graph
loss.backward()
print("hook fired after del:", fired == [True])

# %% [markdown]
# **The fix**: keep the handle and `handle.remove()` after the backward (every method here does), or
# the reversal, which registers nothing.
#
# <a id="in-place" name="in-place"></a>
#
# ## RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation, or "… is a view and is being modified inplace" (f changes its input in place)
#
# **What differs**: `f` starts with an in-place operation on `x` (`x.relu_()`, `nn.ReLU(inplace=True)`).
# With `g` ending in a Linear layer (nothing saved `x`), the two passes, the hook and `autograd.grad`
# run; the reversal refuses; and the hook on the alias runs **silently without its flip**:

# %%
f_inplace = lambda x, y: p.f(x.relu_(), y)  # noqa: E731
with expect_error(RuntimeError, contains="is a view and is being modified inplace"):
    grads_after(CASE_METHODS["reversal"], p.g, p.features, f_inplace)
print(catalogue.measure("f in place on x, g ends in Linear",
                        lambda m: grads_after(m, p.g, p.features, f_inplace)))
plain = grads_after(lambda x, y, f, extra: f(x, y).backward(), p.g, p.features, f_inplace)
alias = grads_after(hook_on_alias, p.g, p.features, f_inplace)
print("hook on alias vs a plain backward (no flip at all): max |Δ| =",
      fmt(max_abs_diff(alias, plain)))

# %% [markdown]
# With a Tanh at the end of `g` (it saves its output `x`), or `x` and `y` split from one call of `g`
# (`split` returns views), every method raises:

# %%
pt_tanh = small_problem(tanh_last=True)
tanh_inplace = lambda x, y: pt_tanh.f(x.relu_(), y)  # noqa: E731
with expect_error(RuntimeError, contains="modified by an inplace operation"):
    grads_after(two_pass, pt_tanh.g, pt_tanh.features, tanh_inplace)
print(catalogue.measure("f in place on x, g ends in Tanh",
                        lambda m: grads_after(m, pt_tanh.g, pt_tanh.features, tanh_inplace)))
print(catalogue.measure("f in place on x; x, y split from one call",
                        lambda m: grads_after(m, p.g, batched, f_inplace)))
with expect_error(RuntimeError, contains="is the output of a function that returns multiple views"):
    grads_after(CASE_METHODS["hook on x"], p.g, batched, f_inplace)

# %% [markdown]
# With `split`, PyTorch's words are "Output 0 of Split is a view and is being modified inplace. This
# view is the output of a function that returns multiple views." And the alias: after the in-place
# change, neither it nor `x` is made by the node the hook was stored on:

# %%
x, y = p.features()
alias = x.view_as(x)
print("before: alias made by", type(alias.grad_fn).__name__, end="; ")
alias.relu_()
print("after relu_: alias by", type(alias.grad_fn).__name__, "and x by", type(x.grad_fn).__name__)

# %% [markdown]
# **Why**: an in-place change of a tensor that a backward needs (Tanh saved its output) is refused at
# backward time (lesson 03). `reverse_grad` returns a view of `x`, and autograd refuses an in-place
# change of a view made by a custom Function (its view+inplace handling would replace the Function's
# backward). The alias `x.view_as(x)` is a view too: its in-place change rebases the graph
# (`CopySlices`), and the node the hook was stored on is no longer on the path.
# **The fix**: clone where `f` takes its input, `f(x.clone(), y)` (or `reverse_grad(x).clone()`):
# then all five methods run and agree.

# %%
f_cloned = lambda x, y: pt_tanh.f(x.clone().relu_(), y)  # noqa: E731
print(catalogue.measure("… Tanh, fixed: f(x.clone(), y)",
                        lambda m: grads_after(m, pt_tanh.g, pt_tanh.features, f_cloned)))

# %% [markdown]
# The two passes themselves hide a trap: `x.detach()` shares `x`'s storage, so the first pass's
# in-place change is made to `x`, and the second pass evaluates `f` at the changed `x`. `relu_` gives
# the same values a second time; an operation that does not (`x.mul_(2)`) makes the two passes two
# evaluations of `f` at two points, with no error. Against the two passes of the fixed `f(x.clone(), y)`,
# the one-pass methods are then the right ones (the alias hook still loses its flip):

# %%
f_doubling = lambda x, y: p.f(x.mul_(2), y)  # noqa: E731
cloned = grads_after(two_pass, p.g, p.features, lambda x, y: p.f(x.clone().mul_(2), y))
print(catalogue.measure("f in place, x.mul_(2), vs two passes of f(x.clone(), y)",
                        lambda m: grads_after(m, p.g, p.features, f_doubling), reference=cloned))

# %% [markdown]
# <a id="no-grad" name="no-grad"></a>
#
# ## RuntimeError: cannot register a hook on a tensor that doesn't require gradient, or "element 0 of tensors does not require grad and does not have a grad_fn" (x computed under no_grad)
#
# **What differs**: `x` was computed under `torch.no_grad()` (a cached feature, a target). Each method
# fails with its own message — except the reversal, which runs and trains `g` through `y` only. The
# row compares with `l1 = f(x.detach(), y)` backpropagated alone (what is left of the two passes):

# %%
def x_without_grad():
    with torch.no_grad():
        x = p.g(p.a)
    return x, p.g(p.b)


for name, method in CASE_METHODS.items():
    if name != "reversal":
        print(f"{name:14}", end=" ")
        with expect_error(RuntimeError):
            grads_after(method, p.g, x_without_grad, p.f)
l1_alone = grads_after(lambda x, y, f, extra: f(x.detach(), y).backward(), p.g, x_without_grad, p.f)
print(catalogue.measure("x computed under no_grad (vs l1 alone)",
                        lambda m: grads_after(m, p.g, x_without_grad, p.f), reference=l1_alone))

# %% [markdown]
# **Why**: `x` has no `grad_fn` and does not require grad, so `l2 = −f(x, y.detach())` has nothing to
# backpropagate, a hook cannot be registered, and `autograd.grad` cannot differentiate with respect to
# `x`. `GradReverse.apply(x)` of such an `x` records nothing (no input requires grad), so what is left
# is `l1`'s gradient — the row's 0.
# **The fix**: decide. If `x` should train `g`, compute it with grad; if not, `f(x, y).backward()` is
# all there is — and the reversal's silence is a reason to check `x.requires_grad`.
#
# <a id="retain-grad" name="retain-grad"></a>
#
# ## x.grad is 0 and y.grad doubled after retain_grad() (the autograd.grad method)
#
# **What differs**: `x.retain_grad()` and `y.retain_grad()`, to look at the gradients arriving there.

# %%
reference, retained = {}, {}
for name, method in CASE_METHODS.items():
    x, y = p.features()
    x.retain_grad()
    y.retain_grad()
    method(x, y, p.f)
    reference = reference or {"x": x.grad, "y": y.grad}
    ratio = {k: float((t.grad * reference[k]).sum() / reference[k].pow(2).sum())
             for k, t in (("x", x), ("y", y))}  # t.grad = ratio × the two passes' t.grad
    print(f"{name:14} x.grad = {ratio['x']:.1f} × two passes', y.grad = {ratio['y']:.1f} ×")
    retained[name] = f"x {ratio['x']:.0f}×, y {ratio['y']:.0f}×"
print(catalogue.record("retain_grad: x.grad, y.grad (× two passes')", retained))

# %% [markdown]
# **Why**: the `autograd.grad` method makes two engine calls, and a retained gradient is filled by
# both: `autograd.grad` stores ∂f/∂x and ∂f/∂y, then `backward([x, y], [−gx, gy])` adds −gx and gy.
# (`g`'s gradients are not affected: nothing is pushed on from the first call.)
# **The fix**: read `gx` and `gy` themselves, or use another method.
#
# <a id="module-hook" name="module-hook"></a>
#
# ## A module backward hook on f fires twice, with opposite signs
#
# **What differs**: `f` has a full backward hook (a gradient logger, a clipping hook): what it sees.

# %%
seen, fired = [], {}
handle = p.f.register_full_backward_hook(lambda module, grad_in, grad_out: seen.append(grad_out[0]))
for name, method in CASE_METHODS.items():
    seen.clear()
    grads_after(method, p.g, p.features, p.f)
    print(f"{name:14} calls: {len(seen)}, grad_output:", [fmt(t) for t in seen])
    fired[name] = ", then ".join(f"{float(t):+.0f}" for t in seen)
handle.remove()
print(catalogue.record("module hook on f: grad_output per call", fired))

# %% [markdown]
# **Why**: the two passes run `f`'s backward twice, the second from `l2 = −f` (grad_output −1); in one
# pass `f`'s backward runs once, unflipped (the flip happens outside `f`). A hook that counts or clips
# inside `f` sees other numbers. **The fix**: none needed for `g`; write the hook for the method used.
#
# <a id="state" name="state"></a>
#
# ## f with state: spectral_norm's power iteration, a memory queue
#
# **What differs**: `f`'s value depends on state that each evaluation updates. The two passes
# evaluate `f` twice, so the second sees the state the first left.

# %%
def spectral_problem(redraw):
    q = small_problem()
    torch.manual_seed(1)  # spectral_norm draws its vectors, then runs 15 power iterations
    spectral_norm(q.f.net[2])  # in training mode, every forward runs one more
    vectors = q.f.net[2].parametrizations.weight[0]
    with torch.no_grad():  # redraw: far from converged, as after a large change of the weight
        for v in (vectors._u, vectors._v) if redraw else ():
            v.copy_(torch.nn.functional.normalize(torch.randn(v.shape), dim=0))
    return q


def spectral_run(method, training=True, redraw=True):
    q = spectral_problem(redraw)
    q.f.train(training)  # eval(): the vectors are read, not updated
    return grads_after(method, q.g, q.features, q.f)

# %%
print(catalogue.measure("f with spectral_norm, vectors as registered",
                        lambda m: spectral_run(m, redraw=False)))
print(catalogue.measure("f with spectral_norm, vectors redrawn", spectral_run))
print(catalogue.measure("… fixed: f.eval()", lambda m: spectral_run(m, training=False)))

# %%
class QueueCritic:
    """f plus a contrastive term of x against a queue of earlier y's; each call enqueues y."""

    def __init__(self, f, bank, enqueue=True):
        self.f, self.bank, self.enqueue = f, bank.clone(), enqueue

    def __call__(self, x, y):
        out = self.f(x, y) + torch.logsumexp(x @ self.bank.T, dim=1).mean()
        if self.enqueue:  # the state: enqueue y
            self.bank = torch.cat([self.bank[len(y):], y.detach()])
        return out


bank = torch.randn(32, 6, generator=torch.Generator().manual_seed(2))
for enqueue, case in ((True, "f with a memory queue"), (False, "… fixed: enqueue outside f")):
    print(catalogue.measure(case, lambda m: grads_after(m, p.g, p.features,
                                                        QueueCritic(p.f, bank, enqueue))))

# %% [markdown]
# **Why**: not a question of autograd: the two passes compute a different `f` the second time.
# spectral_norm's vectors "are updated performing n_power_iterations of the power method whenever the
# tensor is accessed with the module on training mode"
# ([docs](https://docs.pytorch.org/docs/stable/generated/torch.nn.utils.parametrizations.spectral_norm.html));
# the queue has the first pass's `y` in it when the second pass runs. With the vectors as
# `spectral_norm` registers them (after 15 power iterations), one more iteration barely moves σ and the
# gradients differ by less than 1e-5; with vectors far from converged, by the number in the row.
# **The fix**: one pass is usually what you mean (one step, one update of the state). For the two
# passes' numbers to be one step's, update the state once per step, outside `f`: `f.eval()` for
# spectral_norm (its vectors are then read, not updated), and enqueue after the backward for the queue
# — then every method agrees (the "fixed" rows). Or restore the state between the passes (as for
# dropout, below).
#
# <a id="dropout" name="dropout"></a>
#
# ## Dropout: two passes draw two masks
#
# **What differs**: `f` has dropout in training mode. Each evaluation draws new masks: the two passes
# use two, one pass one. (The masks, and so the numbers, depend on the machine: only whether they
# differ is printed.) Restoring the random state between the passes gives the second the first's masks:

# %%
pd = small_problem(dropout=0.5)


def seeded(method):
    torch.manual_seed(0)
    return grads_after(method, pd.g, pd.features, pd.f)


def two_pass_same_masks(x, y, f, extra=None):
    with torch.random.fork_rng(devices=[]):  # CPU random state saved here, restored on exit…
        f(x.detach(), y).backward(retain_graph=True)
    (-f(x, y.detach())).backward()  # …so this pass draws the same masks

# %%
def differs(method, reference):  # the masks depend on the machine: print only whether they differ
    return "ref" if method is reference else (
        "differs" if max_abs_diff(seeded(method), seeded(reference)) > 1e-3 else "same")


print(catalogue.record("f with dropout",
                       {n: differs(m, two_pass) for n, m in CASE_METHODS.items()}))
restored = seeded(two_pass_same_masks)
print("two passes with the RNG restored vs one pass: max |Δ| =",
      max(max_abs_diff(seeded(m), restored) for n, m in CASE_METHODS.items() if n != "two-pass"))

# %% [markdown]
# **Why**: over many draws both estimate the same expected gradient; one draw differs.
# **The fix**: restore the random state if you need the two passes' numbers. `fork_rng(devices=[])`
# saves and restores the **CPU** generator only: the [docs](https://docs.pytorch.org/docs/stable/random.html)
# say "devices (iterable of Device IDs) – devices for which to fork the RNG. CPU RNG state is always
# forked". On a GPU, dropout draws from the GPU's generator, so this code would give the second pass
# new masks; pass `devices=[x.device]` there. Not measured here: this catalogue runs on the CPU, and no
# GPU was at hand when it was written.
#
# <a id="batchnorm" name="batchnorm"></a>
#
# ## BatchNorm's running statistics are updated twice
#
# **What differs**: `f` has BatchNorm in training mode. `g`'s gradients agree; the running statistics
# are updated once per evaluation, and γ, β get zeros from the two passes (as θ above).

# %%
def batchnorm_run(method):
    q = small_problem(trainable=True, batchnorm=True)  # fresh running statistics
    grads = grads_after(method, q.g, q.features, q.f)
    bn, (x, y) = q.f.net[1], q.features()
    batch_mean = q.f.net[0](torch.cat([x, y], dim=1)).mean(0).detach()  # what BatchNorm saw
    gamma = bn.weight.grad
    gamma = "None" if gamma is None else f"Σ|grad| = {float(gamma.abs().sum()):.4f}"
    ratio = float((bn.running_mean / batch_mean).mean())
    print(f"{method.__name__:17} num_batches_tracked = {int(bn.num_batches_tracked)},",
          f"running_mean = {ratio:.2f} × batch mean, γ's .grad:", gamma)
    return grads


print(catalogue.measure("f with BatchNorm (training)", batchnorm_run))

# %% [markdown]
# **Why**: each evaluation in training mode updates `running_mean` and `running_var`
# (momentum 0.1, from zeros: 0.1 × the batch mean after one update, 0.19 × after two). In training
# mode the forward uses the batch's own statistics, so `g`'s gradients are not affected.
# **The fix**: one pass is usually what you mean (one update per step). To make two passes do the
# same, save `running_mean`, `running_var` and `num_batches_tracked` before the second pass and copy
# them back after it.
#
# <a id="autocast" name="autocast"></a>
#
# ## Mixed precision: one-pass gradients differ under autocast (bf16)
#
# **What differs**: everything runs under `torch.autocast("cpu", dtype=torch.bfloat16)`.

# %%
def under_autocast(cache_enabled):
    def run(method):
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=cache_enabled):
            return grads_after(method, p.g, p.features, p.f)
    return run


reference = under_autocast(True)(two_pass)
runs = {n: under_autocast(True)(m) for n, m in CASE_METHODS.items()}
bf16 = {n: max_abs_diff(got, reference) for n, got in runs.items()}
units = {n: rounding_units(got, reference) for n, got in runs.items()}  # |Δ| / (2⁻⁸·|two-pass|)
print(catalogue.record("autocast bf16", {n: "ref" if n == "two-pass" else bf16[n] if bf16[n] < 1e-5
    else "bf16 rounding" if units[n] <= 1 else bf16[n] for n in CASE_METHODS}))
print(catalogue.measure("autocast bf16, cache_enabled=False", under_autocast(False)))
print("largest |gradient|:", fmt(max(float(t.abs().max()) for t in reference.values())))

# %% [markdown]
# "bf16 rounding": every entry differs from the two passes' by at most 2⁻⁸ of its value — half a
# bf16 unit in the last place, one rounding. That bound is what holds on every CPU; the numbers
# themselves depend on the CPU's bf16 arithmetic, so they are printed but not compared:

# %%
# NBVAL_IGNORE_OUTPUT
print("max |Δ|:", {n: f"{d:.2g}" for n, d in bf16.items()})
print("max |Δ| / (2⁻⁸ |two-pass entry|):", {n: f"{u:.2f}" for n, u in units.items()})

# %% [markdown]
# **Why**: inside an autocast region the bf16 copy of each fp32 weight is cached, so `g(a)` and
# `g(b)` share one cast node. In one pass both calls' gradients meet there and are summed **in bf16**
# before the cast back to fp32; in two passes each backward reaches the cast through one call only,
# and the two contributions are summed in fp32 (in `.grad`). With `cache_enabled=False` each call
# casts for itself, and every method agrees to float32 rounding. **The fix**: `cache_enabled=False` if you need
# the two passes' bits; otherwise the difference is one bf16 rounding of each weight's gradient.
#
# <a id="summary" name="summary"></a>
#
# ## Summary
#
# One row per case (the section's title, shortened), one column per method — each column the same
# function in every row (the table at the top). A cell is, unless the row's name says otherwise, the
# max |Δ| of `g`'s gradients against the two passes:
#
# - `ref`: the reference itself; `< 1e-5`: below 1e-5 — float32 rounding, or an effect that small
#   (spectral_norm with its registered vectors). Whether such a method is *bitwise* equal to the two
#   passes depends on the machine's kernels, so 0 is shown as `< 1e-5` too; a number: max |Δ| (2
#   significant digits);
# - `raises`: the method raises (the section prints the error); `runs`: it runs where the reference raises;
# - `bf16 rounding`: nonzero, every entry within 2⁻⁸ of its value, one bf16 rounding (autocast);
# - `differs`: other numbers, how much depends on the machine's random masks (dropout);
# - rows that say what else they compare: `∂P/∂w` (the create_graph rows, against the two passes or
#   finite differences), `x.grad` over 4 steps (the leaf row), `vs l1 alone` (no_grad), `vs two passes
#   of f(x.clone(), y)` (an in-place `f` whose two passes are wrong), `x.grad` and
#   `y.grad` as multiples of the two passes' (retain_grad), the `grad_output` each call of `f`'s module
#   backward hook sees (module hook); `… fixed:` rows apply the section's fix to the case above them.

# %%
catalogue

# %% [markdown]
# ## Exercises
#
# The seed example (`g` a 1 × 1 linear layer with weight `w = 1`, `a = 1`, `b = 2`, `f = |x − y|`)
# with `y = g(b) + x`: the two passes give `w.grad = 4`.
#
# **11.1** What weight gradient does the hook on `x` give? Work it out from what arrives at `x`.

# %%
answer = None
check("11.1", answer)

# %% [markdown]
# **11.2** And the `autograd.grad` method (`gx` is the total gradient at `x`)?

# %%
answer = None
check("11.2", answer)
