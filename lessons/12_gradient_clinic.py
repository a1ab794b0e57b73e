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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/12_gradient_clinic.ipynb)
#
# # 12 · The gradient clinic: errors and silent zeros, diagnosed and fixed
#
# A **reference** notebook (a how-to guide) for when a gradient is missing or wrong, or `backward()`
# fails. Find your symptom in the index; each case: broken code, PyTorch's message, how to find the
# cause, the fix, shown working. Run the first two code cells, then any case alone.
#
# **You will learn**
# - to read the common autograd errors and find their cause;
# - `diagnose(loss, tensors)` (`helpers/diagnose.py`): why each tensor gets no `.grad`, without
#   running `backward()` or changing anything.
#
# Time: 2–5 minutes per case; all on the CPU (tiny tensors). Uses lessons
# [01](01_autograd_graph.ipynb)–[05](05_register_hook.ipynb).
#
# ## Index: symptom → case
#
# | you see | case |
# |---|---|
# | `element 0 of tensors does not require grad and does not have a grad_fn` | [1](#c1) |
# | `.grad` is `None`: "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed" | [2](#c2), [01](01_autograd_graph.ipynb) |
# | `… modified by an inplace operation: … is at version 1; expected version 0 instead` | [3](#c3) |
# | `a leaf Variable that requires grad is being used in an in-place operation` | [4](#c4) |
# | a frozen layer still changes, or an unfrozen one does not train | [5](#c5) |
# | `Trying to backward through the graph a second time` in an RNN loop | [6](#c6), [03](03_retain_graph.ipynb) |
# | gradient accumulation: k× the gradient, or BatchNorm differs | [7](#c7) |
# | `cannot register a hook on a tensor that doesn't require gradient` | [8](#c8) |
# | `Using a non-full backward hook when the forward contains multiple autograd Nodes` | [9](#c9), [05](05_register_hook.ipynb) |
# | `Expected to mark a variable ready only once` | [10](#c10), [08](08_at_scale.ipynb) |
# | `Expected to have finished reduction in the prior iteration` (a GAN under DDP) | [11](#c11) |
# | `None of the inputs have requires_grad=True. Gradients will be None` | [12](#c12) |
# | `torch.compile with aot_autograd does not currently support double backward`; hooks with `fullgraph=True` | [13](#c13), [09](09_compile_and_func.ipynb) |
# | `Legacy autograd function with non-static forward method is deprecated` | [14](#c14), [05](05_register_hook.ipynb) |

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
import textwrap
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.checkpoint import checkpoint

from helpers import check, expect_error, fmt, seed_everything
from helpers.diagnose import diagnose, show_warnings
from helpers.distributed import free_port, loopback_interface

seed_everything(0)
x = torch.tensor([1.0, -2.0, 3.0])  # an input; the cases below make their own parameters

# %% [markdown]
# <a id="c1" name="c1"></a>
# ## 1. "element 0 of tensors does not require grad and does not have a grad_fn"
#
# `backward()` found no graph behind the loss. Broken (the loss was computed under `no_grad`):

# %%
model = nn.Linear(3, 1)
with torch.no_grad():  # e.g. left over from an evaluation loop
    loss = model(x).pow(2).sum()
with expect_error(RuntimeError):
    loss.backward()

# %% [markdown]
# **Find the cause.** `loss.requires_grad` is False and `loss.grad_fn` is None. `diagnose` says what can
# be told from the tensors, and what cannot:

# %%
print(diagnose(loss, model))

# %% [markdown]
# The usual causes, and what `diagnose` says of each: an inference tensor, frozen
# parameters and an integer loss can be told apart; the rest only by printing `.requires_grad`
# along the forward:

# %%
frozen = nn.Linear(3, 1).requires_grad_(False)
with torch.inference_mode():
    in_inference = model(x).sum()
causes = {
    "inference_mode": in_inference,
    ".item() re-wrapped": torch.tensor(model(x).sum().item()),
    "NumPy round trip": torch.from_numpy(model(x).detach().numpy()).sum(),
    "all frozen": frozen(x).sum(),
    "argmax (not differentiable)": model(x).argmax(),
}
for cause, bad in causes.items():
    d = diagnose(bad, frozen if cause == "all frozen" else model)
    print(f"{cause}:", textwrap.fill(d.loss[1], 100, initial_indent="  ", subsequent_indent="  "),
          sep="\n")

# %% [markdown]
# **Fix.** Grad mode on; tensors, not `.item()`/NumPy values; a parameter that requires grad;
# differentiable ops (a loss on logits, not on `argmax`):

# %%
loss = model(x).pow(2).sum()
print(diagnose(loss, model))
loss.backward()
print("weight.grad:", fmt(model.weight.grad))

# %% [markdown]
# <a id="c2" name="c2"></a>
# ## 2. `.grad` is None: "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed"
#
# Broken: `.to()` to another dtype or device (`.cuda()`, `.double()`) *after* `requires_grad=True`
# returns a **copy**, a non-leaf made by `ToCopyBackward0`; the gradient goes to the leaf behind it,
# which you no longer hold:

# %%
w = torch.randn(3, requires_grad=True).to(torch.float64)  # same with .to("cuda")
(w * x).sum().backward()
with show_warnings():
    print("w.grad:", w.grad, "| w.is_leaf:", w.is_leaf)
print(diagnose((w * x).sum(), {"w": w}))

# %% [markdown]
# **Fix.** Make the tensor where and as it is used, then ask for gradients (or build an
# `nn.Parameter` after the move, or move the module: `model.to(device)` moves parameters in place):

# %%
w = torch.randn(3, dtype=torch.float64).requires_grad_()  # device=... goes here too
(w * x).sum().backward()
print("w.grad:", fmt(w.grad), "| w.is_leaf:", w.is_leaf)

# %% [markdown]
# <a id="c3" name="c3"></a>
# ## 3. "one of the variables needed for gradient computation has been modified by an inplace operation"
#
# Broken: `sigmoid` saves its output for backward; changing that output in place bumps its version
# counter, and backward refuses to use it:

# %%
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
a = torch.sigmoid(w * x)
a.mul_(2)  # in place, e.g. "scale the activations"
loss = a.sum()
print(diagnose(loss, {"w": w}))  # before backward: it reads the saved tensors
with expect_error(RuntimeError):
    loss.backward()

# %% [markdown]
# **Find the cause.** `diagnose` (above) named the node whose saved tensor changed. To find the forward
# line in a large model, rerun the step inside `torch.autograd.set_detect_anomaly(True)`: the error
# then comes with a warning "Error detected in …Backward0" and the traceback of the forward call that
# made that node (slow: debugging only).

# %%
with show_warnings(), torch.autograd.set_detect_anomaly(True):
    a = torch.sigmoid(w * x)
    a.mul_(2)
    with expect_error(RuntimeError, contains="modified by an inplace operation"):
        a.sum().backward()

# %% [markdown]
# The node is `SigmoidBackward0`, the forward call the `sigmoid` line: its saved output changed. **Fix.** Out of place (`a = a * 2`), or modify a `clone()`:

# %%
w.grad = None
a = torch.sigmoid(w * x)
a = a * 2
a.sum().backward()
s = torch.sigmoid(w * x).detach()
print("w.grad:", fmt(w.grad), "| 2·σ'·x:", fmt(2 * s * (1 - s) * x))

# %% [markdown]
# <a id="c4" name="c4"></a>
# ## 4. "a leaf Variable that requires grad is being used in an in-place operation."
#
# Broken: a hand-written SGD step; autograd refuses to record an in-place change of a leaf that
# requires grad:

# %%
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
(w * x).pow(2).sum().backward()
with expect_error(RuntimeError):
    w -= 0.1 * w.grad

# %% [markdown]
# The tempting way round it, `w = w - 0.1 * w.grad`, runs, but rebinds `w` to a **non-leaf**
# (`SubBackward0`): the next backward fills the old leaf's `.grad`, not the new `w`'s:

# %%
w_next = w - 0.1 * w.grad
print("is_leaf:", w_next.is_leaf, "| grad_fn:", w_next.grad_fn.name())
print(diagnose((w_next * x).pow(2).sum(), {"w_next": w_next}))

# %% [markdown]
# **Fix.** Update in place, with autograd not recording, then clear the gradient (what
# `torch.optim.SGD`'s `step()` and `zero_grad()` do):

# %%
with torch.no_grad():
    w -= 0.1 * w.grad
w.grad = None
print("w:", fmt(w), "| is_leaf:", w.is_leaf, "| requires_grad:", w.requires_grad)

# %% [markdown]
# <a id="c5" name="c5"></a>
# ## 5. Freezing: a frozen layer still changes, or an unfrozen one does not train
#
# **5a. Left out of the optimizer is not frozen.** A layer whose parameters are not given to the
# optimizer still *requires grad*: backward computes its gradients and they accumulate, step after step.
# Built from `requires_grad` parameters only, the optimizer does not train a layer unfrozen later:

# %%
body, head = nn.Linear(3, 3), nn.Linear(3, 1)
body.requires_grad_(False)  # frozen ...
opt = torch.optim.SGD([p for p in [*body.parameters(), *head.parameters()] if p.requires_grad],
                      lr=0.1)
body.requires_grad_(True)  # ... and unfrozen later, without rebuilding opt
before = body.weight.detach().clone()
for step in range(3):
    opt.zero_grad()  # clears the optimizer's parameters only
    head(body(x)).pow(2).sum().backward()
    opt.step()
print("body changed:", not torch.equal(body.weight, before),
      "| body.weight.grad norm after 3 steps:", fmt(body.weight.grad.norm(), 3))

# %% [markdown]
# Accumulated, never used. **Fix.** Freeze with `requires_grad_(False)`;
# on unfreezing, add the parameters (`opt.add_param_group({"params": body.parameters()})`) or rebuild
# the optimizer:

# %%
opt.add_param_group({"params": body.parameters()})
body.weight.grad = None
opt.zero_grad()
head(body(x)).pow(2).sum().backward()
opt.step()
print("body changed:", not torch.equal(body.weight, before))

# %% [markdown]
# **5b. A "frozen" BatchNorm keeps changing.** `requires_grad_(False)` and `torch.no_grad()` stop
# gradients, not the running statistics: in training mode every forward updates them. **Fix.** `bn.eval()` (and again
# after each `model.train()`, which sets it back):

# %%
bn = nn.BatchNorm1d(3).requires_grad_(False)
batch = torch.randn(8, 3) + 5
with torch.no_grad():
    bn(batch)
print("train mode, frozen, no_grad: running_mean =", fmt(bn.running_mean, 3), "(it started at 0)")
bn.reset_running_stats()
bn.eval()
bn(batch)
print("eval mode:                   running_mean =", fmt(bn.running_mean, 3))

# %% [markdown]
# **5c. Freezing part of a tensor with a mask.** A hook that zeroes the masked entries' gradient
# freezes them for plain SGD — but weight decay is added *inside* `step()`, after the hook, and
# momentum keeps moving entries whose gradient was non-zero before the mask:

# %%
def masked_run(**settings):
    p = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    opt = torch.optim.SGD([p], lr=0.1, **settings)
    for step in range(4):
        if step == 2:  # freeze entry 0 from step 2 on
            p.register_hook(lambda g: g * torch.tensor([0.0, 1.0, 1.0]))
        opt.zero_grad()
        (p * x).sum().backward()
        opt.step()
        if step == 1:
            frozen_value = p[0].item()
    return f"entry 0 frozen at {frozen_value:.4f}, now {p[0].item():.4f}"


for settings in ({}, {"weight_decay": 0.1}, {"momentum": 0.9}):
    print(f"{str(settings):22}", masked_run(**settings))

# %% [markdown]
# **Fix.** Keep the frozen entries out of what the model uses: `torch.where(mask, p, kept)`, with
# `kept` a plain tensor (a buffer). `p`'s own masked entry still drifts; nothing reads it:

# %%
kept, mask = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([False, True, True])
p = nn.Parameter(kept.clone())
opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
for step in range(4):
    opt.zero_grad()
    (torch.where(mask, p, kept) * x).sum().backward()
    opt.step()
print(f"entry 0 as used: {torch.where(mask, p, kept)[0].item():.4f} | p[0]: {p[0].item():.4f}")

# %% [markdown]
# <a id="c6" name="c6"></a>
# ## 6. "Trying to backward through the graph a second time" in an RNN loop
#
# Broken: the hidden state carried from batch to batch still holds the previous batch's graph, which
# its backward freed. `diagnose` sees the freed nodes before you call `backward()`:

# %%
rnn = nn.RNNCell(3, 4)
h = torch.zeros(1, 4)
batches = torch.randn(3, 1, 3)
h = rnn(batches[0], h)
h.pow(2).sum().backward()  # batch 0: trains, frees its graph
h = rnn(batches[1], h)  # batch 1 builds on batch 0's h
print(diagnose(h.pow(2).sum(), {"weight_ih": rnn.weight_ih}))
with expect_error(RuntimeError, contains="Trying to backward through the graph a second time"):
    h.pow(2).sum().backward()

# %% [markdown]
# **Fix.** Truncated backpropagation through time: keep the values, cut the graph, `h = h.detach()`
# at each batch boundary (more in lesson [03](03_retain_graph.ipynb)):

# %%
h = torch.zeros(1, 4)
for b in batches:
    h = rnn(b, h.detach())
    rnn.zero_grad()
    h.pow(2).sum().backward()
print("3 batches trained; weight_ih.grad norm:", fmt(rnn.weight_ih.grad.norm(), 4))

# %% [markdown]
# <a id="c7" name="c7"></a>
# ## 7. Gradient accumulation: k× too large, or different with BatchNorm
#
# Broken: summing k micro-batches' mean losses gives k times the full batch's gradient. Divide each
# loss by k (micro-batches of equal size), step and zero once per k:

# %%
net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
data, k = torch.randn(8, 3), 4
net(data).pow(2).mean().backward()
full = net[0].weight.grad.clone()
for divide in (1, k):
    net.zero_grad()
    for micro in data.chunk(k):
        (net(micro).pow(2).mean() / divide).backward()
    print(f"divided by {divide}: max |Δ| vs full batch = "
          f"{(net[0].weight.grad - full).abs().max().item():.1e}, ratio = "
          f"{(net[0].weight.grad / full).mean().item():.3f}")

# %% [markdown]
# With BatchNorm, accumulation is *not* the full batch: each micro-batch is normalised by its own
# statistics (and updates the running ones k times):

# %%
bn_net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
bn_net(data).pow(2).mean().backward()
full = bn_net[0].weight.grad.clone()
bn_net.zero_grad()
for micro in data.chunk(k):
    (bn_net(micro).pow(2).mean() / k).backward()
print(f"with BatchNorm: max |Δ| vs full batch = {(bn_net[0].weight.grad - full).abs().max():.3f}")

# %% [markdown]
# **Fix** for BatchNorm: larger micro-batches (closer, not equal), or a norm that does not mix samples (`GroupNorm`,
# `LayerNorm`).
#
# <a id="c8" name="c8"></a>
# ## 8. "cannot register a hook on a tensor that doesn't require gradient"
#
# Broken: Grad-CAM run under `no_grad` (or on a frozen network, or on the output of a frozen
# embedding): the activation has no graph, so there is nothing to hook:

# %%
features = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
classifier = nn.Linear(4, 2)
with torch.no_grad():
    act = features(x)
with expect_error(RuntimeError):
    act.register_hook(lambda g: g)

# %% [markdown]
# **Fix.** Run the forward with grad mode on. If the layers are frozen (no parameter requires grad),
# make the activation a leaf that does: `act.requires_grad_()` works, because a tensor without a graph
# is a leaf:

# %%
features.requires_grad_(False)  # a frozen backbone, as in Grad-CAM on a pretrained model
act = features(x)
print("requires_grad:", act.requires_grad, "| is_leaf:", act.is_leaf)
act.requires_grad_()
seen = []
act.register_hook(seen.append)
classifier(act)[1].backward()
print("hook saw d(score)/d(act) =", fmt(seen[0]), "| classifier row 1:", fmt(classifier.weight[1]))

# %% [markdown]
# <a id="c9" name="c9"></a>
# ## 9. "Using a non-full backward hook when the forward contains multiple autograd Nodes is deprecated"
#
# Broken: `register_backward_hook` (deprecated) hooks only the *last* node of the module's forward; its
# `grad_input` is that node's, not the module's inputs':

# %%
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, inp):
        return torch.tanh(self.lin(inp)) * 2


inp = torch.randn(4, 3, requires_grad=True)
for register in ("register_backward_hook", "register_full_backward_hook"):
    block, shapes = Block(), []
    getattr(block, register)(lambda m, gin, gout: shapes.append(
        [None if g is None else tuple(g.shape) for g in gin]))
    with show_warnings():
        block(inp).sum().backward()
    print(f"{register}: grad_input shapes {shapes[0]}")

# %% [markdown]
# The old hook's `grad_input` belongs to the last node (`* 2`: 4 × 2, and None); the full hook's is
# the gradient with respect to the input (4 × 3). **Fix.** `register_full_backward_hook`.
#
# <a id="c10" name="c10"></a>
# ## 10. DDP: "Expected to mark a variable ready only once"
#
# Cases 10–11 run DDP in a process group of **one** process (gloo, `127.0.0.1`, a free port, a
# 60 s timeout): each process's reducer raises these errors itself, as with more processes. Broken:
# reentrant checkpointing with `find_unused_parameters=True`:

# %%
if not dist.is_initialized():  # cases 10 and 11 need this cell
    os.environ.setdefault("GLOO_SOCKET_IFNAME", loopback_interface() or "lo")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                            world_size=1, timeout=timedelta(seconds=60))

# %%
class Checkpointed(nn.Module):  # one layer applied `times` times, each checkpointed; one unused
    def __init__(self, reentrant, times=2):
        super().__init__()
        self.lin, self.unused = nn.Linear(3, 3), nn.Linear(3, 3)
        self.reentrant, self.times = reentrant, times

    def forward(self, inp):
        for _ in range(self.times):
            inp = checkpoint(self.lin, inp, use_reentrant=self.reentrant)
        return inp

# %%
torch.manual_seed(0)
inp = torch.randn(4, 3, requires_grad=True)
for times in (2, 1):
    print(f"{times} reentrant checkpoint(s), find_unused_parameters=True:")
    ddp = DDP(Checkpointed(reentrant=True, times=times), find_unused_parameters=True)
    with expect_error(RuntimeError, contains="Expected to mark a variable ready only once"):
        ddp(inp).sum().backward()
fixes = ((False, dict(find_unused_parameters=True)), (True, dict(static_graph=True)))
for reentrant, setting in fixes:
    torch.manual_seed(0)  # the same initial weights for both fixes
    fixed = DDP(Checkpointed(reentrant), **setting)
    fixed(inp).sum().backward()
    print("backward ran; weight.grad norm", fmt(fixed.module.lin.weight.grad.norm(), 4))

# %%
out = DDP(nn.Linear(3, 1))(inp)
out.sum().backward(retain_graph=True)
(2 * out).sum().backward()
print("two backward() after one forward: no error")

# %% [markdown]
# **Cause.** DDP marks each parameter ready once per backward. A reentrant checkpoint runs its forward
# under `no_grad`, so `find_unused_parameters=True` takes its parameters for unused and marks them
# itself; their gradients then mark them again (one checkpoint is enough). (The error's text also names
# parameters reused across reentrant checkpoints.) **Fix.** `use_reentrant=False`, or
# `static_graph=True` when the graph never changes (both shown: the same gradient norm; one process
# cannot show the averaging). Two `backward()` calls per forward (`retain_graph=True` on the first)
# raise nothing, yet the second is not all-reduced: see lesson [08](08_at_scale.ipynb).
#
# <a id="c11" name="c11"></a>
# ## 11. A GAN under DDP: "Expected to have finished reduction in the prior iteration before starting a new one"
#
# (Run case 10's first cell first.) Broken: generator and discriminator in **one** DDP module; the
# discriminator step uses only `D`, so `G`'s parameters get no gradient and the reducer waits for them:

# %%
class GAN(nn.Module):
    def __init__(self):
        super().__init__()
        self.G, self.D = nn.Linear(2, 3), nn.Linear(3, 1)

    def forward(self, real):  # the discriminator's step: D on real data only
        return self.D(real)


gan, real, z = DDP(GAN()), torch.randn(4, 3), torch.randn(4, 2)
gan(real).mean().backward()
with expect_error(RuntimeError, contains="finished reduction in the prior iteration"):
    gan(real).mean().backward()  # the next iteration
gan = DDP(GAN(), find_unused_parameters=True)
for step in range(2):
    gan(real).mean().backward()
print("find_unused_parameters=True: two iterations ran")

# %% [markdown]
# **Fix.** Wrap each network in its own DDP; in `D`'s step detach the fake batch (`D`'s backward then
# leaves `G` alone; `G`'s step completes `G`'s reduction). `find_unused_parameters=True` (above) also
# works, with a graph walk per step:

# %%
G, D = DDP(nn.Linear(2, 3)), DDP(nn.Linear(3, 1))
for step in range(2):
    fake = G(z)
    D.zero_grad()
    (D(fake.detach()).mean() - D(real).mean()).backward()  # D's step
    G.zero_grad()
    (-D(fake).mean()).backward()  # G's step (D's grads from it are discarded by zero_grad)
print("two iterations, both steps: no error; G.weight.grad norm",
      fmt(G.module.weight.grad.norm(), 4))
dist.destroy_process_group()

# %% [markdown]
# <a id="c12" name="c12"></a>
# ## 12. Checkpointing: "None of the inputs have requires_grad=True. Gradients will be None"
#
# Broken: the reentrant checkpoint (used, with a warning, when `use_reentrant` is not passed, on torch
# 2.13 and 2.14.1) computes gradients only if an *input* requires grad; a first layer's input does
# not, so its parameters get none:

# %%
layer = nn.Linear(3, 3)
for settings in ({}, {"use_reentrant": True}, {"use_reentrant": False}):
    layer.zero_grad(set_to_none=True)
    with show_warnings():
        out = checkpoint(layer, x, **settings)
    if out.requires_grad:
        out.sum().backward()
    print(f"-> {settings}: weight.grad is None: {layer.weight.grad is None}")

# %% [markdown]
# **Fix.** Pass `use_reentrant=False`, as the warning recommends.
#
# <a id="c13" name="c13"></a>
# ## 13. "torch.compile with aot_autograd does not currently support double backward"
#
# Broken: a gradient penalty (lesson [04](04_autograd_grad.ipynb)) through a compiled model: the
# first `autograd.grad(..., create_graph=True)` works, the backward through it fails:

# %%
critic = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
compiled = torch.compile(critic, backend="aot_eager")  # any backend that uses AOTAutograd
pts = torch.randn(4, 3, requires_grad=True)


def penalty(net):
    (g,) = torch.autograd.grad(net(pts).sum(), pts, create_graph=True)
    return (g.norm(dim=1) - 1).pow(2).mean()


pen = penalty(compiled)  # the first-order gradient: no error
with expect_error(RuntimeError):
    pen.backward()

# %% [markdown]
# **Fix.** Compute the penalty with the uncompiled module (same parameters; compile the rest of the
# step), or with `backend="eager"`, which does not use AOTAutograd:

# %%
critic.zero_grad()
penalty(critic).backward()
eager_grad = critic[0].weight.grad.clone()
critic.zero_grad()
penalty(torch.compile(critic, backend="eager")).backward()
print("eager backend vs uncompiled: max |Δ| =",
      (critic[0].weight.grad - eager_grad).abs().max().item())

# %% [markdown]
# **Tensor hooks with `fullgraph=True`**: on torch 2.13 and 2.14.1 a hook registered on an intermediate
# inside the compiled function compiles without a graph break (`fullgraph=True` would raise) and runs:

# %%
def scaled_square(t):
    y = t * 2
    y.register_hook(lambda g: g * 3)
    return (y * y).sum()


t = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
torch.compile(scaled_square, backend="aot_eager", fullgraph=True)(t).backward()
print("compiled, fullgraph: t.grad =", fmt(t.grad), "| eager 3·8t =", fmt(24 * t.detach()))

# %% [markdown]
# More on compile and autograd: lesson [09](09_compile_and_func.ipynb).
#
# <a id="c14" name="c14"></a>
# ## 14. "Legacy autograd function with non-static forward method is deprecated"
#
# Broken: a `Function` written the old way — `self` methods, instantiated and called (PyTorch also
# warns that a `Function` should not be instantiated):

# %%
class OldDouble(torch.autograd.Function):
    def forward(self, inp):
        return inp * 2

    def backward(self, grad):
        return grad * 2


w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
with show_warnings(), expect_error(RuntimeError):
    OldDouble()(w)

# %% [markdown]
# **Fix.** Static methods with a `ctx` first argument (or the `setup_context` style of lesson
# [05](05_register_hook.ipynb)), called through `.apply`:

# %%
class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inp):
        return inp * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


w.grad = None
Double.apply(w).sum().backward()
print("w.grad:", fmt(w.grad))

# %% [markdown]
# ## Summary
#
# | symptom | print | fix |
# |---|---|---|
# | no `grad_fn`, `.grad` None | `diagnose(loss, model)` | grad mode on, tensors not numbers; make, then `requires_grad_()` |
# | in place | `diagnose`, anomaly mode | out of place, `clone()`; leaves under `no_grad()` |
# | freezing | `requires_grad`, `param_groups` | rebuild the optimizer, `bn.eval()`, `torch.where` for masked entries |
# | loops | `diagnose` (freed nodes) | `h.detach()`; loss / k |
# | hooks | `t.requires_grad` | grad on, `register_full_backward_hook` |
# | DDP, checkpoint, compile | the message | `use_reentrant=False`, one DDP per network, penalty uncompiled |
#
# ## Exercises
#
# **12.1** Diagnose this: `w = torch.randn(3, requires_grad=True).cuda()`, then
# `loss = (w * x.cuda()).sum(); loss.backward()`, and `w.grad` is None. Name the cause: one of
# `"no graph"`, `"not reachable"`, `"does not require grad"`, `"non-leaf copy"`, `"graph freed"`.

# %%
answer = None
check("12.1", answer)

# %% [markdown]
# **12.2** Write `sgd_step(params, lr)`: update each parameter by `−lr·grad` **in place** (each stays
# the same leaf object) and clear its gradient, without the error of case 4.

# %%
def sgd_step(params, lr):
    return None  # your code


check("12.2", sgd_step)

# %% [markdown]
# **12.3** Write `accumulate(model, data, loss_fn, k)`: split `data` into `k` equal micro-batches and
# call `backward()` on each so that `model`'s `.grad` ends up as the gradient of `loss_fn(model(data))`
# on the full batch (a mean loss; no BatchNorm). Start from zeroed gradients.

# %%
def accumulate(model, data, loss_fn, k):
    return None  # your code


check("12.3", accumulate)
