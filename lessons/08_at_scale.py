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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/08_at_scale.ipynb)
#
# # 08 · The trick at scale: DDP, FSDP, checkpointing, mixed precision
#
# Lesson 06 found four ways to get the gradients of `l1 = f(x.detach(), y)` and `l2 = −f(x, y.detach())`:
# two passes (the reference), a hook on `x`, `autograd.grad` + `autograd.backward`, and a
# gradient-reversal function; lesson 07 trained a model with them. In one process they agree. Here
# they meet the wrappers people train with at scale. Every table is measured by the cell above it.
#
# **You will learn**
# - the exact rule for two backward passes under `DistributedDataParallel` (DDP), and its three
#   outcomes: silently wrong, a loud error, right;
# - what gradient accumulation with `no_sync()`, communication hooks and FSDP2 do with each method;
# - why a hook inside a checkpointed function cancels itself, with either kind of checkpointing;
# - what mixed precision (`autocast` + `GradScaler`) changes: hooks see scaled gradients, and each
#   of the two losses must be scaled.
#
# Time: about 35 minutes. Uses [06 · compute once](06_compute_once.ipynb) and
# [07 · training loop](07_training_loop.ipynb). `torch.compile`, `torch.func` and saved-tensor hooks are
# in [09 · compile and func](09_compile_and_func.ipynb).

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
import warnings

import torch
from torch.utils.checkpoint import checkpoint

from helpers import (check, collect_grads, expect_error, format_bytes, saved_tensor_bytes,
                     seed_everything, show_source)
from helpers.at_scale import (DANN_DDP_STEPS, DDP_OPTIONS, MICRO_BATCHES, Table, amp_gradients,
                              at_scale_experiments, checkpoint_placements, dann_disjoint,
                              dann_forward, dann_reference, describe_diff, max_abs_diff,
                              pass_gradients, seed_reference, train_on_rank)
from helpers.compute_once import METHODS, make_problem, reverse_grad, run_method
from helpers.distributed import run_on_ranks

seed_everything(0)

# %% [markdown]
# ## 1. DistributedDataParallel: one reduction per forward
#
# DDP runs one process per device (a **rank**); each holds a copy of the model and gets its own slice of
# every batch. After backward every rank must hold the *average* of all ranks' gradients, so that the
# copies take the same step. DDP's **reducer** does this with an autograd hook on every parameter:
# a parameter whose gradient is ready goes into a bucket, and a full bucket is all-reduced (averaged
# across ranks) while backward goes on. Here is what every rank runs — lesson 07's model and its
# two-pass step, the model wrapped in DDP:

# %%
show_source(train_on_rank)
print()
show_source(dann_forward)
print()
show_source(dann_disjoint)

# %% [markdown]
# As in lesson 07: `g` makes features `h`, `c` classifies labels (loss `L_c`), `d` tells the domains
# apart (loss `L_d`), λ weighs the reversal. `dann_forward` calls the wrapper, `ddp(…, with_features=True)`:
# DDP's forward runs `g` and `c` and **arms** the reducer — it now expects one gradient for every
# parameter. On GPUs each rank would use `cuda:LOCAL_RANK` with `device_ids=[LOCAL_RANK]` and the `nccl`
# backend (`rank_device` picks it); this notebook runs two CPU processes with `gloo`, and we have not
# run the GPU path. How the processes are started is in the footnote at the end of this section.
#
# The rule, exactly: **DDP all-reduces once per forward, as soon as every parameter it expects has a
# gradient**. Gradients that arrive after that stay local to the rank, and a parameter that gets a
# second gradient before that is an error. So two passes after one forward are
#
# - **silently wrong** when the first pass already reaches every parameter: the second is never averaged;
# - **a loud error** when the passes overlap partly: a parameter is marked ready twice;
# - **right** when they reach disjoint parameters: each gradient arrives once.
#
# Three two-pass DANN steps, one of each kind, and the one-pass step, each trained for 10 steps on
# 2 ranks. Each entry: do the ranks' weights agree, and their max |Δ| from the same step run in one
# process on the full batches (`dann_reference`). One launch runs everything this lesson does on the
# ranks (starting processes takes seconds):

# %%
WORLD = 2
ranks = run_on_ranks(at_scale_experiments, WORLD, timeout=120)
single = {name: dann_reference(WORLD, step) for name, step in DANN_DDP_STEPS.items()}  # no DDP


def outcome(setting, name):
    """'ranks agree?, max |Δ| of the weights vs one process', or the error's type."""
    (status, p0), (_, p1) = (ranks[r][setting][name] for r in range(WORLD))
    if status == "error":
        return "RuntimeError"
    agree = "yes" if float((p0 - p1).abs().max()) < 1e-6 else "no"
    off = max(float((p - single[name]).abs().max()) for p in (p0, p1))
    return f"{agree}, {describe_diff(off)}"


# %%
Table(["two-pass step (whole model in DDP)", "DDP's defaults", *(f"{o}=True" for o in DDP_OPTIONS)],
      [[name, *(outcome(s, name) for s in ("rule", *DDP_OPTIONS))] for name in DANN_DDP_STEPS])

# %%
print(ranks[0]["rule"]["passes overlap partly (07's 5a)"][1].split(". ")[0] + ".")

# %% [markdown]
# Row 1 is lesson 06's trap at scale: pass 1 (`L_c + L_d(d(h.detach()))`) reaches `g`, `c` and `d`,
# so the reducer averages it and is done; pass 2 (`−λ·L_d`, into `g` only) stays on each rank, and the
# copies drift apart without a warning. Row 2 is lesson 07's 5a: pass 1 reaches `d` only, pass 2 reaches
# `d` again, which is marked ready twice. Row 3 is lesson 07's own step: DDP averages `d`'s gradients
# from pass 1 and `g`'s and `c`'s from pass 2, and trains like one process, up to rounding. On lesson 06's problem, where pass 1 reaches all of
# `g`, rank *r* ends with the mean of `l1`'s gradients plus its own `l2`'s (exercise 08.1; section 2
# shows it with accumulation).
#
# The rule is DDP's default behaviour; each of the last two columns changes one option. With
# `find_unused_parameters=True` the forward marks every parameter its outputs do not reach as ready at
# once; `d` runs outside DDP's forward, so its gradient arrives a second time and every step fails, the
# one-pass step too. With `static_graph=True` (for a graph that is the same in every iteration) the
# partly overlapping passes train like the same step in one process, and row 1 stays silently wrong.
#
# ## 2. The seed's problem at scale: accumulation, communication hooks, FSDP2
#
# Lesson 06's problem (`g` wrapped, `f` fixed), every method, from the same launch. **Gradient
# accumulation**: 4 micro-batches per step, all but the last under `model.no_sync()` (local
# accumulation, one all-reduce in the last backward). **FSDP2** (`torch.distributed.fsdp.fully_shard`)
# shards each parameter across the ranks, each rank keeping a slice: before the parameters are used it
# **all-gathers** them (every rank receives every slice), and after each backward it
# **reduce-scatters** the gradients (averages them across ranks, each rank keeping its slice). We count
# both in one step, forwards included, by wrapping `torch.distributed.all_gather_single` and
# `reduce_scatter_single`, which FSDP2 calls in torch 2.13 and 2.14. A **communication hook** (`register_comm_hook`) replaces DDP's all-reduce of a bucket; ours
# counts its calls. Entries: max |Δ| of either rank's gradients vs one process on the whole batch:

# %%
one_step, accumulated = seed_reference(WORLD), seed_reference(WORLD, MICRO_BATCHES)


def entry(setting, method, reference):
    g0, g1 = (ranks[r][setting][method] for r in range(WORLD))
    if setting == "fsdp":
        (g0, g1) = (g0[1], g1[1])  # (collective counts, gradients)
    off = describe_diff(max(max_abs_diff(g0, reference), max_abs_diff(g1, reference)))
    return off if max_abs_diff(g0, g1) < 1e-6 else off + ", ranks disagree"


# %%
fsdp_counts = [ranks[0]["fsdp"][m][0] for m in METHODS]
Table(["setting", *METHODS], [
    ["DDP, one step", *(entry("ddp", m, one_step) for m in METHODS)],
    [f"DDP, {MICRO_BATCHES} micro-batches, no_sync",
     *(entry("no_sync", m, accumulated) for m in METHODS)],
    ["FSDP2 (fully_shard)", *(entry("fsdp", m, one_step) for m in METHODS)],
    ["FSDP2: all-gathers, reduce-scatters", *(f"{c['all-gathers']}, {c['reduce-scatters']}"
                                              for c in fsdp_counts)],
    ["DDP comm hook calls", *(str(ranks[0]["comm_hook"][m]) for m in METHODS)],
])

# %% [markdown]
# With accumulation, two passes are wrong in the same way, only later: the last micro-batch's `l1`
# backward all-reduces everything accumulated so far, and its `l2` stays local. Computed without DDP
# (`pass_gradients`: each rank's `l1` and `l2` gradients per micro-batch):

# %%
parts = pass_gradients(WORLD, MICRO_BATCHES)


def all_but_last_l2(rank):
    return {n: sum(p["l1"][n] + p["l2"][n] for p in parts[rank]) - parts[rank][-1]["l2"][n]
            for n in accumulated}


mean = {n: sum(all_but_last_l2(r)[n] for r in range(WORLD)) / WORLD for n in accumulated}
for r in range(WORLD):
    predicted = {n: mean[n] + parts[r][-1]["l2"][n] for n in accumulated}
    print(f"rank {r}: mean(all but the last l2) + its own last l2, max |Δ| vs what it got:",
          describe_diff(max_abs_diff(predicted, ranks[r]["no_sync"]["two-pass"])))

# %% [markdown]
# **FSDP2 is right with every method, the two passes included**: its reduce-scatter runs after *each*
# backward, so nothing stays local. The failure belongs to DDP's reducer, not to data parallelism. One
# all-gather serves both forwards and the backward (FSDP2 keeps the root module's parameters gathered
# from forward to backward) until a backward ends and frees them. So pass 2 gathers them again, and so
# does the backward after `autograd.grad` (whose call reached `g`'s outputs and ended like a backward);
# the two passes also cost a second reduce-scatter. A **communication hook**
# is called once per bucket per iteration (here one bucket), under the two passes too: it cannot
# average the second pass, whose gradients never reach it.
#
# **What to use under DDP**: a one-pass method, or two passes that reach disjoint parameters. If you
# need two backwards over shared parameters, run the first *with its forward* under `no_sync()` and give
# the second its own forward (`g` then runs twice), or sum the losses and call one backward.
#
# *Footnote — how the processes start.* `run_on_ranks` (`helpers/distributed.py`) starts `WORLD`
# processes with the *spawn* method (Linux, macOS, Windows, Colab), joins them in a `gloo` process
# group whose rendezvous listens on `127.0.0.1` at a free port (gloo's own connections on the loopback
# interface, via `GLOO_SOCKET_IFNAME`, where there is one), bounds the run by `timeout` seconds,
# re-raises a failing rank's traceback here, and always stops every process. A spawned process imports
# the function it runs, so that function lives in `helpers/at_scale.py`. On GPUs, a script started by
# `torchrun --nproc-per-node=N` would call `dist.init_process_group("nccl")` and then `train_on_rank`,
# which is written for it (`rank_device`); section 2's experiments build CPU tensors only, and
# neither has run on GPUs here.
#
# ## 3. Activation checkpointing
#
# `torch.utils.checkpoint.checkpoint(fn, *inputs, use_reentrant=...)` saves only `fn`'s inputs and runs
# `fn` **again** during backward to recompute what its backward needs. Anything `fn` does as a side
# effect happens twice — registering a hook included. Each method with `f` checkpointed, and three
# places for the flip (`checkpoint_placements` in `helpers/at_scale.py`), with both kinds of
# checkpointing:

# %%
problem = make_problem(n=64, dim_in=8, dim=16, width=64)
reference = run_method(METHODS["two-pass"], problem)
hook_calls, registered = [], []  # the flip's calls; what the hook inside was registered on


def counted_flip(grad):
    hook_calls.append(1)
    return -grad


# %%
def placement_entry(run):
    problem.g.zero_grad(set_to_none=True)
    hook_calls.clear(), registered.clear()
    x, y = problem.features()
    try:
        run(x, y)
    except RuntimeError:
        return "RuntimeError"
    entry = describe_diff(max_abs_diff(collect_grads(problem.g), reference))
    if hook_calls:
        on = ", ".join("x" if t is x else "a copy of x" for t in registered)
        entry += f"; hook calls: {len(hook_calls)}" + (f", on {on}" if on else "")
    return entry


# %%
rows = {}
for reentrant in (False, True):
    for name, run in checkpoint_placements(problem.f, reentrant, counted_flip, registered).items():
        rows.setdefault(name, [name]).append(placement_entry(run))
Table(["placement", "use_reentrant=False: max |Δ|", "use_reentrant=True"], list(rows.values()))

# %% [markdown]
# Inside the checkpoint the hook is registered twice — in the forward and again in the recomputation —
# and both run: −(−grad) = grad, the flip cancels, silently. With `use_reentrant=False` both land
# on `x`; the reentrant version recomputes on a detached copy of its inputs, so the second lands on the
# copy, whose gradient flows back into `x` — and cancels the flip all the same. Register the hook outside, or use the
# reversal function inside: it is part of `f`'s computation, recomputed like the rest, and flips once.
#
# The reentrant version also refuses `autograd.grad` (and `backward(inputs=...)`). In torch 2.13 and
# 2.14 it is still what `checkpoint` runs when `use_reentrant` is left out — with a warning:

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    x, y = problem.features()
    with expect_error(RuntimeError, contains="incompatible with .grad()"):
        METHODS["autograd.grad"](x, y, lambda u, v: checkpoint(problem.f, u, v))  # no use_reentrant
print("warned that use_reentrant should be passed explicitly:",
      any("use_reentrant parameter should be passed explicitly" in str(w.message) for w in caught))

# %% [markdown]
# What checkpointing `f` saves, measured with `saved_tensor_bytes` (lesson 03):

# %%
params = list(problem.g.parameters()) + list(problem.f.parameters())


def reversal_loss(checkpointed):
    x, y = problem.features()
    fn = lambda u, v: problem.f(reverse_grad(u), v)  # noqa: E731
    return checkpoint(fn, x, y, use_reentrant=False) if checkpointed else fn(x, y)


full = saved_tensor_bytes(lambda: reversal_loss(False), exclude=params)
ckpt = saved_tensor_bytes(lambda: reversal_loss(True), exclude=params)
print(f"without checkpoint: {format_bytes(full)} | f checkpointed: {format_bytes(ckpt)}"
      f" | not saved, recomputed in backward: {format_bytes(full - ckpt)}")

# %% [markdown]
# Checkpointed, `f` keeps only its inputs; the rest of what it saved is recomputed during backward, at
# the cost of running `f`'s forward a second time.

# %% [markdown]
# ## 4. Mixed precision: autocast and GradScaler
#
# Under `torch.autocast` the linear layers run in a lower precision (here bfloat16, on the CPU), and a
# `GradScaler` multiplies the loss by a scale (here 256) before backward, so that small gradients do not
# round to zero, then `scaler.unscale_(optimizer)` divides the gradients by it. (Scaling protects
# float16, whose range is small; bfloat16 has float32's range and usually needs no scaler — here it
# shows what scaling does to hooks and to two passes.) `amp_gradients` runs a
# method that way — every `f` it evaluates scaled — with a hook on `x` that records what arrives:

# %%
amp_two_pass, _ = amp_gradients(problem, METHODS["two-pass"])
rows = []
for name, method in METHODS.items():
    grads, _ = amp_gradients(problem, method)
    rows.append([name, describe_diff(max_abs_diff(grads, reference)),
                 describe_diff(max_abs_diff(grads, amp_two_pass))])


def two_pass_second_unscaled(x, y, scaled_f):
    scaled_f(x.detach(), y).backward(retain_graph=True)
    (-problem.f(x, y.detach())).backward()  # scaler.scale forgotten for l2


grads, _ = amp_gradients(problem, two_pass_second_unscaled)
rows.append(["two-pass, l2 not scaled", describe_diff(max_abs_diff(grads, reference)),
             describe_diff(max_abs_diff(grads, amp_two_pass))])
Table(["method (bf16 autocast, GradScaler)", "max |Δ| vs float32 two-pass", "vs bf16 two-pass"],
      rows)

# %%
_, scaled = amp_gradients(problem, METHODS["reversal"])
_, unscaled = amp_gradients(problem, METHODS["reversal"], init_scale=1.0)
ratio = scaled[0][unscaled[0] != 0] / unscaled[0][unscaled[0] != 0]
print("what the hook on x saw, scale 256 vs scale 1: ratios", ratio.unique().tolist())

# %% [markdown]
# Every method is off from float32 by bfloat16 rounding (10⁻³ here); the one-pass methods differ from
# the two passes by a few units of that rounding, since they round in a different order. A hook sees
# the **scaled** gradient, 256 × the true one: a hook that clips or logs gradients must divide by
# `scaler.get_scale()`. With two passes, scale **both** losses: the unscaled `l2` is divided by 256 at
# `unscale_`, almost lost, and the result is far off.

# %% [markdown]
# ## Summary
#
# DDP rows: default options; "—": the row is about two passes only.
#
# | setting | two passes | hook on `x` | `autograd.grad` + `backward` | reversal function |
# |---|---|---|---|---|
# | DDP, first pass reaches every parameter | **silently wrong** | right | right | right |
# | DDP, passes overlap partly | **RuntimeError** | — | — | — |
# | DDP, passes reach disjoint parameters | right | — | — | — |
# | DDP + `no_sync()` accumulation | **silently wrong** (last `l2` local) | right | right | right |
# | FSDP2 (`fully_shard`) | right, 2 all-gathers and 2 reduce-scatters | right | right, 2 all-gathers | right |
# | checkpointed `f` (either kind) | right | **cancels** if registered inside | right (reentrant: error) | right |
# | autocast + GradScaler | right if both losses scaled | right; sees scaled gradients | right | right |
#
# DDP all-reduces once per forward, as soon as every parameter it expects has a gradient; one backward
# per forward is what it is built for. The reversal function is right in every row: it is part of the
# computation, not a side effect of it.

# %% [markdown]
# ## Exercises
#
# **08.1** Two ranks, one parameter `w`. Without DDP, the two passes would give `w` these gradients:
# rank 0: `l1` → 2.0, `l2` → 1.0; rank 1: `l1` → 4.0, `l2` → −3.0. Each pass reaches `w`. Under DDP
# with the two-pass method, what `w.grad` does each rank end with? Answer `[rank 0's, rank 1's]`.

# %%
answer = None
check("08.1", answer)

# %% [markdown]
# **08.2** Write `ddp_step(model, a, b, f)` that leaves in `model`'s parameters the gradients of
# `f(x.detach(), y) − f(x, y.detach())` (with `x = model(a)`, `y = model(b)`) and is correct under DDP:
# one forward of each batch, **one** evaluation of `f`, one backward reaching the parameters.

# %%
def ddp_step(model, a, b, f):
    return None  # your code


check("08.2", ddp_step)

# %% [markdown]
# A flip that works under `torch.func.grad` is exercise 09.1, in
# [lesson 09](09_compile_and_func.ipynb#exercises).
