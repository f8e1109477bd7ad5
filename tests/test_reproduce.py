"""The headless pipeline: notebooks run with papermill, finished stages are skipped, failures are named."""

import json
import re

import nbformat
import papermill
import pytest

from dense_rl.reproduce import NOTEBOOKS, StageFailed, parse_param, reproduce, strip_outputs


def _notebook(path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "preset: str = 'x'  # preset\nout_dir: str = 'y'  # out", metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.slow
def test_failing_notebook_stops_the_run_and_is_named(tmp_path):
    _notebook(tmp_path / "00_tiny_policy.ipynb", "raise ValueError('broken on purpose')")
    _notebook(tmp_path / "01_syntax_processor.ipynb", "open('ran', 'w')")
    with pytest.raises(StageFailed, match=r"00_tiny_policy\.ipynb failed in cell .*broken on purpose"):
        reproduce("tiny", notebooks_dir=tmp_path, out_root=tmp_path / "results")
    assert not (tmp_path / "ran").exists()  # the next stage never started


@pytest.mark.slow
def test_finished_stage_is_skipped_unless_forced(tmp_path):
    _notebook(tmp_path / "00_tiny_policy.ipynb", "print(preset)")
    first = reproduce("tiny", notebooks_dir=tmp_path, out_root=tmp_path / "results")
    second = reproduce("tiny", notebooks_dir=tmp_path, out_root=tmp_path / "results")
    forced = reproduce("tiny", force=True, notebooks_dir=tmp_path, out_root=tmp_path / "results")
    assert isinstance(first["stages"]["00_tiny_policy"], float)
    assert second["stages"]["00_tiny_policy"] == "skipped"
    assert isinstance(forced["stages"]["00_tiny_policy"], float)
    record = json.loads((tmp_path / "results" / "tiny" / "reproduce.json").read_text())
    assert record["total_seconds"] >= 0


def test_unknown_preset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="valid presets"):
        reproduce("tiny-cod", notebooks_dir=tmp_path, out_root=tmp_path)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebooks_are_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "strip outputs before committing"
    )
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for line in params[0].source.splitlines():  # literals only, each annotated and commented
        assert ": " in line.split("=")[0] and "  # " in line, line


def test_strip_outputs_removes_outputs(tmp_path):
    _notebook(tmp_path / "a.ipynb", "1 + 1")
    nb = nbformat.read(tmp_path / "a.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"})]
    nbformat.write(nb, tmp_path / "a.ipynb")
    strip_outputs(tmp_path)
    assert nbformat.read(tmp_path / "a.ipynb", as_version=4).cells[1].outputs == []


@pytest.mark.slow
def test_notebook_00_runs_headless_on_a_shrunken_policy(tiny_path, tmp_path):
    papermill.execute_notebook(
        str(NOTEBOOKS / "00_tiny_policy.ipynb"),
        str(tmp_path / "00.ipynb"),
        cwd=str(NOTEBOOKS),
        parameters={"model": str(tiny_path), "n_heldout": 4, "n_samples": 2, "out_dir": str(tmp_path)},
        progress_bar=False,
    )
    report = json.loads((tmp_path / "base_policy.json").read_text())
    assert report["heldout_tasks"] == 4 and 0 <= report["heldout_pass_at_1"] <= 1
    assert (tmp_path / "base_policy_failures.png").exists()


@pytest.mark.slow
def test_notebook_05_trains_and_writes_a_run(tiny_path, tmp_path):
    papermill.execute_notebook(
        str(NOTEBOOKS / "05_dense_ppo.ipynb"),
        str(tmp_path / "05.ipynb"),
        cwd=str(NOTEBOOKS),
        parameters={"model": str(tiny_path), "steps": 2, "eval_tasks": 4, "out_dir": str(tmp_path)},
        progress_bar=False,
    )
    run = tmp_path / "tiny-code-dense-s0"
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # header + one row per step
    summary = json.loads((tmp_path / "ppo_summary.json").read_text())[run.name]
    assert {"base_heldout_pass_at_1", "final_heldout_pass_at_1", "minutes", "seed"} <= set(summary)


@pytest.fixture()
def tiny_as_default(tiny_path, tmp_path, monkeypatch):
    """The shrunken policy as the presets' default ('tiny' -> cache/tiny-policy-seed0) in notebook kernels."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny-policy-seed0").symlink_to(tiny_path)
    monkeypatch.setenv("DENSE_RL_CACHE", str(cache))  # inherited by the kernel papermill starts
    return tiny_path


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["01_syntax_processor", "02_ruff_attribution", "03_task_rewards", "04_simulator_reward"]
)
def test_reward_notebooks_run_headless(name, tiny_as_default, tmp_path):
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(tmp_path / f"{name}.ipynb"),
        cwd=str(NOTEBOOKS),
        parameters={"out_dir": str(tmp_path / "out")},
        progress_bar=False,
    )
    assert any((tmp_path / "out").rglob("*.png"))  # every reward notebook draws a heat-map


@pytest.mark.slow
def test_ablation_then_evaluation_notebooks_run_headless(tiny_as_default, tmp_path):
    out = tmp_path / "out"
    common = {"out_dir": str(out), "eval_tasks": 4, "steps": 1}
    papermill.execute_notebook(
        str(NOTEBOOKS / "07_ablation.ipynb"),
        str(tmp_path / "07.ipynb"),
        cwd=str(NOTEBOOKS),
        parameters=common,
        progress_bar=False,
    )
    assert (
        "| dense |" in (out / "ablation.md").read_text() and "| sparse |" in (out / "ablation.md").read_text()
    )
    papermill.execute_notebook(
        str(NOTEBOOKS / "06_evaluation.ipynb"),
        str(tmp_path / "06.ipynb"),
        cwd=str(NOTEBOOKS),
        parameters={"out_dir": str(out), "mbpp_limit": 3, "heldout_tasks": 4},
        progress_bar=False,
    )
    assert "MBPP" in (out / "table1.md").read_text()


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_papermill_sees_every_declared_parameter(path):
    # papermill skips a line it cannot parse (e.g. an '=' inside the comment) and then never passes that value
    cell = next(
        c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])
    )
    declared = [line.split(":")[0] for line in cell.source.splitlines() if re.match(r"\w+\s*:", line)]
    assert sorted(papermill.inspect_notebook(str(path))) == sorted(declared)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"steps": "abc"}, "parameter 'steps' must be int"),  # a string where the notebook declares int
        ({"seeds": 0}, "parameter 'seeds' must be list"),  # one seed where 07 takes a list of them
        ({"eval_tasks": True}, "parameter 'eval_tasks' must be int"),  # a bool is not a count
        ({"stepz": 80}, "no notebook declares"),  # a typo in the name
    ],
)
def test_wrong_notebook_parameters_are_named_before_anything_runs(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        reproduce("tiny", out_root=tmp_path, overrides=overrides)
    assert not (tmp_path / "tiny" / "notebooks").exists()  # nothing ran


def test_param_flag_reads_python_literals():
    assert parse_param("steps=80") == ("steps", 80)
    assert parse_param("seeds=[0, 1]") == ("seeds", [0, 1])
    assert parse_param("model=cache/x") == ("model", "cache/x")  # not a literal: kept as text
