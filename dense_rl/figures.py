"""Figures: pure functions of result files (JSON / CSV under results/) or of a few tensors, each returning
its matplotlib Figure and writing it as PNG when given a path.

    from dense_rl import figures
    fig = figures.training_curves({"dense": "results/tiny/<run>/metrics.csv"}, "curves.png")
    fig        # the last expression of a notebook cell: shown inline

Figures are built with `matplotlib.figure.Figure`, not pyplot: nothing is registered with pyplot, so a
notebook shows each figure exactly once (when it displays the returned object), scripts leak no open
figures, and no backend is forced (headless runs save PNG through Agg; Jupyter kernels show them inline).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

DPI = 120
# metrics.csv columns plotted by default, in this order, when a run has them
CURVE_KEYS = ("reward_total", "pass_at_1", "sim_success", "syntax_valid", "reward_lint", "kl", "entropy")
LOG_SCALE_KEYS = ("kl",)  # one outlier step would flatten the rest on a linear axis


def _register_png_display() -> None:
    """In a Jupyter kernel, make a returned Figure display as a PNG (what pyplot's inline backend sets up
    for pyplot figures); elsewhere nothing."""
    from dense_rl.progress import in_notebook

    if in_notebook():
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(get_ipython(), {"png"})


_register_png_display()


def save(fig: Figure, out_png: str | Path | None) -> Figure:
    """Write `fig` to `out_png` (folders created) when a path is given; return the figure."""
    if out_png is not None:
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=DPI)
    return fig


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last `window` + 1 values (fewer at the start)."""
    return [
        sum(values[max(0, i - window) : i + 1]) / len(values[max(0, i - window) : i + 1])
        for i in range(len(values))
    ]


def pretraining_curve(
    build_info_json: str | Path, out_png: str | Path | None = None, stage_json: str | Path | None = None
) -> Figure:
    """Supervised pre-training loss of the tiny policy, per step (with a moving average).

    `stage_json`: the build record of a stage trained on from this policy (the robot stage), drawn after it.
    """
    parts = [("tiny policy", json.loads(Path(build_info_json).read_text())["losses"])]
    if stage_json is not None:
        parts.append(("robot stage", json.loads(Path(stage_json).read_text())["losses"]))
    window = max(1, len(parts[0][1]) // 50)
    fig = Figure(figsize=(6.5, 3.2), layout="constrained")
    ax = fig.add_subplot()
    start = 0
    for i, (label, losses) in enumerate(parts):
        steps = range(start, start + len(losses))
        ax.plot(steps, losses, alpha=0.25, color=f"C{i}")
        ax.plot(
            steps, moving_average(losses, window), color=f"C{i}", label=f"{label} (moving average {window})"
        )
        start += len(losses)
    title = "Tiny policy pre-training" + (", then the robot stage" if stage_json is not None else "")
    ax.set(xlabel="optimiser step", ylabel="cross-entropy (answer tokens)", title=title)
    ax.set_yscale("log")
    ax.legend()
    return save(fig, out_png)


def failure_breakdown(base_policy_json: str | Path, out_png: str | Path | None = None) -> Figure:
    """How greedy and sampled answers of the base policy fail, as shares of all answers."""
    report = json.loads(Path(base_policy_json).read_text())
    n = report["heldout_tasks"]
    greedy = {"pass": report["heldout_pass_at_1"] * n, **report["failures_greedy"]}
    sampled_total = n * report["n_samples"]
    sampled = {"pass": report["sampled_pass_rate"] * sampled_total, **report["failures_sampled"]}
    kinds = list(greedy)
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.add_subplot()
    width = 0.4
    xs = range(len(kinds))
    ax.bar([x - width / 2 for x in xs], [greedy[k] / n for k in kinds], width, label="greedy")
    ax.bar(
        [x + width / 2 for x in xs],
        [sampled.get(k, 0) / sampled_total for k in kinds],
        width,
        label=f"sampled (T={report['temperature']})",
    )
    ax.set_xticks(list(xs), kinds, rotation=15)
    ax.set(ylabel="share of answers", title=f"Base tiny policy on {n} held-out tasks")
    ax.legend()
    return save(fig, out_png)


def training_curves(
    metrics_csvs: dict[str, str | Path],
    out_png: str | Path | None = None,
    keys: tuple[str, ...] = (),
    columns: int = 3,
) -> Figure:
    """Curves of several runs' metrics.csv (label -> path), one panel per metric, `columns` panels a row.

    Faint: every step; solid: a trailing moving average. `keys` defaults to CURVE_KEYS that every run has.
    """
    runs = {label: list(csv.DictReader(open(path))) for label, path in metrics_csvs.items()}
    if not runs or not all(runs.values()):
        empty = [label for label, rows in runs.items() if not rows]
        raise ValueError(f"training_curves: no rows in {empty or 'any run'}; train first (notebook 05)")
    available = set.intersection(*(set(rows[0]) for rows in runs.values()))
    keys = tuple(k for k in (keys or CURVE_KEYS) if k in available)
    rows_n = -(-len(keys) // columns)
    fig = Figure(figsize=(4.2 * min(columns, len(keys)), 3.0 * rows_n), layout="constrained")
    axes = fig.subplots(rows_n, min(columns, len(keys)), squeeze=False).flatten()
    for ax, key in zip(axes, keys, strict=False):
        for label, rows in runs.items():
            steps = [int(r["step"]) for r in rows]
            values = [float(r[key]) for r in rows]
            line = ax.plot(steps, values, alpha=0.25)[0]
            window = max(1, len(values) // 15)
            ax.plot(steps, moving_average(values, window), color=line.get_color(), label=label)
        if key in LOG_SCALE_KEYS:
            ax.set_yscale("symlog", linthresh=1.0)
        ax.set(title=key + (" (symlog)" if key in LOG_SCALE_KEYS else ""), xlabel="PPO step")
        ax.grid(alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    axes[0].legend()
    return save(fig, out_png)


def credit_assignment(
    rewards: Sequence[float],
    values: Sequence[float],
    advantages: Sequence[float],
    out_png: str | Path | None = None,
    title: str = "",
) -> Figure:
    """One answer's per-token reward r_t, critic value V(s_t) and advantage A_t over its tokens."""
    fig = Figure(figsize=(9, 2.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(list(rewards), label="reward $r_t$", marker=".")
    ax.plot(list(values), label="value $V(s_t)$")
    ax.plot(list(advantages), label="advantage $A_t$ (whitened)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="response token t", title=title)
    ax.legend(loc="best", fontsize=8)
    return save(fig, out_png)


def advantages_side_by_side(
    tokens: Sequence[str],
    placements: dict[str, tuple[Sequence[float], Sequence[float]]],
    out_png: str | Path | None = None,
    title: str = "",
) -> Figure:
    """Rewards and GAE advantages of the same tokens under several reward placements (name -> (r, A))."""
    fig = Figure(figsize=(4.2 * len(placements), 3.0), layout="constrained")
    axes = fig.subplots(1, len(placements), sharey=True, squeeze=False)[0]
    xs = range(len(tokens))
    for ax, (name, (rewards, advantages)) in zip(axes, placements.items(), strict=True):
        ax.bar([x - 0.2 for x in xs], list(rewards), 0.4, label="reward $r_t$", color="#7a7a7a")
        ax.bar([x + 0.2 for x in xs], list(advantages), 0.4, label="advantage $A_t$", color="#1f77b4")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xticks(list(xs), [repr(t)[1:-1] for t in tokens], rotation=30, fontsize=8)
        ax.set_title(f"{name}: total reward {sum(rewards):+.2f}")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return save(fig, out_png)


def bar_counts(
    counts: dict[str, int], out_png: str | Path | None = None, title: str = "", xlabel: str = "count"
) -> Figure:
    """A horizontal bar per label (e.g. the most common programs), largest first."""
    items = sorted(counts.items(), key=lambda kv: kv[1])
    fig = Figure(figsize=(8, 0.35 * len(items) + 1.0), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(range(len(items)), [v for _, v in items])
    ax.set_yticks(range(len(items)), [label for label, _ in items], fontsize=8, family="monospace")
    ax.set(xlabel=xlabel, title=title)
    return save(fig, out_png)


def before_after_bars(
    before: dict[str, float], after: dict[str, float], out_png: str | Path | None = None, title: str = "",
    xlabel: str = "",
) -> Figure:  # fmt: skip
    """Two horizontal bars per label (before, after), labels sorted by their value before: e.g. task success
    per robot template, before and after RL."""
    labels = sorted(before, key=lambda k: (before[k], after.get(k, 0.0)))
    y = [float(i) for i in range(len(labels))]
    fig = Figure(figsize=(8, 0.28 * len(labels) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([v + 0.2 for v in y], [before[k] for k in labels], height=0.4, label="before", color="tab:gray")
    ax.barh(
        [v - 0.2 for v in y], [after.get(k, 0.0) for k in labels], height=0.4, label="after", color="tab:blue"
    )
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlabel=xlabel, title=title)
    ax.legend(loc="lower right")
    return save(fig, out_png)
