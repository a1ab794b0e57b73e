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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/autograd-workshop/autograd-workshop/blob/main/notebooks/04_autograd_grad.ipynb)
#
# # 04 · `torch.autograd.grad` and writing `.grad` yourself
#
# `loss.backward()` does two things at once: it computes gradients and **adds** them into `.grad` of
# every leaf. `torch.autograd.grad` does only the first: it *returns* the gradients and leaves the
# leaves' `.grad` alone. That separation gives you control: you decide what goes into `.grad`, with
# which sign, and when. It is still a backward pass, though: it runs tensor hooks, fills `.grad` of
# non-leaves that asked for it, and frees what the graph saved.
#
# **You will learn**
# - that `autograd.grad` returns gradients and leaves the leaves' `.grad` alone, while `backward()`
#   accumulates — and the three things `autograd.grad` does do (tensor hooks, `retain_grad()`, freeing);
# - how to write gradients into `p.grad` by hand (None versus existing) and get exactly what
#   `backward()` gives;
# - `grad_outputs` for non-scalar outputs (vector–Jacobian products), `allow_unused` and
#   `materialize_grads`, and `backward(inputs=...)`;
# - `create_graph=True` for gradients of gradients: a Hessian-vector product and a small Hessian, and
#   a WGAN-GP gradient penalty, checked numerically;
# - the seed question's "one possibility" (`autograd.grad`, then `.grad` by hand) with one
#   evaluation of `f`: `autograd.grad` to intermediate tensors, then `autograd.backward` — and its
#   condition: `x` and `y` must not depend on each other.
#
# Time: about 30 minutes (section 6's gradient penalty can be skimmed). Builds on [03 · retain_graph](03_retain_graph.ipynb).

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
                     pick_device, seed_everything, show_source)
from helpers.compute_once import abs_difference, grad_then_backward, seed_example, two_pass

device = pick_device()
seed_everything(0)

# %% [markdown]
# ## 1. `autograd.grad` returns; `backward()` accumulates

# %%
w = torch.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)

(grad,) = torch.autograd.grad((w ** 2).sum(), w)
print("returned gradient:", fmt(grad), "| w.grad after autograd.grad:", w.grad)

(w ** 2).sum().backward()
(w ** 2).sum().backward()
print("w.grad after two backward() calls:", fmt(w.grad), "(= 2 × 2w)")
w.grad = None

# %% [markdown]
# `autograd.grad(outputs, inputs)` takes the tensors to differentiate *with respect to* as an argument,
# so it works for any tensor in the graph, leaf or not, and returns a tuple with one gradient per input.
#
# ### What `autograd.grad` does do
#
# "Leaves `.grad` alone" is about the leaves only. `autograd.grad` runs the same engine as `backward()`,
# and three things happen on the way. Here `h = 2w` is a non-leaf that called `retain_grad()` (keep my
# gradient, lesson 01) and carries a tensor hook that flips the sign. (A tensor hook,
# `h.register_hook(fn)`, is a function autograd calls with the gradient as it passes `h`; what it
# returns replaces the gradient. [Lesson 05](05_register_hook.ipynb) teaches hooks.)

# %%
w = torch.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
h = w * 2
h.retain_grad()
# print(...) returns None, so `print(...) or -grad` prints, then returns -grad
h.register_hook(lambda grad: print("  the hook on h runs, gets", fmt(grad)) or -grad)
handle = w.register_hook(
    lambda grad: print("  the hook on w (the input) runs, gets", fmt(grad)) or grad * 10)
loss = (h ** 2).sum()

(grad,) = torch.autograd.grad(loss, w)
print("returned:", fmt(grad), "| w.grad:", w.grad)
print("  = 10 (hook on w) · 2 (dh/dw) · (-2h) (flipped d loss/dh): both hooks acted")
print("h.grad  :", fmt(h.grad), "(filled by retain_grad, after the hook)")
handle.remove()

# %% [markdown]
# 1. **Tensor hooks run**: the hook on `h` ran, and its result is what flowed on to `w`. A hook on an
#    input itself (`w`) runs too, since PyTorch 2.0, and what it returns is what `autograd.grad`
#    returns: here 10 times the flipped gradient. A *post-accumulate-grad* hook
#    ([lesson 05](05_register_hook.ipynb), section 5) does not run: it waits for `.grad` to be
#    written, and `autograd.grad` writes none (the next cell).
# 2. **`retain_grad()` non-leaves get `.grad`**: `h.grad` was filled (with the gradient after the hook).
#    Only *leaves* keep their `.grad` untouched.
# 3. **The saved tensors are freed**, as after `backward()` (lesson 03): a second call through the
#    same graph fails. `retain_graph=True` keeps them (the cell after it):

# %%
p = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
p.register_hook(lambda grad: print("  tensor hook on p runs"))
p.register_post_accumulate_grad_hook(lambda param: print("  post-accumulate-grad hook on p runs"))
print("autograd.grad:")
torch.autograd.grad((p ** 2).sum(), p)
print("backward():")
(p ** 2).sum().backward()

# %%
with expect_error(RuntimeError, contains="backward through the graph a second time"):
    torch.autograd.grad(loss, w)  # the first call freed the saved tensors

loss = ((w * 2) ** 2).sum()
(g1,) = torch.autograd.grad(loss, w, retain_graph=True)
(g2,) = torch.autograd.grad(loss, w)
print("twice, the first with retain_graph=True:", fmt(g1), fmt(g2))

# %% [markdown]
# ## 2. Writing `.grad` by hand
#
# An optimizer reads only `p.grad`; it does not care who wrote it. So you can compute gradients with
# `autograd.grad`, change them as you like, and store them yourself. The one rule: **accumulate like
# `backward()` does** — create `.grad` if it is `None`, add to it otherwise.

# %%
def accumulate_grads(params, grads):
    """Add grads into p.grad the way backward() does."""
    for p, grad in zip(params, grads):
        if grad is None:
            continue  # this parameter did not take part
        if p.grad is None:
            p.grad = grad.detach().clone()
        else:
            p.grad += grad.detach()


# %% [markdown]
# The same model twice, from the same seed, and two mini-batches: one route uses `backward()`, the
# other `autograd.grad` and `accumulate_grads`.

# %%
def make_model():
    seed_everything(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)


x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0)).to(device)
y = torch.randn(16, 1, generator=torch.Generator().manual_seed(1)).to(device)
loss_fn = nn.MSELoss()

# %%
# Route 1: backward(), two mini-batches accumulated
model_a = make_model()
for xb, yb in ((x[:8], y[:8]), (x[8:], y[8:])):
    loss_fn(model_a(xb), yb).backward()

# Route 2: autograd.grad, written into .grad by hand
model_b = make_model()
params_b = list(model_b.parameters())
for xb, yb in ((x[:8], y[:8]), (x[8:], y[8:])):
    grads = torch.autograd.grad(loss_fn(model_b(xb), yb), params_b)
    accumulate_grads(params_b, grads)

compare_gradients({"backward() route": collect_grads(model_a),
                   "by-hand route": collect_grads(model_b)})

# %% [markdown]
# The table compares the two routes' `.grad`: they agree (max |Δ| = 0 to the 6 decimals shown), so
# any optimizer step taken from them is the same too, to that precision. What goes wrong if you
# **assign** instead of accumulating (`p.grad = grad`)? The second mini-batch overwrites the first:

# %%
model_c = make_model()
params_c = list(model_c.parameters())
for xb, yb in ((x[:8], y[:8]), (x[8:], y[8:])):
    for p, grad in zip(params_c, torch.autograd.grad(loss_fn(model_c(xb), yb), params_c)):
        p.grad = grad  # wrong: forgets the first mini-batch
compare_gradients({"backward()": collect_grads(model_a),
                   "assigning p.grad = grad": collect_grads(model_c)}, decimals=4)

# %% [markdown]
# ## 3. Non-scalar outputs: `grad_outputs` and vector–Jacobian products
#
# A gradient needs a scalar to start from. For an output `v` with more than one element,
# `autograd.grad(v, x)` has nothing to start with and refuses. This message is worth recognising (it
# is the same for `v.backward()`), so here it is in full:

# %%
A = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device)
xv = torch.tensor([1.0, -1.0], device=device, requires_grad=True)
v = A @ xv  # 3 outputs, 2 inputs: the Jacobian is A (3 × 2)

with expect_error(RuntimeError):
    torch.autograd.grad(v, xv)
with expect_error(RuntimeError):
    v.backward()

# %% [markdown]
# `grad_outputs=u` says "start from the vector `u`": the result is the **vector–Jacobian product**
# `uᵀ J`, which is what backpropagation computes anyway (`backward()` on a scalar is the case `u = 1`).

# %%
u = torch.tensor([1.0, 0.0, 2.0], device=device)
(vjp,) = torch.autograd.grad(v, xv, grad_outputs=u)
J = torch.autograd.functional.jacobian(lambda t: A @ t, xv.detach())  # the full 3 × 2 Jacobian
print("autograd.grad with grad_outputs:", fmt(vjp))
print("u @ Jacobian                  :", fmt(u @ J), "| max |Δ| =", fmt((vjp - u @ J).abs().max()))

# %% [markdown]
# ## 4. Inputs that do not take part: `allow_unused`, `materialize_grads`
#
# Asking for the gradient with respect to a tensor that is not in the output's graph (it was not used to
# compute the output) is an error by default: often it is a bug, you forgot to use it. If it is
# intended, `allow_unused=True` returns `None` for it, and `materialize_grads=True` (PyTorch 2.1+)
# returns zeros instead (handy when you add the gradients up). The cell checks the part of the error
# message that matters (the full text goes on to suggest `allow_unused=True`):

# %%
used = torch.tensor(2.0, device=device, requires_grad=True)
unused = torch.tensor(5.0, device=device, requires_grad=True)
both = [used, unused]

with expect_error(RuntimeError, contains="appears to not have been used in the graph"):
    torch.autograd.grad(used ** 2, both)
print("allow_unused=True     :", fmt(torch.autograd.grad(used ** 2, both, allow_unused=True)))
print("materialize_grads=True:", fmt(torch.autograd.grad(used ** 2, both, materialize_grads=True)))

# %% [markdown]
# ## 5. `backward(inputs=...)`: accumulate into some leaves only
#
# Between the two extremes there is `backward(inputs=[...])` (PyTorch 1.8+): it accumulates into `.grad`
# like `backward()`, but only for the tensors you list. Lesson 03 used it to train a GAN's two networks
# from one forward pass.

# %%
model_d = make_model()
loss_fn(model_d(x), y).backward(inputs=list(model_d[2].parameters()))  # only the last layer
for name, p in model_d.named_parameters():
    print(f"{name:9} grad is None: {p.grad is None}")

# %% [markdown]
# ## 6. Gradients of gradients: a gradient penalty
#
# With `create_graph=True` autograd records the backward pass too, so the gradient is itself the output
# of a graph. For `z³`, `PowBackward0`'s backward formula computes 3z² as `grad · 3 · z.pow(2)`, and
# those operations are recorded: the `PowBackward0` in `dz`'s graph below is a **new** node, made by
# that `z.pow(2)`, not the node of `z³`. Differentiating `dz` again gives the second derivative 6z
# (at z = 3: 27 and 18):

# %%
z = torch.tensor(3.0, device=device, requires_grad=True)
(dz,) = torch.autograd.grad(z ** 3, z, create_graph=True)
print("dz³/dz = 3z² =", fmt(dz), "| requires_grad:", dz.requires_grad)
(d2z,) = torch.autograd.grad(dz, z)
print("d²z³/dz² = 6z =", fmt(d2z))
draw_graph(dz, {"z": z, "dz³/dz": dz})

# %% [markdown]
# ### A Hessian-vector product, and a small Hessian
#
# For a function of several inputs the second derivative is the Hessian matrix `H`. You rarely need
# all of it: `H v` is the gradient of `∇f · v`, which is what `grad_outputs=v` computes from the
# differentiable gradient — one more backward pass, without building `H`. Rows of `H` come the same
# way, one `grad_outputs=eᵢ` each. `torch.func` (transforms of *functions*, lesson
# [09](09_compile_and_func.ipynb)) gives the same: `torch.func.grad(f)` is the function `t ↦ ∇f(t)`,
# `torch.func.vjp` of it returns `vᵀH` (= `H v`: a Hessian is symmetric), and `torch.func.jacrev`
# of it builds `H`. In float64:

# %%
def energy(t):
    return (t.sin() * t.roll(1)).sum() + (t ** 3).sum() / 3


t = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, device=device, requires_grad=True)
v = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64, device=device)
(grad_t,) = torch.autograd.grad(energy(t), t, create_graph=True)
(hvp,) = torch.autograd.grad(grad_t, t, grad_outputs=v, retain_graph=True)  # H v, no H built
eye = torch.eye(3, dtype=torch.float64, device=device)  # one row of H per grad_outputs=eᵢ
rows = torch.stack([torch.autograd.grad(grad_t, t, e, retain_graph=True)[0] for e in eye])
_, vjp_of_grad = torch.func.vjp(torch.func.grad(energy), t.detach())
(hvp_func,) = vjp_of_grad(v)
H = torch.func.jacrev(torch.func.grad(energy))(t.detach())
print("H v, grad of grad:", fmt(hvp), "| max |Δ| vs torch.func:", fmt((hvp - hvp_func).abs().max()))
print("H by torch.func:", fmt(H, 3), "| symmetric:", torch.allclose(H, H.T))
print("max |Δ| vs its rows by grad of grad:", fmt((H - rows).abs().max()),
      "| H @ v vs H v:", fmt((H @ v - hvp).abs().max()))

# %% [markdown]
# All agree (max |Δ| = 0 to the 4 decimals shown), and `H` is symmetric, as a Hessian of a smooth
# function is. So a loss built from a gradient can be backpropagated. WGAN-GP (Gulrajani et al., 2017) adds to the
# critic's loss a penalty `(‖∇ₓ̂ D(x̂)‖₂ − 1)²` at random points `x̂` between real and fake samples:

# %%
def gradient_penalty(critic, real, fake, t):
    x_hat = (t * real + (1 - t) * fake).requires_grad_(True)
    # create_graph=True: the gradient is itself differentiable
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


seed_everything(3)
critic = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(device).double()
real = torch.randn(6, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64).to(device)
fake = torch.randn(6, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(device)
t = torch.rand(6, 1, generator=torch.Generator().manual_seed(6), dtype=torch.float64).to(device)

penalty = gradient_penalty(critic, real, fake, t)
penalty.backward()
print("penalty:", fmt(penalty),
      "| the critic's first weight got a gradient:", critic[0].weight.grad is not None)

# %% [markdown]
# Is that second-order gradient right? `torch.autograd.gradcheck` compares it with finite differences
# (in float64) for every entry of the first layer's weight. It takes a *function* and the tensors to
# nudge, and the weight is a parameter inside `critic`; so the cell rebuilds the critic's forward pass
# as a function of a weight tensor `W` (same bias, same second layer) and checks that:

# %%
W0 = critic[0].weight.detach().clone().requires_grad_(True)


def penalty_as_function_of_W0(W):
    def critic_with(inp):
        return critic[2](torch.tanh(nn.functional.linear(inp, W, critic[0].bias)))
    return gradient_penalty(critic_with, real, fake, t)


print("gradcheck:", torch.autograd.gradcheck(penalty_as_function_of_W0, (W0,)))

# %% [markdown]
# ## 7. The seed question's "one possibility"
#
# The question this workshop is built on: `x = g(a)` and `y = g(b)` come from a shared module `g`;
# we want the gradients of `l1 = f(x.detach(), y)` **plus** those of `l2 = −f(x, y.detach())`, without
# evaluating `f` twice. The asker mentions "one possibility": to "manually call autograd.grad and
# update the w.grad field of each nn.Parameter w". One way to make that work with a single evaluation
# of `f`: compute `f(x, y)` once, take its gradients with respect to `x` and `y` with `autograd.grad`,
# and push them on into `g` yourself — `+∂f/∂y` through `y` (that is `l1`) and `−∂f/∂x` through `x`
# (that is `l2`). `torch.autograd.backward(tensors, grad_tensors)` does the pushing. Here with the
# seed's own numbers: a 1 × 1 linear `g` with weight 1, inputs 1 and 2, `f = |x − y|`.

# %%
show_source(seed_example)
f = abs_difference  # f(x, y) = |x − y|, summed to a scalar

# %%
# reference: two passes, as the question writes it
g, a, b = seed_example(device)
x, y = g(a), g(b)
f(x.detach(), y).backward(retain_graph=True)
(-f(x, y.detach())).backward()
print("two passes                 : weight grad", fmt(g.weight.grad))

# one evaluation of f, autograd.grad to x and y, then autograd.backward into g
g, a, b = seed_example(device)
x, y = g(a), g(b)
gx, gy = torch.autograd.grad(f(x, y), [x, y])
torch.autograd.backward([x, y], [-gx, gy])
print("autograd.grad + backward   : weight grad", fmt(g.weight.grad))

# %% [markdown]
# Both give 3. This method makes **two** engine calls. The first ran only the part of the graph between
# `f` and `x`, `y`, and freed *its* saved tensors; `g`'s part was not run, so it was still there for the
# second call — here no `retain_graph` was needed.
#
# ### Its condition: `x` and `y` must not depend on each other
#
# `autograd.grad` returns the **total** gradient with respect to `x`, every path included. If `y` is
# computed from `x`, one of those paths runs through `y`: flipping `gx` flips that path too, and
# pushing `gy` through `y` sends it to `x` once more, so it cancels — while the two passes keep it
# once (`l1 = f(x.detach(), y)` still reaches `x` through `y`). Let `y = g(b) + x` (`two_pass` and
# `grad_then_backward` are the two procedures of the cell above, as helpers):

# %%
def seed_with_y_using_x(y_from):
    """The seed example, except that y = y_from(g(b), x) depends on x."""
    g, a, b = seed_example(device)
    x = g(a)
    return g, x, y_from(g(b), x)


for name, method in (("two passes", two_pass), ("autograd.grad + backward", grad_then_backward)):
    g, x, y = seed_with_y_using_x(lambda gb, x: gb + x)
    method(x, y, f)
    print(f"{name:24}: weight grad", fmt(g.weight.grad))

# %% [markdown]
# It runs — no error, no `retain_graph` — and gives 3 instead of 4. Here ∂f/∂x = −1 and ∂f/∂y = +1,
# so `gx` = −1 + 1 = 0 and `gy` = 1; pushing them gives 0 · a + 1 · (b + a) = 3. The two passes
# give 1 · (b + a) from `l1` and 1 · a from `l2`: 4. No error, because the node that adds `x`
# (`AddBackward0`) saves no tensor, so running it twice frees nothing it needs.
# Where a node on the path from `x` to `y` does save one, the second call fails, and with
# `retain_graph=True` it runs and is still wrong — here with `y = g(b) + 0.1 · x`, where `MulBackward0`
# saved the 0.1:

# %%
scaled = lambda gb, x: gb + 0.1 * x
g, x, y = seed_with_y_using_x(scaled)
two_pass(x, y, f)
print("two passes                  : weight grad", fmt(g.weight.grad))

g, x, y = seed_with_y_using_x(scaled)
with expect_error(RuntimeError, contains="backward through the graph a second time"):
    grad_then_backward(x, y, f)

g, x, y = seed_with_y_using_x(scaled)
gx, gy = torch.autograd.grad(f(x, y), [x, y], retain_graph=True)
torch.autograd.backward([x, y], [-gx, gy])
print("retain_graph=True, then push: weight grad", fmt(g.weight.grad), "(wrong by 0.1)")

# %% [markdown]
# The other way round, `x = g(a) + y`, it misses the gradient that `l2` sends to `y` through `x`:

# %%
for name, method in (("two passes", two_pass), ("autograd.grad + backward", grad_then_backward)):
    g, a, b = seed_example(device)
    y = g(b)
    method(g(a) + y, y, f)  # x = g(a) + y depends on y
    print(f"{name:24}: weight grad", fmt(g.weight.grad))

# %% [markdown]
# So the method matches the two passes when neither of `x`, `y` depends on the other; when one does,
# it misses the gradient that flows from one into the other, and whether it also raises depends on
# what the nodes between them saved. Lesson 05 does the same job with a one-line hook; lesson 06
# measures all four methods on this case and on a larger model.

# %% [markdown]
# ## Summary
#
# | use this | when | remember |
# |---|---|---|
# | `torch.autograd.grad(out, inputs)` | you want gradients as values (to inspect, transform, combine) | returns a tuple; leaves' `.grad` untouched, but tensor hooks run (post-accumulate-grad hooks do not), `retain_grad()` non-leaves get `.grad`, saved tensors are freed unless `retain_graph=True` |
# | `p.grad = grad` / `p.grad += grad` | feeding hand-made gradients to an optimizer | accumulate: create if `None`, add otherwise |
# | `grad_outputs=u` | the output is not a scalar | computes the vector–Jacobian product `uᵀJ` |
# | `allow_unused=True` / `materialize_grads=True` | some inputs may not take part | `None` or zeros for them; `materialize_grads` PyTorch 2.1+ |
# | `backward(inputs=[...])` | accumulate into some leaves only | PyTorch 1.8+ |
# | `create_graph=True` | gradient penalties, meta-learning, Hessian-vector products (`grad_outputs=v` on the gradient) | the gradient is differentiable; costs memory |
# | `torch.autograd.backward(tensors, grads)` | push chosen gradients from intermediate tensors into the graph | grads line up with tensors; after `autograd.grad` to the same tensors it is a second engine call, it matches the two passes when neither of `x`, `y` depends on the other; otherwise it misses the gradient that flows from one into the other (and raises only where a node between them saved a tensor) |
#
# Next: [05 · register_hook](05_register_hook.ipynb) — editing gradients in flight.

# %% [markdown]
# ## Exercises
#
# **04.1** `q = torch.tensor([1.0, 2.0], requires_grad=True)`; you run
# `torch.autograd.grad((q ** 2).sum(), q)`. Afterwards, is `q.grad is None` `True` or `False`?

# %%
answer = None
check("04.1", answer)

# %% [markdown]
# **04.2** Write `vjp(fn, inp, u)` that returns `uᵀ J`, where `J` is the Jacobian of `fn` at `inp`,
# with one `torch.autograd.grad` call and without building `J` (not `torch.autograd.functional`,
# not `torch.func`). `inp` does not require grad when passed in.

# %%
def vjp(fn, inp, u):
    return None  # your code


check("04.2", vjp)

# %% [markdown]
# **04.3** Write `flipped_step(model, loss)` that computes the gradients of `loss` with respect to
# `model.parameters()` with `autograd.grad` and **accumulates their negatives** into `.grad` (some
# parameters may already have a `.grad`, others `None`). The check compares with `(-loss).backward()`.

# %%
def flipped_step(model, loss):
    return None  # your code


check("04.3", flipped_step)
