"""Tables: pure functions of the files runs leave under results/ (summary.json, base_policy.json, ...).

    from dense_rl.report import ablation_table
    runs = {"dense": ["results/tiny/tiny-code-dense-s0"], "sparse": ["results/tiny/tiny-code-sparse-s0"]}
    print(ablation_table(runs))
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def read_summary(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run has not finished (train it, or --resume it)")
    return json.loads(path.read_text())


def ablation_table(runs: dict[str, list[str | Path]]) -> str:
    """Markdown: held-out pass@1 before/after per reward mode (label -> run folders, one per seed)."""
    lines = [
        "| reward placement | seeds | base pass@1 | final pass@1 | change | minutes per run |",
        "|---|---|---|---|---|---|",
    ]
    for label, dirs in runs.items():
        summaries = [read_summary(d) for d in dirs]
        base = [s["base_heldout_pass_at_1"] for s in summaries]
        final = [s["final_heldout_pass_at_1"] for s in summaries]
        change = [f - b for f, b in zip(final, base, strict=True)]
        spread = f" ± {statistics.stdev(change):.3f}" if len(change) > 1 else ""
        lines.append(
            f"| {label} | {', '.join(str(s['seed']) for s in summaries)} | {statistics.mean(base):.3f} "
            f"| {statistics.mean(final):.3f} | {statistics.mean(change):+.3f}{spread} "
            f"| {statistics.mean(s['minutes'] for s in summaries):.1f} |"
        )
    return "\n".join(lines) + "\n"
