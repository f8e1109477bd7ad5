"""The headless pipeline: notebooks run with papermill, finished stages are skipped, failures are named.

.venv/bin/python -m pytest tests/test_reproduce.py -q
"""

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


# The notebooks' own headless runs (outputs, figures, written results) are in tests/test_notebooks.py.


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
