"""The ablation the paper never ran: does placing a reward on the tokens it is about (dense) beat placing the
same total on the last token (sparse), and which components matter?

    python -m dense_rl.ablation                 # every arm and seed (`make ablation`); finished runs skipped
    python -m dense_rl.ablation --arms dense sparse --seeds 0 1 --steps 40   # a class-sized slice
    python -m dense_rl.ablation --jobs 2        # two runs at a time, one CPU thread each
    python -m dense_rl.ablation --summary-only  # summary.json, curves.png, effects.png from the runs
    python -m dense_rl.ablation --adopt results/tiny/tiny-code-dense-s0-d9146787 dense  # reuse a finished run

Each arm x seed is a normal, resumable training run under results/tiny/ablation/<arm>/s<seed>/ (a run killed
midway resumes from its last checkpoint; a finished one is skipped). Every arm gets the same steps, batch and
prompts (equal compute); the held-out pass@1 is measured on a fixed subset during training (the curves) and on
all held-out tasks at the end.

The analysis is a set of pure functions of the run files (`summarise`): per arm and step the mean and a 95%
t-interval across seeds; per arm the final pass@1 per seed with its mean and interval; the paired difference
dense - sparse with a bootstrap interval that resamples seeds and, inside each seed, held-out tasks; the
steps dense needs to reach sparse's final mean. The same paired comparison answers what each component arm's
one change does to the full dense reward (arm - dense) and dense vs sparse on the robot preset (on held-out
task success). Same files, same summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np

from dense_rl.config import get_preset
from dense_rl.paths import project_path

# arm -> (preset, overrides). Arms without a component keep the others' weights: the question is what the
# component adds, not what the same total reward does elsewhere.
ARMS: dict[str, tuple[str, dict]] = {
    "dense": ("tiny-code", {"reward_mode": "dense"}),
    "sparse": ("tiny-code", {"reward_mode": "sparse"}),
    "dense-no-syntax": ("tiny-code", {"reward_mode": "dense", "w_syntax": 0.0}),
    "dense-no-lint": ("tiny-code", {"reward_mode": "dense", "w_lint": 0.0}),
    "dense-no-dfg": ("tiny-code", {"reward_mode": "dense", "w_dfg": 0.0}),
    "tests-only-dense": ("tiny-code", {"reward_mode": "dense", "w_syntax": 0.0, "w_lint": 0.0, "w_dfg": 0.0}),
    "tests-only-sparse": (
        "tiny-code",
        {"reward_mode": "sparse", "w_syntax": 0.0, "w_lint": 0.0, "w_dfg": 0.0},
    ),
    "dense-length-norm": ("tiny-code", {"reward_mode": "dense", "length_normalise": True}),
    "robot-dense": ("tiny-robot", {"reward_mode": "dense"}),
    "robot-sparse": ("tiny-robot", {"reward_mode": "sparse"}),
}
COMPONENT_ARMS = tuple(arm for arm in ARMS if arm not in ("dense", "sparse") and not arm.startswith("robot"))
CODE_METRIC, ROBOT_METRIC = "held-out pass@1", "held-out robot task success"
# dense vs sparse again, away from the headline pair: (dense arm, sparse arm, summary key, metric, label).
# Tests only asks whether placement matters without the syntax and lint terms; robot, on another domain.
PLACEMENT_PAIRS = (
    ("tests-only-dense", "tests-only-sparse", "tests_only_dense_minus_sparse", CODE_METRIC, "tests only"),
    ("robot-dense", "robot-sparse", "robot_dense_minus_sparse", ROBOT_METRIC, "robot"),
)
# seeds per arm: the headline question gets five, the component questions three
SEEDS: dict[str, tuple[int, ...]] = {arm: (0, 1, 2) for arm in ARMS} | {
    "dense": (0, 1, 2, 3, 4),
    "sparse": (0, 1, 2, 3, 4),
}
CURVE_EVERY = 20  # steps between held-out evaluations during a run
CURVE_TASKS = 100  # the fixed held-out subset those evaluations use
# two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (beyond 30, 1.96 is within 2%)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)  # fmt: skip


# ------------------------------------------------ running ------------------------------------------------


def run_dir(root: Path, arm: str, seed: int) -> Path:
    return root / arm / f"s{seed}"


def run_arm(root: Path, arm: str, seed: int, steps: int = 0, eval_tasks: int = 500) -> Path:
    """Train one arm x seed into its folder, resuming a killed run and skipping a finished one. A folder that
    holds a run with other settings (e.g. other --steps) is an error, never silently reused or overwritten."""
    from dense_rl.train import run_finished, same_settings, train

    preset, overrides = ARMS[arm]
    cfg = get_preset(preset, seed=seed, **overrides, **({"total_steps": steps} if steps else {}))
    folder = run_dir(root, arm, seed)
    saved = folder / "config.json"
    if saved.exists() and not same_settings(json.loads(saved.read_text()), cfg):
        raise ValueError(
            f"{folder} holds a run with other settings than {arm} seed {seed} now asks for; "
            "pass another --out (or delete that folder to start it again)"
        )
    if not run_finished(folder):
        train(
            cfg, folder, resume=True, eval_tasks=eval_tasks, curve_every=CURVE_EVERY, curve_tasks=CURVE_TASKS
        )
    return folder


def run_jobs(root: Path, jobs: list[tuple[int, str]], n_parallel: int, run=None, **kwargs) -> None:
    """Train (seed, arm) jobs, `n_parallel` at a time in worker processes that share the cores.

    Why parallel processes help even on 2 cores: a tiny model's matrices are too small for two threads to
    halve a step. Measured here (LOG.md): two one-thread runs side by side took 12.1 and 12.3 minutes, where
    one two-thread run takes about 8, so a pair finishes about 1.3x sooner. Each job gets
    cores // (jobs running beside it) torch threads, so a last job left alone uses every core. Each run's own
    minutes then include the sharing; summary.json's wall_minutes is the grid's clock.
    `run` (default run_arm) trains one job: run(root, arm, seed, **kwargs)."""
    run = run or run_arm
    if n_parallel <= 1:
        for seed, arm in jobs:
            run(root, arm, seed, **kwargs)
        return
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    cores = os.cpu_count() or 1
    full_waves = len(jobs) - len(jobs) % n_parallel  # jobs before these run n_parallel at a time
    context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no forked torch state
    with ProcessPoolExecutor(n_parallel, mp_context=context) as pool:
        futures = []
        for i, (seed, arm) in enumerate(jobs):
            beside = n_parallel if i < full_waves else len(jobs) - full_waves
            futures.append(
                pool.submit(_with_threads, max(1, cores // beside), run, root, arm, seed, **kwargs)
            )
        for future in futures:
            future.result()  # re-raises a failed run's error here, after the others finished


def _with_threads(threads: int, run, *args, **kwargs):
    import torch

    torch.set_num_threads(threads)
    return run(*args, **kwargs)


def adopt(run: Path, root: Path, arm: str, tasks: int = CURVE_TASKS) -> Path:
    """Take a finished run made with exactly an arm's settings (e.g. `make reproduce`'s tiny-code run of the
    same seed) as that arm's run, instead of training it again; returns its new folder.

    Such a run has no held-out curve (it was trained without `curve_every`), so the curve is scored here
    from its step checkpoints: the first `tasks` held-out tasks, greedily, with the checkpoint's adapter
    merged into the weights (the runner scores the unmerged adapter during training: the same policy up to
    float rounding). A run with other settings is an error.
    """
    import shutil

    from dense_rl.policy import load_policy
    from dense_rl.train import append_metrics, heldout_eval, run_finished

    run = Path(run)
    config = json.loads((run / "config.json").read_text())
    preset, overrides = ARMS[arm]
    cfg = get_preset(preset, **{**overrides, "seed": config["seed"], "total_steps": config["total_steps"]})
    if not run_finished(run, cfg):  # finished, and made with exactly these settings
        raise ValueError(
            f"{run} is not a finished run with the settings of arm {arm!r}; train that arm instead"
        )
    folder = run_dir(root, arm, cfg.seed)
    if folder.exists():
        raise ValueError(f"{folder} exists already; delete it to adopt {run} there")
    shutil.copytree(run, folder)
    for step in range(CURVE_EVERY, cfg.total_steps, CURVE_EVERY):  # the rows train() writes with curve_every
        adapter = folder / "checkpoints" / f"step_{step:06d}" / "policy"
        tokenizer, model = load_policy(cfg.model, seed=cfg.seed, adapter=str(adapter))
        score, _ = heldout_eval(cfg, tokenizer, model, tasks)
        row = {"step": step, "heldout_pass_at_1": round(score, 4), "tasks": tasks}
        append_metrics(folder / "heldout_curve.csv", row)
    return folder


# ------------------------------------------------ analysis -----------------------------------------------


def mean_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the mean across seeds: (mean, low, high); one value: (v, nan, nan)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if len(x) < 2:
        return m, math.nan, math.nan
    df = len(x) - 1
    t = T975[df - 1] if df <= len(T975) else 1.96
    half = t * float(x.std(ddof=1)) / math.sqrt(len(x))
    return m, m - half, m + half


def paired_bootstrap(
    a: dict[int, np.ndarray], b: dict[int, np.ndarray], n_boot: int = 2000, seed: int = 0, level: float = 0.95
):
    """Mean difference a - b of per-task verdicts (1 pass, 0 fail) over the seeds both arms ran, with a
    `level` percentile interval from a two-level bootstrap: resample seeds, then held-out tasks within each
    seed (the same task indices for both arms, so the pairing by task is kept).

    a, b: seed -> verdict vector over the same held-out tasks in the same order.
    """
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("paired_bootstrap needs at least one seed run by both arms")
    diffs = np.stack([a[s].astype(float) - b[s].astype(float) for s in seeds])  # [S, N]
    rng = np.random.default_rng(seed)
    S, N = diffs.shape
    boot = np.empty(n_boot)
    for i in range(n_boot):
        rows = rng.integers(0, S, S)
        cols = rng.integers(0, N, (S, N))
        boot[i] = diffs[rows[:, None], cols].mean()
    tail = 100 * (1 - level) / 2
    return float(diffs.mean()), float(np.percentile(boot, tail)), float(np.percentile(boot, 100 - tail))


def steps_to_reach(steps: list[int], mean_curve: list[float], target: float) -> int | None:
    """First step at which a mean held-out curve reaches `target` (None: never within the run)."""
    for step, value in zip(steps, mean_curve, strict=True):
        if value >= target:
            return step
    return None


def read_run(folder: Path) -> dict:
    """One run's files: summary, per-task final verdicts, and the held-out curve (step -> pass@1).

    The curve is scored on the first `tasks` held-out tasks throughout: its two ends come from the same tasks'
    verdicts in heldout_base.jsonl and heldout_final.jsonl, so every point measures the same subset."""
    summary = json.loads((folder / "summary.json").read_text())
    final = verdicts(folder / "heldout_final.jsonl")
    curve: dict[int, float] = {}
    if (folder / "heldout_curve.csv").exists():
        with open(folder / "heldout_curve.csv") as f:
            rows = list(csv.DictReader(f))
        curve = {int(r["step"]): float(r["heldout_pass_at_1"]) for r in rows}
        n = int(rows[0]["tasks"]) if rows else CURVE_TASKS
    else:
        n = len(final)
    base = folder / "heldout_base.jsonl"
    curve[0] = float(verdicts(base)[:n].mean()) if base.exists() else summary["base_heldout_pass_at_1"]
    curve[summary["steps"]] = float(final[:n].mean())
    return {"summary": summary, "verdicts": final, "curve": dict(sorted(curve.items()))}


def verdicts(jsonl: Path) -> np.ndarray:
    """Per held-out task, did the answer pass (1) or not (0), in task order."""
    return np.array([json.loads(line)["kind"] == "pass" for line in jsonl.open()], dtype=float)


def read_runs(root: Path) -> dict[str, dict[int, dict]]:
    """arm -> seed -> run, for every finished run (a summary.json) under root/<arm>/s<seed>/."""
    runs: dict[str, dict[int, dict]] = {}
    for summary in sorted(Path(root).glob("*/s*/summary.json")):
        arm, seed = summary.parent.parent.name, int(summary.parent.name[1:])
        runs.setdefault(arm, {})[seed] = read_run(summary.parent)
    return runs


def curve_band(seed_runs: dict[int, dict]) -> dict[str, list]:
    """Mean and 95% interval across seeds at every step all seeds evaluated."""
    common = sorted(set.intersection(*(set(r["curve"]) for r in seed_runs.values())))
    stats = [mean_interval([r["curve"][s] for r in seed_runs.values()]) for s in common]
    return {"step": common, "mean": [m for m, _, _ in stats], "low": [lo for _, lo, _ in stats],
            "high": [hi for _, _, hi in stats]}  # fmt: skip


def summarise(runs: dict[str, dict[int, dict]], n_boot: int = 2000) -> dict:
    """Everything the ablation claims, from the run files alone."""
    out: dict = {"arms": {}}
    for arm, seed_runs in sorted(runs.items()):
        finals = [seed_runs[s]["summary"]["final_heldout_pass_at_1"] for s in sorted(seed_runs)]
        m, lo, hi = mean_interval(finals)
        out["arms"][arm] = {
            "seeds": sorted(seed_runs),
            "final_per_seed": finals,
            "final_mean": m,
            "final_interval": [lo, hi],
            "base_mean": float(np.mean([r["summary"]["base_heldout_pass_at_1"] for r in seed_runs.values()])),
            "minutes": round(sum(r["summary"]["minutes"] for r in seed_runs.values()), 2),
            "curve": curve_band(seed_runs),
        }
    if "dense" in runs and "sparse" in runs:
        out["dense_minus_sparse"] = compare(runs, "dense", "sparse", n_boot)
        dense_curve, sparse_final = out["arms"]["dense"]["curve"], out["arms"]["sparse"]["final_mean"]
        reach = steps_to_reach(dense_curve["step"], dense_curve["mean"], sparse_final)
        sparse_steps = max(out["arms"]["sparse"]["curve"]["step"])
        out["dense_steps_to_sparse_final"] = reach
        out["steps_ratio"] = None if reach is None else reach / sparse_steps
        out["finding"] = out["dense_minus_sparse"]["finding"]
    for a, b, key, metric, _ in PLACEMENT_PAIRS:
        if paired_seeds(runs, a, b):
            out[key] = compare(runs, a, b, n_boot, metric)
    out["vs_dense"] = {
        arm: compare(runs, arm, "dense", n_boot) for arm in COMPONENT_ARMS if paired_seeds(runs, arm, "dense")
    }
    out["family"] = family_check(runs, out, n_boot)
    out["total_minutes"] = round(sum(a["minutes"] for a in out["arms"].values()), 2)
    return out


def family_check(runs: dict[str, dict[int, dict]], summary: dict, n_boot: int = 2000) -> dict:
    """The same comparisons with intervals widened for asking m questions at once (Bonferroni: each at level
    1 - 0.05/m, so that all m hold together with 95% probability). With m questions at 95% each, a grid
    shows at least one interval clear of 0 by chance alone with probability about 1 - 0.95^m (a third for
    m = 8 or 9); this says which findings survive that correction. Adds "family_interval" to each
    comparison entry and returns the tally."""
    rows = comparisons(summary)
    if not rows:
        return {}
    level = 1 - 0.05 / len(rows)
    survive = []
    for label, entry in rows:
        # enough draws that each tail holds 10 of them
        _, lo, hi = bootstrap_pair(runs, *entry["pair"], max(n_boot, int(20 / (1 - level))), level)
        entry["family_interval"] = [lo, hi]
        if lo > 0 or hi < 0:
            survive.append(label)
    clear = [label for label, entry in rows if entry["interval"][0] > 0 or entry["interval"][1] < 0]
    text = (
        f"{len(clear)} of {len(rows)} paired comparisons clear 0 at 95% each; corrected for asking "
        f"{len(rows)} questions at once (Bonferroni, {100 * level:.1f}% intervals), "
        + (
            f"{len(survive)} still {'does' if len(survive) == 1 else 'do'}: {', '.join(survive)}."
            if survive
            else "none does."
        )
    )
    return {"level": level, "clear_at_95": clear, "survive": survive, "finding": text}


def paired_seeds(runs: dict[str, dict[int, dict]], a: str, b: str) -> list[int]:
    """The seeds both arms ran ([] when either has none)."""
    return sorted(set(runs.get(a, {})) & set(runs.get(b, {})))


def comparisons(summary: dict) -> list[tuple[str, dict]]:
    """Every paired comparison a summary holds, as (label, entry with mean, interval, seeds, finding), in the
    order the README, the effects figure and notebook 07 show them: the headline dense - sparse, each
    component arm - dense, then dense - sparse with tests only and on robot tasks."""
    rows = [("dense - sparse (code)", summary.get("dense_minus_sparse"))]
    rows += [(f"{arm} - dense", effect) for arm, effect in summary.get("vs_dense", {}).items()]
    rows += [(f"{label}: dense - sparse", summary.get(key)) for _, _, key, _, label in PLACEMENT_PAIRS]
    return [(label, entry) for label, entry in rows if entry]


def bootstrap_pair(runs: dict[str, dict[int, dict]], a: str, b: str, n_boot: int = 2000, level: float = 0.95):
    """paired_bootstrap of arms a and b over the seeds both ran: (a - b, low, high)."""
    shared = paired_seeds(runs, a, b)
    return paired_bootstrap(
        {s: runs[a][s]["verdicts"] for s in shared},
        {s: runs[b][s]["verdicts"] for s in shared},
        n_boot=n_boot,
        level=level,
    )


def compare(runs: dict[str, dict[int, dict]], a: str, b: str, n_boot: int = 2000, metric: str = CODE_METRIC):
    """a - b on the seeds both ran (paired bootstrap over seeds and tasks), with its one-sentence finding.

    Against "dense" (a component arm), the question is what that arm's one change (a component left out,
    length normalisation) does to the full dense reward; otherwise it is dense vs sparse placement."""
    shared = paired_seeds(runs, a, b)
    d, lo, hi = bootstrap_pair(runs, a, b, n_boot)
    if b == "dense":
        span = f"{a} - dense = {d:+.3f} (95% interval {lo:+.3f} to {hi:+.3f}, {len(shared)} paired seeds)"
        verdict = "raises" if lo > 0 else "lowers" if hi < 0 else "does not measurably change"
        text = f"{a} {verdict} {metric} against the full dense reward: {span}."
    else:
        text = finding(d, lo, hi, len(shared), metric=metric, names=(a, b))
    return {"mean": d, "interval": [lo, hi], "seeds": shared, "finding": text, "pair": [a, b]}


def finding(
    d: float, lo: float, hi: float, n_seeds: int, metric: str = CODE_METRIC, names=("dense", "sparse")
) -> str:
    """The honest one-sentence answer to 'does dense beat sparse here?'."""
    span = f"{names[0]} - {names[1]} = {d:+.3f} (95% interval {lo:+.3f} to {hi:+.3f}, {n_seeds} paired seeds)"
    if lo > 0:
        return f"Dense placement beats sparse on {metric}: {span}."
    if hi < 0:
        return f"Sparse placement beats dense on {metric}: {span}."
    half = (hi - lo) / 2
    more = (half / abs(d)) ** 2 if d else math.inf
    return (
        f"At this scale dense and sparse placement cannot be told apart on {metric}: {span}. The "
        f"interval contains 0; resolving a difference of {abs(d):.3f} would need the half-width {half:.3f} "
        f"to shrink below it, about {more:.0f}x the seeds x held-out tasks (width falls as 1/sqrt(n))."
    )


PANELS = (  # (title, arms, y label): each question gets its own panel
    ("code: dense vs sparse", ("dense", "sparse"), CODE_METRIC),
    ("code: one change to the dense reward", ("dense", *COMPONENT_ARMS), CODE_METRIC),
    ("robot: dense vs sparse", ("robot-dense", "robot-sparse"), ROBOT_METRIC),
)


def curves_figure(summary: dict, out_png: str | Path | None = None):
    """Held-out score over training per arm, one panel per question: mean across seeds, with its 95% band
    where a panel compares two arms (seven bands on one panel would hide each other)."""
    import matplotlib.pyplot as plt

    panels = [(t, [a for a in arms if a in summary["arms"]], y) for t, arms, y in PANELS]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, (title, arms, ylabel) in zip(axes[0], panels, strict=True):
        edges = []
        for arm in arms:
            c, n = summary["arms"][arm]["curve"], len(summary["arms"][arm]["seeds"])
            (line,) = ax.plot(c["step"], c["mean"], marker="o", ms=3, label=f"{arm} ({n} seeds)")
            edges += c["mean"]
            if n > 1 and len(arms) <= 2:
                ax.fill_between(c["step"], c["low"], c["high"], color=line.get_color(), alpha=0.15)
                edges += c["low"] + c["high"]
        # a rate lives in [0, 1]; with three seeds the t-band can reach past either end
        ax.set_ylim(max(0.0, np.nanmin(edges) - 0.05), min(1.0, np.nanmax(edges) + 0.05))
        ax.set(xlabel="PPO step", ylabel=f"{ylabel} (greedy)", title=title)
        ax.legend(fontsize=7)
    fig.suptitle("Held-out score during training: mean across seeds and 95% band")
    fig.tight_layout()
    if out_png:
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=110)
    return fig


def effects_figure(summary: dict, out_png: str | Path | None = None):
    """Every paired comparison as a point with its 95% bootstrap interval (and, as a thin line, the wider
    interval corrected for asking every question at once): right of 0, the first arm wins."""
    import matplotlib.pyplot as plt

    rows = comparisons(summary)
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(rows) + 1.3))
    for y, (_, e) in enumerate(reversed(rows)):
        lo, hi = e["interval"]
        colour = "tab:green" if lo > 0 else "tab:red" if hi < 0 else "tab:gray"
        if "family_interval" in e:  # the interval corrected for asking every question at once, thin, behind
            flo, fhi = e["family_interval"]
            ax.plot([flo, fhi], [y, y], color=colour, lw=0.8, alpha=0.5)
            hi = max(hi, fhi)
        err = [[e["mean"] - lo], [e["interval"][1] - e["mean"]]]
        ax.errorbar(e["mean"], y, xerr=err, fmt="o", color=colour, capsize=4)
        ax.annotate(
            f"{len(e['seeds'])} seeds", (hi, y), xytext=(6, -3), textcoords="offset points", fontsize=8
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [label for label, _ in reversed(rows)])
    ax.set(
        xlabel="first arm - second arm: held-out score, paired; 95% bootstrap interval\n"
        "(thin line: corrected for all the comparisons at once, Bonferroni)",
        title="Paired differences\ngreen: the first arm is better, red: worse, grey: cannot tell",
    )
    fig.tight_layout()
    if out_png:
        fig.savefig(out_png, dpi=110)
    return fig


def write_summary(root: Path, minutes_wall: float | None = None) -> dict:
    """summary.json, curves.png and effects.png under root, from the run files there."""
    summary = summarise(read_runs(root))
    if minutes_wall is not None:
        summary["wall_minutes"] = round(minutes_wall, 2)
    (root / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if summary["arms"]:
        import matplotlib.pyplot as plt

        plt.close(curves_figure(summary, root / "curves.png"))
        if comparisons(summary):
            plt.close(effects_figure(summary, root / "effects.png"))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Dense vs sparse ablation (see the module docstring).")
    parser.add_argument("--arms", nargs="*", default=list(ARMS), help=f"any of: {', '.join(ARMS)}")
    parser.add_argument("--seeds", nargs="*", type=int, help="override every arm's seeds")
    parser.add_argument("--steps", type=int, default=0, help="PPO steps per run; 0: the preset's")
    parser.add_argument("--eval-tasks", type=int, default=500, help="held-out tasks at the start and end")
    parser.add_argument("--out", default="results/tiny/ablation", help="where the runs and summary go")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at the same time (see run_jobs)")
    parser.add_argument("--summary-only", action="store_true", help="only recompute summary.json")
    parser.add_argument(
        "--adopt", nargs=2, metavar=("RUN_DIR", "ARM"), help="take a finished run as ARM's run (see adopt)"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.arms) - set(ARMS))
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; valid arms: {', '.join(ARMS)}")
    root = project_path(args.out)
    t0 = time.time()
    if args.adopt:
        print(f"adopted as {adopt(project_path(args.adopt[0]), root, args.adopt[1])}")
    elif not args.summary_only:
        jobs = [
            (seed, arm) for arm in args.arms for seed in (SEEDS[arm] if args.seeds is None else args.seeds)
        ]
        jobs.sort(key=lambda job: job[0])  # seed by seed: a run stopped midway leaves whole pairs behind
        run_jobs(root, jobs, args.jobs, steps=args.steps, eval_tasks=args.eval_tasks)
    summary = write_summary(root, (time.time() - t0) / 60 if not args.summary_only else None)
    print(summary.get("finding", json.dumps({a: v["final_mean"] for a, v in summary["arms"].items()})))


if __name__ == "__main__":
    main()
