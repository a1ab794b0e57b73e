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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/07_training_loop.ipynb)
#
# # 07 · The trick in a training loop: domain-adversarial training
#
# Lessons 01–06 proved the one-pass methods on single gradient computations. Here they meet a real
# training loop — an optimizer with momentum, three modules, hundreds of steps — in the model the
# gradient-reversal layer was invented for: **domain-adversarial training** (Ganin & Lempitsky,
# 2015). A feature extractor `g` is shared by a label classifier `c` and a domain classifier `d`.
# `d` learns to tell the *source* domain's features from the *target* domain's; `g` learns to make
# them indistinguishable — it **maximises** `d`'s loss — while `c` learns the labels, known only on
# the source. That is the question of lesson 06: one evaluation of `d` on `g`'s features,
# backpropagated with opposite signs into `d` and into `g`.
#
# **You will learn**
# - to write a DANN training step the question's way (two passes) and in one pass with a λ-scaled
#   gradient reversal, and that both train *the same model*, step for step;
# - that it works: a classifier trained on labelled moons also classifies rotated, unlabelled ones;
# - three careless versions that run without an error and what each does to the target accuracy;
# - what the one-pass step saves: memory saved for backward over a step (exact), and time (measured).
#
# Time: about 35 minutes. Uses [05 · register_hook](05_register_hook.ipynb)
# and [06 · compute once](06_compute_once.ipynb).

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

from helpers import (check, collect_grads, compare_gradients, fmt, format_bytes, seed_everything,
                     show_source, time_methods)
from helpers.compute_once import reverse_grad
from helpers.dann import (STEPS, Batch, accuracy, domain_loss, label_loss, lambda_schedule,
                          make_batches, make_domains, make_model, one_pass_step, step_saved_bytes,
                          train, two_pass_step)
from helpers.show import FigurePicture

device = torch.device("cpu")  # even with a GPU: see the note below
seed_everything(0)
torch.set_num_threads(1)  # tiny models: extra CPU threads add more waiting than work

# %% [markdown]
# *This lesson runs on the CPU even where a GPU is present: the models are tiny (a GPU would only add
# launch overhead), and a GPU rounds differently, so after 300 float32 steps its error counts could
# differ from the stored ones.*
#
# ## 1. Two domains, one of them labelled
#
# The **source** domain: two moons, with labels. The **target** domain: the same moons rotated by
# 35°, whose labels the training never sees (we keep them only to measure accuracy). Made in
# milliseconds by `make_domains` (`helpers/dann.py`, which also has a `make_moons` in PyTorch):

# %%
domains = make_domains(n=512, angle=35.0, seed=0, device=device)  # for training
test = make_domains(n=2000, angle=35.0, seed=2, device=device)  # fresh points, to measure accuracy
domains

# %%
def scatter(ax, points, labels, title, marker="o"):
    points, labels = points.cpu(), labels.cpu()
    for k, colour in ((0, "tab:blue"), (1, "tab:orange")):
        ax.scatter(*points[labels == k].T, s=8, color=colour, marker=marker, label=f"label {k}")
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")


fig = Figure(figsize=(8, 3.6), layout="constrained")
ax_s, ax_t = fig.subplots(1, 2, sharex=True, sharey=True)
scatter(ax_s, domains.xs, domains.ys, "source: labelled")
scatter(ax_t, domains.xt, domains.yt, "target: rotated 35°, labels never used in training")
ax_s.legend(fontsize=8)
FigurePicture(fig, "two scatter plots: source moons and the same moons rotated by 35°")

# %% [markdown]
# ## 2. The model and one training step, two ways
#
# `g`: 2 → 32 → 32 (tanh); `c`: 32 → 1 logit (label); `d`: 32 → 32 → 1 logit (source 0, target 1).
# In lesson 06's terms: `x` is `g`'s features `h`, `f` is `d`'s loss and `d`'s parameters are `f`'s
# own parameters θ; `d` has no separate input `y`. The question's two passes become:
#
# 1. `l1 = L_d(d(h.detach()))` trains `d` (and, detached, not `g`);
# 2. `l2 = L_c − λ·L_d(d(h))` trains `c` and `g`, with `d`'s parameters kept out of it by
#    `backward(inputs=…)` (lesson 04) — lesson 06's fix for θ, which would otherwise get
#    ∂L_d/∂θ from pass 1 and −λ·∂L_d/∂θ from pass 2 (lesson 06's ∂f/∂θ − ∂f/∂θ at λ = 1;
#    section 5a shows what that does here).
#
# The one-pass step evaluates `d` once, on `reverse_grad(h, λ)`: the identity forward, `−λ ×` the
# gradient backward, on `d`'s branch only (lesson 05). Both are in `helpers/dann.py`, so that
# `benchmarks/train_step.py` times exactly this code:

# %%
show_source(two_pass_step)
print()
show_source(one_pass_step)

# %% [markdown]
# Both end with **one** optimizer step, after all gradients are in. (Stepping `d` between the passes
# would be a different algorithm: the second pass would see an updated `d`.)
#
# One step's gradients, from the same weights and batch, compared parameter by parameter, at
# λ = 0.3 (not 0.5: multiplying by a power of two is exact, which would hide the rounding of the
# general case; at 0.3 they differ by float rounding, far below the 6 printed decimals). An SGD with
# learning rate 0 lets the step functions run unchanged without moving the weights:

# %%
batch = make_batches(domains, steps=1, batch_size=64, seed=1)[0]


def step_grads(step, lam=0.3):
    """The gradients one `step` leaves in a fresh model (seed 0) on `batch`; lr 0: nothing moves."""
    model = make_model(seed=0, device=device)
    step(model, torch.optim.SGD(model.parameters(), lr=0.0), batch, lam)
    return collect_grads(model)


compare_gradients({name: step_grads(step) for name, step in STEPS.items()}, reference="two-pass")

# %% [markdown]
# ### λ: from 0 to 1 during training
#
# DANN scales the reversed gradient by λ_p = 2 / (1 + exp(−10 p)) − 1, where p goes from 0 to 1 over
# the training: `g` ignores `d` at first, while `d` is still guessing, and is pushed harder later.
# `train` (in `helpers/dann.py`) passes `lambda_schedule(step / steps)` to the step function:

# %%
show_source(lambda_schedule)
print("p:", [0.0, 0.1, 0.25, 0.5, 1.0])
print("λ:", fmt([lambda_schedule(p) for p in (0.0, 0.1, 0.25, 0.5, 1.0)], 3))

# %% [markdown]
# ## 3. The same training, step for step
#
# Both formulations from the same initial weights, the same 300 batches of 64 + 64 points and the
# same optimizer (SGD, learning rate 0.05, momentum 0.9). `record_params` keeps all parameters after
# every step, so we can compare the two trainings at each step:

# %%
STEPS_N, LR = 300, 0.05
batches = make_batches(domains, steps=STEPS_N, batch_size=64, seed=0)


def run(step, adapt=True, record_params=False, dtype=torch.float32):
    """Train a fresh model (seed 0) with `step` on the shared batches, in `dtype`."""
    model = make_model(seed=0, device=device).to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    data = [Batch(b.xs.to(dtype), b.ys, b.xt.to(dtype)) for b in batches]
    return model, train(step, model, optimizer, data, adapt=adapt, record_params=record_params)


# %%
models, histories = {}, {}
for name, step in STEPS.items():
    models[name], histories[name] = run(step, record_params=True)
params = {name: history.params for name, history in histories.items()}  # one row per step
print("parameters:", params["two-pass"].shape[1], "| steps:", params["two-pass"].shape[0])
print("largest parameter change made by training > 0.5:",
      bool((params["one-pass"][-1] - params["one-pass"][0]).abs().max() > 0.5))
print("two-pass vs one-pass, max |Δ| over all steps and parameters < 1e-3:",
      bool((params["two-pass"] - params["one-pass"]).abs().max() < 1e-3))

# %% [markdown]
# Training moves the parameters by more than 0.5, and the two trainings stay within 10⁻³ of each other
# at every step. They differ at all only by float rounding (the one-pass step multiplies by −λ after
# `d`'s backward, the two-pass step before it): float32 rounds at about 10⁻⁷ per operation, and
# training carries each step's difference into the next, so the gap grows over the 300 steps. How
# large it ends depends on the CPU's kernels (we measured from 6·10⁻⁶ to a few 10⁻⁴), so the cell
# prints only the bound. *Aside:* in float64, where rounding is about 10⁻¹⁶, the same comparison
# stays below 10⁻¹⁰ —

# %%
in_float64 = {name: run(step, record_params=True, dtype=torch.float64)[1].params
              for name, step in STEPS.items()}
print("float64: max |Δ| over all steps and parameters < 1e-10:",
      bool((in_float64["two-pass"] - in_float64["one-pass"]).abs().max() < 1e-10))

# %% [markdown]
# — so any difference beyond rounding would have shown. Their loss curves lie on top of each other:

# %%
fig = Figure(figsize=(8, 3), layout="constrained")
ax_c, ax_d = fig.subplots(1, 2)
for name, style in (("two-pass", dict(lw=3, alpha=0.4)), ("one-pass", dict(lw=1, ls="--"))):
    ax_c.plot(histories[name].label_loss, label=name, **style)
    ax_d.plot(histories[name].domain_loss, label=name, **style)
ax_c.set_title("label loss L_c (source)", fontsize=10)
ax_d.set_title("domain loss L_d (d's cross-entropy)", fontsize=10)
ax_d.axhline(0.693, color="gray", lw=0.8, ls=":", label="ln 2: d guesses")
for ax in (ax_c, ax_d):
    ax.set_xlabel("step", fontsize=9)
    ax.legend(fontsize=8)
FigurePicture(fig, "line plots: label and domain loss per step, two-pass and one-pass overlaid")

# %% [markdown]
# The domain loss stays near ln 2 ≈ 0.69, the loss of a `d` that cannot tell the domains apart:
# however `d` learns, `g` keeps making the two domains' features look alike. Without adaptation, `d`
# does much better (next section).
#
# ## 4. It works
#
# Source-only training is the same loop with λ = 0 (`adapt=False`): `d` still trains, but `g`
# ignores it. How many of 2000 fresh points of each domain (`test`) each model labels wrong, and
# the accuracy that makes (each point is 0.05%):

# %%
def wrong(model, domain="target"):
    """How many of the 2000 test points of `domain` `model` labels wrong."""
    points, labels = (test.xt, test.yt) if domain == "target" else (test.xs, test.ys)
    return round((1 - accuracy(model, points, labels)) * len(labels))


def score(model, domain="target"):
    """'  40 wrong ( 98.00%)': `model`'s mistakes on `domain`'s test points, and its accuracy."""
    n = wrong(model, domain)
    return f"{n:>4} wrong ({100 * (1 - n / len(test.yt)):6.2f}%)"


# %%
source_only, source_history = run(one_pass_step, adapt=False)
adapted = models["one-pass"]
for name, model in (("source only", source_only), ("adapted, two-pass", models["two-pass"]),
                    ("adapted, one-pass", adapted)):
    print(f"{name:18} target {score(model)} | source {score(model, 'source')}")
print("mean domain loss, last 50 steps: source only",
      fmt(source_history.domain_loss[-50:].mean(), 1),
      "| adapted", fmt(histories["one-pass"].domain_loss[-50:].mean(), 1))

# %% [markdown]
# The decision boundaries over 500 of the target test points:

# %%
@torch.no_grad()
def boundary(ax, model, title):
    xx, yy = torch.meshgrid(torch.linspace(-2, 3, 120), torch.linspace(-2, 2.5, 120), indexing="xy")
    grid = torch.stack([xx.flatten(), yy.flatten()], dim=1).to(device)
    prob = torch.sigmoid(model(grid)).reshape(xx.shape).cpu()
    ax.contourf(xx, yy, prob, levels=[0, 0.5, 1], colors=["#dbe8f5", "#fde3c8"])
    ax.contour(xx, yy, prob, levels=[0.5], colors="k", linewidths=1)
    scatter(ax, test.xt[:500], test.yt[:500], title)


fig = Figure(figsize=(8, 3.4), layout="constrained")
ax_before, ax_after = fig.subplots(1, 2)
boundary(ax_before, source_only, f"source only: {wrong(source_only)} of 2000 target points wrong")
boundary(ax_after, adapted, f"adapted: {wrong(adapted)} of 2000 target points wrong")
FigurePicture(fig, "two panels: decision boundary over the target points, source-only and adapted")

# %% [markdown]
# ## 5. Applied carelessly
#
# Each of these runs without an error or a warning. Each is trained exactly as above; the target
# mistakes tell what went wrong.
#
# ### 5a. The seed's two passes, literally
#
# Without `inputs=` in the second pass, `d`'s parameters get `∂L_d/∂θ_d` from pass 1 and
# `−λ·∂L_d/∂θ_d` from pass 2: (1 − λ) times what they should get — exactly 0 at λ = 1, the seed's
# `−1` (lesson 06):

# %%
def literal_two_pass_step(model, optimizer, batch, lam):
    optimizer.zero_grad(set_to_none=True)
    h = model.g(torch.cat([batch.xs, batch.xt]))
    n = len(batch.xs)
    loss_c = label_loss(model.c(h[:n]), batch.ys)
    loss_d = domain_loss(model.d(h.detach()), n)
    loss_d.backward()
    (loss_c - lam * domain_loss(model.d(h), n)).backward()  # d is not kept out
    optimizer.step()
    return loss_c.detach(), loss_d.detach()


# %%
def d_grads(step, lam):
    return torch.cat([v.flatten() for k, v in step_grads(step, lam).items() if k.startswith("d.")])


for lam in (0.5, 1.0):
    right, literal = d_grads(two_pass_step, lam), d_grads(literal_two_pass_step, lam)
    as_predicted = torch.allclose(literal, (1 - lam) * right, atol=1e-7)
    print(f"λ = {lam}: max |d's gradient| = {fmt(literal.abs().max(), 3)};"
          f" equals (1 − λ) × the right one: {as_predicted}")

# %% [markdown]
# With the schedule, λ is 0.85 a quarter of the way in and 0.99 halfway (section 2), so `d`'s
# gradient fades to almost nothing;
# `g` keeps "fooling" a `d` that has stopped learning:

# %%
models["literal"], histories["literal"] = run(literal_two_pass_step)
print("literal two passes: target", score(models["literal"]),
      "| mean domain loss, last 50 steps:", fmt(histories["literal"].domain_loss[-50:].mean(), 1))
print("right two passes  : target", score(models["two-pass"]),
      "| mean domain loss, last 50 steps:", fmt(histories["two-pass"].domain_loss[-50:].mean(), 1))

# %% [markdown]
# A domain loss far *above* ln 2 means `d` is worse than guessing — `g` learned to fool a `d` that
# no longer learns back, and the features of the two domains were not aligned as well: about ten
# times as many target points are labelled wrong as with the right two passes.
#
# ### 5b. A hook on `g`'s features instead of the reversal
#
# The accepted answer's hook, `h.register_hook(lambda grad: −λ·grad)`, flips **every** gradient that
# flows through `h` (lesson 05) — and `h` also feeds the label classifier. `g` then un-learns the
# labels:

# %%
def hook_step(model, optimizer, batch, lam):
    optimizer.zero_grad(set_to_none=True)
    h = model.g(torch.cat([batch.xs, batch.xt]))
    h.register_hook(lambda grad: -lam * grad)  # flips c's gradient into g too
    n = len(batch.xs)
    loss_c = label_loss(model.c(h[:n]), batch.ys)
    loss_d = domain_loss(model.d(h), n)
    (loss_c + loss_d).backward()
    optimizer.step()
    return loss_c.detach(), loss_d.detach()


# %%
right, hooked = step_grads(two_pass_step), step_grads(hook_step)
for part in ("c", "d", "g"):
    names = [k for k in right if k.startswith(part + ".")]
    same = all(torch.allclose(hooked[k], right[k], atol=1e-6) for k in names)
    print(f"{part}'s gradients as in the two-pass step: {same}")
models["hook"], histories["hook"] = run(hook_step)
print("hook on h: target", score(models["hook"]), "| source", score(models["hook"], "source"))

# %% [markdown]
# `c`'s and `d`'s own gradients are right, `g`'s are not: `g` is trained to make `c` wrong, and even
# the *source* accuracy drops.
#
# ### 5c. Leftover `.grad` and momentum
#
# `backward()` **adds** into `.grad` (lesson 01, section 5). Forget `optimizer.zero_grad()` and every
# step applies the sum of all gradients so far; momentum adds those sums up again:

# %%
def no_zero_grad_step(model, optimizer, batch, lam):
    h = model.g(torch.cat([batch.xs, batch.xt]))  # no optimizer.zero_grad() first
    n = len(batch.xs)
    loss_c = label_loss(model.c(h[:n]), batch.ys)
    loss_d = domain_loss(model.d(reverse_grad(h, lam)), n)
    (loss_c + loss_d).backward()
    optimizer.step()
    return loss_c.detach(), loss_d.detach()


# %%
models["leftover .grad"], histories["leftover .grad"] = run(no_zero_grad_step)
late_domain_loss = histories["leftover .grad"].domain_loss[-50:].mean()
with torch.no_grad():
    predicted = (models["leftover .grad"](test.xt) > 0).long()
print("leftover .grad: target", score(models["leftover .grad"]))
print("mean domain loss, last 50 steps > 1000:", bool(late_domain_loss > 1000))
print("one label for every target point:", len(predicted.unique()) == 1)
print("target points of each label:", test.yt.bincount().tolist())

# %% [markdown]
# The weights are thrown far away (the domain loss is in the thousands, where ln 2 ≈ 0.69 would be
# guessing) and the classifier ends up predicting one label for every point, so it is right on
# exactly the half of the points that have that label. All runs side by side:

# %%
runs = {"source only (λ = 0)": source_only, "two-pass": models["two-pass"],
        "one-pass (reversal)": adapted, "5a literal two passes": models["literal"],
        "5b hook on h": models["hook"], "5c leftover .grad": models["leftover .grad"]}
for name, model in runs.items():
    print(f"{name:22} target {score(model)} | source {score(model, 'source')}")

# %% [markdown]
# ## 6. What it costs
#
# **Memory**: the tensors autograd saves for backward during one training step (parameters
# excluded), counted with lesson 03's `SavedTensorTracker` by `step_saved_bytes` (`helpers/dann.py`):
# all the bytes saved over the step, and the most the graphs hold at once. Both depend only on
# shapes, so they are the same on every machine. To make `d` the expensive part, as `f` is in the
# question, this comparison uses a wider and deeper `d` (32 → 256 → 256 → 256 → 1) and batches of
# 512 + 512 points:

# %%
big = make_model(hidden=32, d_width=256, d_depth=3, seed=0, device=device)
big_opt = torch.optim.SGD(big.parameters(), lr=0.01, momentum=0.9)
big_batch = make_batches(domains, steps=1, batch_size=512, seed=2)[0]
saved = {name: step_saved_bytes(step, big, big_opt, big_batch, 0.5) for name, step in STEPS.items()}
two_total, two_peak = saved["two-pass"]
for name, (total, peak) in saved.items():
    print(f"{name:9} saved over the step {format_bytes(total):>9} ({total / two_total:.3f} ×)"
          f" | held at once {format_bytes(peak):>9} ({peak / two_peak:.3f} ×)")

# %% [markdown]
# Over the step, the two-pass step saves `d`'s activations twice (one graph per evaluation), the
# one-pass step once. At once, both hold the same: pass 1's `loss_d.backward()` frees its graph of
# `d` before pass 2 evaluates `d` again, because nothing here keeps a graph (no
# `retain_graph=True`). Only keeping `l1`'s graph, as the question's `retain_graph=True` does,
# doubles `d`'s share of the peak (lesson 06, section 4). What the one-pass step saves here is the
# work and the allocations of `d`'s second evaluation — and time:
#
# **Time**: both steps, interleaved so that drift of the machine affects both alike; the median
# of 10 runs. Timings depend on the machine, so this cell's output is not compared:

# %%
# NBVAL_IGNORE_OUTPUT
timings = time_methods({name: (lambda s=step: s(big, big_opt, big_batch, 0.5))
                        for name, step in STEPS.items()}, repeat=10, warmup=2, device=device)
for name, t in timings.items():
    print(f"{name:9} {t!r:>28}   {t.median / timings['two-pass'].median:.2f} × two-pass")

# %% [markdown]
# `g` and `c` run once in both steps; the one-pass step skips only `d`'s second forward and its
# backward to the features (pass 1's backward computes `d`'s own gradients; pass 2's only carries
# the gradient through `d` down to `h`), so the time ratio depends on how much of the step `d` is.
# `benchmarks/train_step.py` times the same two step functions at two sizes
# (`.venv/bin/python benchmarks/train_step.py`); the README quotes its results.

# %% [markdown]
# ## Summary
#
# | step | `d`'s gradient | `c`'s gradient into `g` | `d` evaluated | same training as two-pass |
# |---|---|---|---|---|
# | two passes, `d` kept out of pass 2 (`inputs=`) | ∂L_d/∂θ_d | normal | twice | the reference |
# | one pass, `d(reverse_grad(h, λ))` | ∂L_d/∂θ_d | normal | once | yes, to float rounding |
# | 5a: two passes, `d` not kept out | (1 − λ) ∂L_d/∂θ_d → 0 | normal | twice | no: 10 × the target mistakes |
# | 5b: hook on `h` | ∂L_d/∂θ_d | **flipped and scaled by λ** | once | no: `g` un-learns labels |
# | 5c: no `zero_grad()` | sums of all steps | sums of all steps | once | no: diverges |
#
# In a training loop the one-pass step is the two-pass step, step for step, at the cost of one
# evaluation of `d`. Put the reversal where the features enter `d`, scale it by λ, zero the
# gradients every step, and check the target accuracy, not only that the loss goes down.

# %% [markdown]
# ## Exercises
#
# **07.1** Make the hook version right **without** a reversal function: write `domain_input(h, lam)`
# that returns a tensor with the values of `h` to feed to `d`, with a hook (`register_hook`) so that
# `(L_c(c(h)) + L_d(d(domain_input(h, lam)))).backward()` gives the two-pass gradients.

# %%
def domain_input(h, lam):
    return None  # your code


check("07.1", domain_input)

# %% [markdown]
# **07.2** Implement the λ-scaled reversal yourself: `my_reverse(x, lam)` returns `x` in the forward
# pass and multiplies the gradient by `−lam` in the backward pass — only on its own branch (another
# use of `x` keeps its gradient). Use a `torch.autograd.Function`, not `helpers.compute_once`.

# %%
def my_reverse(x, lam):
    return None  # your code


check("07.2", my_reverse)

# %% [markdown]
# **07.3** In 5a (the seed's two passes, `d` not kept out), what multiple of the right gradient
# `∂L_d/∂θ_d` do `d`'s parameters get at λ = 0.75? Give the number.

# %%
answer = None
check("07.3", answer)
