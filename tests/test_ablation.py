"""The ablation's runner and analysis: skip/resume logic, pure summaries, and a bootstrap that finds a known
difference on synthetic runs (and none where there is none)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dense_rl import ablation


def fake_run(folder, seed: int, p_final: float, steps: int = 40, n: int = 300, p_base: float = 0.3):
    """The files a finished training run leaves: summary, per-task verdicts before/after, a curve."""
    rng = np.random.default_rng(seed + int(p_final * 1000))
    folder.mkdir(parents=True)
    base = rng.random(n) < p_base
    final = rng.random(n) < p_final
    for name, v in (("heldout_base.jsonl", base), ("heldout_final.jsonl", final)):
        (folder / name).write_text("".join(json.dumps({"kind": "pass" if x else "fail"}) + "\n" for x in v))
    curve = "step,heldout_pass_at_1,tasks\n" + f"20,{(p_base + p_final) / 2:.4f},100\n"
    (folder / "heldout_curve.csv").write_text(curve)
    summary = dict(
        steps=steps, minutes=1.0, base_heldout_pass_at_1=base.mean(), final_heldout_pass_at_1=final.mean()
    )
    (folder / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize(
    "values, mean, half",
    [
        ([1.0, 2.0, 3.0], 2.0, 4.303 / math.sqrt(3)),  # t(0.975, 2) = 4.303, sd 1
        ([0.5, 0.5, 0.5, 0.5], 0.5, 0.0),  # no spread, no width
        ([0.1, 0.3], 0.2, 12.706 * math.sqrt(0.02) / math.sqrt(2)),  # two seeds: a very wide interval
    ],
)
def test_mean_interval_is_the_t_interval(values, mean, half):
    m, lo, hi = ablation.mean_interval(values)
    assert m == pytest.approx(mean) and (hi - lo) / 2 == pytest.approx(half, rel=1e-3)


def test_one_seed_has_no_interval():
    m, lo, hi = ablation.mean_interval([0.4])
    assert m == 0.4 and math.isnan(lo) and math.isnan(hi)


@pytest.mark.parametrize(
    "target, expected",
    [
        (0.30, 0),  # already there at the start
        (0.45, 40),  # first reached at step 40, not 20
        (0.90, None),  # never reached
    ],
)
def test_steps_to_reach(target, expected):
    assert ablation.steps_to_reach([0, 20, 40, 60], [0.3, 0.4, 0.5, 0.6], target) == expected


def test_bootstrap_recovers_a_known_difference():
    rng = np.random.default_rng(0)
    a = {s: (rng.random(500) < 0.6).astype(float) for s in range(5)}
    b = {s: (rng.random(500) < 0.4).astype(float) for s in range(5)}
    d, lo, hi = ablation.paired_bootstrap(a, b, n_boot=500)
    assert lo < 0.2 < hi and lo > 0.1  # true difference 0.2 inside, and clearly above 0


def test_bootstrap_finds_nothing_where_there_is_nothing():
    rng = np.random.default_rng(1)
    a = {s: (rng.random(500) < 0.5).astype(float) for s in range(5)}
    b = {s: (rng.random(500) < 0.5).astype(float) for s in range(5)}
    d, lo, hi = ablation.paired_bootstrap(a, b, n_boot=500)
    assert lo < 0 < hi


def test_bootstrap_needs_a_shared_seed():
    with pytest.raises(ValueError, match="at least one seed"):
        ablation.paired_bootstrap({0: np.ones(3)}, {1: np.ones(3)})


def test_summary_is_a_pure_function_of_the_run_files(tmp_path):
    for s in range(3):
        fake_run(tmp_path / "dense" / f"s{s}", s, 0.6)
        fake_run(tmp_path / "sparse" / f"s{s}", s, 0.4)
    first = ablation.summarise(ablation.read_runs(tmp_path), n_boot=300)
    second = ablation.summarise(ablation.read_runs(tmp_path), n_boot=300)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["arms"]["dense"]["seeds"] == [0, 1, 2]
    assert first["dense_minus_sparse"]["interval"][0] > 0  # dense is better by construction
    assert first["finding"].startswith("Dense placement beats sparse")
    assert first["arms"]["dense"]["curve"]["step"] == [0, 20, 40]


@pytest.mark.parametrize(
    "d, lo, hi, start",
    [
        (0.05, 0.02, 0.08, "Dense placement beats sparse on held-out pass@1: dense - sparse = +0.050"),
        (-0.043, -0.076, -0.012, "Sparse placement beats dense on held-out pass@1: dense - sparse = -0.043"),
        (-0.009, -0.034, 0.016, "At this scale dense and sparse placement cannot be told apart"),  # 0 inside
    ],
)
def test_the_finding_names_the_winner_and_the_signed_difference(d, lo, hi, start):
    assert ablation.finding(d, lo, hi, 5).startswith(start)


def test_the_finding_says_when_arms_cannot_be_told_apart():
    text = ablation.finding(0.01, -0.03, 0.05, 5)
    assert "cannot be told apart" in text and "contains 0" in text


def test_runner_skips_finished_runs_and_resumes_others(tmp_path, monkeypatch):
    import dense_rl.train as train_mod

    calls = []

    def fake_train(cfg, folder, resume, eval_tasks, curve_every, curve_tasks):
        calls.append((folder.parent.name, folder.name, resume))
        cfg.to_json(folder / "config.json")

    monkeypatch.setattr(train_mod, "train", fake_train)
    finished = {"dense/s0"}  # as if its summary and checkpoint existed
    monkeypatch.setattr(train_mod, "run_finished", lambda d: f"{d.parent.name}/{d.name}" in finished)
    ablation.run_arm(tmp_path, "dense", 0, steps=10)
    ablation.run_arm(tmp_path, "sparse", 0, steps=10)
    assert calls == [("sparse", "s0", True)]  # dense s0 skipped; sparse s0 trained with resume=True


def _record_job(root, arm, seed, steps):
    # a stand-in for run_arm in a worker process: which process ran the job, with how many torch threads
    import os

    import torch

    (root / f"{arm}-{seed}.json").write_text(json.dumps([os.getpid(), torch.get_num_threads(), steps]))


def test_parallel_jobs_run_every_job_in_worker_processes_sharing_the_cores(tmp_path):
    import os

    jobs = [(0, "dense"), (0, "sparse"), (1, "dense"), (1, "sparse"), (2, "dense")]
    ablation.run_jobs(tmp_path, jobs, 2, run=_record_job, steps=7)
    done = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert sorted(done) == ["dense-0", "dense-1", "dense-2", "sparse-0", "sparse-1"]
    assert {pid for pid, _, _ in done.values()} - {os.getpid()}  # not in this process
    cores = os.cpu_count() or 1
    pairs = {threads for name, (_, threads, _) in done.items() if name != "dense-2"}
    assert pairs == {max(1, cores // 2)} and done["dense-2"][1] == cores  # the last one alone gets every core
    assert {steps for _, _, steps in done.values()} == {7}


def test_runner_refuses_a_folder_with_other_settings(tmp_path, monkeypatch):
    import dense_rl.train as train_mod

    monkeypatch.setattr(train_mod, "train", lambda cfg, folder, **kw: cfg.to_json(folder / "config.json"))
    monkeypatch.setattr(train_mod, "run_finished", lambda d: False)
    ablation.run_arm(tmp_path, "dense", 0, steps=10)
    with pytest.raises(ValueError, match="other settings"):
        ablation.run_arm(tmp_path, "dense", 0, steps=20)


def test_adopting_a_run_with_other_settings_is_an_error(tmp_path):
    from dense_rl.config import get_preset

    run = tmp_path / "run"
    get_preset("tiny-code", reward_mode="sparse", seed=0).to_json(run / "config.json")
    with pytest.raises(ValueError, match="settings of arm 'dense'"):
        ablation.adopt(run, tmp_path / "ablation", "dense")  # a sparse run is not the dense arm's


def test_component_arms_are_compared_with_dense_on_their_shared_seeds(tmp_path):
    for s in range(3):
        fake_run(tmp_path / "dense" / f"s{s}", s, 0.4)
        fake_run(tmp_path / "tests-only-dense" / f"s{s}", s, 0.6)  # better by construction
        fake_run(tmp_path / "dense-no-lint" / f"s{s}", s, 0.41)  # other draws of (nearly) the same rate
    fake_run(tmp_path / "dense" / "s3", 3, 0.4)  # a seed only dense has: not paired, not used
    effects = ablation.summarise(ablation.read_runs(tmp_path), n_boot=300)["vs_dense"]
    better, same = effects["tests-only-dense"], effects["dense-no-lint"]
    assert better["seeds"] == [0, 1, 2] and better["interval"][0] > 0
    assert better["finding"].startswith("tests-only-dense raises held-out pass@1")
    assert same["interval"][0] < 0 < same["interval"][1]
    assert "does not measurably change" in same["finding"]


def test_robot_arms_get_their_own_dense_vs_sparse_finding_on_task_success(tmp_path):
    for s in range(3):
        fake_run(tmp_path / "robot-dense" / f"s{s}", s, 0.15)
        fake_run(tmp_path / "robot-sparse" / f"s{s}", s, 0.35)  # sparse better by construction
    summary = ablation.summarise(ablation.read_runs(tmp_path), n_boot=300)
    robot = summary["robot_dense_minus_sparse"]
    assert robot["interval"][1] < 0 and robot["seeds"] == [0, 1, 2]
    assert robot["finding"].startswith("Sparse placement beats dense on held-out robot task success")
    assert "robot-dense - robot-sparse = -0." in robot["finding"]
    assert "finding" not in summary and summary["vs_dense"] == {}  # no code arms: no code claims


def test_every_paired_comparison_is_one_row_of_the_effects_figure(tmp_path):
    import matplotlib.pyplot as plt

    for s in range(2):
        for arm, p in (("dense", 0.4), ("sparse", 0.5), ("dense-no-lint", 0.4), ("robot-dense", 0.2)):
            fake_run(tmp_path / arm / f"s{s}", s, p)
    fake_run(tmp_path / "robot-sparse" / "s0", 0, 0.2)
    summary = ablation.summarise(ablation.read_runs(tmp_path), n_boot=100)
    fig = ablation.effects_figure(summary)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["robot: dense - sparse", "dense-no-lint - dense", "dense - sparse (code)"]  # bottom up
    assert "tests_only_dense_minus_sparse" not in summary  # neither tests-only arm ran: no row, no claim
    curves = ablation.curves_figure(summary)
    assert [ax.get_title() for ax in curves.axes] == [title for title, _, _ in ablation.PANELS]
    plt.close("all")


def test_tests_only_arms_ask_dense_vs_sparse_without_the_syntax_and_lint_terms(tmp_path):
    for s in range(3):
        fake_run(tmp_path / "tests-only-dense" / f"s{s}", s, 0.5)
        fake_run(tmp_path / "tests-only-sparse" / f"s{s}", s, 0.51)  # another draw of (nearly) the same rate
    pair = ablation.summarise(ablation.read_runs(tmp_path), n_boot=300)["tests_only_dense_minus_sparse"]
    assert pair["interval"][0] < 0 < pair["interval"][1]  # the same rate: no difference claimed
    assert (
        "tests-only-dense - tests-only-sparse" in pair["finding"]
        and "cannot be told apart" in pair["finding"]
    )


def test_family_check_widens_every_interval_and_keeps_only_what_survives_it(tmp_path):
    for s in range(3):
        fake_run(tmp_path / "dense" / f"s{s}", s, 0.3)
        fake_run(tmp_path / "sparse" / f"s{s}", s, 0.6)  # a large difference: survives any correction
        for arm in ("dense-no-lint", "dense-no-dfg", "dense-no-syntax"):
            fake_run(tmp_path / arm / f"s{s}", s + 10 * len(arm), 0.3)  # the same rate as dense
    summary = ablation.summarise(ablation.read_runs(tmp_path), n_boot=300)
    family = summary["family"]
    assert family["level"] == pytest.approx(1 - 0.05 / 4)  # four questions: the headline and three arms
    for _, entry in ablation.comparisons(summary):
        (lo, hi), (flo, fhi) = entry["interval"], entry["family_interval"]
        assert flo <= lo and fhi >= hi  # the corrected interval contains the 95% one
    assert family["survive"] == ["dense - sparse (code)"]
    assert family["finding"].endswith("1 still does: dense - sparse (code).")


def test_a_higher_level_gives_a_wider_interval_around_the_same_difference():
    rng = np.random.default_rng(2)
    a = {s: (rng.random(400) < 0.5).astype(float) for s in range(4)}
    b = {s: (rng.random(400) < 0.5).astype(float) for s in range(4)}
    d95, lo95, hi95 = ablation.paired_bootstrap(a, b, n_boot=2000)
    d99, lo99, hi99 = ablation.paired_bootstrap(a, b, n_boot=2000, level=0.99)
    assert d95 == d99 and lo99 < lo95 and hi99 > hi95
