"""A per-token reward heat-map of a response (used by notebook 04 and any report of dense rewards).

    from dense_rl.robot.plots import token_heatmap
    fig = token_heatmap(text, spans, rewards, title="sample 0", out_png="results/tiny/heatmap.png")

The heat-map draws the response in a monospaced font on a grid of character cells, one text row per line,
and colours every character by the reward of the token that wrote it: green above zero, red below, white
for exactly zero (prose, padding). Colour is scaled per figure by the largest |reward|, printed in the
title, because dense rewards are small (a success of 1 spread over 60 tokens is 0.017 each).

Only notebooks and reports import this module (it needs matplotlib); the reward never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless by default; notebooks still display the returned figure
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

FONT_PT = 10
CHAR_W_IN = 0.602 * FONT_PT / 72  # advance width of DejaVu Sans Mono, in inches
LINE_H_IN = 1.45 * FONT_PT / 72


def char_rewards(text: str, spans: Sequence[tuple[int, int]], rewards: Sequence[float]) -> list[float]:
    """Reward of the token that wrote each character (0 for characters no token wrote).

    >>> char_rewards("ab c", [(0, 2), (2, 4)], [1.0, -0.5])
    [1.0, 1.0, -0.5, -0.5]
    """
    per_char = [0.0] * len(text)
    for (start, end), reward in zip(spans, rewards, strict=False):
        for k in range(start, min(end, len(text))):
            per_char[k] = float(reward)
    return per_char


def token_heatmap(
    text: str,
    spans: Sequence[tuple[int, int]],
    rewards: Sequence[float],
    *,
    title: str = "",
    out_png: str | Path | None = None,
    vmax: float | None = None,
):
    """Figure of `text` with each character coloured by its token's reward; saved to `out_png` if given."""
    per_char = char_rewards(text, spans, rewards)
    lines = text.split("\n")
    cols = max(len(title) + 32, max(len(line) for line in lines) + 1)
    scale = vmax or max((abs(r) for r in per_char), default=0.0) or 1.0
    norm = TwoSlopeNorm(vmin=-scale, vcenter=0.0, vmax=scale)
    cmap = plt.get_cmap("RdYlGn")
    head = 2 if title else 0
    fig = plt.figure(figsize=(cols * CHAR_W_IN, (len(lines) + head) * LINE_H_IN))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, cols)
    ax.set_ylim(-(len(lines) + head), 0)
    ax.axis("off")
    if title:
        ax.text(
            0.2, -1, f"{title}   (colour scale +-{scale:.3g})", fontsize=FONT_PT, va="center", weight="bold"
        )
    position = 0
    for row, line in enumerate(lines):
        y = -(row + head) - 1
        for col in range(len(line)):
            reward = per_char[position + col] if position + col < len(per_char) else 0.0
            if reward != 0.0:
                ax.add_patch(Rectangle((col, y), 1, 1, color=cmap(norm(reward)), linewidth=0))
        shown = "".join(ch if ch.isprintable() else "\u00b7" for ch in line)  # one cell per character
        ax.text(0, y + 0.5, shown, family="DejaVu Sans Mono", fontsize=FONT_PT, va="center", parse_math=False)
        position += len(line) + 1
    if out_png is not None:
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=120)
    return fig
