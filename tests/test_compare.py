"""helpers.compare: the max |Δ| table, the plot, and refusals of mismatched inputs."""

import pytest
import torch

from helpers.compare import collect_grads, compare_gradients


def grads(scale=1.0, noise=0.0):
    g = {"w": torch.tensor([[1.0, -2.0], [0.5, 4.0]]) * scale, "b": torch.tensor([0.25, -1.0]) * scale}
    g["w"] = g["w"] + noise
    return g


def test_identical_methods_give_zero_and_close():
    cmp = compare_gradients({"ref": grads(), "same": grads()})
    assert cmp.max_abs_diff == {"same": {"w": 0.0, "b": 0.0}}
    assert cmp.close == {"same": True}


def test_table_is_rounded_and_stable():
    cmp = compare_gradients({"two-pass": grads(), "hook": grads(noise=3e-8), "plain": grads(scale=-1.0)})
    assert cmp.table() == "\n".join([
        "max |Δ| against 'two-pass' (rounded to 6 decimals)",
        "parameter   hook      plain",
        "w           0.000000  8.000000",
        "b           0.000000  2.000000",
        "all close?  True      False",
    ])
    assert repr(cmp) == cmp.table()


def test_reference_can_be_chosen():
    cmp = compare_gradients({"a": grads(), "b": grads(scale=2.0)}, reference="b")
    assert cmp.reference == "b" and cmp.methods == ["a"]
    assert cmp.max_abs_diff["a"]["w"] == pytest.approx(4.0)


def test_devices_and_dtypes_are_compared_on_cpu_in_float64():
    a = {"p": torch.tensor([1.0, 2.0], dtype=torch.float32)}
    b = {"p": torch.tensor([1.0, 2.0], dtype=torch.float64)}
    assert compare_gradients({"a": a, "b": b}).close["b"]


def test_plot_has_one_panel_per_parameter():
    picture = compare_gradients({"ref": grads(), "x": grads(noise=0.1)}).plot()
    assert repr(picture) == "plot: gradients of x against 'ref', one panel per parameter (w, b)"
    assert picture._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture._repr_png_() == picture._repr_png_()
    fig = picture.figure
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["w", "b"]
    assert len(fig.legends) == 1 and [t.get_text() for t in fig.legends[0].get_texts()] == ["x"]
    assert "max |Δ|\nx: 0.1" in [t.get_text() for t in fig.axes[0].texts]


def _png_width(png):
    return int.from_bytes(png[16:20], "big")


@pytest.mark.parametrize("n_params, n_methods", [(1, 1), (4, 3), (5, 2)])
def test_plot_is_legible_at_notebook_width(n_params, n_methods):
    # lesson 06 plots 4 parameters of 3 methods; a notebook shows a picture at most ~900 px wide
    ref = {f"layer{i}.weight": torch.randn(6, 4) for i in range(n_params)}
    results = {"two-pass": ref}
    results.update({f"method {k}": {p: g + 0.01 * k for p, g in ref.items()} for k in range(n_methods)})
    picture = compare_gradients(results).plot()
    fig = picture.figure
    width = _png_width(picture.png())
    assert width <= 900
    shrink = min(1.0, 900 / width)
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text().strip() and t.get_visible()]
    assert texts
    smallest_px = min(t.get_fontsize() for t in texts) * 100 / 72 * shrink  # saved at 100 dpi
    assert smallest_px >= 12, smallest_px
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    assert sum(ax.get_visible() for ax in fig.axes) == n_params


def test_plot_draws_complex_gradients_by_parts_and_refuses_bad_max_points():
    a = {"z": torch.tensor([1 + 2j, -1 - 1j])}
    b = {"z": torch.tensor([1 + 2j, -1 + 1j])}
    cmp = compare_gradients({"a": a, "b": b})
    offsets = cmp.plot().figure.axes[0].collections[0].get_offsets()
    assert offsets.tolist() == [[1.0, 1.0], [2.0, 2.0], [-1.0, -1.0], [-1.0, 1.0]]
    for bad in (0, 2.5, None):
        with pytest.raises(ValueError, match="max_points"):
            cmp.plot(max_points=bad)


def test_mismatched_parameter_sets_name_missing_and_extra():
    other = {"w": grads()["w"], "c": torch.zeros(2)}
    with pytest.raises(ValueError, match=r"missing \['b'\], extra \['c'\]"):
        compare_gradients({"ref": grads(), "other": other})


def test_mismatched_shapes_raise():
    other = grads()
    other["b"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"shape \(3,\) in 'other' but \(2,\) in 'ref'"):
        compare_gradients({"ref": grads(), "other": other})


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="at least two"):
        compare_gradients({"only": grads()})
    with pytest.raises(ValueError, match="reference 'nope'"):
        compare_gradients({"a": grads(), "b": grads()}, reference="nope")
    with pytest.raises(TypeError, match="not a tensor"):
        compare_gradients({"a": grads(), "b": {"w": [1, 2], "b": grads()["b"]}})
    with pytest.raises(TypeError, match="must map parameter names"):
        compare_gradients({"a": grads(), "b": [1]})
    with pytest.raises(TypeError, match="results must map"):
        compare_gradients([grads(), grads()])


def test_collect_grads_copies_and_refuses_missing():
    lin = torch.nn.Linear(2, 1)
    lin(torch.ones(1, 2)).sum().backward()
    got = collect_grads(lin)
    assert set(got) == {"weight", "bias"}
    lin.weight.grad.zero_()
    assert got["weight"].abs().sum() > 0  # a copy, not the live .grad
    lin.bias.grad = None
    with pytest.raises(ValueError, match="'bias' has no .grad"):
        collect_grads(lin)


def test_complex_gradients_are_compared_by_modulus():
    a = {"z": torch.tensor([1 + 1j, 2 - 1j])}
    b = {"z": torch.tensor([1 - 1j, 2 - 1j])}  # same real parts: a real-part comparison says 0
    real = {"z": torch.tensor([1.0, 2.0])}
    cmp = compare_gradients({"a": a, "b": b, "real": real})
    assert cmp.max_abs_diff == {"b": {"z": 2.0}, "real": {"z": 1.0}}
    assert cmp.close == {"b": False, "real": False}
    assert compare_gradients({"a": a, "same": {"z": a["z"].clone()}}).close == {"same": True}


def test_empty_gradient_sets_are_refused():
    with pytest.raises(ValueError, match=r"results\['b'\] is empty"):
        compare_gradients({"a": grads(), "b": {}})
    with pytest.raises(ValueError, match=r"results\['a'\] is empty"):
        compare_gradients({"a": {}, "b": {}})


@pytest.mark.parametrize("kwargs, error, match", [
    ({"decimals": -1}, ValueError, "decimals"), ({"decimals": 2.5}, TypeError, "decimals"),
    ({"rtol": -1e-3}, ValueError, "rtol"), ({"atol": "0"}, TypeError, "atol"),
    ({"atol": float("nan")}, ValueError, "atol"),
])
def test_bad_tolerances_and_decimals(kwargs, error, match):
    with pytest.raises(error, match=match):
        compare_gradients({"a": grads(), "b": grads()}, **kwargs)


def test_names_must_be_strings():
    with pytest.raises(TypeError, match="method names must be strings"):
        compare_gradients({0: grads(), 1: grads()})
    with pytest.raises(TypeError, match="parameter names must be strings"):
        compare_gradients({"a": {0: torch.zeros(1)}, "b": {0: torch.zeros(1)}})


def _backward_through(lin):
    lin(torch.ones(1, 2)).sum().backward()
    return lin


@pytest.mark.parametrize("bad, error, match", [
    (None, TypeError, "named_params must be a module or a mapping"),
    (torch.zeros(2, requires_grad=True), TypeError, "got Tensor"),
    ("weight", TypeError, "got str"),
    (lambda lin: lin.named_parameters(), TypeError, r"dict\(model.named_parameters\(\)\); got generator"),
    (lambda lin: list(lin.parameters()), TypeError, "got list"),
    (lambda lin: list(lin.named_parameters()), TypeError, "got list"),
    (torch.nn.ReLU(), ValueError, "the module ReLU has no parameters"),
    ({}, ValueError, "named_params is empty"),
    ({"w": 3.0}, TypeError, r"named_params\['w'\] is a float"),
    ({1: torch.zeros(1)}, TypeError, "names must be strings"),
])
def test_collect_grads_refuses_bad_inputs(bad, error, match):
    lin = _backward_through(torch.nn.Linear(2, 1))
    if callable(bad) and not isinstance(bad, torch.nn.Module):
        bad = bad(lin)
    with pytest.raises(error, match=match):
        collect_grads(bad)


def test_collect_grads_says_why_a_grad_is_missing():
    frozen = torch.zeros(2)
    with pytest.raises(ValueError, match="'f' has no .grad: it does not require grad"):
        collect_grads({"f": frozen})
    lin = _backward_through(torch.nn.Linear(2, 1))
    assert set(collect_grads(dict(lin.named_parameters()))) == {"weight", "bias"}
