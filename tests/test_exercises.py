"""Every exercise is solvable, accepts right answers in every reasonable form, and rejects wrong ones
with the hint that names the mistake.

RIGHT and WRONG below are the answers tried; ``test_counts`` requires at least 3 right (in different
forms) and 6 wrong ones per exercise, and :func:`print_counts` prints the counts.
"""

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from helpers.compute_once import grad_then_backward, hook_on_x, reversal, reverse_grad, two_pass
from helpers.exercises import Feedback, check, exercise_ids, show_solution, solution_function

ROOT = Path(__file__).resolve().parent.parent


class Lazy:
    """An answer built when the test runs (it needs a solution's value, or must be fresh)."""

    def __init__(self, make):
        self.make = make


def _answer(a):
    return a.make() if isinstance(a, Lazy) else a


def _placeholder(*args):
    return None  # your code


# ----------------------------------------------------------------------------------------- 01 ----------

def _train_grads_tuple(w, batches):
    out = []
    for xb in batches:
        w.grad = None
        ((w * xb).sum() ** 2).backward()
        out.append(w.grad.clone())
    return tuple(out)


def _train_grads_stacked_f64(w, batches):
    return torch.stack(list(_train_grads_tuple(w, batches))).double()


def _train_grads_autograd_grad(w, batches):
    return [torch.autograd.grad((w * xb).sum() ** 2, w)[0].tolist() for xb in batches]


def _train_grads_generator(w, batches):
    for xb in batches:
        w.grad = None
        ((w * xb).sum() ** 2).backward()
        yield w.grad.clone()


def _accumulating(w, batches):
    out = []
    for xb in batches:
        ((w * xb).sum() ** 2).backward()
        out.append(w.grad.clone())
    return out


def _not_cloned(w, batches):
    out = []
    for xb in batches:
        if w.grad is not None:
            w.grad.zero_()  # resets in place: the same tensor every time
        ((w * xb).sum() ** 2).backward()
        out.append(w.grad)
    return out


def _reset_after(w, batches):
    out = []
    for xb in batches:
        ((w * xb).sum() ** 2).backward()
        out.append(w.grad.clone())
        w.grad = None
    return out


def _no_square(w, batches):
    out = []
    for xb in batches:
        w.grad = None
        (w * xb).sum().backward()
        out.append(w.grad.clone())
    return out


def _drops_last(w, batches):
    return _train_grads_tuple(w, batches)[:-1]


def _no_return(w, batches):
    for xb in batches:
        ((w * xb).sum() ** 2).backward()


def _raises(*args):
    raise RuntimeError("boom")


def _train_grads_generator_failing(w, batches):  # issue 15: the check consumes the generator lazily
    for xb in batches:
        w.grad = None
        ((w * xb).sum() ** 2).backward()
        yield w.grad.clone()
        raise ValueError("generator boom")


def _train_grads_read_before_backward(w, batches):  # issue 15: a computed None
    grads = []
    for xb in batches:
        w.grad = None
        grads.append(w.grad)
        ((w * xb).sum() ** 2).backward()
    return grads


RIGHT = {
    "01.1": [29, 29.0, torch.tensor(29.0), torch.tensor([[29.0]], dtype=torch.float64),
             np.float32(29.0), np.array([29]), Fraction(29), torch.tensor(29.0, requires_grad=True),
             torch.tensor(29.0, dtype=torch.bfloat16), 29.000001],
    "01.2": [{"w"}, ["w"], ("W",), "w", {" 'w' "}, frozenset({"w"})],
    "01.3": [_train_grads_tuple, _train_grads_stacked_f64, _train_grads_autograd_grad, _train_grads_generator],
}

WRONG = [
    ("01.1", None, "Not answered yet"),
    ("01.1", ..., "Not answered yet"),
    ("01.1", "29", "not a string"),
    ("01.1", 58.0, "twice the expected value"),
    ("01.1", 27, "u**3 alone"),
    ("01.1", torch.tensor(33.0), "v itself"),
    ("01.1", 3, "u itself"),
    ("01.1", 18.0, "d²v/du²"),
    ("01.1", [29.0, 29.0], "you gave 2 numbers"),
    ("01.1", True, "a bool"),
    ("01.1", float("nan"), "nan"),
    ("01.1", 28.9, "28.9 is not dv/du"),
    ("01.1", complex(29, 0), "is real"),
    ("01.1", -29.0, "the sign is flipped"),
    ("01.2", None, "Not answered yet"),
    ("01.2", {"w", "y"}, "y was computed from w"),
    ("01.2", {"y", "h"}, "they are not leaves"),
    ("01.2", {"w", "x"}, "do not require grad"),
    ("01.2", {"h"}, "h was computed from w: it has a grad_fn, so it is not a leaf"),
    ("01.2", {"w", "h"}, "asks for one with retain_grad(), as the notebook's h does"),
    ("01.2", set(), "requires_grad=True"),
    ("01.2", {"loss"}, "loss is not one of them"),
    ("01.2", 5, "set of strings"),
    ("01.2", [torch.tensor(1.0)], "not the objects themselves"),
    ("01.3", None, "Not answered yet"),
    ("01.3", _placeholder, "Not answered yet"),
    ("01.3", _accumulating, "running sums"),
    ("01.3", _not_cloned, "same tensor object"),
    ("01.3", _reset_after, "first gradient includes what w.grad held"),
    ("01.3", _no_square, "squares the sum"),
    ("01.3", _drops_last, "one per batch"),
    ("01.3", _no_return, "returned None"),
    ("01.3", _raises, "raised RuntimeError: boom"),
    ("01.3", _train_grads_generator_failing, "your code (in _train_grads_generator_failing) raised ValueError"),
    ("01.3", _train_grads_read_before_backward, "some of your gradients are None"),
    ("01.3", 5, "the function itself"),
    ("01.3", lambda w, b: [torch.tensor([2.0, 4.0, 6.0]), torch.ones(3), torch.zeros(3)], "batch"),
]

# ----------------------------------------------------------------------------------------- 02 ----------


def _ste_alt(x):
    return x.sign() + x - x.detach()


def _ste_function(x):
    class STE(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return torch.sign(t)

        @staticmethod
        def backward(ctx, grad):
            return grad

    return STE.apply(x)


def _ste_float64(x):
    return (x + (torch.sign(x) - x).detach()).double()


def _sign_plain(x):
    return torch.sign(x)


def _sign_not_detached(x):
    return x + (torch.sign(x) - x)


def _sign_detached(x):
    return (x + (torch.sign(x) - x)).detach()


def _ste_tanh(x):
    return torch.tanh(x) + (torch.sign(x) - torch.tanh(x)).detach()


def _ste_minus(x):
    return torch.sign(x) - x + x.detach()


def _ste_exact(x):  # the form that is exact for every x (issue 15)
    return torch.sign(x) + (x - x.detach())


def _ste_hardtanh(x):  # a clipped straight-through estimator: gradient 0 for |x| > 1
    clipped = nn.functional.hardtanh(x)
    return clipped + (torch.sign(x) - clipped).detach()


def _ste_double_grad(x):
    return 2 * x + (torch.sign(x) - 2 * x).detach()


RIGHT |= {
    "02.1": [[1, 2, 3], (1.0, 2.0, 3.0), torch.tensor([[1.0, 2.0, 3.0]]), np.array([1, 2, 3], dtype=np.float32),
             torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True),
             [np.float64(1.0), torch.tensor(2.0), 3], torch.tensor([1.0, 2.0, 3.0], dtype=torch.bfloat16)],
    "02.2": [solution_function("02.2")(), _ste_alt, _ste_function, _ste_float64, _ste_exact],
    "02.3": ["requires_grad_(False)", "  'Requires_Grad_(false)' ", nn.Module.requires_grad_,
             "requires_grad=False", "embedding.requires_grad_(False)", "requires_grad",
             "model.embedding.requires_grad_(False)", "p.requires_grad = False",
             "for p in model.embedding.parameters(): p.requires_grad = False"],
}

WRONG += [
    ("02.1", None, "Not answered yet"),
    ("02.1", [2.0, 4.0, 6.0], "gradient of (p * p).sum()"),
    ("02.1", [2.0, 4.0, 6.0], "or backward() ran twice"),
    ("02.1", [-1.0, -2.0, -3.0], "the sign is flipped"),
    ("02.1", [0, 0, 0], "only one factor is detached"),
    ("02.1", np.ones(3), "gradient of p.sum()"),
    ("02.1", [1.0, 4.0, 9.0], "not their gradient"),
    ("02.1", [1.0, 2.0], "p.grad is 3 numbers; you gave 2 numbers"),
    ("02.1", torch.ones(4, 3), "shape (4, 3)"),
    ("02.1", [[1, 2, 3], [1, 2, 3]], "shape (2, 3)"),
    ("02.1", "1, 2, 3", "not a string"),
    ("02.1", {1, 2, 3}, "a set has no order"),
    ("02.1", [1, None, 3], "NoneType"),
    ("02.1", [True, True, True], "a bool"),
    ("02.2", None, "Not answered yet"),
    ("02.2", _placeholder, "Not answered yet"),
    ("02.2", _sign_plain, "the gradient is zero"),
    ("02.2", _sign_not_detached, "the gradient is zero"),
    ("02.2", _sign_detached, "does not require grad"),
    ("02.2", lambda x: x * 1, "the value is x itself"),
    ("02.2", _ste_tanh, "yours depends on x"),
    ("02.2", _ste_hardtanh, "clipped straight-through estimator"),
    ("02.2", _ste_minus, "the gradient is −1"),
    ("02.2", _ste_double_grad, "2 × the incoming one"),
    ("02.2", lambda x: torch.sign(x).tolist(), "returned a list"),
    ("02.2", _raises, "raised RuntimeError"),
    ("02.2", "sign", "the function itself"),
    ("02.3", None, "Not answered yet"),
    ("02.3", "no_grad", "edit the model's forward"),
    ("02.3", torch.no_grad, "edit the model's forward"),
    ("02.3", "torch.inference_mode()", "Inference tensors cannot be saved"),
    ("02.3", "eval", "gradients still flow"),
    ("02.3", '"Detach"', "detach() acts on one tensor"),
    ("02.3", "freeze", "one of the strings"),
    ("02.3", "requires_grad_(True)", "keeps the layer training"),
    ("02.3", "model.embedding.requires_grad_(True)", "keeps the layer training"),
    ("02.3", "requires_grad_()", "with no argument"),
    ("02.3", "p.requires_grad = True", "keeps the layer training"),
    # review of issue 15: accepted before, though the detached copy's flag freezes nothing
    ("02.3", "embedding.weight.detach().requires_grad_(False)", "detach() returns a new tensor"),
    ("02.3", "no grad", "edit the model's forward"),
    ("02.3", 3, "one of the strings"),
    ("02.3", "", "one of the strings"),
]

# ----------------------------------------------------------------------------------------- 03 ----------


def _bytes():
    return solution_function("03.2")()


def _float64_bytes():  # issue 15: the section's model in float64
    from helpers.exercises.lesson03 import _section2_model
    from helpers.measure import saved_tensor_bytes

    model, x = _section2_model()
    model, x = model.double(), x.double()
    return saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=model)


def _with_params():
    from helpers.exercises.lesson03 import _section2_model
    from helpers.measure import saved_tensor_bytes

    model, x = _section2_model()
    return saved_tensor_bytes(lambda: model(x).pow(2).mean())


def _without_input():  # review of issue 15: section 2 leaves x out, the exercise counts it
    from helpers.exercises.lesson03 import _section2_model
    from helpers.measure import saved_tensor_bytes

    model, x = _section2_model()
    return saved_tensor_bytes(lambda: model(x).pow(2).mean(), exclude=[*model.parameters(), x])


def _two_losses_clone(a):
    a.grad = None
    h = a.exp()
    (h.sum() + (h**2).sum()).backward()
    return a.grad.clone()


def _two_losses_autograd_grad(a):
    h = a.exp()
    return torch.autograd.grad(h.sum() + (h**2).sum(), a)  # a 1-tuple: one size-1 dimension more


def _two_losses_f64(a):
    a.grad = None
    h = a.double().exp()
    (h.sum() + (h**2).sum()).backward()
    return a.grad.double().tolist()


def _two_backwards(a):
    a.grad = None
    h = a.exp()
    h.sum().backward(retain_graph=True)
    (h**2).sum().backward()
    return a.grad


def _l2_detached(a):  # issue 15: one backward of l1 + l2, but l2 built from h.detach()
    a.grad = None
    h = a.exp()
    (h.sum() + (h.detach() ** 2).sum()).backward()
    return a.grad


def _two_losses_negated(a):
    a.grad = None
    h = a.exp()
    (-(h.sum() + (h**2).sum())).backward()
    return a.grad


def _only_l1(a):
    a.grad = None
    a.exp().sum().backward()
    return a.grad


def _only_l2(a):
    a.grad = None
    (a.exp() ** 2).sum().backward()
    return a.grad


def _no_reset(a):
    h = a.exp()
    (h.sum() + (h**2).sum()).backward()
    return a.grad


def _no_backward(a):
    e = a.detach().exp()
    return e + 2 * e**2  # right by hand, but the exercise asks for one backward()


RIGHT |= {
    "03.1": [[4, -4, 8], torch.tensor([4.0, -4.0, 8.0]), np.array([4, -4, 8]), (4.0, -4.0, 8.0),
             torch.tensor([4.0, -4.0, 8.0], dtype=torch.float16), [[4], [-4], [8]]],
    "03.2": [Lazy(_bytes), Lazy(lambda: np.int64(_bytes())), Lazy(lambda: float(_bytes())),
             Lazy(lambda: torch.tensor([_bytes()]))],
    "03.3": [solution_function("03.3")(), _two_losses_clone, _two_losses_autograd_grad, _two_losses_f64],
}

WRONG += [
    ("03.1", None, "Not answered yet"),
    ("03.1", [2.0, -2.0, 4.0], "does not overwrite"),
    ("03.1", [-4.0, 4.0, -8.0], "the sign is flipped"),
    ("03.1", [1, 1, 4], "m**2 values"),
    ("03.1", [0, 0, 0], "do not cancel"),
    ("03.1", [8, -8, 16], "8m"),
    ("03.1", [4, 4, 8], "d/dm of sum(m**2) is 2m"),
    ("03.1", [4, -4], "you gave 2 numbers"),
    ("03.1", "4, -4, 8", "not a string"),
    ("03.2", None, "Not answered yet"),
    ("03.2", Lazy(_with_params), "exclude=model"),
    ("03.2", Lazy(_without_input), "leaves out the input x as well"),
    ("03.2", Lazy(lambda: _bytes() // 4), "float32 elements"),
    ("03.2", Lazy(lambda: 8 * _bytes()), "bits"),
    ("03.2", Lazy(lambda: _bytes() / 1024), "not kilobytes"),
    ("03.2", Lazy(lambda: 2 * _bytes()), "twice the expected count"),
    ("03.2", Lazy(lambda: _float64_bytes()), "a float64 model (.double()) saves 8 bytes"),
    ("03.2", Lazy(lambda: _bytes() + 0.5), "whole number"),
    ("03.2", "295424", "not a string"),
    ("03.2", 1, "call saved_tensor_bytes"),
    ("03.3", None, "Not answered yet"),
    ("03.3", _placeholder, "Not answered yet"),
    ("03.3", _two_backwards, "engine ran 2 times"),
    ("03.3", _only_l1, "gradient of l1 only"),
    ("03.3", _l2_detached, "not h.detach(), not under no_grad"),
    ("03.3", _two_losses_negated, "the sign is flipped"),
    ("03.3", _only_l2, "gradient of l2 only"),
    ("03.3", _no_reset, "start from a.grad = None"),
    ("03.3", _no_backward, "nothing ran backward"),
    ("03.3", lambda a: None if a.exp().sum().backward() else None, "returned None"),
    ("03.3", _raises, "raised RuntimeError"),
]

# ----------------------------------------------------------------------------------------- 04 ----------


def _vjp_f64(fn, inp, u):
    inp = inp.double().requires_grad_(True)
    return torch.autograd.grad(fn(inp), inp, grad_outputs=u.double())[0]


def _vjp_dot(fn, inp, u):
    inp = inp.detach().requires_grad_(True)
    return torch.autograd.grad((fn(inp) * u).sum(), inp, create_graph=True)[0].unsqueeze(0)


def _vjp_tuple(fn, inp, u):
    inp = inp.detach().requires_grad_(True)
    return torch.autograd.grad(fn(inp), inp, grad_outputs=u)


def _vjp_ones(fn, inp, u):
    inp = inp.detach().requires_grad_(True)
    return torch.autograd.grad(fn(inp).sum(), inp)[0]


def _jacobian_by_rows(fn, inp):
    inp = inp.detach().requires_grad_(True)
    out = fn(inp)
    return torch.stack([torch.autograd.grad(out[i], inp, retain_graph=True)[0] for i in range(out.numel())])


def _vjp_jacobian(fn, inp, u):
    return u @ _jacobian_by_rows(fn, inp)


def _vjp_returns_jacobian(fn, inp, u):
    return _jacobian_by_rows(fn, inp)


def _vjp_functional(fn, inp, u):
    return torch.autograd.functional.vjp(fn, inp, u)[1]


_full_J = torch.autograd.functional.jacobian  # under another name: only the batched engine run shows it


def _vjp_jacobian_vectorized(fn, inp, u):  # issue 15: one batched engine run builds all of J
    return u @ _full_J(fn, inp, vectorize=True)


def _vjp_jacrev(fn, inp, u):
    return u @ torch.func.jacrev(fn)(inp)


def _vjp_torch_func(fn, inp, u):
    return torch.func.vjp(fn, inp)[1](u)[0]


def _vjp_grads_batched(fn, inp, u):
    inp = inp.detach().requires_grad_(True)
    out = fn(inp)
    (rows,) = torch.autograd.grad(out, inp, grad_outputs=torch.eye(out.numel()), is_grads_batched=True)
    return u @ rows


def _vjp_negated(fn, inp, u):
    return -solution_function("04.2")()(fn, inp, u)


def _vjp_value(fn, inp, u):
    return fn(inp)


def _vjp_not_detached(fn, inp, u):
    return torch.autograd.grad(fn(inp), inp, grad_outputs=u)[0]  # inp does not require grad: raises


def _flip_in_place(model, loss):
    params = list(model.parameters())
    with torch.no_grad():
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            if p.grad is None:
                p.grad = -g
            else:
                p.grad.sub_(g)


def _flip_grad_of_minus(model, loss):
    params = list(model.parameters())
    for p, g in zip(params, torch.autograd.grad(-loss, params)):
        p.grad = g if p.grad is None else p.grad + g


def _flip_via_backward(model, loss):
    (-loss).backward()


def _flipped_assign(model, loss):
    params = list(model.parameters())
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = -g


def _flipped_wrong_sign(model, loss):
    params = list(model.parameters())
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g if p.grad is None else p.grad + g


def _flipped_no_none_case(model, loss):
    params = list(model.parameters())
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad -= g


def _flipped_weights_only(model, loss):
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    for p, g in zip(weights, torch.autograd.grad(loss, weights)):
        p.grad = -g if p.grad is None else p.grad - g


def _flipped_nothing(model, loss):
    torch.autograd.grad(loss, list(model.parameters()))


def _flipped_backward_then_negate_all(model, loss):
    loss.backward()
    for p in model.parameters():
        p.grad = -p.grad


RIGHT |= {
    "04.1": [True, np.True_, torch.tensor(True), "True", " true "],
    "04.2": [solution_function("04.2")(), _vjp_f64, _vjp_dot, _vjp_tuple],
    "04.3": [solution_function("04.3")(), _flip_in_place, _flip_grad_of_minus],
}

WRONG += [
    ("04.1", None, "Not answered yet"),
    ("04.1", False, "does it write anything"),
    ("04.1", np.False_, "does it write anything"),
    ("04.1", torch.tensor(False), "does it write anything"),
    ("04.1", "None", "True or False"),
    ("04.1", 1, "you gave an int"),
    ("04.1", "yes", "True or False"),
    ("04.2", None, "Not answered yet"),
    ("04.2", _placeholder, "Not answered yet"),
    ("04.2", _vjp_ones, "grad_outputs=u"),
    ("04.2", _vjp_jacobian, "once per row of J"),
    ("04.2", _vjp_returns_jacobian, "the whole Jacobian"),
    ("04.2", _vjp_functional, "not torch.autograd.functional"),
    ("04.2", _vjp_negated, "sign is flipped"),
    ("04.2", _vjp_jacobian_vectorized, "vectorize=True"),
    ("04.2", _vjp_grads_batched, "builds the whole Jacobian J"),
    ("04.2", _vjp_jacrev, "builds the whole Jacobian J first"),
    ("04.2", _vjp_torch_func, "asks for torch.autograd.grad itself"),
    ("04.2", _vjp_value, "you gave 2 numbers"),
    ("04.2", lambda fn, inp, u: torch.tensor([0.9, -2.6, 0.3]), "grad_outputs=u)[0]"),
    ("04.2", _vjp_not_detached, "vjp raised RuntimeError"),
    ("04.3", None, "Not answered yet"),
    ("04.3", _placeholder, "Not answered yet"),
    ("04.3", _flipped_assign, "lost it"),
    ("04.3", _flipped_wrong_sign, "sign is wrong"),
    ("04.3", _flip_via_backward, "(-loss).backward() itself"),
    ("04.3", _flipped_no_none_case, "flipped_step raised TypeError"),
    ("04.3", _flipped_weights_only, "0.bias still has no .grad"),
    ("04.3", _flipped_nothing, "still have no .grad"),
    ("04.3", _flipped_backward_then_negate_all, "existing gradients were negated too"),
    ("04.3", _raises, "raised RuntimeError: boom"),
]

# ----------------------------------------------------------------------------------------- 05 ----------


def _clip_torch(limit):
    return lambda g: torch.clamp(g, min=-limit, max=limit)


def _clip_where(limit):
    return lambda g: torch.where(g > limit, limit, torch.where(g < -limit, -limit, g))


def _clip_clone_inplace(limit):
    return lambda g: g.clone().clamp_(-limit, limit)


def _clip_no_return(limit):
    return lambda g: None


def _clip_inplace(limit):
    return lambda g: g.clamp_(-limit, limit)


def _clip_inplace_no_return(limit):
    def hook(g):
        g.clamp_(-limit, limit)

    return hook


def _clip_float64(limit):
    return lambda g: g.clamp(-limit, limit).double()


def _clip_list(limit):
    return lambda g: g.clamp(-limit, limit).tolist()


def _clip_upper_only(limit):
    return lambda g: g.clamp(max=limit)


def _clip_lower_only(limit):
    return lambda g: g.clamp(min=-limit)


def _clip_abs(limit):
    return lambda g: g.abs().clamp(max=limit)


def _clip_norm(limit):
    return lambda g: g * limit / g.norm()


def _clip_hard_coded(limit):
    return lambda g: g.clamp(-2.0, 2.0)


def _adversarial_view_hook(x, y):
    xv = x.view_as(x)
    xv.register_hook(lambda g: -g)
    ((xv * y).sum() + (x**2).sum()).backward()


def _adversarial_detach_trick(x, y):
    ((((2 * x.detach() - x) * y).sum()) + (x**2).sum()).backward()


def _hook_on_x(x, y):
    x.register_hook(lambda g: -g)
    ((x * y).sum() + (x**2).sum()).backward()


def _reversal_scaled_by_2(x, y):  # issue 15
    (((reverse_grad(x, scale=2.0) * y).sum()) + (x**2).sum()).backward()


def _nothing_flipped(x, y):
    ((x * y).sum() + (x**2).sum()).backward()


def _both_flipped(x, y):
    (-(x * y).sum() + (x**2).sum()).backward()


def _two_backward_calls(x, y):
    (reverse_grad(x) * y).sum().backward()
    (x**2).sum().backward()


def _grads_by_hand(x, y):
    x.grad, y.grad = -y.detach() + 2 * x.detach(), x.detach().clone()


RIGHT |= {
    "05.1": [solution_function("05.1")(), _clip_torch, _clip_where, _clip_clone_inplace],
    "05.2": [27, 27.0, torch.tensor(27.0), np.int64(27), [27]],
    "05.3": [solution_function("05.3")(), _adversarial_view_hook, _adversarial_detach_trick],
}

WRONG += [
    ("05.1", None, "Not answered yet"),
    ("05.1", _placeholder, "Not answered yet"),
    ("05.1", lambda limit: 5, "must *return* a function"),
    ("05.1", _clip_no_return, "came through unchanged"),
    ("05.1", _clip_inplace, "in place"),
    ("05.1", _clip_inplace_no_return, "in place (clamp_) and returns nothing"),
    ("05.1", _clip_upper_only, "below -limit were not clipped"),
    ("05.1", _clip_float64, "keep the gradient's dtype and shape"),
    ("05.1", _clip_list, "your hook returns a list"),
    ("05.1", _clip_lower_only, "above limit were not clipped"),
    ("05.1", _clip_abs, "lost its signs"),
    ("05.1", _clip_norm, "norm limit"),
    ("05.1", _clip_hard_coded, "whatever limit is"),
    ("05.1", _raises, "clip_hook raised RuntimeError"),
    ("05.2", None, "Not answered yet"),
    ("05.2", 3, "new hook is added every step"),
    ("05.2", 9, "second step"),
    ("05.2", 39, "reset to None"),
    ("05.2", 1, "never removed"),
    ("05.2", "27", "not a string"),
    ("05.2", 81, "count the hooks"),
    ("05.2", -27, "the sign is flipped"),
    ("05.3", None, "Not answered yet"),
    ("05.3", _placeholder, "Not answered yet"),
    ("05.3", _hook_on_x, "regulariser's gradient is flipped too"),
    ("05.3", _nothing_flipped, "nothing is flipped"),
    ("05.3", _reversal_scaled_by_2, "arrives multiplied by -2"),
    ("05.3", _both_flipped, "y's gradient is flipped too"),
    ("05.3", _two_backward_calls, "engine ran 2 times"),
    ("05.3", _grads_by_hand, "not gradients written by hand"),
    ("05.3", lambda x, y: None if (x * y).sum() is None else None, "x.grad is None"),
    ("05.3", _raises, "raised RuntimeError"),
]

# ----------------------------------------------------------------------------------------- 06 ----------


def _one_pass_view_hook(x, y, f, extra):
    xv = x.view_as(x)
    xv.register_hook(lambda g: -g)
    (f(xv, y) + extra(x)).backward()


def _one_pass_grad_then_backward(x, y, f, extra):
    """Lesson 06's autograd.grad method (helpers.compute_once.grad_then_backward), with extra."""
    extra(x).backward(retain_graph=True)
    grad_then_backward(x, y, f)


def _one_pass_grad_three_roots(x, y, f, extra):
    gx, gy = torch.autograd.grad(f(x, y), [x, y])
    torch.autograd.backward([x, y, extra(x)], [-gx, gy, torch.ones(())])


def _one_pass_detach_trick(x, y, f, extra):
    (f(2 * x.detach() - x, y) + extra(x)).backward()


def _two_passes_extra(x, y, f, extra):
    extra(x).backward(retain_graph=True)
    two_pass(x, y, f)


def _hook_on_x_extra(x, y, f, extra):
    x.register_hook(lambda g: -g)
    (f(x, y) + extra(x)).backward()


def _plain_extra(x, y, f, extra):
    (f(x, y) + extra(x)).backward()


def _swapped_extra(x, y, f, extra):
    (f(x, reverse_grad(y)) + extra(x)).backward()


def _no_extra(x, y, f, extra):
    f(reverse_grad(x), y).backward()


def _twice_through_f(x, y, f, extra):
    out = f(x, y)
    gx = torch.autograd.grad(out, x, retain_graph=True)[0]
    gy = torch.autograd.grad(out, y)[0]
    torch.autograd.backward([x, y, extra(x)], [-gx, gy, torch.ones(())])


def _reversal_scaled_2_extra(x, y, f, extra):
    (f(reverse_grad(x, 2.0), y) + extra(x)).backward()


def _reversal_scaled_half_extra(x, y, f, extra):
    (f(reverse_grad(x, 0.5), y) + extra(x)).backward()


def _hook_times_minus_2_extra(x, y, f, extra):
    handle = x.register_hook(lambda g: -2 * g)
    (f(x, y) + extra(x)).backward()
    handle.remove()


def _everything_negated_extra(x, y, f, extra):
    (-(f(reverse_grad(x), y) + extra(x))).backward()


def _one_pass_reversal_inputs(x, y, f, g):
    f(reverse_grad(x), y).backward(inputs=list(g.parameters()))


def _one_pass_grad_method(x, y, f, g):
    grad_then_backward(x, y, f)  # lesson 06's autograd.grad method: θ is never touched


def _one_pass_grad_inputs(x, y, f, g):
    gx, gy = torch.autograd.grad(f(x, y), [x, y])
    torch.autograd.backward([x, y], [-gx, gy], inputs=list(g.parameters()))


def _plain_hook(x, y, f, g):
    hook_on_x(x, y, f)


def _two_passes(x, y, f, g):
    two_pass(x, y, f)


def _reversal_plain(x, y, f, g):
    reversal(x, y, f)


def _swapped(x, y, f, g):
    h = y.register_hook(lambda grad: -grad)
    f(x, y).backward(inputs=list(g.parameters()))
    h.remove()


def _hook_not_removed(x, y, f, g):
    x.register_hook(lambda grad: -grad)
    f(x, y).backward(inputs=list(g.parameters()))


def _hook_then_zero_grad(x, y, f, g):
    h = x.register_hook(lambda grad: -grad)
    f(x, y).backward()
    h.remove()
    f.zero_grad()


def _nothing_flipped_inputs(x, y, f, g):
    f(x, y).backward(inputs=list(g.parameters()))


def _grads_assigned(x, y, f, g):
    params = list(g.parameters())
    grads = torch.autograd.grad(f(reverse_grad(x), y), params)
    for p, gp in zip(params, grads):
        p.grad = gp


def _theta_frozen(x, y, f, g):
    f.requires_grad_(False)
    f(reverse_grad(x), y).backward()


def _theta_frozen_and_restored(x, y, f, g):
    f.requires_grad_(False)
    f(reverse_grad(x), y).backward()
    f.requires_grad_(True)


def _hook_and_negated_extra(x, y, f, extra):  # right, oddly: the hook flips -extra back to +extra
    handle = x.register_hook(lambda g: -g)
    (f(x, y) - extra(x)).backward()
    handle.remove()


def _grads_accumulated_by_hand(x, y, f, g):
    params = list(g.parameters())
    for p, gp in zip(params, torch.autograd.grad(f(reverse_grad(x), y), params)):
        p.grad = gp if p.grad is None else p.grad + gp


def _theta_grads_restored_by_reference(x, y, f, g):  # wrong: backward adds into those very tensors
    saved = [p.grad for p in f.parameters()]
    f(reverse_grad(x), y).backward()
    for p, s in zip(f.parameters(), saved):
        p.grad = s


RIGHT |= {
    "06.1": [4, 4.0, torch.tensor(4.0), np.float64(4.0), [4.0],
             torch.tensor([[4.0]], dtype=torch.float16, requires_grad=True), np.array([[4.0]])],
    "06.2": [solution_function("06.2")(), _one_pass_view_hook, _one_pass_grad_then_backward,
             _one_pass_grad_three_roots, _one_pass_detach_trick, _hook_and_negated_extra],
    "06.3": [solution_function("06.3")(), _one_pass_reversal_inputs, _one_pass_grad_method, _one_pass_grad_inputs,
             _theta_frozen_and_restored, _grads_accumulated_by_hand],
}

WRONG += [
    ("06.1", None, "Not answered yet"),
    ("06.1", 2, "plain backward of f(x, y)"),
    ("06.1", 3, "answer for b = 2"),
    ("06.1", -4, "the sign is off"),
    ("06.1", 1, "l2's part only"),
    ("06.1", "4", "not a string"),
    ("06.1", 5.0, "add ∂f/∂y · b"),
    ("06.2", None, "Not answered yet"),
    ("06.2", _placeholder, "Not answered yet"),
    ("06.2", _two_passes_extra, "f was evaluated 2 times"),
    ("06.2", _hook_on_x_extra, "extra's gradient is flipped too"),
    ("06.2", _plain_extra, "nothing is flipped"),
    ("06.2", _swapped_extra, "signs are swapped"),
    ("06.2", _no_extra, "extra(x) got no gradient"),
    ("06.2", _twice_through_f, "backpropagated through f 2 times"),
    ("06.2", _raises, "one_pass raised RuntimeError"),
    ("06.2", _reversal_scaled_2_extra, "multiplied by -2, not by −1: reverse_grad(x, 2)"),
    ("06.2", _reversal_scaled_half_extra, "reversal scaled by λ = 0.5"),
    ("06.2", _hook_times_minus_2_extra, "multiplied by -2, not by −1 (and so is extra's"),
    ("06.2", _everything_negated_extra, "every sign is off"),
    ("06.2", lambda x, y, f, extra: f(x, y), "got no gradient"),
    ("06.3", None, "Not answered yet"),
    ("06.3", _placeholder, "Not answered yet"),
    ("06.3", "autograd.grad", "the function itself"),
    ("06.3", _plain_hook, "θ received ∂f/∂θ"),
    ("06.3", _reversal_plain, "Pass inputs=list(g.parameters())"),
    ("06.3", _two_passes, "f was evaluated 2 times — that is the two passes, and they leave θ.grad zeros"),
    ("06.3", _swapped, "signs are swapped"),
    ("06.3", _hook_not_removed, "handle.remove()"),
    ("06.3", _hook_then_zero_grad, "existing gradients were cleared"),
    ("06.3", _nothing_flipped_inputs, "nothing is flipped"),
    ("06.3", _grads_assigned, "existing gradients were overwritten"),
    ("06.3", _theta_frozen, "θ no longer requires grad"),
    ("06.3", _theta_grads_restored_by_reference, "θ's existing gradients changed"),
    ("06.3", _raises, "one_pass raised RuntimeError"),
]

RIGHT_CASES = [(ex, i, a) for ex, answers in RIGHT.items() for i, a in enumerate(answers)]


def counts():
    """{exercise: (right answers tried, wrong answers tried)}; solutions and None come on top."""
    return {ex: (len(RIGHT.get(ex, [])), sum(w[0] == ex for w in WRONG)) for ex in exercise_ids()}


# ---------------------------------------------------------------------------------------- tests ---------

def notebook_exercise_ids():
    ids = set()
    for path in (ROOT / "lessons").glob("[0-9][0-9]_*.py"):
        ids |= set(re.findall(r'check\("(\d\d\.\d+)"', path.read_text(encoding="utf-8")))
    return ids


def test_every_exercise_in_the_lessons_has_a_check_and_the_reverse():
    assert notebook_exercise_ids() == set(exercise_ids())


def test_every_lesson_has_at_least_two_exercises():
    per_lesson = {}
    for ex in exercise_ids():
        per_lesson.setdefault(ex.split(".")[0], []).append(ex)
    lessons = sorted(p.name[:2] for p in (ROOT / "lessons").glob("[0-9][0-9]_*.py"))
    assert sorted(per_lesson) == lessons
    assert all(len(v) >= 2 for v in per_lesson.values())


@pytest.mark.parametrize("exercise_id", [e for e in exercise_ids() if e[:2] <= "06"])
def test_counts(exercise_id):
    right, wrong = counts()[exercise_id]
    assert right >= 3 and wrong >= 6, (exercise_id, right, wrong)


@pytest.mark.parametrize("exercise_id", exercise_ids())
def test_solution_passes_its_check(exercise_id):
    feedback = check(exercise_id, solution_function(exercise_id)())
    assert isinstance(feedback, Feedback)
    assert feedback.correct, repr(feedback)
    assert repr(feedback).startswith(f"Exercise {exercise_id}: ✅ correct.")


@pytest.mark.parametrize("exercise_id", exercise_ids())
def test_unanswered_is_reported_as_such(exercise_id):
    for untouched in (None, ..., _placeholder):
        feedback = check(exercise_id, untouched)
        assert not feedback and "Not answered yet" in feedback.message


@pytest.mark.parametrize("exercise_id, index, answer", RIGHT_CASES, ids=[f"{c[0]}-{c[1]}" for c in RIGHT_CASES])
def test_right_answers_in_every_form_are_accepted(exercise_id, index, answer):
    answer = _answer(answer)
    state = torch.get_rng_state()
    feedback = check(exercise_id, answer)
    assert feedback.correct, repr(feedback)
    assert torch.equal(torch.get_rng_state(), state), "the check changed the global RNG"


@pytest.mark.parametrize("exercise_id, answer, hint", WRONG, ids=[f"{w[0]}-{w[2][:24]}" for w in WRONG])
def test_wrong_answers_get_specific_hints(exercise_id, answer, hint):
    answer = _answer(answer)
    state = torch.get_rng_state()
    feedback = check(exercise_id, answer)
    assert not feedback.correct
    assert hint in feedback.message, feedback.message
    assert "check itself failed" not in feedback.message
    assert torch.equal(torch.get_rng_state(), state), "the check changed the global RNG"


@pytest.mark.parametrize("exercise_id", exercise_ids())
def test_checks_leave_the_global_rng_and_grad_mode_alone(exercise_id):
    answer = solution_function(exercise_id)()  # solutions may draw from the global RNG themselves
    state = torch.get_rng_state()
    with torch.no_grad():
        feedback = check(exercise_id, answer)
        assert not torch.is_grad_enabled()
    assert feedback.correct, repr(feedback)  # and the check itself ran with grad mode on
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("exercise_id", ["01.3", "02.2", "03.3", "04.2", "04.3", "05.1", "05.3", "06.2", "06.3"])
def test_hard_coded_results_fail_because_the_inputs_are_random(exercise_id):
    """Two runs of a check draw different inputs: a result recorded from one run fails the next."""
    recorded = []

    def spy(*args):
        recorded.append([a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args])
        return solution_function(exercise_id)()(*args)

    assert check(exercise_id, spy).correct and check(exercise_id, spy).correct
    first, second = recorded[0], recorded[-1]
    tensors = [(u, v) for u, v in zip(first, second) if isinstance(u, torch.Tensor)]
    if exercise_id == "05.1":  # clip_hook(limit): the limit itself is drawn
        assert first[0] != second[0]
    else:
        assert tensors and any(not torch.equal(u, v) for u, v in tensors)


def test_float64_answers_are_never_blamed_on_dtype():
    for exercise_id, answer in [("02.2", _ste_float64), ("03.3", _two_losses_f64), ("04.2", _vjp_f64)]:
        feedback = check(exercise_id, answer)
        assert feedback.correct, repr(feedback)
        assert "Double" not in feedback.message


def test_a_check_that_fails_itself_is_not_blamed_on_the_learner(monkeypatch):
    import helpers.exercises.lesson01 as lesson01

    namespace = {}  # a bug in the check's own file (a lambda defined here would count as learner code)
    exec(compile("def close(*a, **k):\n    return 1 / 0\n", lesson01.__file__, "exec"), namespace)
    monkeypatch.setattr(lesson01, "close", namespace["close"])
    feedback = check("01.1", 29)
    assert not feedback.correct
    assert "The check itself failed (ZeroDivisionError" in feedback.message
    assert "not a verdict on your answer" in feedback.message


def test_lesson_06_methods_pass_06_2_and_06_3_as_the_lesson_says():
    assert check("06.2", _one_pass_grad_then_backward).correct  # autograd.grad method: two engine calls
    assert check("06.3", _one_pass_grad_method).correct  # leaves θ None as it is
    assert not check("06.3", _plain_hook).correct  # the accepted answer fills θ
    assert not check("06.3", _reversal_plain).correct


def test_unknown_exercise():
    with pytest.raises(KeyError, match="no exercise '99.9'"):
        check("99.9", 1)


def test_show_solution_prints_the_code(capsys):
    show_solution("01.3")
    assert "def solve_01_3" in capsys.readouterr().out


def print_counts():
    """``python -c "import tests.test_exercises as t; t.print_counts()"``: the answers the tests try."""
    table = counts()
    for ex, (right, wrong) in table.items():
        print(f"{ex}: {right} right, {wrong} wrong")
    print(f"total: {sum(r for r, _ in table.values())} right, {sum(w for _, w in table.values())} wrong")
