"""The book: an HTML site of the executed notebooks, built offline without running them again.

    python -m dense_rl.book                     # results/tiny/notebooks/*.ipynb -> scratch/book/index.html
    python -m dense_rl.book --src DIR --out DIR
    make book                                   # the same

Each executed notebook (what `make reproduce` left under results/<scale>/notebooks/) becomes one page through
nbconvert's HTML exporter with its outputs as they are: figures are embedded as data, nothing is executed.
Equations render offline: MathJax 2.7 ships in the PyPI package jupyter-server-mathjax; its files are copied
beside the pages and nbconvert's `mathjax_url` points at that copy (nbconvert's default is a CDN). An index
page lists the notebooks with their titles.

What is not offline: the page templates may point at a CDN for require.js or Mermaid, which these notebooks
do not use; pages render without them. Jupyter Book is not used: version 2 fetches its theme from the network.
"""

from __future__ import annotations

import argparse
import html
import shutil
import time
from pathlib import Path

import nbformat

from dense_rl.paths import ROOT, shown

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"


def mathjax_dir() -> Path:
    """The MathJax 2.7 files of the jupyter-server-mathjax package (a kit dependency)."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise FileNotFoundError(
            "jupyter-server-mathjax is not installed: "
            "`.venv/bin/python -m pip install -c constraints.txt -e .` installs it "
            "(it carries the MathJax files the book renders equations with)"
        ) from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def title_of(nb) -> str:
    """The notebook's first Markdown heading, else ''."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def build(src: Path, out: Path) -> list[Path]:
    """Write one page per notebook in `src`, the MathJax copy and index.html into `out`; returns the pages."""
    from nbconvert import HTMLExporter

    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks in {shown(src)}: run `make reproduce` first")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(mathjax_dir(), out / "mathjax", dirs_exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    exporter.mathjax_url = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    pages, rows = [], []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
        rows.append(
            f'<li><a href="{page.name}">{html.escape(path.stem)}</a> {html.escape(title_of(nb))}</li>'
        )
    index = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>dense-rl: the notebooks</title></head>\n'
        "<body><h1>dense-rl: the executed notebooks</h1>\n"
        f"<p>Executed by <code>make reproduce</code> ({html.escape(shown(src))}); "
        "nothing was run again.</p>\n"
        f"<ol>\n{chr(10).join(rows)}\n</ol></body></html>\n"
    )
    (out / "index.html").write_text(index, encoding="utf-8")
    return pages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the HTML book of the executed notebooks (offline).")
    parser.add_argument("--src", type=Path, default=ROOT / "results" / "tiny" / "notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "scratch" / "book")
    args = parser.parse_args(argv)
    t0 = time.time()
    pages = build(args.src, args.out)
    print(f"[book] {len(pages)} pages in {time.time() - t0:.1f} s: open {shown(args.out / 'index.html')}")


if __name__ == "__main__":
    main()
