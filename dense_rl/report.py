"""Tables: pure functions of the files runs leave under results/ (summary.json, base_policy.json, ...).

from dense_rl.report import ablation_table
runs = {"dense": ["results/tiny/tiny-code-dense-s0-d9146787"],
        "sparse": ["results/tiny/tiny-code-sparse-s0-94e071fa"]}   # folders named by dense_rl.train.run_name
print(ablation_table(runs))
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from dense_rl.ablation import comparisons


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


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def results_section(scale_dir: str | Path) -> str:
    """Markdown summary of results/<scale>/: what the README shows, rendered from the run files only."""
    scale_dir = Path(scale_dir)
    parts = []
    reproduce = _json(scale_dir / "reproduce.json")
    if reproduce:
        skipped = [k for k, v in reproduce["stages"].items() if v == "skipped"]
        what = (
            f"{len(skipped)} of {len(reproduce['stages'])} stages had finished earlier and were skipped"
            if skipped
            else "every stage ran"
        )
        if reproduce.get("tiny_policy_cached") is not None:
            cached = reproduce["tiny_policy_cached"]
            what += "; the tiny policy was " + ("already built" if cached else "built in this run")
        parts.append(
            f"Preset `{reproduce['preset']}` on {reproduce['machine']}; `make reproduce` took "
            f"{reproduce['total_seconds'] / 60:.1f} minutes ({what}; seconds per notebook in "
            f"results/{scale_dir.name}/reproduce.json)."
        )
    base = _json(scale_dir / "base_policy.json")
    if base:
        k = base["n_samples"]
        parts.append(
            f"**Tiny policy** (base_policy.json): {base['params'] / 1e6:.1f} M parameters, built "
            f"in {base['build_seconds'] / 60:.1f} min; held-out pass@1 {base['heldout_pass_at_1']:.3f} "
            f"(greedy), pass@{k} {base[f'heldout_pass_at_{k}']:.3f} (T={base['temperature']}) on "
            f"{base['heldout_tasks']} unseen tasks."
        )
    runs = _json(scale_dir / "ppo_summary.json")
    if runs:
        rows = ["| run | steps | minutes | held-out before | after |", "|---|---:|---:|---:|---:|"]
        for name, s in runs.items():
            before, after = (
                s.get("base_heldout_pass_at_1", math.nan),
                s.get("final_heldout_pass_at_1", math.nan),
            )
            rows.append(f"| {name} | {s['steps']} | {s['minutes']:.1f} | {before:.3f} | {after:.3f} |")
        parts.append(
            "**PPO runs** (results/tiny/ppo_summary.json; held-out greedy pass@1 for code runs, task "
            "success on generated robot tasks for robot runs):\n\n" + "\n".join(rows)
        )
    robot = _json(scale_dir / "robot_summary.json")
    if robot:
        parts.append(robot_table(robot, scale_dir.name))
    full = _json(scale_dir / "ablation" / "summary.json")
    if full and full.get("arms"):
        parts.append(full_ablation_table(full, scale_dir.name))
    for name, title in (
        ("ablation.md", "Dense vs sparse"),
        ("table1.md", "MBPP / MBPP+"),
        ("table2.md", "RoboEval"),
    ):
        if (scale_dir / name).exists():
            parts.append(
                f"**{title}** ({scale_dir.name}/{name}):\n\n" + (scale_dir / name).read_text().strip()
            )
    return "\n\n".join(parts) + "\n"


def robot_table(arms: dict, scale: str) -> str:
    """robot_summary.json as markdown: per arm, base -> final held-out task success (every check in every
    world), error-free share (the paper's simulator signal), distinct programs, program lines, and the share
    of the instructions' quoted names the programs copy ('-' for runs made before it was measured)."""
    rows = [
        "| robot arm | steps | minutes | task success | error-free runs | distinct programs | lines | names "
        "copied |",
        "|---|---:|---:|---|---|---|---|---|",
    ]
    for arm, a in arms.items():
        b, f = a["base"], a["final"]
        both = "names_copied" in b and "names_copied" in f
        copied = f"{b['names_copied']:.3f} -> {f['names_copied']:.3f}" if both else "-"
        rows.append(
            f"| {arm} (seed {a['seed']}) | {a['steps']} | {a['minutes']:.1f} | "
            f"{b['task_success']:.3f} -> {f['task_success']:.3f} | "
            f"{b['error_free']:.3f} -> {f['error_free']:.3f} | "
            f"{b['distinct_programs']} -> {f['distinct_programs']} (of {f['tasks']}) | "
            f"{b['mean_program_lines']:.1f} -> {f['mean_program_lines']:.1f} | {copied} |"
        )
    return f"**Robot arms** ({scale}/robot_summary.json, held-out generated robot tasks):\n\n" + "\n".join(
        rows
    )


def full_ablation_table(summary: dict, scale: str) -> str:
    """The ablation runner's summary.json (dense_rl.ablation) as markdown: per arm the seeds, base and final
    held-out score (pass@1 for code arms, task success for robot arms; mean and 95% t-interval across seeds),
    then the finding on dense - sparse, one per component arm (arm - dense), and dense - sparse again with
    tests only and on the robot preset (ablation.comparisons), and last how many of them survive the
    correction for asking them all at once (ablation.family_check)."""

    def interval(lo: float, hi: float) -> str:
        return "-" if math.isnan(lo) else f"{lo:.3f} to {hi:.3f}"

    rows = [
        "| arm | seeds | base | final (mean) | 95% interval | final per seed | minutes |",
        "|---|---|---:|---:|---|---|---:|",
    ]
    for arm, a in summary["arms"].items():
        per_seed = ", ".join(f"{x:.3f}" for x in a["final_per_seed"])
        rows.append(
            f"| {arm} | {', '.join(map(str, a['seeds']))} | {a['base_mean']:.3f} | {a['final_mean']:.3f} | "
            f"{interval(*a['final_interval'])} | {per_seed} | {a['minutes']:.1f} |"
        )
    text = (
        f"**Ablation, several seeds** ({scale}/ablation/summary.json; held-out pass@1 for code arms, "
        "held-out task success for robot arms):"
    )
    text += "\n\n" + "\n".join(rows)
    text += f"\n\n![held-out score during training, mean and 95% band](results/{scale}/ablation/curves.png)"
    findings = [entry["finding"] for _, entry in comparisons(summary)]
    if findings:  # every paired comparison as a point with its interval (ablation.effects_figure)
        text += f"\n\n![paired differences with 95% intervals](results/{scale}/ablation/effects.png)"
    if summary.get("family"):  # how many findings survive asking all the questions at once
        findings.append(summary["family"]["finding"])
    return text + "".join(f"\n\n{f}" for f in findings)


def update_readme(readme: str | Path, scale_dir: str | Path) -> None:
    """Replace the text between `<!-- results:<scale> -->` and `<!-- /results:<scale> -->` in the README."""
    readme, scale = Path(readme), Path(scale_dir).name
    text = readme.read_text()
    start, end = f"<!-- results:{scale} -->", f"<!-- /results:{scale} -->"
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start} ... {end} markers to fill")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{results_section(scale_dir)}{end}{tail}")
