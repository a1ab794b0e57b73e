"""helpers.graphs: the text form states the graph, the picture is drawn, bad inputs are refused."""

import re
import shutil

import pytest
import torch

from helpers import graphs
from helpers.graphs import draw_graph

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def small_graph():
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = torch.tensor([0.5, 1.0, 2.0])
    loss = ((w * x).sum() - 4.0) ** 2
    return w, loss


def test_text_lists_nodes_in_order_with_kinds_and_named_leaves():
    w, loss = small_graph()
    text = repr(draw_graph(loss, {"w": w, "loss": loss}))
    assert text.splitlines()[:8] == [
        "autograd graph: 7 nodes, 6 edges",
        "  [0] loss ()  (output)",
        "  [1] PowBackward0",
        "  [2] SubBackward0",
        "  [3] SumBackward0",
        "  [4] MulBackward0",
        "  [5] AccumulateGrad",
        "  [6] w (3)  (leaf)",
    ]
    assert "  [6] w (3) -> [5] AccumulateGrad" in text
    assert "  [1] PowBackward0 -> [0] loss ()" in text


def test_text_is_identical_across_runs_and_free_of_addresses():
    texts = []
    for _ in range(3):
        w, loss = small_graph()
        texts.append(draw_graph(loss, {"w": w}).text)
    assert texts[0] == texts[1] == texts[2]
    assert not re.search(r"0x[0-9a-f]{6,}|\d{9,}", texts[0])


def test_unnamed_output_and_several_outputs():
    w, loss = small_graph()
    assert "[0] output ()  (output)" in draw_graph(loss).text
    both = draw_graph((loss, w * 2), {"w": w})
    assert "output 0 ()" in both.text and "output 1 (3)" in both.text
    # w's AccumulateGrad is shared: one node, reached from both outputs
    assert sum(n.label == "AccumulateGrad" for n in both.nodes) == 1


def test_repeated_input_gives_two_edges_like_torchviz():
    a = torch.tensor(2.0, requires_grad=True)
    pic = draw_graph(a * a, {"a": a})
    mul = next(n.index for n in pic.nodes if n.label == "MulBackward0")
    acc = next(n.index for n in pic.nodes if n.label == "AccumulateGrad")
    assert sum(1 for e in pic.edges if (e.source, e.target) == (acc, mul)) == 2


def test_view_output_shows_its_base():
    w = torch.randn(4, requires_grad=True)
    base = w * 2
    pic = draw_graph(base[:2], {"w": w})
    assert any(n.kind == "base" for n in pic.nodes)
    assert "(a view of it)" in pic.text


def test_leaf_output_is_a_single_node():
    w = torch.zeros(2, requires_grad=True)
    pic = draw_graph(w, {"w": w})
    assert [n.kind for n in pic.nodes] == ["output"] and pic.edges == []


class Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a.clone()

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad


def test_custom_function_before_and_after_backward():
    w = torch.ones(3, requires_grad=True)
    out = Reverse.apply(w * 2).sum()
    before = draw_graph(out, {"w": w})
    assert any(n.kind == "saved" for n in before.nodes)
    assert before.renderer == "torchviz"
    out.backward()
    after = draw_graph(out, {"w": w})  # torchviz 0.0.3's make_dot raises here
    assert "ReverseBackward" in after.text
    assert after.renderer == "helpers"
    assert any("freed by backward()" in n for n in after.notes)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchviz_itself_fails_where_we_fall_back():
    """Documents why the fallback exists: if torchviz is fixed, the fallback can go."""
    from torchviz import make_dot

    w = torch.ones(3, requires_grad=True)
    out = Reverse.apply(w * 2).sum()
    out.backward()
    with pytest.raises(RuntimeError):
        make_dot(out)


def test_long_chain_does_not_hit_the_recursion_limit():
    w = torch.ones(2, requires_grad=True)
    z = w
    for _ in range(2000):
        z = z * 1.0
    pic = draw_graph(z.sum(), {"w": w})
    assert len(pic.nodes) == 2004
    assert repr(pic).splitlines()[0] == "autograd graph: 2004 nodes, 2003 edges"
    assert "more nodes (see .text for all)" in repr(pic)
    assert len(pic.text.splitlines()) == 1 + 2004 + 1 + 2003


@needs_dot
def test_picture_is_a_png_and_deterministic():
    pngs = []
    for _ in range(2):
        w, loss = small_graph()
        pngs.append(draw_graph(loss, {"w": w})._repr_png_())
    assert pngs[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert pngs[0] == pngs[1]


@needs_dot
def test_torchviz_picture_has_the_same_nodes_as_the_text():
    w, loss = small_graph()
    pic = draw_graph((loss, w * 3), {"w": w}, show_saved=True)
    assert pic.renderer == "torchviz"
    names = set(re.findall(r"^\t(n\d+) \[", pic.dot.source, flags=re.M))
    assert len(names) == len(pic.nodes)
    labels = re.findall(r'^\tn\d+ \[label="?([^"\n\]]*)', pic.dot.source, flags=re.M)
    assert sorted(label.strip() for label in labels) == sorted(n.label for n in pic.nodes)


def test_without_graphviz_text_and_install_hint(monkeypatch):
    w, loss = small_graph()
    with_dot = repr(draw_graph(loss, {"w": w}))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert not graphs.graphviz_available()
    pic = draw_graph(loss, {"w": w})
    # the text (what nbval compares) is the same as with Graphviz; the install note is in the picture
    assert repr(pic) == with_dot and "autograd graph: 7 nodes, 6 edges" in repr(pic)
    assert "Graphviz" not in repr(pic) and graphs.INSTALL_HINT in pic.notes
    assert pic.png() is None
    note = pic._repr_png_()
    assert note[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(note[16:20], "big") == 900
    with pytest.raises(RuntimeError, match="no picture"):
        pic.save("/tmp/never.png")
    panel = graphs.side_by_side(one=pic, two=draw_graph(loss * 2, {"w": w}))
    assert "Graphviz" not in repr(panel) and panel._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("bad", [3.0, "loss", None, {"a": 1}])
def test_non_tensor_outputs_raise_type_error(bad):
    with pytest.raises(TypeError, match="tensor"):
        draw_graph(bad)


def test_sequence_with_non_tensor_raises_type_error():
    w, loss = small_graph()
    with pytest.raises(TypeError, match="output 1 is a int"):
        draw_graph([loss, 3])


def test_empty_sequence_raises_value_error():
    with pytest.raises(ValueError, match="at least one"):
        draw_graph([])


def test_detached_output_says_why():
    w, loss = small_graph()
    with pytest.raises(ValueError, match=r"does not require grad.*detached.*no_grad"):
        draw_graph(loss.detach())


def test_no_grad_output_says_why():
    w = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = w * 2
    with pytest.raises(ValueError, match="no_grad"):
        draw_graph(y)


def test_inference_mode_output_says_why():
    w = torch.ones(2, requires_grad=True)
    with torch.inference_mode():
        y = w * 2
    with pytest.raises(ValueError, match="inference_mode"):
        draw_graph(y)


def test_bad_params_raise_type_error():
    w, loss = small_graph()
    with pytest.raises(TypeError, match="map names to tensors"):
        draw_graph(loss, [w])
    with pytest.raises(TypeError, match="not a tensor"):
        draw_graph(loss, {"w": 1.0})
    with pytest.raises(TypeError, match="keys must be strings"):
        draw_graph(loss, {1: w})


def test_show_attrs_labels_use_torchviz():
    w, loss = small_graph()
    pic = draw_graph(loss, {"w": w}, show_attrs=True)
    assert any("exponent" in n.label for n in pic.nodes)  # PowBackward0's saved exponent


def test_a_saved_leaf_is_shown_as_the_leaf():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    pic = draw_graph((w * w).sum(), {"w": w}, show_saved=True)
    assert [n.kind for n in pic.nodes].count("leaf") == 1
    assert not any(n.kind == "saved" for n in pic.nodes)
    assert pic.text.count("w (2) is saved by [2] MulBackward0") == 2
    assert "[3] w (2) -> [4] AccumulateGrad" in pic.text


def test_side_by_side_titles_text_and_picture():
    from helpers.graphs import side_by_side

    w, loss = small_graph()
    a = draw_graph(loss, {"w": w})
    b = draw_graph((w * 3).sum(), {"w": w})
    panel = side_by_side(first_graph=a, **{"two-pass: l2": b})
    text = repr(panel)
    assert text.startswith("== first graph ==\nautograd graph: 7 nodes")
    assert "\n\n== two-pass: l2 ==\nautograd graph: 5 nodes" in text
    assert 'label="two-pass: l2"' in panel.dot.source and "cluster_1" in panel.dot.source
    if shutil.which("dot"):
        assert panel._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        side_by_side()
    with pytest.raises(TypeError, match="expected a picture from draw_graph"):
        side_by_side(a=loss)
