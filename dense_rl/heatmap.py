"""Token heat-maps: a per-token reward shown on the text its tokens wrote, as a figure (or HTML).

    from dense_rl.heatmap import token_heatmap, token_heatmaps
    text, spans, values = batch.responses[0], batch.token_spans[0], out.per_token[0]
    token_heatmap(text, spans, values, title="syntax", out_png="results/tiny/figures/syntax.png")
    token_heatmaps([("dense", text, spans, dense[0]), ("sparse", text, spans, sparse[0])])  # one scale

Red is negative, green positive, white zero, on a symmetric scale [-vmax, +vmax] shown by a colour bar:
`vmax` is the largest |value| drawn unless given, and `token_heatmaps` draws several answers on ONE scale,
so that they can be compared. Token boundaries are drawn and whitespace is made visible (· space, → tab,
↵ newline). `token_heatmap_html` is the same idea as coloured HTML spans (hover for a token's value) with
a legend line. Shared by the reward notebooks and the robot notebook; nothing here computes a reward.
Figures are `matplotlib.figure.Figure` objects (not pyplot): a notebook shows each one once, when it
displays the returned figure.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import torch

VISIBLE = {" ": "·", "\t": "→", "\n": "↵"}
CHAR_INCHES = 0.11  # width of one character cell in the figure
MAX_WIDTH_INCHES = 16.0


def _tokens_and_values(
    text: str, spans: Sequence[tuple[int, int]], values: Sequence[float] | torch.Tensor
) -> tuple[list[str], list[float]]:
    """Each token's text and value; values beyond the tokens (padding) are dropped."""
    if isinstance(values, torch.Tensor):
        values = values.detach().flatten().tolist()
    if len(values) < len(spans):
        raise ValueError(f"heat-map: {len(values)} values for {len(spans)} tokens; pass one value per token")
    return [text[s:e] for s, e in spans], [float(v) for v in values[: len(spans)]]


def colour(value: float, vmax: float) -> tuple[float, float, float, float]:
    """RGBA of a value: green for positive, red for negative, alpha = |value| / vmax (at most 1)."""
    strength = min(abs(value) / vmax, 1.0) if vmax > 0 else 0.0
    return (0.1, 0.65, 0.2, strength) if value > 0 else (0.85, 0.15, 0.1, strength)


def _scale(values: list[float], vmax: float | None) -> float:
    return vmax if vmax is not None else max((abs(v) for v in values), default=0.0) or 1.0


def _visible(piece: str) -> str:
    return "".join(VISIBLE.get(c, c if c.isprintable() else "·") for c in piece)


def _drawable(shown: str) -> str:
    """Characters beyond the figure font's range (CJK, emoji) become □; the HTML version shows them."""
    return "".join(c if ord(c) < 0x3000 else "□" for c in shown)


def token_heatmap_html(
    text: str,
    spans: Sequence[tuple[int, int]],
    values: Sequence[float] | torch.Tensor,
    *,
    title: str = "",
    vmax: float | None = None,
) -> str:
    """An HTML snippet of the tokens, each on a background coloured by its value (display with IPython's
    HTML)."""
    tokens, values = _tokens_and_values(text, spans, values)
    vmax = _scale(values, vmax)
    legend = f"red &lt; 0 &lt; green; full colour at |value| = {vmax:.3g}; hover a token for its value"
    parts = [f"<div style='font-family:monospace;line-height:1.9'><b>{html.escape(title)}</b> ({legend})<br>"]
    for i, (token, value) in enumerate(zip(tokens, values, strict=True)):
        r, g, b, a = colour(value, vmax)
        style = f"background:rgba({r * 255:.0f},{g * 255:.0f},{b * 255:.0f},{a:.2f});border:1px solid #ddd"
        shown = html.escape(_visible(token) or "∅")  # ∅: a token that wrote nothing (end of turn)
        parts.append(f"<span title='#{i}: {value:+.3f}' style='{style}'>{shown}</span>")
        parts += ["<br>"] * token.count("\n")
    parts.append("</div>")
    return "".join(parts)


def _cells(tokens: list[str], values: list[float]) -> tuple[list[tuple[int, int, int, str, float]], int]:
    """Lay tokens out like the text: (line, column, width, shown text, value) per visible piece."""
    cells, line, column = [], 0, 0
    for token, value in zip(tokens, values, strict=True):
        pieces = token.split("\n")
        for k, piece in enumerate(pieces):
            shown = _drawable(_visible(piece)) + ("↵" if k < len(pieces) - 1 else "")
            if shown or not token:
                shown = shown or "∅"
                cells.append((line, column, len(shown), shown, value))
                column += len(shown)
            if k < len(pieces) - 1:
                line, column = line + 1, 0
    return cells, line + 1


Panel = tuple[
    str, str, Sequence[tuple[int, int]], Sequence[float] | torch.Tensor
]  # title, text, spans, values
CMAP = ("#d9261a", "#ffffff", "#1aa633")  # red, white, green: the same hues as colour()


def token_heatmap(
    text: str,
    spans: Sequence[tuple[int, int]],
    values: Sequence[float] | torch.Tensor,
    *,
    title: str = "",
    out_png: str | Path | None = None,
    vmax: float | None = None,
):
    """A figure of the tokens laid out as the text they wrote, coloured by value, with a colour bar.

    Saved to `out_png` (folders created) when given. Returns the figure.
    """
    return token_heatmaps([(title, text, spans, values)], out_png=out_png, vmax=vmax)


def token_heatmaps(panels: Sequence[Panel], *, out_png: str | Path | None = None, vmax: float | None = None):
    """Several token heat-maps stacked in one figure, (title, text, spans, values) each, on ONE colour
    scale [-vmax, vmax] (default: the largest |value| of all panels) with one colour bar."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    import dense_rl.figures  # noqa: F401 - in a notebook, registers how a Figure displays (as PNG)

    laid_out = []
    for title, text, spans, values in panels:
        tokens, vals = _tokens_and_values(text, spans, values)
        laid_out.append((title, *_cells(tokens, vals), vals))
    vmax = _scale([v for *_, vals in laid_out for v in vals], vmax)
    width = max((c[1] + c[2] for _, cells, _, _ in laid_out for c in cells), default=1)
    unit = min(CHAR_INCHES, MAX_WIDTH_INCHES / width)
    title_h, bar_w = 0.35, 1.3  # inches: a panel's title line; the colour bar and its labels
    heights = [lines * 2.2 * unit + title_h for _, _, lines, _ in laid_out]
    longest_title = max((len(title) for title, *_ in laid_out), default=0)
    text_w = max(width * unit, 4.0, 0.1 * longest_title)  # room for the longest title at 10 pt
    fig_w, fig_h = text_w + bar_w + 0.2, max(sum(heights) + 0.2, 2.0)  # room for the colour bar
    fig = Figure(figsize=(fig_w, fig_h))
    cmap = LinearSegmentedColormap.from_list("reward", CMAP)
    norm = Normalize(-vmax, vmax)
    fontsize = unit * 72 / 0.68  # a monospace character is 0.6 em wide; a little margin in each cell
    top = fig_h - 0.1
    for (title, cells, lines, _), h in zip(laid_out, heights, strict=True):
        ax = fig.add_axes((0.1 / fig_w, (top - h) / fig_h, width * unit / fig_w, (h - title_h) / fig_h))
        for row, col, w, shown, value in cells:
            ax.add_patch(
                Rectangle((col, -row - 1), w, 1, facecolor=cmap(norm(value)), edgecolor="#cccccc", lw=0.5)
            )
            ax.text(
                col + 0.05,
                -row - 0.5,
                shown,
                va="center",
                family="monospace",
                fontsize=fontsize,
                parse_math=False,
            )
        ax.set_xlim(0, width)
        ax.set_ylim(-lines, 0)
        ax.axis("off")
        ax.set_title(title, loc="left", fontsize=10, parse_math=False)
        top -= h
    bar = fig.add_axes(
        ((fig_w - bar_w + 0.25) / fig_w, 0.15 / fig_h, 0.15 / fig_w, min(2.5, fig_h - 0.4) / fig_h)
    )
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar, label="reward per token")
    if out_png is not None:
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=120)
    return fig
