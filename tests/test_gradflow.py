"""helpers.gradflow: the recorded gradients are the true ones, recording changes nothing, hooks go away."""

import re
import shutil

import pytest
import torch

from helpers.compute_once import METHODS, abs_difference, reverse_grad, seed_example
from helpers.gradflow import GradientFlow, format_grad, gradient_flow, side_by_side

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def seed_with_hook():
    g, a, b = seed_example()
    x, y = g(a), g(b)
    x.register_hook(lambda grad: -grad)
    loss = abs_difference(x, y)
    return g, x, y, loss


def test_seed_example_hook_turns_minus_one_into_plus_one_and_w_sums_two_and_one():
    g, x, y, loss = seed_with_hook()
    with gradient_flow(loss, {"w": g.weight, "x": x, "y": y, "loss": loss}) as flow:
        loss.backward()
    lines = flow.text.splitlines()
    assert "  [3] SubBackward0 -> [4] SqueezeBackward4 (x): [-1]" in lines
    assert "  [3] SubBackward0 -> [9] SqueezeBackward4 (y): [1]" in lines
    assert "  [4] SqueezeBackward4 (x): hook: arrived [-1], passed on [1]" in lines
    assert "  [6] TBackward0 -> [7] AccumulateGrad: [[1]]" in lines
    assert "  [11] TBackward0 -> [7] AccumulateGrad: [[2]]" in lines
    assert "  [7] AccumulateGrad: [[1]] + [[2]] = [[3]]" in lines
    assert "  w (1, 1): .grad receives [[3]]" in lines
    assert "  loss (): gradient 1" in lines
    assert g.weight.grad.item() == 3.0
    assert repr(flow) == flow.text


def test_without_a_hook_no_hook_line_and_w_gets_one():
    g, a, b = seed_example()
    x, y = g(a), g(b)
    loss = abs_difference(x, y)
    with gradient_flow(loss, {"w": g.weight}) as flow:
        loss.backward()
    assert "hook:" not in flow.text
    assert "  [7] AccumulateGrad: [[-1]] + [[2]] = [[1]]" in flow.text.splitlines()
    assert g.weight.grad.item() == 1.0


def test_leaf_hook_shows_what_arrived_and_what_went_into_grad():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    w.register_hook(lambda grad: grad * 10)
    loss = (w * torch.tensor([3.0, 0.5])).sum()
    with gradient_flow(loss, {"w": w}) as flow:
        loss.backward()
    assert "AccumulateGrad: hook: arrived [3, 0.5], passed on [30, 5]" in flow.text
    assert "  w (2): .grad receives [30, 5]" in flow.text.splitlines()
    assert "MulBackward0 -> input 1: not sent (it does not require grad)" in flow.text


def grads_of(build, capture: bool):
    torch.manual_seed(0)
    leaves, loss = build()
    if capture:
        with gradient_flow(loss, {f"p{i}": p for i, p in enumerate(leaves)}):
            loss.backward()
    else:
        loss.backward()
    return [p.grad.clone() for p in leaves]


def seed_built():
    g, x, y, loss = seed_with_hook()
    return [g.weight], loss


def mlp_built():
    lin = torch.nn.Linear(5, 3)
    h = torch.tanh(lin(torch.randn(7, 5)))
    h.register_hook(lambda grad: grad * 0.5)
    return list(lin.parameters()), (h * h).sum() + h.mean()


def reversal_built():
    w = torch.randn(3, requires_grad=True)
    z = w * 2
    return [w], (reverse_grad(z, 0.3) * z).sum()


@pytest.mark.parametrize("build", [seed_built, mlp_built, reversal_built])
def test_recording_changes_no_gradient(build):
    plain, recorded = grads_of(build, capture=False), grads_of(build, capture=True)
    assert all(torch.equal(p, r) for p, r in zip(plain, recorded))


def test_hooks_are_removed_when_the_block_ends():
    w = torch.tensor(2.0, requires_grad=True)
    loss = w * w * 3
    with gradient_flow(loss, {"w": w}) as flow:
        loss.backward(retain_graph=True)
    before = flow.text
    loss.backward()  # outside the block: recorded nowhere
    assert flow.text == before and "  w (): .grad receives 12" in before.splitlines()
    assert flow._handles == []
    assert w.grad.item() == 24.0


def test_several_passes_inside_the_block_are_summed():
    w = torch.tensor(2.0, requires_grad=True)
    loss = w * 5
    with gradient_flow(loss, {"w": w}) as flow:
        loss.backward(retain_graph=True)
        loss.backward()
    assert "  w (): .grad receives 10" in flow.text.splitlines()


def test_detach_cuts_the_edge_and_no_gradient_reaches_x():
    g, a, b = seed_example()
    x, y = g(a), g(b)
    loss = abs_difference(x.detach(), y)
    with gradient_flow(loss, {"w": g.weight}) as flow:
        loss.backward()
    assert "  [3] SubBackward0 -> input 0: not sent (it does not require grad)" in flow.text.splitlines()
    assert "  w (1, 1): .grad receives [[2]]" in flow.text.splitlines()
    assert "+" not in flow.text  # one contribution only: the path through x is gone


def test_custom_function_flips_the_sign_on_its_edge():
    z = torch.tensor(2.0, requires_grad=True)
    loss = reverse_grad(z) * 3
    with gradient_flow(loss, {"z": z}) as flow:
        loss.backward()
    lines = flow.text.splitlines()
    assert "  [1] MulBackward0 -> [2] GradReverseBackward: 3" in lines
    assert "  [2] GradReverseBackward -> [3] AccumulateGrad: -3" in lines
    assert z.grad.item() == -3.0


def test_a_tensor_used_twice_by_one_node_gets_two_contributions():
    a = torch.tensor(3.0, requires_grad=True)
    loss = a * a
    with gradient_flow(loss, {"a": a}) as flow:
        loss.backward()
    assert "  [2] AccumulateGrad: 3 + 3 = 6" in flow.text.splitlines()


def test_four_methods_of_lesson_06_all_give_three():
    flows = {}
    for name, method in METHODS.items():
        g, a, b = seed_example()
        x, y = g(a), g(b)
        with gradient_flow([x, y], {"w": g.weight, "x": x, "y": y}) as flow:
            method(x, y, abs_difference)
        flows[name.replace("-", "_").replace(".", "_")] = flow
        assert "  w (1, 1): .grad receives [[3]]" in flow.text.splitlines(), name
    panel = side_by_side(**flows)
    assert "== two pass ==" in repr(panel) and repr(panel).count("receives [[3]]") == 4


def test_large_tensors_show_shape_and_norm():
    w = torch.ones(3, 4, requires_grad=True)
    loss = (w * 2).sum()
    with gradient_flow(loss, {"w": w}) as flow:
        loss.backward()
    assert "  w (3, 4): .grad receives shape (3, 4), norm 6.928" in flow.text.splitlines()


@pytest.mark.parametrize("value, text", [
    (torch.tensor(-0.0), "0"), (torch.tensor(1 / 3), "0.3333"), (torch.tensor([1e-7, 12345.678]), "[1e-07, 1.235e+04]"),
    (torch.tensor([[1.0], [2.0]]), "[[1], [2]]"), (None, "none"), (torch.zeros(5), "shape (5), norm 0"),
    (torch.tensor(2.5, dtype=torch.float16), "2.5"),
])
def test_format_grad(value, text):
    assert format_grad(value) == text


def test_text_is_the_same_without_graphviz(monkeypatch):
    g, x, y, loss = seed_with_hook()
    with gradient_flow(loss, {"w": g.weight, "x": x}) as flow:
        loss.backward()
    with_dot = repr(flow)
    monkeypatch.setenv("PATH", "/nonexistent")
    flow._png = None
    assert flow.png() is None and flow._repr_png_() is None
    assert repr(flow) == with_dot
    assert not re.search(r"0x[0-9a-f]{6,}", with_dot)


@needs_dot
def test_picture_is_a_png_with_the_gradients_on_its_edges():
    g, x, y, loss = seed_with_hook()
    with gradient_flow(loss, {"w": g.weight, "x": x, "y": y}) as flow:
        loss.backward()
    png = flow.png()
    assert png.startswith(b"\x89PNG") and flow._repr_png_() == png
    source = flow.dot.source
    assert "hook: [-1] → [1]" in source and "[[1]] + [[2]] = [[3]]" in source
    assert source.count("no grad") == 2  # the constant inputs a and b
    assert flow.dot.source == source  # deterministic


@pytest.mark.parametrize("bad", [None, 3.0, "loss"])
def test_outputs_must_be_tensors(bad):
    with pytest.raises(TypeError, match="tensor"):
        gradient_flow(bad)


def test_outputs_must_require_grad():
    with pytest.raises(ValueError, match="does not require grad"):
        gradient_flow(torch.ones(2))


def test_params_must_map_names_to_tensors():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="params"):
        gradient_flow(w * 2, [w])
    with pytest.raises(TypeError, match=r"params\['w'\]"):
        gradient_flow(w * 2, {"w": 1.0})


def test_side_by_side_refuses_other_things():
    with pytest.raises(ValueError, match="at least one"):
        side_by_side()
    with pytest.raises(TypeError, match="hook: expected a GradientFlow"):
        side_by_side(hook="picture")
    assert isinstance(gradient_flow(torch.ones(1, requires_grad=True) * 2), GradientFlow)
