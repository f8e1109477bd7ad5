"""MBPP and MBPP+ pass@1 through EvalPlus 0.3.1, under two protocols: the paper's and the model maker's.

    python -m dense_rl.mbpp --model tiny --protocol paper --limit 20 --out /tmp/mbpp-tiny-paper
    python -m dense_rl.mbpp --model Qwen/Qwen2.5-Coder-1.5B-Instruct --protocol maker --out results/mbpp/base

    from dense_rl.mbpp import evaluate_policy, mbpp_table
    summary, records = evaluate_policy(tokenizer, model, "paper", "results/paper-mbpp/mbpp/base-paper")

The last line the command prints is a JSON object: pass@1 on MBPP (base tests) and MBPP+ (base + plus tests),
the number of tasks and the seconds it took. MBPP+ v0.2.0 (378 tasks) is read from the benchmark data folder
(dense_rl.data: $DENSE_RL_DATA, ../shared/data beside the checkout, the cache, else downloaded from
EvalPlus' release and checked against EvalPlus' own md5).

Two protocols, because the two published numbers for the same base model differ by ~20 points:
- "paper": the paper's public evaluation code. System and user messages as that code builds them
  (`PAPER_SYSTEM`, `PAPER_USER`, whitespace included), one sample per task at temperature 0.01 and top-p 0.95,
  up to 1024 new tokens; the code is the text between the first "```python" and the next "```" (an answer
  without a "```python" fence is empty code, and fails); it is submitted as a completion, i.e. after the
  task's prompt (a docstring), exactly as EvalPlus builds a solution from a completion.
- "maker": how the model maker reports MBPP (Qwen2.5-Coder-1.5B-Instruct: 69.2 MBPP / 59.4 MBPP+): EvalPlus's
  own chat instruction, greedy decoding, up to 768 new tokens (EvalPlus's default), the code extracted
  robustly (every fenced block, whatever its language tag, else the whole answer, cut down by EvalPlus's
  `sanitize` to the imports and definitions the entry point needs) and submitted as a full solution.
- The extraction ablation (`extraction_ablation`) re-scores the paper protocol's answers with the maker's
  extraction: how much of the gap comes from the fence-only extraction rather than from the prompt or the
  decoding. `evaluate_policy(..., "paper", ...)` always reports it too.

How a set of solutions is scored (`score`):
1. The tasks are written, byte for byte as in the data file, to a decompressed dataset file in the kit's
   cache (cache/evalplus/; the full set keeps EvalPlus's name and md5, a subset gets its own file, because
   EvalPlus insists on a sample for every task of the dataset it evaluates).
2. samples.jsonl (task_id, solution) is written to the output folder and EvalPlus's stale results file is
   deleted (EvalPlus silently reuses an existing one).
3. `python -m evalplus.evaluate` runs in a subprocess with MBPP_OVERRIDE_PATH set to that file, its cache
   (ground-truth outputs) under cache/evalplus/, `--min-time-limit 4` and EVALPLUS_MAX_MEMORY_BYTES=-1 (its
   defaults fail two canonical solutions: Mbpp/630 on time, Mbpp/255 on memory), stdin closed so no prompt
   can wait for an answer. Its output goes to evalplus.log.
4. EvalPlus's per-task results file (samples_eval_results.json) is read back; MBPP counts a task as solved
   when its base tests pass, MBPP+ when base and plus tests pass.
Any result can be re-checked with EvalPlus's own command line (the exact line is in summary.json):
    rm OUT/samples_eval_results.json
    MBPP_OVERRIDE_PATH=cache/evalplus/MbppPlus-v0.2.0.jsonl XDG_CACHE_HOME=cache \\
        EVALPLUS_MAX_MEMORY_BYTES=-1 python -m evalplus.evaluate --dataset mbpp \\
        --samples OUT/samples.jsonl --min-time-limit 4

What the isolation covers and what it does not: generated code never runs in the kit's process; EvalPlus
runs it in worker processes of its own subprocess, with a time limit per test and its `reliability_guard`,
which switches off dangerous functions (os.system, shutil.rmtree, ...) inside the worker. That guard is
NOT a security sandbox: code can undo it, read any file the user can read, and use the network. Evaluate
untrusted models' answers in a container; the kit's own sandbox (dense_rl.sandbox) isolates training
rewards but is not used here, so that the numbers are EvalPlus's own.

Cost: EvalPlus takes at least ~20 s per call (a watchdog thread sleeps in 20 s steps before the process
can exit) plus the tests; an answer that never returns can hold a task for over a minute (EvalPlus caps
each of the base and plus runs at 61 s).

Where this departs from the paper's code: `--min-time-limit 4` (the paper kept EvalPlus's 1 s, which fails
the canonical Mbpp/630 on a slow machine). The memory guard is off as in the paper (which patched
`resource.setrlimit` away; EVALPLUS_MAX_MEMORY_BYTES=-1 skips the same memory and stack limits). The paper
does not state its repetition penalty or top-k; here neither is applied (repetition_penalty=1, top_k=0), in
both protocols. The maker protocol asks EvalPlus's instruction as a plain user turn; EvalPlus's own generator
also pre-fills the assistant turn with "Below is a Python script ...```python", which `policy.sample`
cannot do.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from dense_rl.data import data_file
from dense_rl.paths import ROOT, machine_paths_hidden, project_path, shown
from dense_rl.policy import sample
from dense_rl.tiny import cache_dir

MBPP_PLUS = Path("mbpp") / "MbppPlus.jsonl.gz"
MBPP_PLUS_VERSION = "v0.2.0"
PROTOCOLS = ("paper", "maker")

# The paper's public evaluation code builds these with triple-quoted strings: the newline and the
# indentation are part of what the model is shown.
PAPER_SYSTEM = "You are a helpful Python assistant.\n        you follow the instruction exactly."
PAPER_USER = (
    "Create a python Program with following instructions. Only create the asked function with no other "
    "output.\n                   # Instruction:"
)
PAPER_TEMPERATURE, PAPER_TOP_P, PAPER_MAX_NEW_TOKENS = 0.01, 0.95, 1024
# EvalPlus 0.3.1's chat instruction (evalplus.codegen) and its generators' default answer length.
MAKER_INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code "
    "block:"
)
MAKER_MAX_NEW_TOKENS = 768

# Published pass@1 for Qwen/Qwen2.5-Coder-1.5B-Instruct: (MBPP, MBPP+).
PAPER_REPORTED = {"base": (0.460, 0.413), "fine-tuned": (0.653, 0.556)}
MAKER_REPORTED = {"base": (0.692, 0.594)}

FENCED_BLOCK = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.S)  # an unclosed block runs to the end


# ---------------------------------------------------------------------------------------------- data


def mbpp_plus_file() -> Path:
    """The MBPP+ v0.2.0 data file (dense_rl.data: found, or downloaded and checked), or a FileNotFoundError
    that says where to put it."""
    return data_file(str(MBPP_PLUS))


def _task_lines() -> list[tuple[dict, str]]:
    """(task, its raw JSON line) for every task of the data file, in file order."""
    with gzip.open(mbpp_plus_file(), "rt", encoding="utf-8") as f:
        return [(json.loads(line), line) for line in f if line.strip()]


def load_mbpp_plus(limit: int | None = None, task_ids: list[str] | None = None) -> list[dict]:
    """MBPP+ tasks (EvalPlus rows: task_id, prompt, entry_point, canonical_solution, ...), in file order.

    `limit` keeps the first N; `task_ids` keeps those tasks (an unknown id is an error, not a silent skip).
    """
    tasks = [task for task, _ in _task_lines()]
    if task_ids is not None:
        known = {t["task_id"] for t in tasks}
        unknown = [t for t in task_ids if t not in known]
        if unknown:
            raise ValueError(f"unknown MBPP+ task ids {unknown}: ids look like 'Mbpp/2' (see {MBPP_PLUS})")
        tasks = [t for t in tasks if t["task_id"] in set(task_ids)]
    if limit is not None:
        if not 1 <= limit <= len(tasks):
            raise ValueError(f"limit={limit}: choose between 1 and {len(tasks)} tasks")
        tasks = tasks[:limit]
    return tasks


def dataset_file(tasks: list[dict]) -> Path:
    """A decompressed EvalPlus dataset file holding exactly `tasks`, written once into cache/evalplus/.

    The full set is EvalPlus's own file (same name, same md5: ee43ecab...); a subset is named after its md5.
    """
    wanted = {t["task_id"] for t in tasks}
    every = _task_lines()
    lines = [line for task, line in every if task["task_id"] in wanted]
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    md5 = hashlib.md5(text.encode()).hexdigest()
    name = f"MbppPlus-{MBPP_PLUS_VERSION}" + ("" if len(lines) == len(every) else f"-subset-{md5[:12]}")
    path = cache_dir() / "evalplus" / f"{name}.jsonl"
    if not path.exists() or hashlib.md5(path.read_bytes()).hexdigest() != md5:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # atomic: a concurrent run never reads half a file
    return path


# ------------------------------------------------------------------------------------------ protocols


def paper_messages(task: dict) -> list[dict[str, str]]:
    """The paper's chat: its system message, its instruction, then the MBPP+ prompt (a docstring)."""
    return [
        {"role": "system", "content": PAPER_SYSTEM},
        {"role": "user", "content": PAPER_USER + task["prompt"]},
    ]


def paper_code(answer: str) -> str:
    """The paper's extraction: the text between the first "```python" and the next "```" (or the end).

    No "```python" fence (a bare ``` or ```py included) means no code: the task then fails.
    """
    start = answer.find("```python")
    if start < 0:
        return ""
    start += len("```python")
    end = answer.find("```", start)
    return answer[start:] if end < 0 else answer[start:end]


def maker_messages(task: dict) -> list[dict[str, str]]:
    """EvalPlus's chat instruction with the task's prompt in a code block, as one user turn."""
    return [{"role": "user", "content": f"{MAKER_INSTRUCTION}\n```\n{task['prompt'].strip()}\n```\n"}]


def fenced_blocks(answer: str) -> list[str]:
    """The contents of every ``` block, any language tag; an unclosed last block runs to the end."""
    return FENCED_BLOCK.findall(answer)


def defines_function(code: str) -> bool:
    """Does `code` parse and define at least one function at module level? (Parsing runs nothing.)"""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: null bytes
        return False
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) for node in tree.body)


def maker_code(answer: str, entry_point: str) -> str:
    """Robust extraction: all fenced blocks (else the answer), sanitized by EvalPlus to what `entry_point`
    needs (its imports and the definitions it reaches; test calls and prints dropped); '' when no function.

    EvalPlus's sanitize keeps the longest stretch of lines that parses, so a block cut off mid-function
    still yields the complete functions before the cut.
    """
    from evalplus.sanitize import sanitize  # imports tree-sitter; only parses, never runs the code

    blocks = fenced_blocks(answer)
    text = "\n".join(blocks) if blocks else answer
    try:
        code = sanitize(text, entrypoint=entry_point)
    except (ValueError, RecursionError, MemoryError):
        return ""
    return code if defines_function(code) else ""


def messages_for(protocol: str, task: dict) -> list[dict[str, str]]:
    """The chat the policy is shown for `task` under `protocol`."""
    return paper_messages(task) if _checked(protocol) == "paper" else maker_messages(task)


def code_for(protocol: str, answer: str, task: dict) -> str:
    """The code `protocol` extracts from a raw answer."""
    return paper_code(answer) if _checked(protocol) == "paper" else maker_code(answer, task["entry_point"])


def solution_for(protocol: str, code: str, task: dict) -> str:
    """The program EvalPlus runs: the paper's code is a completion (the task prompt + code, as EvalPlus
    itself joins them), the maker's a full solution."""
    return task["prompt"] + code if _checked(protocol) == "paper" else code


def decoding(protocol: str) -> dict:
    """Keyword arguments for `policy.sample` that give the protocol's decoding."""
    if _checked(protocol) == "maker":
        return dict(temperature=0, repetition_penalty=1.0)
    return dict(temperature=PAPER_TEMPERATURE, top_p=PAPER_TOP_P, repetition_penalty=1.0)


def default_max_new_tokens(protocol: str) -> int:
    return PAPER_MAX_NEW_TOKENS if _checked(protocol) == "paper" else MAKER_MAX_NEW_TOKENS


def _checked(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: choose one of {PROTOCOLS}")
    return protocol


# -------------------------------------------------------------------------------------------- EvalPlus


def evalplus_env(dataset: Path) -> dict[str, str]:
    """Variables that make EvalPlus 0.3.1 offline and fair: the dataset file, its cache, no memory cap."""
    return {
        "MBPP_OVERRIDE_PATH": str(dataset),  # read when evalplus.data is imported: set before the process
        "XDG_CACHE_HOME": str(cache_dir()),  # ground-truth outputs go to cache/evalplus/<md5>.pkl
        "EVALPLUS_MAX_MEMORY_BYTES": "-1",  # the 4 GiB default fails the canonical Mbpp/255
    }


def evalplus_command(samples: Path, parallel: int | None = None) -> list[str]:
    command = [sys.executable, "-m", "evalplus.evaluate", "--dataset", "mbpp", "--samples", str(samples)]
    command += ["--min-time-limit", "4"]  # the 1 s default fails the canonical Mbpp/630
    return command + (["--parallel", str(parallel)] if parallel else [])


def recheck_command(samples: Path, dataset: Path) -> str:
    """The shell line that re-runs EvalPlus's own CLI on `samples` (after deleting its results file)."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in evalplus_env(dataset).items())
    results = shlex.quote(str(results_path(samples)))
    return f"rm -f {results} && {env} {shlex.join(evalplus_command(samples))}"


def results_path(samples: Path) -> Path:
    """Where EvalPlus writes its per-task results for a samples file."""
    return samples.with_name(samples.name.replace(".jsonl", "_eval_results.json"))


def run_evalplus(
    samples: Path, dataset: Path, *, parallel: int | None = None, timeout_s: float = 3600
) -> dict[str, dict]:
    """Run EvalPlus on `samples` in a subprocess; per task id, its first sample's EvalPlus record.

    The whole process group is killed on timeout (EvalPlus starts worker processes of its own).
    """
    results = results_path(samples)
    results.unlink(missing_ok=True)  # EvalPlus would silently report the old file's numbers
    log = samples.with_name("evalplus.log")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            evalplus_command(samples, parallel),
            env={**os.environ, **evalplus_env(dataset)},
            stdin=subprocess.DEVNULL,  # an overwrite prompt would read EOF and stop instead of waiting
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TimeoutError(f"EvalPlus took longer than {timeout_s} s; its output is in {log}") from None
    with open(log, newline="", errors="replace") as f:  # the log is a result file too; keep its \r
        text = machine_paths_hidden(f.read())
    with open(log, "w", newline="") as f:
        f.write(text)
    if code != 0 or not results.exists():
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"EvalPlus failed (exit code {code}); end of {log}:\n{tail}")
    return {task_id: rows[0] for task_id, rows in json.loads(results.read_text())["eval"].items()}


def pass_at_1(records: list[dict]) -> dict[str, float]:
    """MBPP pass@1 = share of tasks whose base tests pass; MBPP+ = share whose base and plus tests pass."""
    n = len(records)
    return {
        "mbpp_pass_at_1": sum(r["base"] for r in records) / n,
        "mbpp_plus_pass_at_1": sum(r["plus"] for r in records) / n,
    }


def score(
    tasks: list[dict], solutions: dict[str, str], out_dir: str | Path, *, parallel: int | None = None
) -> tuple[dict, list[dict]]:
    """Score one full solution per task with EvalPlus; (summary, per-task records), files in `out_dir`.

    `solutions` must cover exactly `tasks` (EvalPlus evaluates a sample for every task of its dataset).
    """
    ids = [t["task_id"] for t in tasks]
    if sorted(solutions) != sorted(ids):
        missing, extra = sorted(set(ids) - set(solutions)), sorted(set(solutions) - set(ids))
        raise ValueError(f"solutions must cover exactly the tasks: missing {missing}, extra {extra}")
    out = project_path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = out / "samples.jsonl"
    with open(samples, "w") as f:
        for task_id in ids:
            f.write(json.dumps({"task_id": task_id, "solution": solutions[task_id]}) + "\n")
    dataset = dataset_file(tasks)
    start = time.perf_counter()
    verdicts = run_evalplus(samples, dataset, parallel=parallel)
    records = [
        {
            "task_id": task_id,
            "base_status": verdicts[task_id]["base_status"],
            "plus_status": verdicts[task_id]["plus_status"],
            "base": verdicts[task_id]["base_status"] == "pass",
            "plus": verdicts[task_id]["base_status"] == verdicts[task_id]["plus_status"] == "pass",
        }
        for task_id in ids
    ]
    summary = {
        "tasks": len(ids),
        **pass_at_1(records),
        "evaluation_seconds": round(time.perf_counter() - start, 1),
        "samples": str(samples),
        "results": str(results_path(samples)),
        "dataset": str(dataset),
        "dataset_md5": hashlib.md5(dataset.read_bytes()).hexdigest(),
        "recheck": recheck_command(samples, dataset),
    }
    return summary, records


def score_answers(
    tasks: list[dict], answers: list[str], protocol: str, out_dir: str | Path, *, parallel: int | None = None
) -> tuple[dict, list[dict]]:
    """Extract code from raw answers the `protocol` way and score it; records keep answer and code."""
    codes = [code_for(protocol, a, t) for a, t in zip(answers, tasks, strict=True)]
    solutions = {t["task_id"]: solution_for(protocol, c, t) for c, t in zip(codes, tasks, strict=True)}
    summary, records = score(tasks, solutions, out_dir, parallel=parallel)
    for record, answer, code in zip(records, answers, codes, strict=True):
        record.update(answer=answer, code=code)
    summary = {"extraction": protocol, **summary, "no_code": sum(not c.strip() for c in codes)}
    return summary, records


def extraction_ablation(
    tasks: list[dict], answers: list[str], out_dir: str | Path, *, parallel: int | None = None
) -> dict[str, dict]:
    """The same raw answers scored with the paper's extraction and with the maker's, each in its own folder
    (out_dir/paper_extraction, out_dir/maker_extraction); {extraction: summary}."""
    out = project_path(out_dir)
    summaries = {}
    for protocol in PROTOCOLS:
        folder = out / f"{protocol}_extraction"
        summaries[protocol] = score_answers(tasks, answers, protocol, folder, parallel=parallel)[0]
    return summaries


# ---------------------------------------------------------------------------------------- the policy


def generate_answers(
    tokenizer,
    model,
    tasks: list[dict],
    protocol: str,
    *,
    max_new_tokens: int | None = None,
    batch_size: int = 16,
    progress: bool = False,
) -> list[str]:
    """One raw answer per task, decoded the protocol's way (seed the caller's RNG first for "paper")."""
    messages = [messages_for(protocol, t) for t in tasks]
    max_new_tokens = max_new_tokens or default_max_new_tokens(protocol)
    out = sample(
        tokenizer,
        model,
        messages,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        progress=progress,
        **decoding(protocol),
    )
    return out.texts


def evaluate_policy(
    tokenizer,
    model,
    protocol: str,
    out_dir: str | Path,
    *,
    limit: int | None = None,
    max_new_tokens: int | None = None,
    batch_size: int = 16,
    parallel: int | None = None,
    progress: bool = False,
    label: str = "",
) -> tuple[dict, list[dict]]:
    """MBPP / MBPP+ pass@1 of a policy under `protocol`; (summary, per-task records).

    `label` names the policy in the summary (default: the model's name_or_path; a fine-tuned adapter loaded
    on its base model would otherwise be recorded under the base model's name).

    Writes to `out_dir`: samples.jsonl and samples_eval_results.json (EvalPlus's formats), per_task.jsonl
    (answer, code, verdicts) and summary.json. The paper protocol adds the extraction ablation: its answers
    re-scored with the maker's extraction, in out_dir/maker_extraction/.
    """
    start = time.perf_counter()
    tasks = load_mbpp_plus(limit)
    answers = generate_answers(
        tokenizer,
        model,
        tasks,
        protocol,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        progress=progress,
    )
    generation_seconds = time.perf_counter() - start
    out = project_path(out_dir)
    summary, records = score_answers(tasks, answers, protocol, out, parallel=parallel)
    if protocol == "paper":
        maker = score_answers(tasks, answers, "maker", out / "maker_extraction", parallel=parallel)[0]
        keys = ("mbpp_pass_at_1", "mbpp_plus_pass_at_1", "no_code", "recheck")
        summary["maker_extraction"] = {k: maker[k] for k in keys}
    summary = {
        "model": label or shown(getattr(model, "name_or_path", "")),
        "protocol": protocol,
        **summary,
        "max_new_tokens": max_new_tokens or default_max_new_tokens(protocol),
        "generation_seconds": round(generation_seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }
    with open(out / "per_task.jsonl", "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    # no machine's paths in results: the interpreter is `python`, the cache $DENSE_RL_CACHE when set, the
    # rest relative to the project root (run the recheck command from there)
    text = json.dumps(summary, indent=2).replace(sys.executable, "python")
    if "DENSE_RL_CACHE" in os.environ:
        text = text.replace(str(cache_dir()), "$DENSE_RL_CACHE")
    text = text.replace(str(ROOT) + "/", "")
    (out / "summary.json").write_text(text + "\n")
    return json.loads(text), records


# ------------------------------------------------------------------------------------------- the table


def mbpp_table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown table: MBPP / MBPP+ pass@1, base vs fine-tuned, ours under both protocols beside the
    published numbers (labelled as such).

    `results[policy][protocol]` is a summary from `evaluate_policy`, policy "base" or "fine-tuned", protocol
    "paper" or "maker"; a missing run shows as "-".
    """

    def ours(policy: str, protocol: str, key: str, ablation: bool = False) -> str:
        summary = results.get(policy, {}).get(protocol, {})
        summary = summary.get("maker_extraction", {}) if ablation else summary
        return f"{summary[key]:.3f}" if key in summary else "-"

    def published(table: dict, policy: str, column: int) -> str:
        return f"{table[policy][column]:.3f}" if policy in table else "-"

    lines = [
        "| benchmark | policy | ours, paper protocol | paper's reported | ours, paper answers + maker "
        "extraction | ours, maker protocol | Qwen's reported |",
        "|---|---|---|---|---|---|---|",
    ]
    for column, (name, key) in enumerate((("MBPP", "mbpp_pass_at_1"), ("MBPP+", "mbpp_plus_pass_at_1"))):
        for policy in ("base", "fine-tuned"):
            cells = [
                name,
                policy,
                ours(policy, "paper", key),
                published(PAPER_REPORTED, policy, column),
                ours(policy, "paper", key, ablation=True),
                ours(policy, "maker", key),
                published(MAKER_REPORTED, policy, column),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    # a hub name as it is; a local checkpoint by its folder name (a full path names a machine, not a model)
    names = {s.get("model", "") for runs in results.values() for s in runs.values()}
    models = sorted({Path(m).name if Path(m).is_absolute() else m for m in names} - {""})
    lines.append("")
    lines.append(
        'pass@1. "paper\'s reported" and "Qwen\'s reported" are published numbers for '
        "Qwen/Qwen2.5-Coder-1.5B-Instruct (the paper's table; Qwen's Qwen2.5-Coder report), not runs of this "
        f"kit. Ours: {', '.join(models) or 'no runs'}."
    )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MBPP / MBPP+ pass@1 through EvalPlus (see the docstring).")
    parser.add_argument("--model", default="tiny", help="hub id, local folder, or 'tiny' (the kit's model)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="paper", help="paper's or model maker's")
    parser.add_argument("--limit", type=int, help="only the first N tasks of MBPP+ (default: all 378)")
    parser.add_argument("--out", required=True, help="output folder (samples, EvalPlus results, summary)")
    parser.add_argument("--max-new-tokens", type=int, help="default: 1024 (paper), 768 (maker)")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts generated together")
    parser.add_argument("--parallel", type=int, help="EvalPlus worker processes (default: half the cores)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the paper protocol's sampling")
    args = parser.parse_args(argv)

    from dense_rl.policy import load_policy
    from dense_rl.seeding import seed_everything

    seed_everything(args.seed)
    try:
        load_mbpp_plus(args.limit)  # bad --limit or missing data: fail before loading a model
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    tokenizer, model = load_policy(args.model)
    summary, _ = evaluate_policy(
        tokenizer,
        model,
        args.protocol,
        args.out,
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        parallel=args.parallel,
        progress=True,
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
