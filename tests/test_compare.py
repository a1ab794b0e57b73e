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
    assert fig.axes[0].get_legend() is not None


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
