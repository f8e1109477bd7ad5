"""The book: pages built offline from executed notebooks, checked in a real headless browser.

    .venv/bin/python -m pytest tests/test_book.py -q     # needs Chromium (Debian: apt-get install chromium)

The browser loads each page from disk with no network: equations must be typeset by the bundled MathJax and
figures must be images carrying their data.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dense_rl.book import build
from dense_rl.paths import ROOT

FIGURE = re.compile(r'<img[^>]*src="data:image/png;base64,[A-Za-z0-9+/]{100}')
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium installed (apt-get install chromium) to render the pages headless"
)


def png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def executed_notebook():
    """What papermill leaves: an equation in Markdown and a code cell whose output is a figure."""
    cell = new_code_cell("figure", execution_count=1)
    cell.outputs = [new_output("display_data", data={"image/png": png(), "text/plain": "<Figure>"})]
    return new_notebook(
        cells=[new_markdown_cell("# GAE\n\n$$A_t = \\delta_t + \\gamma\\lambda A_{t+1}$$"), cell]
    )


def rendered(page) -> str:
    """The page's DOM after scripts ran (MathJax typesets within the virtual time budget), offline."""
    done = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000", "--dump-dom"]
        + [page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.stdout


def test_pages_and_index_are_written(tmp_path):
    nbformat.write(executed_notebook(), tmp_path / "05_x.ipynb")
    pages = build(tmp_path, tmp_path / "book")
    assert [p.name for p in pages] == ["05_x.html"]
    assert "05_x.html" in (tmp_path / "book" / "index.html").read_text() and "GAE" in pages[0].read_text()
    assert "mathjax/MathJax.js" in pages[0].read_text()  # the local copy, not a CDN
    assert (tmp_path / "book" / "mathjax" / "MathJax.js").exists()


def test_no_executed_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reproduce"):
        build(tmp_path, tmp_path / "book")


@needs_browser
@pytest.mark.slow
def test_equations_and_figures_render_offline(tmp_path):
    nbformat.write(executed_notebook(), tmp_path / "05_x.ipynb")
    dom = rendered(build(tmp_path, tmp_path / "book")[0])
    assert 'id="MathJax-Element-1-Frame"' in dom, "MathJax typeset no equation"
    assert FIGURE.search(dom), "the figure is not an image with its data"


@needs_browser
@pytest.mark.slow
def test_a_committed_executed_notebook_shows_its_figures(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "results" / "tiny" / "notebooks" / "02_ruff_attribution.ipynb", src)
    dom = rendered(build(src, tmp_path / "book")[0])
    assert FIGURE.search(dom)
