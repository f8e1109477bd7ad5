"""RoboEval: run programs in the benchmark's fixed world states, check them, and count the paper's Table 2.

    python -m dense_rl.robot.roboeval --programs ../shared/data/roboeval/roboeval_reference_programs.jsonl \\
        --out results/tiny/roboeval
    # last line: {"Success": 80, "CompletionError": 0, "RobotExecutionError": 0, "PythonError": 0, ...}

Input: roboeval_tasks.jsonl (80 instances = 16 tasks x 5 prompt variants, 52 world states; evaluation only,
its licence forbids training on it) and a programs jsonl with one row per instance_id whose program is in
the first present field of PROGRAM_FIELDS. A model's raw response is fine: the program is cut from
`def task_program():` to the closing fence (dense_rl.robot.prompts.extract_program).

Each program runs once per world state of its task, in order, each in a fresh simulator (evalsim.py), all
states of one program in ONE sandboxed process (sandboxed.py). The trace of each state is checked by the
task's success check (checks.py). Classification, states in order:
- a state that crashes with a robot error          -> RobotExecutionError (the paper's "simulation error")
- a state that crashes otherwise, or times out when it should have ended -> PythonError
- a state whose checks fail                          -> CompletionError, unless a later state crashes
- otherwise                                          -> Success
A state marked timeout_expected (ElevatorTour 1-2, WeatherPoll 4: nobody ever comes) passes only if the
program is still waiting when its budget runs out and its checks hold on the trace so far.

Where counts may differ from upstream's (spec: "known upstream quirks"):
- Budget: 1000 robot API calls (each `time.sleep` counts one) and 1 s of CPU time per state, instead of a
  1 s wall clock. A correct but slow program, or one evaluated on a busy machine, is not a PythonError
  here; a program that loops without ever calling the API is stopped by the CPU limit.
- API calls are real functions of the simulator, so `.replace(`, single-quoted strings and any
  capitalisation behave as in Python (upstream rewrote the source text and lower-cased only double-quoted
  literals). print() is allowed and does not cut the trace short. One consequence: a program cut off
  after a bare `go_to` (the name, no call) was a NameError (PythonError) upstream, whose rewrite only
  bound names followed by `(`; here the name exists and the line is a no-op.
- A robot error is a RobotError by type; an exception whose message contains "Robot" is a Python error.
  A robot error the program catches still counts (upstream: the program went on).
- The success checks are the kit's own reading of the spec's paraphrase (see checks.py for the loose
  conditions and how they were read).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from dense_rl.robot.api import RunOutcome
from dense_rl.robot.checks import check
from dense_rl.robot.prompts import extract_program

CLASSES = ("Success", "CompletionError", "RobotExecutionError", "PythonError")
PROGRAM_FIELDS = ("program", "reference_program", "completion", "response")
MAX_STEPS = 1000  # robot API calls per world state
CPU_S = 1.0  # CPU seconds per world state


def default_tasks_path() -> Path:
    from dense_rl.data import ROBOEVAL_TASKS, data_file

    return data_file(ROBOEVAL_TASKS)


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: pass the path of a .jsonl file")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_tasks(path: str | Path | None = None) -> list[dict]:
    """The 80 RoboEval instances, each with its world states in order."""
    return read_jsonl(path or default_tasks_path())


def program_of(response: str) -> str:
    """The program in a response (from `def task_program():` to the closing fence), else the response as
    it is: it then runs as such (usually a SyntaxError or a NameError: a PythonError), so every instance is
    counted out of 80."""
    return extract_program(response) or response


def load_programs(path: str | Path, tasks: list[dict]) -> dict[str, str]:
    """instance_id -> program or raw response as written, for every instance of `tasks`; a missing instance
    is an error that names it. The program is cut from a response where it runs (program_of)."""
    programs = {}
    for row in read_jsonl(path):
        field = next((f for f in PROGRAM_FIELDS if f in row), None)
        if "instance_id" not in row or field is None:
            raise ValueError(
                f"{path}: every row needs 'instance_id' and one of {PROGRAM_FIELDS}; got {list(row)}"
            )
        programs[row["instance_id"]] = row[field] if isinstance(row[field], str) else ""
    missing = [t["instance_id"] for t in tasks if t["instance_id"] not in programs]
    if missing:
        raise ValueError(
            f"{path}: no program for {len(missing)} instances, e.g. {missing[:3]}; add a row for each"
        )
    return programs


def describe(failure) -> str:
    return f"{failure.error_type}: {failure.message}" + (f" (line {failure.line})" if failure.line else "")


def classify(task: str, states: list[dict], outcomes: list[RunOutcome]) -> tuple[str, list[dict]]:
    """The program's class and a per-state account (outcome, error, failed checks)."""
    account, incomplete = [], False
    for state, outcome in zip(states, outcomes, strict=False):
        failure = outcome.failure
        row = {
            "state_idx": state["state_idx"],
            "timeout_expected": state["timeout_expected"],
            "steps": outcome.steps,
        }
        account.append(row)
        if failure is not None and failure.category != "timeout":
            row.update(outcome=failure.category, error=describe(failure))
            return ("RobotExecutionError" if failure.category == "robot" else "PythonError"), account
        timed_out = failure is not None
        if timed_out and not state["timeout_expected"]:
            row.update(outcome="timeout", error=describe(failure))
            return "PythonError", account
        failed = check(task, outcome.trace, state)
        if state["timeout_expected"] and not timed_out:
            failed.append("keeps waiting (this state expects the program never to finish)")
        row.update(outcome="timeout" if timed_out else "ok", failed_checks=failed)
        incomplete = incomplete or bool(failed)
    if len(outcomes) < len(states):  # only when the harness stopped early without a crash: cannot happen
        return "PythonError", account
    return ("CompletionError" if incomplete else "Success"), account


def run_instance(program: str, task: dict, *, max_steps: int = MAX_STEPS, cpu_s: float = CPU_S):
    """One program (or raw response) on one instance, sandboxed: (class, account per state, RunOutcome per
    state)."""
    from dense_rl.robot.sandboxed import run_roboeval

    outcomes = run_roboeval(
        [program_of(program)], [task["world_states"]], max_steps=max_steps, cpu_s=cpu_s, workers=1
    )[0]
    label, account = classify(task["task"], task["world_states"], outcomes)
    return label, account, outcomes


def evaluate(
    programs: dict[str, str],
    tasks: list[dict],
    *,
    workers: int = 2,
    max_steps: int = MAX_STEPS,
    cpu_s: float = CPU_S,
) -> list[dict]:
    """Per-instance results: instance_id, task, variant_id, class, states (see classify). Sandboxed.

    `programs` maps instance_id to a program or to a model's raw response: the program is cut from it here,
    so a fenced answer runs as the code inside the fence, not as Markdown.
    """
    from dense_rl.robot.sandboxed import run_roboeval

    sources = [program_of(programs[t["instance_id"]]) for t in tasks]
    runs = run_roboeval(
        sources, [t["world_states"] for t in tasks], max_steps=max_steps, cpu_s=cpu_s, workers=workers
    )
    results = []
    for t, outcomes in zip(tasks, runs, strict=True):
        label, account = classify(t["task"], t["world_states"], outcomes)
        results.append(
            {
                "instance_id": t["instance_id"],
                "task": t["task"],
                "variant_id": t["variant_id"],
                "class": label,
                "states": account,
            }
        )
    return results


def why(result: dict) -> str:
    """The first state that went wrong, in words."""
    for row in result["states"]:
        if row.get("error") or row.get("failed_checks"):
            return f"state {row['state_idx']}: {row.get('error') or '; '.join(row['failed_checks'])}"
    return "no state ran"


def counts(results: list[dict]) -> dict[str, int]:
    tally = Counter(r["class"] for r in results)
    return {c: tally.get(c, 0) for c in CLASSES}


def table2(results: list[dict], label: str = "programs") -> str:
    """The paper's Table 2 layout (counts of the four classes) plus a per-task breakdown, as markdown."""
    c = counts(results)
    head = "| programs | Success | CompletionError | Simulation error (RobotExecutionError) | PythonError |"
    row = " | ".join(str(c[k]) for k in CLASSES)
    lines = [
        head + " total |",
        "|---|---:|---:|---:|---:|---:|",
        f"| {label} | {row} | {len(results)} |",
        "",
        "| task | " + " | ".join(CLASSES) + " |",
        "|---|" + "---:|" * len(CLASSES),
    ]
    for task in sorted({r["task"] for r in results}):
        per = counts([r for r in results if r["task"] == task])
        lines.append(f"| {task} | " + " | ".join(str(per[k]) for k in CLASSES) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Score robot programs on RoboEval (Table 2 of the paper).")
    parser.add_argument(
        "--programs", required=True, help="jsonl: instance_id + program (or a model response)"
    )
    parser.add_argument(
        "--tasks", default=None, help="roboeval_tasks.jsonl (default: $DENSE_RL_DATA/roboeval/)"
    )
    parser.add_argument("--out", default=None, help="folder for results.jsonl and table2.md")
    parser.add_argument("--workers", type=int, default=2, help="sandboxed processes at a time")
    parser.add_argument(
        "--label", default=None, help="row label in the table (default: the programs file name)"
    )
    args = parser.parse_args(argv)
    t0 = time.time()
    tasks = load_tasks(args.tasks)
    results = evaluate(load_programs(args.programs, tasks), tasks, workers=args.workers)
    seconds = round(time.time() - t0, 2)
    table = table2(results, args.label or Path(args.programs).stem)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
        (out / "table2.md").write_text(table)
    for r in results:
        if r["class"] != "Success":
            print(f"{r['instance_id']}: {r['class']}: {why(r)}")
    print(table)
    summary = {**counts(results), "total": len(results), "seconds": seconds}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
