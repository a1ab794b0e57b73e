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
# # 08 · The trick at scale: DDP, torch.compile, checkpointing, torch.func, saved-tensor hooks
#
# Lesson 06 found four ways to get the gradients of `l1 = f(x.detach(), y)` and `l2 = −f(x, y.detach())`:
# two passes (the reference), a hook on `x`, `autograd.grad` + `autograd.backward`, and a
# gradient-reversal function. In one process on one device they agree. The tools people train with
# — `DistributedDataParallel`, `torch.compile`, activation checkpointing, `torch.func` — are where
# they stop being interchangeable. Every table below is measured by the cell above it.
#
# **You will learn**
# - why the two-pass method gives **silently wrong** gradients under DDP, and which methods are right;
# - what `torch.compile` does with each method: graph breaks, a failure, and a private switch;
# - why a hook inside a checkpointed function cancels itself, and where to put the flip instead;
# - a one-pass method with `torch.func.vjp`, and why `GradReverse` is written with `setup_context`
#   (what `torch.func.grad` and `vjp` need);
# - how saved-tensor hooks work (they are how this workshop counts saved bytes), and `save_on_cpu`.
#
# Time: about 45 minutes. Uses [06 · compute once](06_compute_once.ipynb). Everything here runs on the
# CPU, also on a machine with a GPU, so that the numbers are the same everywhere.

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
import shutil

import torch
import torch._dynamo
from matplotlib.figure import Figure
from torch.utils.checkpoint import checkpoint

from helpers import (check, collect_grads, expect_error, fmt, format_bytes, saved_tensor_bytes,
                     seed_everything, show_source)
from helpers.at_scale import (DDP_CORRECT_TWO_PASS, DDP_ONE_PASS, DDP_TWO_PASS_VARIANTS,
                              ClassicReverse, Table, ddp_experiments, describe_diff, graph_ops,
                              max_abs_diff, pass_gradients, single_process_reference,
                              two_pass_fresh_forward, vjp_then_backward)
from helpers.compute_once import METHODS, make_problem, reverse_grad, run_method
from helpers.distributed import run_on_ranks
from helpers.show import FigurePicture

seed_everything(0)

# %% [markdown]
# ## 1. DistributedDataParallel: the two passes go silently wrong
#
# DDP runs one process per device (a **rank**); each has a copy of the model and its own slice of
# the batch. After backward, every rank must hold the *average* of all ranks' gradients, so that all
# copies take the same step. DDP's **reducer** does this by putting an autograd hook on every
# parameter: when a parameter's gradient is ready, the hook adds it to a bucket, and a full bucket is
# all-reduced (averaged across ranks) while backward goes on. It does this **once per forward**: the
# forward arms the reducer, the first backward that reaches the parameters spends it.
#
# The two-pass method runs two backwards after one forward. What happens to the second?
#
# We need several processes. `run_on_ranks` (in `helpers/distributed.py`) starts them from the
# notebook with the *spawn* method (it works on Linux, macOS, Windows and Colab), joins them in a
# process group with the `gloo` backend (CPU) — its rendezvous on `127.0.0.1` at a free port, and
# gloo's rank-to-rank connections on the loopback interface (`lo`/`lo0`, where there is one) —
# bounds the run by a timeout, re-raises a failing rank's traceback here with its rank, and always
# stops every process.
# A spawned process imports the function it runs, so that function lives in a module
# (`helpers/at_scale.py`), not in the notebook:

# %%
show_source(DDP_TWO_PASS_VARIANTS["no_sync() around 1st backward"][1])
print()
show_source(two_pass_fresh_forward)

# %% [markdown]
# `ddp_experiments` runs, on each rank, the two-pass method in five settings people try — default
# DDP, `find_unused_parameters=True`, `static_graph=True`, `no_sync()` around the first backward, and
# `a` and `b` in one forward — then two two-pass variants built for DDP and the three one-pass
# methods. `g` is wrapped in DDP; `f` is lesson 06's `PairCritic` (fixed weights). Each rank gets 64
# rows of `a` and of `b`; every run starts from the same weights. One spawned run does it all (starting
# processes is the slow part), and also times one training step of each (5 repeats):

# %%
WORLD = 2
ddp = run_on_ranks(ddp_experiments, WORLD, args=(5,), timeout=180)
reference = single_process_reference(WORLD)  # one process, no DDP, both ranks' rows: the two passes
print("results from", len(ddp), "ranks, each with", len(ddp[0]["grads"]), "runs")

# %% [markdown]
# Since `f` averages over rows and the ranks have equally many, the average of the ranks' gradients
# is the gradient of one process on the whole batch: that is the reference. For each setting, the
# largest difference of either rank's gradients from it, and whether the two ranks agree:

# %%
def ddp_row(name):
    g0, g1 = (ddp[r]["grads"][name] for r in range(WORLD))
    off = max(max_abs_diff(g0, reference), max_abs_diff(g1, reference))
    warned = any(ddp[r]["warnings"][name] for r in range(WORLD))
    agree = max_abs_diff(g0, g1) < 1e-6
    return [name, "yes", describe_diff(off), agree, "yes" if warned else "none"]


columns = ["method and setting", "runs?", "max |Δ| vs reference", "ranks agree?", "warnings"]
Table(columns, [ddp_row(name) for name in DDP_TWO_PASS_VARIANTS])

# %% [markdown]
# Every setting runs, raises no Python warning, and is wrong: the ranks disagree, so their copies of
# `g` drift apart from the first step on. What the ranks printed (`run_on_ranks` keeps it in `.logs`)
# is only DDP's note, from each rank, with `find_unused_parameters=True`, that no parameter was
# unused:

# %%
printed = [line for log in ddp.logs for line in log.splitlines() if line.strip()]
print("lines the ranks printed:", len(printed), "| every one about find_unused_parameters:",
      all("find_unused_parameters" in line for line in printed))

# %% [markdown]
# ### Why: one reduction per forward
# If the first backward (`l1`) is averaged and the second (`l2`) stays local, rank *r* ends with
# mean over ranks of `l1`'s gradient + its own `l2`'s gradient. Computed without DDP, in this process,
# and compared with what the ranks got in each setting:

# %%
parts = pass_gradients(WORLD)  # per rank: the gradients of l1 alone and of l2 alone, no DDP
mean_l1 = {n: sum(p["l1"][n] for p in parts) / WORLD for n in reference}
predicted = [{n: mean_l1[n] + parts[r]["l2"][n] for n in reference} for r in range(WORLD)]
for name in DDP_TWO_PASS_VARIANTS:
    matches = [max_abs_diff(predicted[r], ddp[r]["grads"][name]) < 1e-6 for r in range(WORLD)]
    print(f"{name:30} rank 0, rank 1 = mean(l1) + own l2: {matches}")

# %% [markdown]
# `no_sync()` does not help: it switches the reducer off for the forward run *inside* it, and here the
# forward ran before. `find_unused_parameters` and `static_graph` change how the reducer finds ready
# parameters, not how many reductions a forward gets.
#
# ### What works
# Any method with **one backward per forward**, or a second forward for the second backward:

# %%
Table(columns, [ddp_row(name) for name in {**DDP_CORRECT_TWO_PASS, **DDP_ONE_PASS}])

# %% [markdown]
# The same runs in a picture: the first eight entries of one gradient (`g`'s last weight matrix,
# `2.weight`) on rank 0, on rank 1, and in the single-process reference. With two passes the ranks'
# bars differ from each other and from the reference, which is their average (printed: it holds
# for every entry); with the hook all three bars of every entry are equal.

# %%
two_pass = [ddp[r]["grads"]["default DDP"] for r in range(WORLD)]
average = {n: sum(grads[n] for grads in two_pass) / WORLD for n in reference}
print("two passes: reference vs the ranks' average, max |Δ|",
      describe_diff(max_abs_diff(average, reference)))
PARAM, ENTRIES = "2.weight", 8
fig = Figure(figsize=(8, 3.3), layout="constrained")
panels = fig.subplots(1, 2, sharey=True)
for ax, (name, title) in zip(panels, [("default DDP", "two passes (default DDP)"),
                                      ("hook", "hook (one pass)")]):
    bars = {f"rank {r}": ddp[r]["grads"][name][PARAM] for r in range(WORLD)}
    bars["reference (1 process)"] = reference[PARAM]
    for i, (label, grad) in enumerate(bars.items()):
        values = grad.flatten()[:ENTRIES] * 1e3
        ax.bar(torch.arange(ENTRIES) + (i - 1) * 0.27, values, width=0.27, label=label,
               color=["tab:blue", "tab:orange", "0.35"][i])
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title(title, fontsize=10)
    ax.set_xticks(range(ENTRIES))
    ax.set_xlabel(f"entry of {PARAM} (flattened)", fontsize=9)
    ax.tick_params(labelsize=9)
panels[0].set_ylabel("gradient × 1000", fontsize=9)
fig.legend(*panels[0].get_legend_handles_labels(), fontsize=9, ncols=3, loc="outside lower center")
FigurePicture(fig, "two panels of grouped bars: the first entries of one gradient on rank 0, "
                   "rank 1 and the single-process reference, two passes and hook")

# %% [markdown]
# One training step of each (median of 5, rank 0; 2 processes on this machine's CPU; not compared):

# %%
# NBVAL_IGNORE_OUTPUT
seconds = ddp[0]["seconds"]
for name, s in seconds.items():
    ratio = s / seconds["summed losses, one backward"]
    print(f"{name:32} {s * 1e3:7.2f} ms   {ratio:.2f} × summed")

# %% [markdown]
# **What to use under DDP**: a one-pass method (reversal, hook, or `autograd.grad` + `backward`).
# If you must keep two backwards, run the first under `no_sync()` *including its forward* and give
# the second its own forward — `g` then runs twice. The same code runs across machines: start it with
# `torchrun --nproc-per-node=N script.py` on each machine and use the `nccl` backend for GPUs; the
# reducer, and so the failure, is the same.

# %% [markdown]
# ## 2. torch.compile
#
# `torch.compile` turns Python code into graphs (Dynamo) and hands each to a **backend**: `eager`
# runs the captured graph as it is; `aot_eager` also traces its backward ahead of time
# (AOTAutograd): the same tracing as `inductor`, the default, with no code generation. Neither needs
# a C compiler, so this section uses them; `inductor` needs one, which not every machine has (some
# Binder images, Windows without build tools).
#
# A smaller problem keeps compilation quick. First, compiling only `f` or only `g` (a module's
# `.compile()` compiles it in place) and running each method as in lesson 06:

# %%
def small_problem():
    return make_problem(n=16, dim_in=4, dim=8, width=16)


problem = small_problem()
ref_small = run_method(METHODS["two-pass"], problem)
rows = []
for part in ("f", "g"):
    torch._dynamo.reset()
    problem = small_problem()
    getattr(problem, part).compile(backend="aot_eager")
    for name, method in METHODS.items():
        diff = max_abs_diff(run_method(method, problem), ref_small)
        rows.append([f"{part} compiled", name, "yes", describe_diff(diff)])
Table(["setting", "method", "runs?", "max |Δ| vs eager two-pass"], rows)

# %% [markdown]
# All agree: compiling `f` or `g` alone is safe with every method.
#
# ### The whole training step compiled
# Now the step itself — forward of `g`, `f`, and the backward — written inline, as one writes a
# training step:

# %%
problem = small_problem()
g, f, a, b = problem.g, problem.f, problem.a, problem.b


def two_pass_step(a, b):
    x, y = g(a), g(b)
    f(x.detach(), y).backward(retain_graph=True)
    (-f(x, y.detach())).backward()


def hook_step(a, b):
    x, y = g(a), g(b)
    x.register_hook(lambda grad: -grad)
    f(x, y).backward()


def grad_step(a, b):
    x, y = g(a), g(b)
    gx, gy = torch.autograd.grad(f(x, y), [x, y])
    torch.autograd.backward([x, y], [-gx, gy])


def reversal_step(a, b):
    x, y = g(a), g(b)
    f(reverse_grad(x), y).backward()


STEPS = {"two-pass": two_pass_step, "hook": hook_step, "autograd.grad": grad_step,
         "reversal": reversal_step}


def compiled_step(step, backend):
    """Compile and run one step; ["yes", max |Δ|] or ["no", the error]."""
    torch._dynamo.reset()
    g.zero_grad(set_to_none=True)
    try:
        torch.compile(step, backend=backend)(a, b)
    except RuntimeError as exc:
        return ["no: RuntimeError", exc]
    return ["yes", describe_diff(max_abs_diff(collect_grads(g), ref_small))]


def explained_step(step):
    """torch._dynamo.explain compiles the step, runs it, and reports its graphs and breaks."""
    torch._dynamo.reset()
    g.zero_grad(set_to_none=True)
    report = torch._dynamo.explain(step)(a, b)
    reasons = " ".join(str(r.reason) for r in report.break_reasons).lower()
    broke = report.graph_break_count > 0 or bool(report.break_reasons)
    return report, [broke, "backward" in reasons or "grad" in reasons,
                    describe_diff(max_abs_diff(collect_grads(g), ref_small))]


rows, reports, errors = [], {}, {}
for name, step in STEPS.items():
    reports[name], explained = explained_step(step)
    runs, diff = compiled_step(step, "aot_eager")
    errors[name] = diff if runs != "yes" else None
    rows.append([name, *explained, runs, diff if runs == "yes" else "—"])
torch._dynamo.reset()
Table(["method", "breaks?", "reason names backward/grad?", "max |Δ| (explain's run)",
       "aot_eager runs?", "max |Δ|"], rows)

# %% [markdown]
# `torch._dynamo.explain(step)(a, b)` compiles the step with a backend that runs the captured graphs as
# they are, runs it, and reports the graphs and the **breaks** between them (where Dynamo stopped
# capturing and let Python run a line itself). Its counts vary between torch versions; the table
# prints what holds in those we checked. Every step with `backward()` inside breaks there: Dynamo does
# not capture a backward call while the private switch `trace_autograd_ops` (below) is off, its
# default; the call runs eagerly, outside the graphs. (For the reversal step that break is its last
# line, so no graph follows it: `explain` counts one graph and 0 graph breaks, and the break shows
# only in its `break_reasons`: the column "breaks?" is True when either says so.) All four give the
# right gradients that way; under `aot_eager` the `autograd.grad` step fails:

# %%
with expect_error(RuntimeError, contains="appears to not have been used in the graph"):
    raise errors["autograd.grad"]

# %% [markdown]
# Why: by default Dynamo does not capture `torch.autograd.grad` — like `backward()`, it is behind the
# private switch `torch._dynamo.config.trace_autograd_ops`, `False` by default in torch 2.13 and
# 2.14, and the break reason names it:

# %%
reasons = " ".join(str(r.reason) for r in reports["autograd.grad"].break_reasons)
print("trace_autograd_ops:", torch._dynamo.config.trace_autograd_ops,
      "| named in the autograd.grad step's break reasons:", "trace_autograd_ops" in reasons)

# %% [markdown]
# So Dynamo breaks the graph there; the graph before the break computes `x`, `y` **and** `f(x, y)`,
# and AOTAutograd turns that whole graph into **one** node of the autograd graph, with `x`, `y` and
# the loss all among its outputs. So the loss's backward graph never passes through `x` or `y`: they
# are outputs of the same node, not inputs of the loss — and `autograd.grad(loss, [x, y])` finds them
# unused. Under `explain`'s backend (as
# without `torch.compile`) they are ordinary intermediates. With the switch set to `True`
# (`torch._dynamo.config.patch(trace_autograd_ops=True)`), the step compiles under `aot_eager` and
# matches the two passes: we measured max |Δ| = 0.0 on torch 2.13 and 2.14.1 (no cell: compiling is
# slow here, and the switch is private, so it may change without notice). Lesson 06's
# `grad_then_backward(x, y, f)`, with `x` and `y` made outside the compiled function,
# does not have this problem:

# %%
torch._dynamo.reset()
g.zero_grad(set_to_none=True)
x, y = g(a), g(b)
torch.compile(METHODS["autograd.grad"], backend="aot_eager")(x, y, f)
print("grad_then_backward compiled with aot_eager, max |Δ| vs eager two-pass:",
      describe_diff(max_abs_diff(collect_grads(g), ref_small)))

# %% [markdown]
# The hook's `lambda grad: -grad` is called by eager autograd *while the compiled step runs*, so
# Dynamo compiles it too, as a graph of its own. `graph_ops` lists what each graph of the hook step
# calls:

# %%
hook_graphs = graph_ops(reports["hook"].graphs)
print("more than one graph:", len(hook_graphs) > 1,
      "| one of them is the hook's lambda alone, ['neg']:", ["neg"] in hook_graphs)

# %% [markdown]
# What compiles without a break is the **loss** — `g`, the flip and `f` — with `backward()` called
# outside the compiled function. With the reversal function that is one graph; `GradReverse` is an
# `autograd.Function`, which Dynamo captures whole:

# %%
def reversal_loss(a, b):
    x, y = g(a), g(b)
    return f(reverse_grad(x), y)


torch._dynamo.reset()
report = torch._dynamo.explain(reversal_loss)(a, b)
print("graphs:", report.graph_count, "| breaks:", report.graph_break_count)
torch._dynamo.reset()
g.zero_grad(set_to_none=True)
torch.compile(reversal_loss, backend="aot_eager")(a, b).backward()
print("max |Δ| vs eager two-pass:", describe_diff(max_abs_diff(collect_grads(g), ref_small)))

# %% [markdown]
# ### Compiled autograd (a private switch)
# *Compiled autograd* also captures the backward. In torch 2.13 it is switched on by the private
# `torch._dynamo.config.compiled_autograd = True` (private: it may change without notice). Under it,
# lesson 06's `grad_then_backward` — `autograd.grad`, then `autograd.backward` through the same
# graph — fails unless the first call keeps the graph. Without `torch.compile` it runs, because
# `autograd.grad(loss, [x, y])` frees only the part of the graph between the loss and `x`, `y`;
# under compiled autograd the second call finds freed buffers. We show what we measured; the cause
# is inside compiled autograd and not shown here:

# %%
def grad_then_backward_retain(x, y, f):
    gx, gy = torch.autograd.grad(f(x, y), [x, y], retain_graph=True)
    torch.autograd.backward([x, y], [-gx, gy])


def under_compiled_autograd(method):
    torch._dynamo.reset()
    g.zero_grad(set_to_none=True)
    x, y = g(a), g(b)
    with torch._dynamo.config.patch(compiled_autograd=True):
        torch.compile(method, backend="eager")(x, y, f)
    torch._dynamo.reset()


with expect_error(RuntimeError, contains="backward through the graph a second time"):
    under_compiled_autograd(METHODS["autograd.grad"])
under_compiled_autograd(grad_then_backward_retain)
print("with retain_graph=True: max |Δ| vs eager two-pass",
      describe_diff(max_abs_diff(collect_grads(g), ref_small)))

# %% [markdown]
# `inductor` generates C++ on the CPU and compiles it: several seconds per step here, against a
# fraction of a second for `aot_eager`, and only where a C compiler exists. So it is off here; set
# `TRY_INDUCTOR = True` to run two steps with it (on torch 2.13 we measured the same as `aot_eager`:
# the `autograd.grad` step fails with the same error, the reversal step runs and matches):

# %%
TRY_INDUCTOR = False  # needs a C compiler (gcc or clang); slow to compile
if TRY_INDUCTOR and (shutil.which("gcc") or shutil.which("clang") or shutil.which("cc")):
    for name in ("autograd.grad", "reversal"):
        runs, diff = compiled_step(STEPS[name], "inductor")
        print(f"inductor, {name} step: runs? {runs}", diff if runs == "yes" else f"({diff})")

# %% [markdown]
# **What to use with `torch.compile`**: compile the model (`g`, `f`) or the loss and call
# `backward()` outside; the reversal function compiles into the graph with no break. Avoid
# `autograd.grad` in a compiled step with the default settings (or keep it in a function of its own,
# or set the private `trace_autograd_ops`), and a hook's lambda is compiled separately when backward
# runs inside the compiled function.

# %% [markdown]
# ## 3. Activation checkpointing
#
# `torch.utils.checkpoint.checkpoint(fn, *inputs, use_reentrant=False)` saves only `fn`'s inputs and
# runs `fn` **again** during backward to recompute what its backward needs. Anything `fn` does as a
# side effect happens twice — registering a hook included. The problem of lesson 06, smaller:

# %%
problem = make_problem(n=64, dim_in=8, dim=16, width=64)
g, f = problem.g, problem.f
reference = run_method(METHODS["two-pass"], problem)
g.zero_grad(set_to_none=True)
x, y = problem.features()
f(x, y).backward()
plain = collect_grads(g)  # the unflipped gradient, for comparison
hook_calls = []


def counted_flip(grad):
    hook_calls.append(1)
    return -grad


def f_with_hook_inside(x, y):
    x.register_hook(counted_flip)
    return f(x, y)


def hook_outside(x, y):
    x.register_hook(counted_flip)
    return checkpoint(f, x, y, use_reentrant=False)


def checkpointed_f(x, y):
    return checkpoint(f, x, y, use_reentrant=False)


PLACEMENTS = {  # each: (x, y) -> runs backward
    "two passes, f checkpointed": lambda x, y: METHODS["two-pass"](x, y, checkpointed_f),
    "autograd.grad + backward, f checkpointed":
        lambda x, y: METHODS["autograd.grad"](x, y, checkpointed_f),
    "hook inside, no checkpoint": lambda x, y: f_with_hook_inside(x, y).backward(),
    "hook inside checkpoint":
        lambda x, y: checkpoint(f_with_hook_inside, x, y, use_reentrant=False).backward(),
    "hook outside checkpoint": lambda x, y: hook_outside(x, y).backward(),
    "reversal inside checkpoint": lambda x, y: checkpoint(lambda u, v: f(reverse_grad(u), v), x, y,
                                                          use_reentrant=False).backward(),
}
rows = []
for name, run in PLACEMENTS.items():
    g.zero_grad(set_to_none=True)
    hook_calls.clear()
    x, y = problem.features()
    run(x, y)
    got = collect_grads(g)
    hooks_left = len(x._backward_hooks or {})  # private attribute, read here only to count
    rows.append([name, len(hook_calls), hooks_left, describe_diff(max_abs_diff(got, reference)),
                 describe_diff(max_abs_diff(got, plain))])
Table(["placement", "hook calls", "hooks on x after", "max |Δ| vs reference",
       "max |Δ| vs plain backward"], rows)

# %% [markdown]
# The two passes and `autograd.grad` + `backward` are right with `f` checkpointed. Inside the
# checkpoint, the hook is registered twice on the **same** `x` — checkpoint keeps its inputs and, in
# backward, calls the function on them again — so both hooks run: −(−grad) = grad. The result is
# **the plain gradient** (to rounding), silently, and the second hook stays on `x` afterwards.
# Register the hook outside, or use the reversal function inside: the function is part of `f`'s
# computation, recomputed like the rest, and flips once.
#
# What checkpointing `f` saves, measured with `saved_tensor_bytes` (lesson 03):

# %%
params = list(g.parameters()) + list(f.parameters())


def reversal_loss_plain():
    x, y = problem.features()
    f(reverse_grad(x), y)


def reversal_loss_checkpointed():
    x, y = problem.features()
    checkpoint(lambda u, v: f(reverse_grad(u), v), x, y, use_reentrant=False)


full = saved_tensor_bytes(reversal_loss_plain, exclude=params)
ckpt = saved_tensor_bytes(reversal_loss_checkpointed, exclude=params)
print(f"without checkpoint: {format_bytes(full)} | f checkpointed: {format_bytes(ckpt)}"
      f" ({ckpt / full:.2f} ×)")

# %% [markdown]
# **What to use with checkpointing**: put the flip where recomputation cannot repeat it — the
# reversal function anywhere, or a hook registered outside the checkpointed function.

# %% [markdown]
# ## 4. torch.func
#
# `torch.func` offers function transforms (`grad`, `vjp`, `vmap`). `vjp(f, x, y)` evaluates `f` once and
# returns a function that gives the gradients to `x` and `y`: one more one-pass method, the twin of
# `autograd.grad` + `autograd.backward`:

# %%
show_source(vjp_then_backward)
print("max |Δ| vs two-pass:", describe_diff(max_abs_diff(run_method(vjp_then_backward, problem),
                                                         run_method(METHODS["two-pass"], problem))))

# %% [markdown]
# A custom `autograd.Function` written the classic way, `forward(ctx, x)`, works with `backward()`
# but not under `torch.func.grad` or `torch.func.vjp`, which need `forward` without `ctx` plus a
# separate `setup_context` — the style of this workshop's `GradReverse`. (`torch.func.vmap` would
# need one more thing, a `vmap` rule, which `GradReverse` does not define; lesson 05 says so too.)

# %%
show_source(ClassicReverse)
t = torch.tensor([1.0, -2.0, 0.5])


def squared_after(flip_fn):
    return lambda u: (flip_fn(u) ** 2).sum()


u = t.clone().requires_grad_()
squared_after(ClassicReverse.apply)(u).backward()
print("classic, backward():      ", fmt(u.grad))
with expect_error(RuntimeError, contains="it must override the setup_context staticmethod"):
    torch.func.grad(squared_after(ClassicReverse.apply))(t)

# %%
u = t.clone().requires_grad_()
squared_after(reverse_grad)(u).backward()
print("GradReverse, backward():       ", fmt(u.grad))
print("GradReverse, torch.func.grad():", fmt(torch.func.grad(squared_after(reverse_grad))(t)))

# %% [markdown]
# Both give −2·t, the gradient of Σt² flipped. **What to use with `torch.func.grad` / `vjp`**: the
# reversal function in the `setup_context` style (`helpers/compute_once.py` shows it), or `vjp` as a
# one-pass method; under `vmap` the function also needs a `vmap` rule.

# %% [markdown]
# ## 5. Saved-tensor hooks
#
# Each tensor an operation saves for its backward can be intercepted:
# `torch.autograd.graph.saved_tensors_hooks(pack, unpack)` calls `pack(tensor)` when it is saved and
# keeps whatever `pack` returns; `unpack` turns that back into the tensor when backward needs it. That
# is how `saved_tensor_bytes` counts bytes; its core, in a few lines:

# %%
def count_saved_bytes(fn, exclude):
    skip = {p.untyped_storage().data_ptr() for p in exclude}
    sizes = {}  # storage address -> bytes: each storage once

    def pack(tensor):
        address = tensor.untyped_storage().data_ptr()
        if address not in skip:
            sizes[address] = tensor.untyped_storage().nbytes()
        return tensor  # keep the tensor itself

    def unpack(packed):
        return packed

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        fn()
    return sum(sizes.values())


print("a few lines:", format_bytes(count_saved_bytes(reversal_loss_plain, params)),
      "| saved_tensor_bytes:",
      format_bytes(saved_tensor_bytes(reversal_loss_plain, exclude=params)))

# %% [markdown]
# `pack` may also return something else — a copy elsewhere, a compressed form, a file name. PyTorch's
# own `torch.autograd.graph.save_on_cpu()` packs each saved tensor as a copy in CPU memory (pinned if
# `pin_memory=True`) and unpacks it back to the tensor's device: on a GPU, activations then wait in CPU
# memory between forward and backward, trading GPU memory for copies. On the CPU, where this lesson
# runs, the tensor is already there: with the default `pin_memory=False`, `tensor.cpu()` returns the
# tensor itself, so nothing is copied, and the gradients are the same:

# %%
print("on the CPU, t.cpu() is t:", t.cpu() is t)
problem.g.zero_grad(set_to_none=True)
with torch.autograd.graph.save_on_cpu():
    x, y = problem.features()
    loss = problem.f(reverse_grad(x), y)
loss.backward()
with_save_on_cpu = collect_grads(problem.g)
print("save_on_cpu, max |Δ| vs two-pass:",
      describe_diff(max_abs_diff(with_save_on_cpu, run_method(METHODS["two-pass"], problem))))

# %% [markdown]
# ## Summary
#
# | setting | two passes | hook on `x` | `autograd.grad` + `backward` | reversal function |
# |---|---|---|---|---|
# | DDP | **silently wrong**: 2nd backward not all-reduced | right | right | right |
# | `torch.compile` of `f` or `g` | right | right | right | right |
# | compiled step with `backward()` inside | breaks at backward | breaks; lambda compiled alone | **fails** (`aot_eager`, default config) | breaks at backward |
# | compiled loss, `backward()` outside | — | — | — | one graph, no break |
# | checkpointed `f` | right | **cancels** if registered inside | right | right |
# | `torch.func.grad` / `vjp` | — | — | `vjp` twin works | works (`setup_context`; `vmap` needs a rule) |
#
# The reversal function is right in every setting here: it is part of the computation, not a side
# effect of it, so DDP sees one backward, Dynamo captures it, and recomputation repeats it correctly.

# %% [markdown]
# ## Exercises
#
# **08.1** Two ranks, one parameter `w`. Without DDP, the two passes would give `w` these gradients:
# rank 0: `l1` → 2.0, `l2` → 1.0; rank 1: `l1` → 4.0, `l2` → −3.0. Under DDP with the two-pass method,
# what `w.grad` does each rank end with? Answer `[rank 0's, rank 1's]`.

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
# **08.3** Write `flip(x)`: the identity in the forward pass, the negated gradient in the backward
# pass (of what goes through `flip(x)` only), that works both with `backward()` and under
# `torch.func.grad`.

# %%
def flip(x):
    return None  # your code


check("08.3", flip)
