"""helpers/node_hooks.py: the hook trace of lesson 10 and the two alias methods."""

import pytest
import torch

from helpers.compare import compare_gradients
from helpers.compute_once import make_problem, run_method, two_pass
from helpers.node_hooks import HookTrace, hook_on_alias, prehook_on_alias


def traced_backward():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    h = w * 3
    h.retain_grad()
    trace = HookTrace(watch={"h.grad": lambda: h.grad, "w.grad": lambda: w.grad})
    acc = h.grad_fn.next_functions[0][0]
    h.register_hook(trace.tensor_hook("t h", change=lambda g: g * 10))
    h.grad_fn.register_prehook(trace.prehook("pre mul", change=lambda g: g + 1))
    h.grad_fn.register_hook(trace.posthook("post mul"))
    w.register_hook(trace.tensor_hook("t w"))
    acc.register_prehook(trace.prehook("pre acc"))
    w.register_post_accumulate_grad_hook(trace.post_accumulate("post-acc w"))
    acc.register_hook(trace.posthook("post acc"))
    h.sum().backward()
    return trace, h, w


def test_order_is_the_engines():
    trace, _, _ = traced_backward()
    assert trace.order() == ["t h", "pre mul", "post mul", "t w", "pre acc", "post-acc w", "post acc"]


def test_retain_grad_runs_before_node_prehooks():
    trace, h, w = traced_backward()
    assert trace["t h"].saw("h.grad") == "None"
    assert trace["pre mul"].saw("h.grad") == "[10, 10]"
    assert h.grad.tolist() == [10.0, 10.0]  # the pre-hook's +1 is not in h.grad
    assert trace["post mul"].received == "[33, 33]"
    assert w.grad.tolist() == [33.0, 33.0]
    assert trace["pre acc"].saw("w.grad") == "None"
    assert trace["post-acc w"].received == "[33, 33]"
    assert trace["post acc"].received == "None"  # AccumulateGrad has no grad_inputs


def test_text_form_is_a_table():
    trace, _, _ = traced_backward()
    lines = repr(trace).splitlines()
    assert lines[0].split() == ["step", "hook", "kind", "received", "h.grad", "w.grad"]
    assert len(lines) == 8
    assert "Node pre-hook" in lines[2] and "post-accumulate-grad hook" in lines[6]
    assert repr(HookTrace()) == "no hook has run yet"


def test_posthook_change_replaces_grad_inputs():
    w = torch.tensor([2.0], requires_grad=True)
    h = w * 5
    trace = HookTrace()
    h.grad_fn.register_hook(trace.posthook("post", change=lambda g: -g))
    h.sum().backward()
    assert w.grad.item() == -5.0


def test_errors():
    with pytest.raises(TypeError):
        HookTrace(watch={"x": 3})
    trace = HookTrace()
    with pytest.raises(TypeError):
        trace.tensor_hook("")
    with pytest.raises(TypeError):
        trace.prehook("p", change=5)
    with pytest.raises(KeyError):
        trace["nothing"]
    t, _, _ = traced_backward()
    with pytest.raises(KeyError):
        t["t h"].saw("z.grad")


@pytest.mark.parametrize("method", [prehook_on_alias, hook_on_alias])
def test_alias_methods_match_two_passes_and_leave_x_clean(method):
    p = make_problem(n=32, width=16)
    ref = run_method(two_pass, p)
    got = run_method(method, p)
    assert all(compare_gradients({"ref": ref, "m": got}).close.values())
    x, y = p.features()
    method(x, y, p.f)
    assert not x._backward_hooks  # the hook was on the alias, not on x


@pytest.mark.parametrize("method", [prehook_on_alias, hook_on_alias])
def test_alias_flip_lost_when_f_changes_its_input_in_place(method):
    p = make_problem(n=32, width=16)
    f = p.f
    p.f = lambda x, y: f(x.relu_(), y)
    got = run_method(method, p)
    plain = run_method(lambda x, y, ff: ff(x, y).backward(), p)
    assert all(torch.equal(got[k], plain[k]) for k in got)


def test_retain_grad_called_last_still_runs_before_node_prehooks():
    w = torch.tensor([1.0], requires_grad=True)
    h = w * 3
    h.grad_fn.register_prehook(lambda go: (go[0] + 1,))
    h.register_hook(lambda g: g * 10)
    h.retain_grad()  # called after both registrations
    h.sum().backward()
    assert h.grad.item() == 10.0 and w.grad.item() == 33.0


@pytest.mark.parametrize("method", [prehook_on_alias, hook_on_alias])
def test_alias_flip_kept_when_f_gets_a_clone(method):
    # the flip is lost only because the alias is a view: a clone keeps the hooked node on the path
    p = make_problem(n=32, width=16)
    f = p.f
    p.f = lambda x, y: f(x.relu_(), y)
    ref = run_method(two_pass, p)
    got = run_method(lambda x, y, ff: method(x, y, lambda a, b: ff(a.clone(), b)), p)
    assert all(compare_gradients({"ref": ref, "m": got}).close.values())


def test_node_prehook_skipped_by_autograd_grad_of_its_tensor():
    w = torch.tensor([1.0], requires_grad=True)
    h = w * 3
    h.retain_grad()
    ran = []
    h.register_hook(lambda g: ran.append("tensor"))
    h.grad_fn.register_prehook(lambda go: ran.append("pre"))
    torch.autograd.grad((h * 4).sum(), h)
    assert ran == ["tensor"] and h.grad.item() == 4.0
