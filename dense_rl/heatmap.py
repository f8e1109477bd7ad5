"""Token heat-maps: a per-token reward shown on the text its tokens wrote, as HTML and as a figure.

    from dense_rl.heatmap import token_heatmap, token_heatmap_html
    text, spans, values = batch.responses[0], batch.token_spans[0], out.per_token[0]
    display(HTML(token_heatmap_html(text, spans, values, title="syntax")))      # in a notebook
    fig = token_heatmap(text, spans, values, title="syntax", out_png="results/tiny/figures/syntax.png")

Red is negative, green positive, white zero; a colour's strength is |value| / the largest |value| shown (or
`vmax`). Token boundaries are drawn, whitespace is made visible (· space, → tab, ↵ newline), and hovering
a token in the HTML shows its index and value. Shared by the reward notebooks and the robot notebook;
nothing here computes a reward.
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
    parts = [f"<div style='font-family:monospace;line-height:1.9'><b>{html.escape(title)}</b><br>"]
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


def token_heatmap(
    text: str,
    spans: Sequence[tuple[int, int]],
    values: Sequence[float] | torch.Tensor,
    *,
    title: str = "",
    out_png: str | Path | None = None,
    vmax: float | None = None,
):
    """A matplotlib figure of the tokens laid out as the text they wrote, coloured by value.

    Saved to `out_png` (folders created) when given. Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    tokens, values = _tokens_and_values(text, spans, values)
    vmax = _scale(values, vmax)
    cells, lines = _cells(tokens, values)
    width = max((c[1] + c[2] for c in cells), default=1)
    unit = min(CHAR_INCHES, MAX_WIDTH_INCHES / width)
    label = f"{title}  (red < 0 < green, |max| = {vmax:.3g})" if title else f"|max| = {vmax:.3g}"
    fig_width, fig_height = max(width * unit, 4.0, 0.08 * len(label)) + 0.2, lines * 2.2 * unit + 0.6
    fig = plt.figure(figsize=(fig_width, fig_height))
    ax = fig.add_axes((0.1 / fig_width, 0.1 / fig_height, width * unit / fig_width, 1 - 0.6 / fig_height))
    fontsize = unit * 72 / 0.68  # a monospace character is 0.6 em wide; a little margin in each cell
    for row, col, w, shown, value in cells:
        ax.add_patch(
            Rectangle((col, -row - 1), w, 1, facecolor=colour(value, vmax), edgecolor="#cccccc", lw=0.5)
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
    fig.text(0.1 / fig_width, 1 - 0.25 / fig_height, label, fontsize=10, va="center")
    if out_png is not None:
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=120)
    return fig
