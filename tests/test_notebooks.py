"""The notebooks as a reader sees them: each one executed once headless on the shrunken policy, then checked.

    .venv/bin/python -m pytest tests/test_notebooks.py -q          # ~10 min on 2 cores (all notebooks)
    .venv/bin/python -m pytest tests/test_notebooks.py -q -m "not slow"   # the static checks only

Every notebook runs ONCE per session (module fixture `executed`), with small parameters, writing under the
git-ignored scratch/ folder with a RELATIVE out_dir, exactly as `python -m dense_rl.reproduce` passes
results/<scale>; every check then reads the executed copy or the files it wrote:
- each cell tagged "figure" saved an image/png output (a figure nobody sees does not count);
- no cell saved more than a few KB of stderr (progress bars as one line, no warning noise);
- no saved output and no result file holds an absolute path of this machine;
- what each stage must write (base_policy.json, a run's metrics.csv, ablation.md, table1.md) is there.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from dense_rl.paths import ROOT
from dense_rl.reproduce import NOTEBOOKS

PAPER = "https://arxiv.org/abs/2605.21180"
STDERR_LIMIT = 4000  # bytes of stderr one cell may save
# notebook -> parameters of its headless run (the shrunken policy stands in for the tiny one)
RUNS = {
    "00_tiny_policy": {"n_heldout": 4, "n_samples": 2},
    "01_syntax_processor": {"n_policy_samples": 4},
    "02_ruff_attribution": {"n_policy_samples": 4, "batch_size_timing": 4},
    "03_task_rewards": {"n_tasks": 2},
    "04_simulator_reward": {},
    "05_dense_ppo": {"steps": 2, "eval_tasks": 4},
    "07_ablation": {"steps": 1, "eval_tasks": 4},
    "06_evaluation": {"steps": 2, "eval_tasks": 4, "mbpp_limit": 3, "heldout_tasks": 4, "humaneval_tasks": 0},
}
NEEDS = {"06_evaluation": ("05_dense_ppo",)}  # 06 evaluates the run 05 trained
# cells that must show a figure, per notebook (cells tagged "figure")
EXPECTED_FIGURES = {
    "00_tiny_policy": 2,
    "01_syntax_processor": 2,
    "02_ruff_attribution": 2,
    "03_task_rewards": 1,
    "04_simulator_reward": 3,  # reference vs broken, a policy sample, the task reward
    "05_dense_ppo": 4,
    "06_evaluation": 0,  # its only figure (RoboEval programs) belongs to the robot variant
    "07_ablation": 2,
}


def _cells(nb, tag: str | None = None):
    return [
        c for c in nb.cells if c.cell_type == "code" and (tag is None or tag in c.metadata.get("tags", []))
    ]


def _output_text(output) -> str:
    """Everything of an output a reader could see, as text (images excluded)."""
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return "\n".join(str(v) for k, v in output.get("data", {}).items() if not k.startswith("image/"))


@pytest.fixture(scope="module")
def executed(tiny_path, tmp_path_factory):
    """name -> (executed notebook, its out folder); each notebook runs at most once, on first request."""
    cache = tmp_path_factory.mktemp("cache")
    (cache / "tiny-policy-seed0").symlink_to(tiny_path)  # the presets' 'tiny' model
    (cache / "tiny-robot-policy-seed0").symlink_to(tiny_path)  # and their 'tiny-robot' model
    out_dir = f"scratch/test-notebooks-{os.getpid()}"  # relative, as reproduce passes results/<scale>
    done: dict[str, tuple] = {}

    def run(name: str):
        if name not in done:
            for needed in NEEDS.get(name, ()):
                run(needed)
            target = tmp_path_factory.mktemp("executed") / f"{name}.ipynb"
            papermill.execute_notebook(
                str(NOTEBOOKS / f"{name}.ipynb"),
                str(target),
                cwd=str(NOTEBOOKS),
                parameters={"out_dir": out_dir, **RUNS[name]},
                progress_bar=False,
            )
            done[name] = (nbformat.read(target, as_version=4), ROOT / out_dir)
        return done[name]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DENSE_RL_CACHE", str(cache))  # inherited by the kernels papermill starts
        yield run
    shutil.rmtree(ROOT / out_dir, ignore_errors=True)


def _machine_paths() -> list[str]:
    """Absolute paths that must never appear in what a notebook shows or writes."""
    return sorted({str(ROOT), str(Path.home()), "/tmp/", "/work/", "/home/"} - {"/"})


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_every_figure_cell_shows_an_image(executed, name):
    nb, _ = executed(name)
    figure_cells = _cells(nb, "figure")
    assert len(figure_cells) == EXPECTED_FIGURES[name]
    for cell in figure_cells:
        kinds = [
            o.get("data", {}).keys()
            for o in cell.outputs
            if o.output_type in ("display_data", "execute_result")
        ]
        assert any("image/png" in k for k in kinds), f"no image in figure cell:\n{cell.source[:200]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_no_cell_saves_more_than_a_few_kb_of_stderr(executed, name):
    nb, _ = executed(name)
    for cell in _cells(nb):
        stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
        assert len(stderr.encode()) <= STDERR_LIMIT, f"{len(stderr)} B of stderr:\n{stderr[:600]}"
        assert "Warning" not in stderr, stderr[:600]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_outputs_hold_no_absolute_machine_path(executed, name):
    nb, _ = executed(name)
    for cell in _cells(nb):
        if "injected-parameters" in cell.metadata.get("tags", []):
            continue  # papermill's own cell: the parameters as passed
        text = "\n".join(_output_text(o) for o in cell.outputs)
        for path in _machine_paths():
            assert path not in text, f"{path!r} in the output of:\n{cell.source[:200]}"


@pytest.mark.slow
def test_result_files_hold_no_absolute_machine_path(executed):
    _, out = executed("06_evaluation")  # runs 05 first; together with the others they wrote `out`
    for name in RUNS:
        executed(name)
    # checkpoints are machine-local and never committed (peft records its base model's path in them)
    results = [p for p in out.rglob("*") if p.suffix in (".json", ".jsonl", ".md", ".csv")]
    for path in [p for p in results if "checkpoints" not in p.relative_to(out).parts]:
        text = path.read_text()
        for machine_path in _machine_paths():
            assert machine_path not in text, f"{machine_path!r} in {path.relative_to(out)}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, written",
    [
        ("00_tiny_policy", ["base_policy.json", "base_policy_failures.png"]),  # the base policy report
        (
            "05_dense_ppo",
            ["tiny-code-dense-s0-*/metrics.csv", "ppo_summary.json", "05_dense_ppo/credit_toy.png"],
        ),
        ("07_ablation", ["ablation.md", "ablation_curves.png"]),  # the dense vs sparse table and curves
        ("06_evaluation", ["table1.md", "mbpp/fine-tuned-paper/summary.json"]),  # Table 1 and its runs
    ],
)
def test_each_stage_writes_its_results(executed, name, written):
    _, out = executed(name)
    for relpath in written:
        assert list(out.glob(relpath)), relpath  # run folders carry a key of their settings


@pytest.mark.slow
def test_training_run_logs_one_row_per_step(executed):
    _, out = executed("05_dense_ppo")
    # 05's run (2 steps); 07 may have trained its own dense run into the same out_dir
    (metrics,) = [
        m
        for m in out.glob("tiny-code-dense-s0-*/metrics.csv")
        if json.loads((m.parent / "config.json").read_text())["total_steps"] == 2
    ]
    assert len(metrics.read_text().splitlines()) == 3  # header + 2 steps


@pytest.mark.slow
def test_fine_tuned_mbpp_rows_are_labelled_by_their_run(executed):
    _, out = executed("06_evaluation")
    summary = json.loads((out / "mbpp" / "fine-tuned-paper" / "summary.json").read_text())
    assert summary["model"].startswith("fine-tuned (tiny-code-dense-s0-")  # the run, not the base model


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_notebook_has_maths_and_links_the_paper(path):
    markdown = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    assert any(PAPER in m for m in markdown)
    assert any("$" in m for m in markdown), "no LaTeX in any markdown cell"
    assert any(m.lstrip().startswith("## What to remember") or "\n## What to remember" in m for m in markdown)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_interactive_runs_write_under_scratch(path):
    cell = next(
        c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])
    )
    assert 'out_dir: str = "scratch/tiny"' in cell.source  # never over the committed results/


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_first_code_cell_installs_the_kit_where_it_is_missing(path):
    first = _cells(nbformat.read(path, as_version=4))[0]
    assert 'find_spec("dense_rl") is None' in first.source and "pip" in first.source
