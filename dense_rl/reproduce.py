"""Headless reproduction: run the notebooks in order with papermill for a preset and record the times.

    python -m dense_rl.reproduce --preset tiny            # what `make reproduce` runs
    python -m dense_rl.reproduce --preset tiny --force    # rerun stages that already finished
    python -m dense_rl.reproduce --strip notebooks        # strip outputs from notebooks before committing

Executed notebooks go to results/<scale>/notebooks/. A stage whose executed copy finished on this machine
with the same parameters (marker <notebook>.done.json, never committed: a fresh clone runs every stage) is
skipped unless --force; training runs finished here are reused the same way (dense_rl.train.run_finished).
A failing notebook stops the run with the notebook and the cell named. results/<scale>/reproduce.json records
the seconds of every stage and the total.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

import nbformat
import papermill

from dense_rl.config import preset_names
from dense_rl.data import DataMissing, check_ready
from dense_rl.paths import ROOT, shown
from dense_rl.report import update_readme

NOTEBOOKS = ROOT / "notebooks"
# Stages in order; each runs once per preset it applies to. A notebook not yet in notebooks/ is skipped.
STAGES = (
    ("00_tiny_policy", ("tiny-code",)),
    ("01_syntax_processor", ("tiny-code", "paper-mbpp")),
    ("02_ruff_attribution", ("tiny-code", "paper-mbpp")),
    ("03_task_rewards", ("tiny-code", "paper-mbpp")),
    ("04_simulator_reward", ("tiny-robot", "paper-robo")),
    ("05_dense_ppo", ("tiny-code", "tiny-robot", "tiny-robot-paper", "paper-mbpp", "paper-robo")),
    ("06_evaluation", ("tiny-code", "tiny-robot", "tiny-robot-paper", "paper-mbpp", "paper-robo")),
    ("07_ablation", ("tiny-code", "paper-mbpp")),
)


class StageFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell and the error."""


def scale_of(preset: str) -> str:
    return "tiny" if preset.startswith("tiny") else preset


# What a parameter's declared type (`name: type = default` in the parameters cell) accepts.
ACCEPTS = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict}


def check_parameters(notebook: Path, declared: dict, parameters: dict) -> None:
    """Raise ValueError naming the notebook, the parameter, its declared type and a valid example when a
    value has the wrong type (papermill itself injects anything and the notebook fails cells later).
    `declared` is papermill.inspect_notebook(notebook)."""
    for name, value in parameters.items():
        spec = declared[name]
        want = spec["inferred_type_name"]
        accepts = ACCEPTS.get(want, object)
        if not isinstance(value, accepts) or (isinstance(value, bool) and want in ("int", "float")):
            raise ValueError(
                f"notebook {notebook.name}: parameter {name!r} must be {want} (declared `{name}: {want} = "
                f"{spec['default']}`), got {value!r} ({type(value).__name__}); "
                f"e.g. --param {name}={spec['default']}"
            )


def stage_parameters(notebook: Path, declared: dict, preset: str, overrides: dict | None = None) -> dict:
    """The run's parameters (and the user's overrides), restricted to those the notebook declares, checked."""
    wanted = {"preset": preset, "out_dir": f"results/{scale_of(preset)}"}
    if scale_of(preset) != "tiny":
        wanted["mbpp_limit"] = 0  # the paper's tables need all 378 MBPP+ tasks; the tiny run checks a subset
    wanted |= overrides or {}
    parameters = {k: v for k, v in wanted.items() if k in declared}
    check_parameters(notebook, declared, parameters)
    return parameters


def plan(presets: tuple[str, ...], notebooks_dir: Path, out: Path, overrides: dict | None) -> list[tuple]:
    """(stage name, preset, notebook, executed copy, parameters) of every stage to run, in order.

    Built before anything runs, so a parameter of the wrong type, or one no notebook declares, stops the
    reproduction at once instead of after an hour of earlier stages.
    """
    declared = {nb.stem: papermill.inspect_notebook(str(nb)) for nb in sorted(notebooks_dir.glob("*.ipynb"))}
    unknown = set(overrides or {}) - {name for names in declared.values() for name in names}
    if unknown:
        raise ValueError(f"no notebook declares the parameter(s) {sorted(unknown)}; see the parameters cells")
    stages = []
    for name, applies_to in STAGES:
        notebook = notebooks_dir / f"{name}.ipynb"
        runs = [p for p in presets if p in applies_to] if name in declared else []
        for p in runs:
            executed = out / "notebooks" / (f"{name}-{p}.ipynb" if len(runs) > 1 else f"{name}.ipynb")
            stages.append(
                (name, p, notebook, executed, stage_parameters(notebook, declared[name], p, overrides))
            )
    return stages


def finished(executed: Path, parameters: dict) -> bool:
    """Did an earlier run of this stage complete with the same parameters?"""
    marker = executed.with_suffix(".done.json")
    return executed.exists() and marker.exists() and json.loads(marker.read_text()) == parameters


def run_stage(notebook: Path, executed: Path, parameters: dict) -> float:
    """Execute one notebook headless; returns seconds. Raises StageFailed naming notebook and cell."""
    executed.parent.mkdir(parents=True, exist_ok=True)
    executed.with_suffix(".done.json").unlink(missing_ok=True)
    t0 = time.time()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            cwd=str(NOTEBOOKS),
            progress_bar=True,
            kernel_name="python3",
        )
    except papermill.PapermillExecutionError as err:
        raise StageFailed(
            f"notebook {notebook.name} failed in cell {err.exec_count} ({err.ename}: {err.evalue}); "
            f"the executed copy with the traceback is {executed}"
        ) from err
    # papermill records where it read and wrote: keep those paths relative, as every result file
    nb = nbformat.read(executed, as_version=4)
    for key in ("input_path", "output_path"):
        if key in nb.metadata.get("papermill", {}):
            nb.metadata.papermill[key] = shown(nb.metadata.papermill[key])
    nbformat.write(nb, executed)
    executed.with_suffix(".done.json").write_text(json.dumps(parameters))
    return time.time() - t0


def reproduce(
    preset: str,
    force: bool = False,
    notebooks_dir: Path = NOTEBOOKS,
    out_root: Path | None = None,
    overrides: dict | None = None,
) -> dict:
    """Run every stage of `preset` (an alias like 'tiny' expands); returns and writes reproduce.json.

    `overrides` ({name: value}) go to every notebook that declares that parameter, e.g. {"steps": 80}; each is
    checked against the declared type before anything runs, and a name no notebook declares is an error.
    """
    presets = preset_names(preset)
    scale = scale_of(presets[0])
    out = (out_root or ROOT / "results") / scale
    stages = plan(presets, notebooks_dir, out, overrides)
    # data and models of every stage that will run, before the first one (seconds, not an hour in)
    check_ready([row for row in stages if force or not finished(row[3], row[4])])
    from dense_rl.evaluate import machine  # torch and friends: imported after the data pre-check

    record: dict = {"preset": preset, "machine": machine(), "stages": {}}
    if scale == "tiny":  # building the policies is part of the first run's time
        from dense_rl.tiny import TinySpec, cache_dir, robot_folder_name

        record["tiny_policy_cached"] = (cache_dir() / TinySpec().folder_name() / "config.json").exists()
        record["tiny_robot_policy_cached"] = (cache_dir() / robot_folder_name() / "config.json").exists()
    t0 = time.time()
    for name, p, notebook, executed, params in stages:
        if not force and finished(executed, params):
            print(f"[reproduce] {executed.name}: finished earlier, skipped (--force reruns it)", flush=True)
            record["stages"][executed.stem] = "skipped"
            continue
        print(f"[reproduce] {name} for {p} -> {executed.relative_to(out.parent.parent)}", flush=True)
        record["stages"][executed.stem] = round(run_stage(notebook, executed, params), 1)
    record["total_seconds"] = round(time.time() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reproduce.json").write_text(json.dumps(record, indent=2) + "\n")
    if out_root is None:  # the real results folder: show them in the README
        update_readme(ROOT / "README.md", out)
    return record


def strip_outputs(folder: Path) -> None:
    """Remove outputs and execution counts from every notebook in `folder` (clean diffs)."""
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            cell.metadata.pop("papermill", None)
        nb.metadata.pop("papermill", None)
        nbformat.write(nb, path)


def parse_param(text: str) -> tuple[str, object]:
    """'steps=80' -> ('steps', 80): the value is read as a Python literal, else kept as a string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--param {text!r}: write NAME=VALUE, e.g. --param steps=80")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the notebooks headless with papermill.")
    parser.add_argument("--preset", default="tiny", help="tiny (both tiny presets), paper-mbpp or paper-robo")
    parser.add_argument("--force", action="store_true", help="rerun stages that finished earlier")
    parser.add_argument("--strip", type=Path, help="strip outputs from the notebooks in this folder and exit")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a notebook parameter, e.g. steps=80",
    )
    args = parser.parse_args(argv)
    if args.strip:
        strip_outputs(args.strip)
        return 0
    try:
        record = reproduce(args.preset, force=args.force, overrides=dict(map(parse_param, args.param)))
    except (StageFailed, ValueError, DataMissing) as err:
        print(f"[reproduce] stopped: {err}", file=sys.stderr)
        return 1
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
