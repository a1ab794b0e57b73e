"""tools/build_site.py: what goes into the site (no MkDocs run here; tests/test_browser_site.py builds the
site and checks it in a browser)."""

import base64
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402

from helpers.project import REPO_URL, binder_url, colab_url  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


@pytest.mark.parametrize("link, site", [
    ("[lesson 02](02_detach.ipynb)", "[lesson 02](../02_detach/)"),
    ("[§7](04_autograd_grad.ipynb#7-the-seed)", "[§7](../04_autograd_grad/#7-the-seed)"),
    ("[code](../helpers/compute_once.py)", f"[code]({REPO_URL}/blob/main/helpers/compute_once.py)"),
    ("[docs](https://pytorch.org/docs)", "[docs](https://pytorch.org/docs)"),
    ("[above](#summary)", "[above](#summary)"),
    ("f(x)[0](y) no link", "f(x)[0](y) no link"),
])
def test_links_point_at_pages_or_github(link, site):
    assert build_site.rewrite_links(link) == site


def test_index_lists_every_lesson_of_the_readme_table_with_launch_links():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = build_site.index_page(readme)
    rows = build_site.lesson_rows(readme)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows) and rows
    for row in rows:
        stem = row[1].split("(notebooks/")[1].split(".ipynb")[0]
        assert f"]({stem}.ipynb)" in page
        assert colab_url(f"notebooks/{stem}.ipynb") in page
        assert binder_url(f"lab/tree/notebooks/{stem}.ipynb") in page
    assert page.startswith("# Autograd Workshop\n") and "[![" not in page
    assert "Read the lessons online" in readme and "Read the lessons online" not in page  # no self-link


def test_index_refuses_a_table_row_it_cannot_read():
    with pytest.raises(ValueError, match="row 01"):
        build_site.index_page("# T\n\n## Lessons\n\n| # | L |\n|---|---|\n| 01 | no link | x | 5 min |\n")


def make_lesson(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(
            "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://x)\n\n# 09 · Title"),
        nbformat.v4.new_markdown_cell("## 1. `grad_fn` and [lesson 02](02_detach.ipynb)\n\nThe loss curve. More."),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": PNG, "text/plain": "<Figure size 640x480 with 1 Axes>"})]),
        nbformat.v4.new_code_cell("draw()", outputs=[nbformat.v4.new_output(
            "execute_result", data={"image/png": PNG, "text/plain": 'autograd graph: 2 nodes\n  [0] "a" <b>'}),
            nbformat.v4.new_output("stream", text="printed\n")]),
    ])
    path = tmp_path / "09_title.ipynb"
    nbformat.write(nb, path)
    return path


def test_lesson_copy_has_buttons_plain_headings_and_pictures_as_files_with_alt_text(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    target, pictures = build_site.prepare_notebook(make_lesson(tmp_path), docs)
    nb = nbformat.read(target, as_version=4)
    first = nb.cells[0].source
    assert "colab-badge.svg" not in first and "Open in Colab</a>" in first and "Launch on Binder</a>" in first
    assert nb.cells[1].source.startswith("## 1. grad_fn and [lesson 02](../02_detach/)")
    assert pictures == 2
    plot, graph = nb.cells[2].outputs[0], nb.cells[3].outputs[0]
    assert plot.data == {"text/html": '<img src="../images/09_title-02-0.png" alt="Plot: The loss curve.">'}
    assert graph.data["text/html"] == ('<img src="../images/09_title-03-0.png" '
                                       'alt="autograd graph: 2 nodes\n  [0] &quot;a&quot; &lt;b&gt;">')
    assert nb.cells[3].outputs[1].text == "printed\n"
    assert (docs / "images" / "09_title-03-0.png").read_bytes() == base64.b64decode(PNG)


def test_every_stored_picture_gets_alt_text(tmp_path):
    counts = build_site.prepare(tmp_path / "docs")
    assert set(counts) == {p.stem for p in NOTEBOOKS}
    for path in (tmp_path / "docs").glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                assert "image/png" not in output.get("data", {}), path.name
                img = output.get("data", {}).get("text/html", "")
                if img.startswith("<img"):
                    assert 'alt="' in img and 'alt=""' not in img
    assert len(list((tmp_path / "docs" / "images").glob("*.png"))) == sum(counts.values())
    assert (tmp_path / "docs" / "index.md").is_file()


def test_mkdocs_config_reads_the_prepared_folder_and_executes_nothing():
    text = (ROOT / "mkdocs.yml").read_text()
    assert "docs_dir: artifacts/site-docs" in text and "site_dir: artifacts/site" in text
    assert "execute: false" in text and "navigation.footer" in text and "font: false" in text
    assert build_site.DOCS == ROOT / "artifacts" / "site-docs"


def test_the_site_script_needs_no_pytorch():
    """The Pages workflow installs only the site generator's packages."""
    import subprocess

    code = "import sys, build_site; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "tools", capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    workflow = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert "python tools/build_site.py" in workflow and "path: artifacts/site" in workflow


def test_lesson_copy_leaves_out_the_setup_cell(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    source = ROOT / "notebooks" / "01_autograd_graph.ipynb"
    stored = nbformat.read(source, as_version=4)
    assert any(c.cell_type == "code" and c.source == build_site.BOOTSTRAP_CELL for c in stored.cells)
    target, _ = build_site.prepare_notebook(source, docs)
    copy = nbformat.read(target, as_version=4)
    assert not any(c.cell_type == "code" and c.source == build_site.BOOTSTRAP_CELL for c in copy.cells)
    assert len(copy.cells) == len(stored.cells) - 1


@pytest.mark.parametrize("code, shown", [
    ("# NBVAL_IGNORE_OUTPUT\nt = time()", "t = time()"),
    ("# NBVAL_IGNORE_OUTPUT (timings)\nt = time()", "# (timings)\nt = time()"),
    ("x = 1\n    # NBVAL_RAISES_EXCEPTION\ny", "x = 1\ny"),
    ("print('# NBVAL_ in a string')", "print('# NBVAL_ in a string')"),
])
def test_code_on_the_site_has_no_test_markers(code, shown):
    assert build_site.strip_markers(code) == shown


def test_lesson_page_numbers_cells_from_one_and_links_its_download(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    source = make_lesson(tmp_path)
    target, _ = build_site.prepare_notebook(source, docs)
    nb = nbformat.read(target, as_version=4)
    assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2]
    assert 'href="../downloads/09_title.ipynb" download' in nb.cells[0].source
    assert nb.cells[0].source.startswith("# 09 · Title\n\n<div class=\"launch\">")
    assert (docs / "downloads" / "09_title.ipynb").read_bytes() == source.read_bytes()


def test_wide_pictures_keep_a_legible_scale_and_scroll():
    png = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (1131).to_bytes(4, "big") + (811).to_bytes(4, "big")
    html = build_site.picture_html("../images/a.png", "alt", png)
    assert 'class="picture-scroll"' in html and 'width="1131" height="811"' in html
    assert f"max(100%, {round(1131 * build_site.MIN_SCALE)}px)" in html


def test_front_page_says_how_to_run_the_lessons_locally():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = build_site.index_page(readme, slides=True)
    assert f"git clone {REPO_URL}.git" in page and "python3 workshop.py lab" in page
    assert "workshop.py site" not in page.split("## Run the lessons on your machine")[1]  # the optional one
    assert 'lesson-table' in page and ".slides.html" in page
