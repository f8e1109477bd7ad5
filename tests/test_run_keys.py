"""Run folders are keyed by every setting that changes a run's result; interactive runs leave results/ alone.

.venv/bin/python -m pytest tests/test_run_keys.py -q      # the notebook test builds the shrunken policy
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import papermill
import pytest

from dense_rl.config import get_preset
from dense_rl.paths import ROOT
from dense_rl.train import run_finished, run_name

BASE = get_preset("tiny-code")


@pytest.mark.parametrize(
    "changed, eval_tasks",
    [
        ({"total_steps": 20}, 500),  # a shorter run: the class-sized setting
        ({"seed": 1}, 500),  # another seed
        ({"reward_mode": "sparse"}, 500),  # the ablation
        ({"learning_rate": 1e-4}, 500),  # any optimiser setting
        ({"w_lint": 0.0}, 500),  # a reward weight
        ({"length_normalise": True}, 500),  # a reward option
        ({"group_baseline": True}, 500),  # a field added later, once set
        ({}, 50),  # fewer held-out tasks: another summary
    ],
)
def test_a_changed_setting_gives_another_folder(changed, eval_tasks):
    assert run_name(get_preset("tiny-code", **changed), eval_tasks) != run_name(BASE)


def test_the_name_is_stable_and_readable():
    name = run_name(get_preset("tiny-code"))
    assert name == run_name(BASE)  # same settings, same folder: a finished run is reused
    assert name.startswith("tiny-code-dense-s0-") and len(name.rsplit("-", 1)[1]) == 8


def test_a_field_added_later_keeps_earlier_runs_at_their_default(tmp_path):
    # a run recorded before group_baseline existed: its config.json lacks the field, and it is still reused
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("step_000160")
    (tmp_path / "summary.json").write_text("{}")
    old = {k: v for k, v in json.loads(json.dumps(asdict(BASE))).items() if k != "group_baseline"}
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert run_finished(tmp_path, BASE)
    assert not run_finished(tmp_path, get_preset("tiny-code", group_baseline=True))


def test_a_run_on_some_robot_templates_has_its_own_folder(tmp_path):
    robot = get_preset("tiny-robot")
    narrowed = get_preset("tiny-robot", robot_templates=("go_say",))
    assert run_name(narrowed) != run_name(robot)
    # config.json writes the tuple as a list: the default still reads back as the default
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("step_000040")
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "config.json").write_text(json.dumps(asdict(robot)))
    assert run_finished(tmp_path, robot)
    assert not run_finished(tmp_path, narrowed)


def test_checkpoint_frequency_is_not_a_result():
    assert run_name(get_preset("tiny-code", checkpoint_every=5)) == run_name(BASE)


def test_a_finished_run_with_other_settings_is_not_reused(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("step_000020")
    (tmp_path / "summary.json").write_text("{}")
    get_preset("tiny-code", total_steps=20).to_json(tmp_path / "config.json")
    assert run_finished(tmp_path, get_preset("tiny-code", total_steps=20))
    assert not run_finished(tmp_path, BASE)  # same folder, 160 steps asked for: train, do not reuse


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_committed_code_runs_sit_under_their_keyed_names(mode):
    # notebooks 06/07 find the committed runs of the default settings by run_name
    cfg = get_preset("tiny-code", reward_mode=mode)
    run = ROOT / "results" / "tiny" / run_name(cfg)
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["reward_mode"], summary["steps"]) == (mode, cfg.total_steps)
    saved = json.loads((run / "config.json").read_text())
    now = json.loads(json.dumps(asdict(cfg)))
    # the run's own record differs from today's preset only in fields that are zero (switched off) in both
    assert all(
        not saved.get(k) and not now.get(k) for k in set(saved) | set(now) if saved.get(k) != now.get(k)
    )


def tree_digest(folder) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture()
def tiny_as_default(tiny_path, tmp_path, monkeypatch):
    """The shrunken policy as the presets' default ('tiny' -> cache/tiny-policy-seed0) in notebook kernels."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny-policy-seed0").symlink_to(tiny_path)
    (cache / "tiny-robot-policy-seed0").symlink_to(tiny_path)
    monkeypatch.setenv("DENSE_RL_CACHE", str(cache))  # inherited by the kernel papermill starts
    return tiny_path


@pytest.mark.slow
def test_an_interactive_notebook_run_leaves_committed_results_alone(tiny_as_default, tmp_path):
    committed = ROOT / "results" / "tiny"
    before = tree_digest(committed)
    declared = papermill.inspect_notebook(str(ROOT / "notebooks" / "02_ruff_attribution.ipynb"))
    assert declared["out_dir"]["default"] == '"scratch/tiny"'  # what a student gets without parameters
    papermill.execute_notebook(  # no out_dir given: the notebook's own default, as in JupyterLab
        str(ROOT / "notebooks" / "02_ruff_attribution.ipynb"),
        str(tmp_path / "02.ipynb"),
        cwd=str(ROOT / "notebooks"),
        parameters={"n_policy_samples": 2, "batch_size_timing": 4},
        progress_bar=False,
    )
    assert tree_digest(committed) == before
    assert any((ROOT / "scratch" / "tiny").rglob("*.png"))  # it did write, under scratch/
