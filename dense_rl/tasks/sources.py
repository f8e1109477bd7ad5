"""Where a preset's training prompts and held-out tasks come from, behind one interface.

    from dense_rl.tasks.sources import training_tasks, heldout_tasks
    tasks = training_tasks(cfg, 800)        # list[CodeTask] or list[RobotTask]

- tiny-code / tiny-robot: the kit's generated tasks (train names only; a seed apart from the pre-training
  corpus). Held-out: generated held-out tasks, whose names never occur in training.
- paper-mbpp: OpenCodeInstruct rows (`input`, `output`, `unit_tests`), a seeded 5,000-row subset as in the
  paper, from `cfg.train_data` (a local .jsonl/.parquet file) or the hub id nvidia/OpenCodeInstruct.
  Held-out: MBPP's test split (task ids 11-510) with its asserts, from the benchmark data folder.
- paper-robo: Robo-Instruct rows (`text`, `program`; the instruction sits between "# Instruction:" and
  "def task_program():"), from `cfg.train_data` or the hub id; without either, the generated robot tasks.
Never trains on an MBPP task whose id is in MBPP+, nor on anything from RoboEval (evaluation-only licence).
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
from pathlib import Path

from dense_rl.data import MBPP, data_file
from dense_rl.tasks.code_tasks import generate_code_tasks
from dense_rl.tasks.robot_tasks import generate_robot_tasks
from dense_rl.tasks.types import CodeTask, RobotTask

RL_SEED_OFFSET = 1000  # RL prompts come from a different random stream than the pre-training corpus
OPENCODEINSTRUCT = "nvidia/OpenCodeInstruct"
ROBOINSTRUCT = "zichao22/robo-instruct"
PAPER_SUBSET = 5000


def training_tasks(cfg, n: int) -> list[CodeTask] | list[RobotTask]:
    """`n` training prompts for the preset (cycled when the source has fewer)."""
    # a local copy named by the environment stands in for the hub id (benchmarks/paper_dryrun.py)
    if cfg.preset == "paper-mbpp":
        source = cfg.train_data or os.environ.get("DENSE_RL_OPENCODEINSTRUCT") or OPENCODEINSTRUCT
        pool = opencodeinstruct_tasks(source, cfg.seed)
    elif cfg.preset == "paper-robo" and (cfg.train_data or os.environ.get("DENSE_RL_ROBOINSTRUCT")):
        pool = roboinstruct_tasks(cfg.train_data or os.environ["DENSE_RL_ROBOINSTRUCT"], cfg.seed)
    elif cfg.domain == "robot":
        return generate_robot_tasks(n, "train", RL_SEED_OFFSET + cfg.seed, cfg.robot_templates)
    else:
        return generate_code_tasks(n, "train", RL_SEED_OFFSET + cfg.seed)
    return [pool[i % len(pool)] for i in range(n)]


def heldout_tasks(cfg, n: int) -> list[CodeTask] | list[RobotTask]:
    """`n` held-out tasks to measure a run before and after training."""
    if cfg.domain == "robot":
        return generate_robot_tasks(n, "heldout", cfg.seed, cfg.robot_templates)
    if cfg.preset == "paper-mbpp":
        return mbpp_test_tasks()[:n]
    return generate_code_tasks(n, "heldout", cfg.seed)


def read_rows(source: str) -> list[dict]:
    """Rows of a local .jsonl / .json / .parquet file, or of a hub dataset id (train split)."""
    path = Path(source).expanduser()
    if path.suffix in (".jsonl", ".json", ".parquet"):
        if not path.exists():
            raise FileNotFoundError(
                f"training data file {path} does not exist; pass an existing file or a hub id"
            )
        if path.suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(path).to_dict("records")
        text = path.read_text()
        return (
            json.loads(text)
            if path.suffix == ".json"
            else [json.loads(line) for line in text.splitlines() if line]
        )
    try:
        import datasets

        return list(datasets.load_dataset(source, split="train"))
    except Exception as err:  # the hub client raises many kinds; all mean "not available here"
        raise FileNotFoundError(
            f"could not load training data {source!r} from the hub ({type(err).__name__}); download it on a "
            "machine with internet and pass the local .jsonl/.parquet file as train_data, or use a tiny "
            "preset"
        ) from err


def _row_error(source: str, index: int, problem: str) -> ValueError:
    return ValueError(f"{source}, row {index}: {problem}; fix or drop the row")


def _fenced_code(text: str) -> str:
    match = re.search(r"```(?:python)?\n(.*?)```", text, re.S)
    return (match.group(1) if match else text).strip() + "\n"


def opencodeinstruct_task(row: dict, index: int, source: str = "OpenCodeInstruct") -> CodeTask:
    """One OpenCodeInstruct row as a CodeTask; malformed rows raise naming the row and the field."""
    for key in ("input", "output", "unit_tests"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise _row_error(source, index, f"field {key!r} is missing or not a non-empty string")
    try:
        tests = ast.literal_eval(row["unit_tests"]) if row["unit_tests"].lstrip().startswith("[") else None
    except (ValueError, SyntaxError):
        tests = None
    if not tests or not all(isinstance(t, str) for t in tests):
        raise _row_error(source, index, "'unit_tests' must be a Python/JSON list of assert strings")
    reference = _fenced_code(row["output"])
    names = re.findall(r"^def (\w+)\(", reference, re.M)
    if not names:
        raise _row_error(source, index, "'output' holds no function definition")
    return CodeTask(
        f"oci/{row.get('id', index)}",
        row["input"].strip(),
        names[-1],
        reference,
        tuple(tests),
        "opencodeinstruct",
    )


def opencodeinstruct_tasks(source: str, seed: int, n: int = PAPER_SUBSET) -> list[CodeTask]:
    """A seeded `n`-row subset of OpenCodeInstruct (the paper's 5,000), malformed rows rejected loudly."""
    rows = read_rows(source)
    chosen = random.Random(seed).sample(range(len(rows)), min(n, len(rows)))
    return [opencodeinstruct_task(rows[i], i, source) for i in chosen]


def roboinstruct_task(row: dict, index: int, source: str = "Robo-Instruct") -> RobotTask:
    """One Robo-Instruct row (`text` with '# Instruction:' ... 'def task_program():', `program`)."""
    for key in ("text", "program"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise _row_error(source, index, f"field {key!r} is missing or not a non-empty string")
    match = re.search(r"# Instruction:(.*?)def task_program\(\):", row["text"], re.S)
    if not match:
        raise _row_error(source, index, "'text' has no '# Instruction:' ... 'def task_program():' part")
    instruction = " ".join(line.strip(" #") for line in match.group(1).strip().splitlines()).strip()
    program = (
        row["program"] if "def task_program" in row["program"] else "def task_program():\n" + row["program"]
    )
    return RobotTask(f"robo-instruct/{index}", instruction, program, "robo-instruct")


def roboinstruct_tasks(source: str, seed: int) -> list[RobotTask]:
    rows = read_rows(source)
    tasks = [roboinstruct_task(r, i, source) for i, r in enumerate(rows)]
    random.Random(seed).shuffle(tasks)
    return tasks


def mbpp_test_tasks() -> list[CodeTask]:
    """MBPP's test split (ids 11-510) with its asserts: the paper-mbpp held-out set for training runs."""
    path = data_file(MBPP)
    tasks = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if 11 <= row["task_id"] <= 510:
            name = re.findall(r"^def (\w+)\(", row["code"], re.M)
            setup = row.get("test_setup_code") or ""
            tests = tuple(setup + "\n" + t if setup else t for t in row["test_list"])
            instruction = f"{row['text']}\nYour code should pass this test:\n{row['test_list'][0]}"
            tasks.append(
                CodeTask(
                    f"Mbpp/{row['task_id']}",
                    instruction,
                    name[-1] if name else "",
                    row["code"],
                    tests,
                    "mbpp",
                )
            )
    return tasks
