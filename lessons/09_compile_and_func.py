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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/09_compile_and_func.ipynb)
#
# # 09 · The trick with torch.compile, torch.func and saved-tensor hooks
#
# Lesson 08 took the compute-once methods to DDP, FSDP, checkpointing and mixed precision. Three more
# tools change how autograd is run: `torch.compile` captures the code as graphs, `torch.func`
# transforms functions instead of recording a graph, and saved-tensor hooks decide where the tensors
# saved for backward live. Every table is measured by the cell above it.
#
# **You will learn**
# - what to compile so that every method stays right, and what DDP + `torch.compile` does;
# - a one-pass method with `torch.func.vjp` (and what it leaves out), and how to write a reversal
#   function that works under `torch.func.grad` and `vmap`;
# - how saved-tensor hooks work, with one that halves the saved bytes on a CPU;
# - that `register_multi_grad_hook` cannot flip a gradient.
#
# Time: about 30 minutes, plus an optional part on compiling a whole training step. Uses
# [06 · compute once](06_compute_once.ipynb) and [08 · at scale](08_at_scale.ipynb).

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
import functools
import shutil

import torch
import torch._dynamo

from helpers import (check, collect_grads, expect_error, fmt, format_bytes, saved_tensor_bytes,
                     seed_everything, show_source)
from helpers.at_scale import (ClassicReverse, Table, compile_ddp_experiments, describe_diff,
                              graph_ops, max_abs_diff, seed_reference, vjp_then_backward)
from helpers.compute_once import METHODS, GradReverse, make_problem, reverse_grad, run_method
from helpers.distributed import run_on_ranks

seed_everything(0)


def small_problem(**options):
    """Lesson 06's problem, small, so that compiling stays quick."""
    return make_problem(n=16, dim_in=4, dim=8, width=16, **options)


# %% [markdown]
# ## 1. torch.compile: compile the model or the loss
#
# `torch.compile` turns Python code into graphs (Dynamo) and hands each to a **backend**: `eager` runs
# the captured graph as it is; `aot_eager` also traces its backward ahead of time with AOTAutograd —
# the capture `inductor` (the default) uses, but without inductor's *decompositions* (rewriting ops
# into simpler ones; `aot_eager_decomp_partition` adds them, the optional part shows one) and without
# code generation. Neither needs a C compiler,
# so this lesson uses `aot_eager`. Compiling only `f` or only `g` (a module's `.compile()` compiles it in
# place) and running each method as in lesson 06:

# %%
reference = run_method(METHODS["two-pass"], small_problem())  # eager
rows = []
for part in ("f", "g"):
    torch._dynamo.reset()
    problem = small_problem()
    getattr(problem, part).compile(backend="aot_eager")
    for name, method in METHODS.items():
        diff = max_abs_diff(run_method(method, problem), reference)
        rows.append([f"{part} compiled", name, describe_diff(diff)])
Table(["setting", "method", "max |Δ| vs eager two-pass"], rows)

# %% [markdown]
# All agree. Compiling the **loss** — `g`, the flip and `f` — with `backward()` called outside the
# compiled function also works; with the reversal function it is one graph, since Dynamo captures an
# `autograd.Function` such as `GradReverse` whole:

# %%
problem = small_problem()


def reversal_loss(a, b):
    x, y = problem.g(a), problem.g(b)
    return problem.f(reverse_grad(x), y)


torch._dynamo.reset()
report = torch._dynamo.explain(reversal_loss)(problem.a, problem.b)
print("graphs:", report.graph_count, "| breaks:", report.graph_break_count)
torch._dynamo.reset()
torch.compile(reversal_loss, backend="aot_eager")(problem.a, problem.b).backward()
print("max |Δ| vs eager two-pass:",
      describe_diff(max_abs_diff(collect_grads(problem.g), reference)))

# %% [markdown]
# **What to use with `torch.compile`**: compile the model (`g`, `f`) or the loss and call `backward()`
# outside; the reversal function compiles into the graph with no break. A training step with
# `backward()` or `autograd.grad` *inside* the compiled function breaks the graph there, and the
# `autograd.grad` step fails (`aot_eager` and `inductor` alike): see the optional part at the end.
#
# ## 2. DDP and torch.compile
#
# Under DDP, Dynamo's *DDPOptimizer* splits the captured graph at DDP's bucket boundaries, so that the
# all-reduce of one bucket can overlap the backward of the next. Does compiling change lesson 08's
# result? Two ranks, lesson 08's seed problem, the model compiled outside DDP and inside it, with a
# backend that counts the graphs it is given (one launch for all four cases):

# %%
WORLD = 2
ranks = run_on_ranks(compile_ddp_experiments, WORLD, timeout=120)
one_process = seed_reference(WORLD)  # no DDP, both ranks' rows, the two passes
rows = []
for case, result in ranks[0].items():
    g0, g1 = result["result"][1], ranks[1][case]["result"][1]
    off = max(max_abs_diff(g0, one_process), max_abs_diff(g1, one_process))
    agree = "yes" if max_abs_diff(g0, g1) < 1e-6 else "no"
    rows.append([case, result["graphs"], agree, describe_diff(off)])
Table(["wrapping, method", "graphs compiled", "ranks agree?", "max |Δ| vs one process"], rows)

# %% [markdown]
# Compiling changes nothing about the rule: the two passes are as wrong as without compiling (lesson 08:
# 0.024), the reversal is right. But `torch.compile(DDP(g))` compiled **no graph** (torch 2.13 and
# 2.14.1), without an error: `g` ran uncompiled. The cause is what Dynamo traces, not DDP's reducer.
# Dynamo breaks the graph inside DDP's `forward` and runs the rest of it eagerly, the call of the
# module included (DDP's source marks that part to be skipped, "so dynamo only kicks in for the
# module_to_run underneath"). The frames that start beneath it are compiled as new frames — except
# those of PyTorch's own code: files under `torch/nn` are on Dynamo's skip list, and `g` is an
# `nn.Sequential`. A module whose `forward` is your code is compiled. One process shows it, in a
# one-rank process group kept in memory:

# %%
import logging

from torch.nn.parallel import DistributedDataParallel as DDP


class Features(torch.nn.Module):
    """`g` inside a module of our own: its `forward` is user code, not torch.nn's."""

    def __init__(self, g):
        super().__init__()
        self.g = g

    def forward(self, a):
        return self.g(a)


def counting_backend(gm, example_inputs):
    graphs.append(gm)
    return gm.forward  # runs the captured graph as it is


# %%
graphs = []
# quiet a one-time warning about DDP's profiler span:
logging.getLogger("torch._dynamo.variables.ctx_manager").setLevel(logging.ERROR)
problem = small_problem()
store = torch.distributed.HashStore()  # in memory: no port, no network
torch.distributed.init_process_group("gloo", store=store, rank=0, world_size=1)
try:
    for label, module in (("g", problem.g), ("Features(g)", Features(problem.g))):
        torch._dynamo.reset()
        graphs.clear()
        torch.compile(DDP(module), backend=counting_backend)(problem.a).sum().backward()
        print(f"compile(DDP({label})): graphs compiled {len(graphs)}, calling {graph_ops(graphs)}")
finally:
    torch.distributed.destroy_process_group()

# %% [markdown]
# So wrap a module of your own in DDP before compiling, or compile the module and wrap it afterwards,
# `DDP(torch.compile(g))`; either way, check that something was compiled (a counting backend as
# here, or `torch._dynamo.explain`).
#
# ## 3. torch.func
#
# `torch.func` offers function transforms (`grad`, `vjp`, `vmap`). `vjp(f, x, y)` evaluates `f` once and
# returns a function that gives the gradients to `x` and `y`: one more one-pass method, the twin of
# `autograd.grad` + `autograd.backward`:

# %%
show_source(vjp_then_backward)
problem = small_problem()
print("max |Δ| vs two-pass:", describe_diff(max_abs_diff(run_method(vjp_then_backward, problem),
                                                         run_method(METHODS["two-pass"], problem))))

# %% [markdown]
# Like `autograd.grad`, it computes gradients **only to `x` and `y`**: a trainable `f` (DANN's `d` in
# lesson 07) gets no gradient from it, where the two passes and the reversal give it one:

# %%
for name, method in (("two-pass", METHODS["two-pass"]), ("reversal", METHODS["reversal"]),
                     ("vjp_then_backward", vjp_then_backward)):
    problem = small_problem(trainable_f=True)
    method(*problem.features(), problem.f)
    print(f"{name:18} f's parameters have a gradient:",
          all(p.grad is not None for p in problem.f.parameters()))

# %% [markdown]
# A custom `autograd.Function` written with `forward(ctx, x)` works with `backward()` but not under
# `torch.func.grad` or `vjp`, which need `forward` without `ctx` plus a separate `setup_context` — the
# style of this workshop's `GradReverse`:

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
print("GradReverse, torch.func.grad():", fmt(torch.func.grad(squared_after(reverse_grad))(t)))
batch = torch.stack([t, 2 * t])
with expect_error(RuntimeError, contains="does not have vmap support"):
    torch.func.vmap(torch.func.grad(squared_after(reverse_grad)))(batch)


class VmapReverse(GradReverse):
    generate_vmap_rule = True  # vmap derives the batched rule from forward and backward


vmap_flip = squared_after(lambda u: VmapReverse.apply(u, 1.0))
print("with generate_vmap_rule, vmap(grad):",
      fmt(torch.func.vmap(torch.func.grad(vmap_flip))(batch)))

# %% [markdown]
# `torch.func.grad` gives −2·t = [−2, 4, −1], the gradient of Σt² flipped. `vmap` needs one more line,
# `generate_vmap_rule = True` (or a `vmap` staticmethod): then `vmap(grad(...))` gives each row's
# flipped gradient. **What to use with `torch.func`**: the reversal function in the `setup_context`
# style, with `generate_vmap_rule = True` for `vmap`; or `vjp` as a one-pass method when `f` has no
# parameters of its own.
#
# ## 4. Saved-tensor hooks
#
# Each tensor an operation saves for its backward can be intercepted:
# `torch.autograd.graph.saved_tensors_hooks(pack, unpack)` calls `pack(tensor)` when it is saved and
# keeps whatever `pack` returns; `unpack` turns that back into a tensor when backward needs it. That
# is how `saved_tensor_bytes` counts bytes (lesson 03). A `pack` that keeps a bfloat16 copy halves
# the bytes of a float32 tensor — an effect visible on a CPU. It keeps the parameters as they are: the
# model holds them anyway, so a copy of a weight would add bytes, not save them.

# %%
packed = []  # per saved tensor: (a parameter?, bytes in, bytes kept)


def pack_bf16(tensor):
    if tensor.untyped_storage().data_ptr() in weights:  # a parameter (or a view of one)
        packed.append((True, tensor.nbytes, tensor.nbytes))
        return tensor.dtype, tensor
    stored = tensor.to(torch.bfloat16)
    packed.append((False, tensor.nbytes, stored.nbytes))
    return tensor.dtype, stored


def unpack_bf16(saved):
    dtype, stored = saved
    return stored.to(dtype)


# %%
problem = small_problem()
weights = {p.untyped_storage().data_ptr() for m in (problem.g, problem.f) for p in m.parameters()}
packed.clear()
with torch.autograd.graph.saved_tensors_hooks(pack_bf16, unpack_bf16):
    x, y = problem.features()
    loss = problem.f(reverse_grad(x), y)
loss.backward()
print("tensors packed:", len(packed), "| of them parameters, kept as they are:",
      sum(w for w, _, _ in packed))
print("the others: bytes saved", format_bytes(sum(b for w, b, _ in packed if not w)), "→ kept",
      format_bytes(sum(k for w, _, k in packed if not w)))
got = collect_grads(problem.g)
print("max |Δ| vs float32 two-pass:",
      describe_diff(max_abs_diff(got, run_method(METHODS["two-pass"], problem))))

# %% [markdown]
# Every saved tensor goes through `pack` — the saved **weights** too — and the gradients differ from
# float32 by bfloat16 rounding. PyTorch's own `torch.autograd.graph.save_on_cpu()` is such a pair: on a
# GPU, `pack` copies each saved tensor to CPU memory, pinned if `pin_memory=True`, and `unpack` copies
# it back, trading GPU memory for copies. It copies the weights too, although the model keeps them on
# the GPU. On a CPU tensor it changes nothing (its `pack_hook`, called directly):

# %%
on_cpu = torch.autograd.graph.save_on_cpu()
device_kept, kept = on_cpu.pack_hook(problem.a)
print("save_on_cpu keeps a CPU tensor itself:", kept is problem.a)

# %% [markdown]
# (With `pin_memory=True` and no CUDA it makes an unpinned copy: its source in torch 2.13 and 2.14.1
# pins only where `torch.cuda.is_available()`, for the default `device_type="cuda"`.)
#
# ## 5. register_multi_grad_hook cannot flip
#
# `torch.autograd.graph.register_multi_grad_hook((x, y), fn)` calls `fn` with the gradients of several
# tensors once they are computed. It observes; unlike a tensor hook, **what it returns is ignored**:

# %%
problem = small_problem()
plain = run_method(lambda x, y, f: f(x, y).backward(), problem)
calls = []


def flip_x(grads):
    calls.append(sum(grad is not None for grad in grads))
    gx, gy = grads
    return (None if gx is None else -gx), gy  # ignored


# %%
for name, run in (("one backward", lambda x, y: problem.f(x, y).backward()),
                  ("two passes", lambda x, y: METHODS["two-pass"](x, y, problem.f))):
    problem.g.zero_grad(set_to_none=True)
    calls.clear()
    x, y = problem.features()
    torch.autograd.graph.register_multi_grad_hook((x, y), flip_x)
    run(x, y)
    got = collect_grads(problem.g)
    print(f"{name:12}: calls {calls} (gradients given per call) | max |Δ| vs plain backward",
          describe_diff(max_abs_diff(got, plain)), "| vs two-pass",
          describe_diff(max_abs_diff(got, reference)))

# %% [markdown]
# With one backward the gradient stays the plain one, silently; with two passes `fn` fires twice, once
# per pass, each time with one of the two gradients. To flip, use a tensor hook or the reversal.

# %% [markdown]
# ## Summary
#
# | setting | two passes | hook on `x` | `autograd.grad` + `backward` | reversal function |
# |---|---|---|---|---|
# | `torch.compile` of `f` or `g` | right | right | right | right |
# | compiled loss, `backward()` outside | — | — | — | one graph, no break |
# | DDP + `torch.compile` (`DDP(compile(g))`; `compile(DDP(g))` compiles no `nn.Sequential`) | **silently wrong** | — | — | right |
# | `torch.func.grad` / `vjp` | — | — | `vjp` twin: no gradient for a trainable `f` | works (`setup_context`; `vmap`: `generate_vmap_rule`) |
# | saved-tensor hooks (bf16 `pack`) | right to bf16 rounding | — | — | right to bf16 rounding |
#
# The reversal function is part of the computation, not a side effect of it: Dynamo captures it,
# `torch.func` transforms it, and saved-tensor hooks treat its graph like any other.

# %% [markdown]
# ## Optional: a whole training step compiled
#
# A step with `backward()` inside the compiled function, written inline, each method:

# %%
def two_pass_step(p, a, b):  # p: the problem, with its g and f
    x, y = p.g(a), p.g(b)
    p.f(x.detach(), y).backward(retain_graph=True)
    (-p.f(x, y.detach())).backward()


def hook_step(p, a, b):
    x, y = p.g(a), p.g(b)
    x.register_hook(lambda grad: -grad)
    p.f(x, y).backward()


# %%
def grad_step(p, a, b):
    x, y = p.g(a), p.g(b)
    gx, gy = torch.autograd.grad(p.f(x, y), [x, y])
    torch.autograd.backward([x, y], [-gx, gy])


def reversal_step(p, a, b):
    p.f(reverse_grad(p.g(a)), p.g(b)).backward()


STEPS = {"two-pass": two_pass_step, "hook": hook_step, "autograd.grad": grad_step,
         "reversal": reversal_step}


# %%
def compiled_step(name, backend):
    """A fresh problem, one step `name` compiled with `backend`: [runs?, max |Δ| or the error]."""
    torch._dynamo.reset()
    problem = small_problem()
    try:
        step = functools.partial(STEPS[name], problem)
        torch.compile(step, backend=backend)(problem.a, problem.b)
    except RuntimeError as exc:
        return ["no: RuntimeError", exc]
    return ["yes", describe_diff(max_abs_diff(collect_grads(problem.g), reference))]


results = {name: compiled_step(name, "aot_eager") for name in METHODS}
Table(["step", "aot_eager runs?", "max |Δ| vs eager two-pass"],
      [[name, runs, diff if runs == "yes" else "—"] for name, (runs, diff) in results.items()])

# %% [markdown]
# Dynamo does not capture `backward()` or `autograd.grad` with its default settings (the private
# switch `torch._dynamo.config.trace_autograd_ops` is `False` in torch 2.13 and 2.14): it breaks the
# graph there and runs the call eagerly. For `autograd.grad` that goes wrong: the graph before the
# break computes `x`, `y` **and** `f(x, y)`, AOTAutograd turns it into one node of the autograd graph
# with all three among its outputs, so the loss's backward never passes through `x` or `y`:

# %%
print("trace_autograd_ops:", torch._dynamo.config.trace_autograd_ops)
with expect_error(RuntimeError, contains="appears to not have been used in the graph"):
    raise results["autograd.grad"][1]

# %% [markdown]
# The hook's `lambda grad: -grad` runs during the backward that the compiled step calls. On the CPU
# that backward runs on the calling thread, so Dynamo, whose frame callback is set per thread, compiles
# the lambda as a graph of its own (`graph_ops` lists what each captured graph calls). On a GPU
# autograd runs the hooks on a device thread, so we expect the lambda to run uncompiled there (not
# checked: no GPU in this session):

# %%
torch._dynamo.reset()
problem = small_problem()
report = torch._dynamo.explain(functools.partial(hook_step, problem))(problem.a, problem.b)
hook_graphs = graph_ops(report.graphs)
print("graphs:", len(hook_graphs),
      "| one is the hook's lambda alone, ['neg']:", ["neg"] in hook_graphs)

# %% [markdown]
# `inductor` generates C++ on the CPU and compiles it: several seconds per step here, and only where a
# C compiler exists, so it is off. Set `TRY_INDUCTOR = True` to run two steps with it (each on a fresh
# problem, so the cell can be re-run at any time; with torch 2.13 we measured: the `autograd.grad` step
# fails as under `aot_eager`, the reversal step is right to float rounding, < 10⁻⁶):

# %%
TRY_INDUCTOR = False  # needs a C compiler (gcc or clang); slow to compile
if TRY_INDUCTOR and (shutil.which("gcc") or shutil.which("clang") or shutil.which("cc")):
    for name in ("autograd.grad", "reversal"):
        runs, diff = compiled_step(name, "inductor")
        print(f"inductor, {name} step: runs? {runs}", diff if runs == "yes" else f"({diff})")
torch._dynamo.reset()

# %% [markdown]
# What `aot_eager` leaves out: before generating code, inductor *decomposes* many operations into
# simpler ones. AOTAutograd applies a table of decompositions only if the backend gives it one, as
# `aot_eager_decomp_partition` gives inductor's. The forward graph of `silu(u).sum()`, as each
# would receive it:

# %%
from torch._dynamo.backends.common import aot_autograd
from torch._inductor.decomposition import select_decomp_table  # inductor's table


def forward_ops(**options):
    """The aten operations of the forward graph AOTAutograd hands to its compiler."""
    seen = []
    def record(gm, example_inputs):
        seen.append([str(node.target) for node in gm.graph.nodes if node.op == "call_function"])
        return gm
    torch._dynamo.reset()
    silu_sum = torch.compile(lambda u: torch.nn.functional.silu(u).sum(),
                             backend=aot_autograd(fw_compiler=record, **options))
    silu_sum(torch.ones(3, requires_grad=True))
    return seen[0]


print("as in aot_eager:           ", forward_ops())
print("with inductor's decompositions:", forward_ops(decompositions=select_decomp_table()))

# %% [markdown]
# `aot_eager` keeps `silu` whole; with inductor's table it arrives written out as u / (1 + exp(−u)).

# %% [markdown]
# <a id="exercises" name="exercises"></a>
#
# ## Exercises
#
# **09.1** Write `flip(x)`: the identity in the forward pass, the negated gradient in the backward pass
# (of what goes through `flip(x)` only), that works both with `backward()` and under `torch.func.grad`.

# %%
def flip(x):
    return None  # your code


check("09.1", flip)

# %% [markdown]
# **09.2** Make it work under `torch.func.vmap(torch.func.grad(...))` too.

# %%
def flip(x):
    return None  # your code


check("09.2", flip)

# %% [markdown]
# **09.3** Write `pack` and `unpack` for `saved_tensors_hooks` that store every saved tensor of more than
# 1,000 elements in bfloat16, keep smaller ones as they are, and give back each tensor in its own
# dtype (float32 or float64). Answer the pair: `check("09.3", (pack, unpack))`. (The size rule is
# enough here; a real version would also keep parameters as they are, as section 4's does.)

# %%
def pack(tensor):
    return None  # your code


def unpack(packed):
    return None  # your code


check("09.3", (pack, unpack))
