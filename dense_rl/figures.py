"""Figures: pure functions of result files (JSON / CSV under results/), written as PNG beside them."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless by default; notebooks still show the returned figure
import matplotlib.pyplot as plt  # noqa: E402


def pretraining_curve(build_info_json: str | Path, out_png: str | Path):
    """Supervised pre-training loss of the tiny policy, per step (with a moving average)."""
    losses = json.loads(Path(build_info_json).read_text())["losses"]
    window = max(1, len(losses) // 50)
    smooth = [
        sum(losses[max(0, i - window) : i + 1]) / len(losses[max(0, i - window) : i + 1])
        for i in range(len(losses))
    ]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(losses, alpha=0.3, label="loss")
    ax.plot(smooth, label=f"moving average ({window})")
    ax.set(xlabel="optimiser step", ylabel="cross-entropy (answer tokens)", title="Tiny policy pre-training")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    return fig


def failure_breakdown(base_policy_json: str | Path, out_png: str | Path):
    """How greedy and sampled answers of the base policy fail, as shares of all answers."""
    report = json.loads(Path(base_policy_json).read_text())
    n = report["heldout_tasks"]
    greedy = {"pass": report["heldout_pass_at_1"] * n, **report["failures_greedy"]}
    sampled_total = n * report["n_samples"]
    sampled = {"pass": report["sampled_pass_rate"] * sampled_total, **report["failures_sampled"]}
    kinds = list(greedy)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.4
    xs = range(len(kinds))
    ax.bar([x - width / 2 for x in xs], [greedy[k] / n for k in kinds], width, label="greedy")
    ax.bar(
        [x + width / 2 for x in xs],
        [sampled[k] / sampled_total for k in kinds],
        width,
        label=f"sampled (T={report['temperature']})",
    )
    ax.set_xticks(list(xs), kinds, rotation=15)
    ax.set(ylabel="share of answers", title=f"Base tiny policy on {n} held-out tasks")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    return fig


def training_curves(metrics_csvs: dict[str, str | Path], out_png: str | Path, keys: tuple[str, ...] = ()):
    """Curves of several runs' metrics.csv side by side (label -> path), one panel per metric."""
    import csv

    runs = {label: list(csv.DictReader(open(path))) for label, path in metrics_csvs.items()}
    available = set.intersection(*(set(rows[0]) for rows in runs.values() if rows)) if runs else set()
    default = ("reward_total", "pass_at_1", "sim_success", "syntax_valid", "kl", "entropy")
    keys = tuple(k for k in (keys or default) if k in available)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for label, rows in runs.items():
            steps = [int(r["step"]) for r in rows]
            values = [float(r[key]) for r in rows]
            window = max(1, len(values) // 15)
            smooth = [
                sum(values[max(0, i - window) : i + 1]) / len(values[max(0, i - window) : i + 1])
                for i in range(len(values))
            ]
            line = ax.plot(steps, values, alpha=0.25)[0]
            ax.plot(steps, smooth, color=line.get_color(), label=label)
        ax.set(title=key, xlabel="PPO step")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    return fig
