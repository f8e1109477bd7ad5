"""RoboEval's upstream files -> the two jsonl files the kit's evaluator reads, without running upstream code.

    python -m dense_rl.robot.roboeval_convert TASKS_DIR [CSV] --out FOLDER

RoboEval (ut-amrl/robo-instruct, roboeval/benchmark/tasks/<Task>.py; the same files as ut-amrl/codebotler's
benchmark/tasks/) keeps each task as a Python module: module-level literals `name` and `prompts`, world
states built by chained calls `stateN = State().addLocation(..).addObject(..).addAgent(..)
.addRobotLocation(..)`, and a list `tests = [{"state": stateN, "test": fn, "timeout": bool}, ...]`. Those
modules import upstream's simulator and checks, so running them would need (and trust) upstream's code. Here
they are only parsed with `ast`: every argument is read with `ast.literal_eval`, and the one non-literal
argument upstream uses, `contain_words([w1, w2, ...])` (an agent's answer in MovieMessenger), is expanded to
the regular expression upstream's helper builds, "^(?=.*w1)(?=.*w2).*$". Anything else that is not a
literal is an error naming the file and line, never guessed.

Output, one JSON object per line (`json.dumps` defaults), tasks in file-name order, prompt variants in list
order (see ../shared/data/roboeval/README.md):
- roboeval_tasks.jsonl: task, variant_id, instance_id "<task>_<variant_id>", prompt, world_states: one per
  entry of `tests`, in order: state_idx, state_var, timeout_expected, upstream_check_fn (the check's name
  only: the kit's own checks live in dense_rl/robot/checks.py), locations, objects [{label, location}],
  agents [{name, location, answers}], robot_location.
- roboeval_reference_programs.jsonl, from robo-instruct's roboeval_data.csv (columns taskname
  "<task>_<variant>", prompt_program = the prompt, a newline, then `def task_program(): ...`): instance_id,
  task, variant_id, prompt, reference_program, in the csv's row order.

Licence: BSD-3 with a machine-learning restriction; RoboEval is evaluation data only, never training data.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
from pathlib import Path

STATE_METHODS = ("addLocation", "addObject", "addAgent", "addRobotLocation")
PROGRAM_START = "def task_program():"


def _where(filename: str, node: ast.AST) -> str:
    return f"{filename}, line {getattr(node, 'lineno', '?')}"


def contain_words(words: list[str]) -> str:
    """The regex upstream's contain_words builds: every word somewhere in the text, in any order."""
    return "^" + "".join(f"(?=.*{w})" for w in words) + ".*$"


def _argument(node: ast.expr, filename: str):
    """A call argument as a Python value: a literal, or contain_words([...]) expanded to its regex."""
    if isinstance(node, ast.List):
        return [_argument(item, filename) for item in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "contain_words":
        return contain_words(ast.literal_eval(node.args[0]))
    try:
        return ast.literal_eval(node)
    except ValueError as err:
        raise ValueError(
            f"{_where(filename, node)}: argument {ast.unparse(node)!r} is neither a literal nor "
            "contain_words([...]); the converter reads task files without running them"
        ) from err


def _state(node: ast.expr, var: str, filename: str) -> dict:
    """World state of one `State().addX(..)...` chain, calls in source order."""
    calls = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        calls.append(node)
        node = node.func.value
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "State"):
        raise ValueError(f"{_where(filename, node)}: {var} is not built by a State().addX(...) chain")
    state = {"locations": [], "objects": [], "agents": [], "robot_location": None}
    for call in reversed(calls):
        method = call.func.attr
        if method not in STATE_METHODS or call.keywords:
            raise ValueError(f"{_where(filename, call)}: unexpected call .{method}(...) in {var}")
        args = [_argument(a, filename) for a in call.args]
        if method == "addLocation":
            state["locations"].append(args[0])
        elif method == "addObject":
            state["objects"].append({"label": args[0], "location": args[1]})
        elif method == "addAgent":
            state["agents"].append({"name": args[0], "location": args[1], "answers": args[2]})
        else:
            state["robot_location"] = args[0]
    return state


def _module_assignments(tree: ast.Module) -> dict[str, ast.expr]:
    """name -> value of every top-level `name = ...` (a later one wins, as when the module runs)."""
    found = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            found[stmt.targets[0].id] = stmt.value
    return found


def _test_entry(entry: ast.expr, filename: str) -> tuple[str, str, bool]:
    """(state variable, check function name, timeout flag) of one `{"state": .., "test": .., ..}` entry."""
    if not isinstance(entry, ast.Dict):
        raise ValueError(f"{_where(filename, entry)}: an entry of `tests` is not a dict literal")
    fields = {ast.literal_eval(k): v for k, v in zip(entry.keys, entry.values, strict=True)}
    for key in ("state", "test"):
        if not isinstance(fields.get(key), ast.Name):
            raise ValueError(f"{_where(filename, entry)}: `tests` entry has no plain name for {key!r}")
    timeout = ast.literal_eval(fields["timeout"]) if "timeout" in fields else False
    return fields["state"].id, fields["test"].id, timeout


def convert_task_source(source: str, filename: str = "<task file>") -> list[dict]:
    """The RoboEval instances (one per prompt variant) of one upstream task file's text."""
    assigned = _module_assignments(ast.parse(source, filename))
    missing = [k for k in ("name", "prompts", "tests") if k not in assigned]
    if missing:
        raise ValueError(f"{filename}: no top-level {', '.join(missing)}; is this a RoboEval task file?")
    name = ast.literal_eval(assigned["name"])
    prompts = ast.literal_eval(assigned["prompts"])
    if not isinstance(assigned["tests"], ast.List):
        raise ValueError(f"{_where(filename, assigned['tests'])}: `tests` is not a list literal")
    world_states = []
    for idx, entry in enumerate(assigned["tests"].elts):
        var, check_fn, timeout = _test_entry(entry, filename)
        if var not in assigned:
            raise ValueError(f"{_where(filename, entry)}: `tests` names {var}, which is never assigned")
        head = {
            "state_idx": idx,
            "state_var": var,
            "timeout_expected": timeout,
            "upstream_check_fn": check_fn,
        }
        world_states.append(head | _state(assigned[var], var, filename))
    return [
        {
            "task": name,
            "variant_id": i,
            "instance_id": f"{name}_{i}",
            "prompt": p,
            "world_states": world_states,
        }
        for i, p in enumerate(prompts)
    ]


def convert_reference_csv(text: str) -> list[dict]:
    """Reference programs from roboeval_data.csv's text: one record per row, in row order."""
    records = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        instance_id, field = row["taskname"], row["prompt_program"]
        prompt, sep, body = field.partition("\n" + PROGRAM_START)
        if not sep:
            raise ValueError(f"roboeval_data.csv, row {instance_id}: no '{PROGRAM_START}' after the prompt")
        task, _, variant = instance_id.rpartition("_")
        records.append(
            {
                "instance_id": instance_id,
                "task": task,
                "variant_id": int(variant),
                "prompt": prompt,
                "reference_program": PROGRAM_START + body,
            }
        )
    return records


def to_jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def convert_tasks_dir(folder: Path) -> str:
    """roboeval_tasks.jsonl's text from a folder of upstream <Task>.py files (sorted by file name)."""
    files = sorted(Path(folder).glob("*.py"))
    if not files:
        raise FileNotFoundError(f"no <Task>.py files in {folder}: pass upstream's roboeval/benchmark/tasks/")
    return to_jsonl([r for f in files for r in convert_task_source(f.read_text(encoding="utf-8"), str(f))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert RoboEval's upstream task files (never run them).")
    parser.add_argument(
        "tasks_dir", type=Path, help="upstream roboeval/benchmark/tasks/ (the <Task>.py files)"
    )
    parser.add_argument("csv", type=Path, nargs="?", help="upstream roboeval_data.csv (reference programs)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the jsonl files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "roboeval_tasks.jsonl").write_text(convert_tasks_dir(args.tasks_dir), encoding="utf-8")
    if args.csv:
        programs = convert_reference_csv(args.csv.read_text(encoding="utf-8"))
        (args.out / "roboeval_reference_programs.jsonl").write_text(to_jsonl(programs), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
