"""Pictures stay legible at notebook width.

JupyterLab shows a PNG at its own size, shrunk to the width of the output area when it is wider; in a
1280-pixel window with the file browser open that area is about 845 pixels wide (Colab's is similar),
so :data:`DISPLAY_WIDTH` is 800. A picture's text is then ``text size × min(1, 800 / width)`` pixels
on screen, and must stay at least :data:`MIN_TEXT_PX` (8 px: smaller is hard to read).

* Every stored picture: its text, at the size the helpers draw it (10-point labels: 13.3 px for
  Graphviz at 96 dpi, 13.9 px for Matplotlib at 100 dpi), must not be shrunk below 8 px.
* Figures the helpers make (the gradient-comparison plot, up to lesson 06's four parameters): every
  piece of text — titles, labels, tick labels, legend — measured in the figure itself.
* Graphs: Graphviz draws them at full size (its ``size`` limit does not shrink them), side by side
  as lesson 06 shows four; gradient-flow pictures, which carry numbers on their edges, two by two.

tests/test_browser.py checks the same in the browser (the displayed/natural width of every image).
"""

import base64
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from helpers.compare import compare_gradients
from helpers.compute_once import METHODS, abs_difference, make_problem, reverse_grad, run_method, seed_example
from helpers.gradflow import gradient_flow
from helpers.gradflow import side_by_side as flows_side_by_side
from helpers.graphs import draw_graph, side_by_side

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DISPLAY_WIDTH = 800
MIN_TEXT_PX = 8.0
#: The smallest text the helpers draw, in pixels of the PNG: 10 points at 96 dpi (Graphviz).
PICTURE_TEXT_PX = 10 * 96 / 72

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def on_screen(px: float, width: int) -> float:
    """Text of ``px`` pixels in a picture ``width`` pixels wide, as JupyterLab shows it."""
    return px * min(1.0, DISPLAY_WIDTH / width)


def stored_pictures():
    for path in NOTEBOOKS:
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    yield pytest.param(base64.b64decode(output["data"]["image/png"]), id=f"{path.stem[:2]}-cell{i}")


@pytest.mark.parametrize("png", list(stored_pictures()))
def test_stored_picture_is_not_shrunk_below_legibility(png):
    width, _ = png_size(png)
    assert on_screen(PICTURE_TEXT_PX, width) >= MIN_TEXT_PX, (
        f"a picture {width} px wide is shown at {DISPLAY_WIDTH / width:.2f} of its size: its text becomes "
        f"{on_screen(PICTURE_TEXT_PX, width):.1f} px. Draw it narrower (fewer panels in a row) or larger text")


def smallest_text_px(figure) -> tuple[float, str]:
    """The smallest visible text of a Matplotlib figure on screen, in pixels, and what it says."""
    figure.canvas.draw()  # lays out the figure (constrained layout, legends, tick labels)
    width = figure.get_figwidth() * 100  # FigurePicture saves at 100 dpi
    sizes = [(on_screen(t.get_fontsize() * 100 / 72, width), t.get_text())
             for t in figure.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_visible() and t.get_text().strip()]
    return min(sizes)


@pytest.mark.parametrize("params", [1, 2, 4])
def test_gradient_comparison_plot_is_legible(params):
    problem = make_problem(n=16, dim_in=4, dim=4, width=8, seed=0)
    results = {name: run_method(method, problem) for name, method in METHODS.items()}
    results = {name: dict(list(grads.items())[:params]) for name, grads in results.items()}
    picture = compare_gradients(results).plot()
    px, text = smallest_text_px(picture.figure)
    assert px >= MIN_TEXT_PX, f"{text!r} is {px:.1f} px on screen"


def graphviz_scale(dot_source: str) -> float:
    """The factor by which Graphviz shrinks a drawing to fit its ``size`` (1: not shrunk)."""
    plain = subprocess.run(["dot", "-Tplain"], input=dot_source, capture_output=True, text=True, check=True).stdout
    return float(plain.split()[1])


@needs_dot
def test_graphs_are_drawn_at_full_size_even_four_side_by_side():
    g, a, b = seed_example()
    x, y = g(a), g(b)
    names = {"w": g.weight, "a": a, "b": b}
    panel = side_by_side(**{
        "two-pass: l1": draw_graph(abs_difference(x.detach(), y), names),
        "two-pass: l2": draw_graph(-abs_difference(x, y.detach()), names),
        "hook, autograd.grad: f(x, y)": draw_graph(abs_difference(x, y), names),
        "reversal": draw_graph(abs_difference(reverse_grad(x), y), names),
    })
    assert graphviz_scale(panel.dot.source) == 1.0
    width, _ = png_size(panel.png())
    assert on_screen(PICTURE_TEXT_PX, width) >= MIN_TEXT_PX, width


@needs_dot
def test_gradient_flow_pictures_are_legible():
    flows = {}
    for name, method in METHODS.items():
        g, a, b = seed_example()
        x, y = g(a), g(b)
        with gradient_flow([x, y], {"w": g.weight, "x": x, "y": y}) as flows[name.replace(".", "_")]:
            method(x, y, abs_difference)
    pairs = [flows_side_by_side(two_pass=flows["two-pass"], hook=flows["hook"]),  # lesson 06 shows two pairs:
             flows_side_by_side(autograd_grad=flows["autograd_grad"], reversal=flows["reversal"])]
    four = flows_side_by_side(**{k.replace("-", "_"): v for k, v in flows.items()})
    assert png_size(four.png())[0] > 1330  # all four in a row would be too wide
    for picture in [*flows.values(), *pairs]:
        assert graphviz_scale(picture.dot.source) == 1.0
        width, _ = png_size(picture.png())
        assert on_screen(PICTURE_TEXT_PX, width) >= MIN_TEXT_PX, width


def test_the_check_catches_a_figure_with_four_panels_in_a_row():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 3.5), layout="constrained")
    for ax in fig.subplots(1, 4):
        ax.plot([0, 1], [0, 1], label="hook")
        ax.legend(fontsize=8)
    px, text = smallest_text_px(fig)
    assert px < MIN_TEXT_PX and text == "hook"
    assert on_screen(PICTURE_TEXT_PX, 1600) < MIN_TEXT_PX
