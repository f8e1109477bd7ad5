"""Tables and the README section are pure functions of result files."""

import json

import pytest

from dense_rl.report import ablation_table, results_section, update_readme


def _run(folder, seed, base, final):
    folder.mkdir(parents=True)
    summary = {
        "seed": seed,
        "base_heldout_pass_at_1": base,
        "final_heldout_pass_at_1": final,
        "minutes": 9.0,
        "steps": 100,
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_ablation_table_reports_the_mean_change_per_mode(tmp_path):
    runs = {
        "dense": [_run(tmp_path / "d0", 0, 0.30, 0.45), _run(tmp_path / "d1", 1, 0.30, 0.41)],
        "sparse": [_run(tmp_path / "s0", 0, 0.30, 0.35)],
    }
    table = ablation_table(runs)
    assert "| dense | 0, 1 | 0.300 | 0.430 | +0.130 ± 0.028 |" in table
    assert "| sparse | 0 | 0.300 | 0.350 | +0.050 |" in table


def test_unfinished_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="has not finished"):
        ablation_table({"dense": [tmp_path]})


def test_readme_section_is_replaced_between_markers(tmp_path):
    scale = tmp_path / "tiny"
    scale.mkdir()
    (scale / "table2.md").write_text("| programs | Success |\n")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:tiny -->\nold\n<!-- /results:tiny -->\nend\n")
    update_readme(readme, scale)
    text = readme.read_text()
    assert "old" not in text and "| programs | Success |" in text and text.endswith("end\n")
    assert results_section(scale) in text


def test_readme_without_markers_is_a_clear_error(tmp_path):
    (tmp_path / "README.md").write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        update_readme(tmp_path / "README.md", tmp_path)


@pytest.mark.parametrize(
    "stages, cached, says",
    [
        ({"00": 600.0, "05": 300.0}, False, "every stage ran; the tiny policy was built in this run"),
        ({"00": "skipped", "05": 300.0}, True, "1 of 2 stages had finished earlier and were skipped"),
        ({"00": 600.0}, None, "(every stage ran; seconds per notebook"),  # older record: no cache flag
    ],
)
def test_readme_says_what_the_reproduce_time_covers(tmp_path, stages, cached, says):
    record = {"preset": "tiny", "machine": "m", "stages": stages, "total_seconds": 900.0}
    if cached is not None:
        record["tiny_policy_cached"] = cached
    (tmp_path / "reproduce.json").write_text(json.dumps(record))
    assert says in results_section(tmp_path)


def test_readme_shows_each_robot_arm_before_and_after(tmp_path):
    metrics = dict(tasks=500, error_free=0.5, distinct_programs=150, mean_program_lines=6.28)
    arm = dict(seed=0, steps=40, minutes=12.0, base=metrics | {"task_success": 0.0})
    arm["final"] = metrics | {"task_success": 0.12, "error_free": 0.9, "distinct_programs": 6}
    scale = tmp_path / "tiny"
    scale.mkdir()
    (scale / "robot_summary.json").write_text(json.dumps({"tiny-robot": arm}))
    row = next(line for line in results_section(scale).splitlines() if line.startswith("| tiny-robot"))
    # task success, error-free share and distinct programs, each as before -> after
    assert "0.000 -> 0.120" in row and "0.500 -> 0.900" in row and "150 -> 6 (of 500)" in row
    assert row.endswith("| - |")  # names copied: not measured in these records, said as such
    arm["base"]["names_copied"], arm["final"]["names_copied"] = 0.47, 0.41
    (scale / "robot_summary.json").write_text(json.dumps({"tiny-robot": arm}))
    row = next(line for line in results_section(scale).splitlines() if line.startswith("| tiny-robot"))
    assert row.endswith("| 0.470 -> 0.410 |")


def test_readme_shows_the_full_ablation_with_intervals_and_its_finding(tmp_path):
    arm = dict(
        seeds=[0, 1], final_per_seed=[0.4, 0.5], final_mean=0.45, final_interval=[0.2, 0.7], base_mean=0.3
    )
    one = dict(arm, seeds=[0], final_per_seed=[0.4], final_mean=0.4, final_interval=[float("nan")] * 2)
    summary = {"arms": {"dense": arm | {"minutes": 18.0}, "sparse": one | {"minutes": 9.0}}, "finding": "F."}
    summary["dense_minus_sparse"] = {
        "finding": "F."
    }  # the shape summarise writes: the headline is its finding
    (tmp_path / "tiny" / "ablation").mkdir(parents=True)
    (tmp_path / "tiny" / "ablation" / "summary.json").write_text(json.dumps(summary))
    text = results_section(tmp_path / "tiny")
    dense = next(line for line in text.splitlines() if line.startswith("| dense |"))
    sparse = next(line for line in text.splitlines() if line.startswith("| sparse |"))
    assert "0.450 | 0.200 to 0.700 | 0.400, 0.500" in dense  # mean, interval, every seed
    assert "| 0.400 | - |" in sparse  # one seed: no interval, said as such
    assert "](results/tiny/ablation/curves.png)" in text  # the figure, as a link the README renders
    assert text.rstrip().endswith("F.")  # the finding closes the table


def test_readme_states_each_component_arms_finding_after_the_headline(tmp_path):
    arm = dict(seeds=[0], final_per_seed=[0.4], final_mean=0.4, final_interval=[float("nan")] * 2)
    arm |= dict(base_mean=0.3, minutes=1.0)
    summary = {"arms": {"dense": arm}, "finding": "F.", "dense_minus_sparse": {"finding": "F."}}
    summary["vs_dense"] = {"dense-no-lint": {"finding": "G."}}
    (tmp_path / "tiny" / "ablation").mkdir(parents=True)
    (tmp_path / "tiny" / "ablation" / "summary.json").write_text(json.dumps(summary))
    text = results_section(tmp_path / "tiny")
    assert text.index("F.") < text.index("G.")  # dense vs sparse first, then what each component does
    # the differences' figure, then each in words
    assert text.index("ablation/effects.png") < text.index("F.")


def test_readme_states_the_robot_finding_last(tmp_path):
    arm = dict(seeds=[0], final_per_seed=[0.1], final_mean=0.1, final_interval=[float("nan")] * 2)
    arm |= dict(base_mean=0.15, minutes=1.0)
    summary = {"arms": {"robot-dense": arm}, "robot_dense_minus_sparse": {"finding": "R."}}
    (tmp_path / "tiny" / "ablation").mkdir(parents=True)
    (tmp_path / "tiny" / "ablation" / "summary.json").write_text(json.dumps(summary))
    text = results_section(tmp_path / "tiny")
    assert text.rstrip().endswith("R.") and "held-out task success for robot arms" in text


def test_readme_ends_with_how_many_findings_survive_the_correction(tmp_path):
    arm = dict(seeds=[0], final_per_seed=[0.1], final_mean=0.1, final_interval=[float("nan")] * 2)
    arm |= dict(base_mean=0.15, minutes=1.0)
    summary = {"arms": {"robot-dense": arm}, "robot_dense_minus_sparse": {"finding": "R."}}
    summary["family"] = {"finding": "1 of 1 ... none does."}
    (tmp_path / "tiny" / "ablation").mkdir(parents=True)
    (tmp_path / "tiny" / "ablation" / "summary.json").write_text(json.dumps(summary))
    text = results_section(tmp_path / "tiny")
    assert text.rstrip().endswith("R.\n\n1 of 1 ... none does.")
