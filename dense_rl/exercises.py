"""Classroom exercises: student versions from instructor notebooks, and checks that can fail.

    python -m dense_rl.exercises --generate      # notebooks/exercises/*.ipynb -> notebooks/exercises/student/
    python -m dense_rl.exercises --check         # every notebook: solutions pass, student cells raise,
                                                 # every stored wrong solution is rejected (counts printed)
    make exercises / make exercises-check        # the same

The instructor notebooks (notebooks/exercises/NN_*_exercises.ipynb) use nbgrader's delimiter syntax, so a
course can adopt nbgrader later without rewriting them:
- a solution cell holds `### BEGIN SOLUTION` ... `### END SOLUTION`; the student version gets
  `raise NotImplementedError` there, at the same indentation;
- a check cell holds visible `assert`s with messages, then `### BEGIN HIDDEN TESTS` ...
  `### END HIDDEN TESTS`, which the student version drops.
Each exercise's cells carry metadata `dense_rl: {exercise: ID, role: solution|check|uses}` ("uses": a cell
that calls the exercise's function without checking it); a solution cell also
stores `wrong`: plausible wrong solutions ({why, source}), each a replacement for the solution block. The
check substitutes each one and asserts that a check cell of that exercise then raises. Cells also carry
nbgrader's own metadata (grade_id, solution, grade, points), so `nbgrader generate_assignment` reads them.

How the check runs: ONE Jupyter kernel per notebook. It runs the instructor notebook top to bottom; after each
exercise's checks pass it runs every wrong solution followed by the same checks (each must fail), then the
right solution again. Then it clears the namespace (%reset) and runs the student version: every error must
be a NotImplementedError raised in that exercise's cells, and every exercise must raise one.

Where this departs from nbgrader: no gradebook, no UI (it does not run on Colab); the wrong solutions are the
kit's addition ("a check a wrong answer passes is no check").
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch

from dense_rl.batch import RolloutBatch
from dense_rl.paths import ROOT

EXERCISES = ROOT / "notebooks" / "exercises"
STUDENT = EXERCISES / "student"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CELL_TIMEOUT_S = 600  # generous: a shared, loaded machine runs a cell many times slower


# ------------------------------------------------------------------------------------------------------------
# A batch without a model: what the reward exercises score
# ------------------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


def word_batch(texts: list[str]) -> RolloutBatch:
    """A RolloutBatch whose tokens are words, runs of whitespace and single symbols (no tokenizer needed).

    Rewards only read `responses`, `token_spans` and the mask, so exercises can score hand-written answers
    in milliseconds. `response_ids` are token positions (1, 2, ...), padding is 0.

    >>> batch = word_batch(["x = 1"])
    >>> [batch.responses[0][s:e] for s, e in batch.token_spans[0]]
    ['x', ' ', '=', ' ', '1']
    """
    spans = [[m.span() for m in _TOKEN.finditer(text)] for text in texts]
    width = max((len(s) for s in spans), default=0)
    ids = torch.zeros((len(texts), width), dtype=torch.long)
    mask = torch.zeros((len(texts), width), dtype=torch.bool)
    for row, row_spans in enumerate(spans):
        ids[row, : len(row_spans)] = torch.arange(1, len(row_spans) + 1)
        mask[row, : len(row_spans)] = True
    return RolloutBatch([""] * len(texts), [[0] for _ in texts], ids, mask, list(texts), spans)


def token_texts(batch: RolloutBatch, row: int, tokens: list[int] | torch.Tensor) -> list[str]:
    """The text of the given tokens of sample `row` (to print what a reward landed on)."""
    indices = tokens.nonzero().flatten().tolist() if isinstance(tokens, torch.Tensor) else tokens
    return [batch.responses[row][slice(*batch.token_spans[row][i])] for i in indices]


# ------------------------------------------------------------------------------------------------------------
# Student versions
# ------------------------------------------------------------------------------------------------------------


def _blocks(source: str, begin: str, end: str, where: str) -> list[tuple[int, int, str]]:
    """(first line, last line, indentation) of every begin/end block of `source`; unbalanced -> ValueError."""
    found, start = [], None
    lines = source.splitlines()
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == begin:
            if start is not None:
                raise ValueError(f"{where}: '{begin}' on line {i + 1} opens a block inside another")
            start = i
        elif marker == end:
            if start is None:
                raise ValueError(f"{where}: '{end}' on line {i + 1} closes no block; add '{begin}' above")
            found.append((start, i, lines[start][: len(lines[start]) - len(lines[start].lstrip())]))
            start = None
    if start is not None:
        raise ValueError(f"{where}: '{begin}' on line {start + 1} is never closed; add '{end}'")
    return found


def replace_solution(source: str, replacement: str, where: str = "cell") -> str:
    """`source` with every solution block (delimiters included) replaced by `replacement`, re-indented."""
    lines = source.splitlines()
    blocks = _blocks(source, BEGIN_SOLUTION, END_SOLUTION, where)
    if not blocks:
        raise ValueError(f"{where}: no '{BEGIN_SOLUTION}' ... '{END_SOLUTION}' block to replace")
    for first, last, indent in reversed(blocks):
        lines[first : last + 1] = [indent + line if line else line for line in replacement.splitlines()]
    return "\n".join(lines)


def student_source(source: str, where: str = "cell") -> str:
    """Solutions -> `raise NotImplementedError`; hidden tests removed (nbgrader's delimiter syntax)."""
    if BEGIN_SOLUTION in source or END_SOLUTION in source:
        source = replace_solution(source, "# YOUR CODE HERE\nraise NotImplementedError", where)
    lines = source.splitlines()
    for first, last, _ in reversed(_blocks(source, BEGIN_HIDDEN, END_HIDDEN, where)):
        del lines[first : last + 1]
    return "\n".join(lines).rstrip("\n")


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of an instructor notebook: no solutions, no hidden tests, no wrong solutions."""
    out = copy.deepcopy(nb)
    for index, cell in enumerate(out.cells):
        if cell.cell_type == "code":
            cell.source = student_source(cell.source, f"{name} cell {index}")
            cell.outputs, cell.execution_count = [], None
        cell.metadata.get("dense_rl", {}).pop("wrong", None)
    return out


def instructor_notebooks(folder: Path = EXERCISES) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*_exercises.ipynb"))


def generate(folder: Path = EXERCISES, out: Path | None = None) -> list[Path]:
    """Write the student version of every instructor notebook in `folder` to `out` (default: student/)."""
    out = out or folder / "student"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in instructor_notebooks(folder):
        target = out / path.name
        nbformat.write(student_notebook(nbformat.read(path, as_version=4), path.name), target)
        written.append(target)
    return written


# ------------------------------------------------------------------------------------------------------------
# Running the checks in one kernel per notebook
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Report:
    """What checking one notebook found; `problems` empty means everything held."""

    notebook: str
    exercises: list[str] = field(default_factory=list)
    solutions_pass: list[str] = field(default_factory=list)
    student_raise: list[str] = field(default_factory=list)
    wrong_rejected: list[str] = field(default_factory=list)
    wrong_total: int = 0
    problems: list[str] = field(default_factory=list)


def _role(cell) -> tuple[str | None, str | None]:
    meta = cell.metadata.get("dense_rl", {})
    return meta.get("exercise"), meta.get("role")


class Kernel:
    """A Jupyter kernel that runs code and reports (error name, message) or None."""

    def __init__(self, cwd: Path):
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(cwd))

    def run(self, code: str) -> tuple[str, str] | None:
        reply = self.client.execute_interactive(code, timeout=CELL_TIMEOUT_S, output_hook=lambda msg: None)
        content = reply["content"]
        return (content["ename"], content["evalue"]) if content["status"] == "error" else None

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _check_instructor(kernel: Kernel, nb, report: Report) -> None:
    cells, failed = nb.cells, set()
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        exercise, role = _role(cell)
        if role == "solution":
            report.exercises.append(exercise)
        error = kernel.run(cell.source)
        if error:
            failed.add(exercise)
            report.problems.append(
                f"instructor cell {index} ({exercise or 'narrative'}): {error[0]}: {error[1]}"
            )
        last_check = role == "check" and not any(
            _role(c) == (exercise, "check") for c in cells[index + 1 :] if c.cell_type == "code"
        )
        if last_check:
            if exercise not in failed:
                report.solutions_pass.append(exercise)
            _check_wrong(kernel, cells, exercise, report)


def _check_wrong(kernel: Kernel, cells, exercise: str, report: Report) -> None:
    """Run every wrong solution of `exercise` followed by its checks; each must make a check cell raise."""
    solution = next(c for c in cells if _role(c) == (exercise, "solution"))
    checks = [c.source for c in cells if _role(c) == (exercise, "check")]
    for number, wrong in enumerate(solution.metadata["dense_rl"].get("wrong", []), start=1):
        report.wrong_total += 1
        label = f"{exercise} wrong solution {number} ({wrong['why']})"
        error = kernel.run(replace_solution(solution.source, wrong["source"], label))
        if error:
            report.problems.append(f"{label}: the cell itself failed ({error[0]}: {error[1]}); make it run")
            continue
        if any(kernel.run(check) for check in checks):
            report.wrong_rejected.append(label)
        else:
            report.problems.append(f"{label}: every check passed; the checks do not catch it")
    if kernel.run(solution.source):  # restore the right solution for the cells that follow
        report.problems.append(f"{exercise}: the right solution failed when run again")


def _check_student(kernel: Kernel, nb, report: Report) -> None:
    raised = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        exercise, _ = _role(cell)
        error = kernel.run(cell.source)
        if error is None:
            continue
        if exercise and error[0] == "NotImplementedError":
            raised.add(exercise)
        else:
            report.problems.append(
                f"student cell {index} ({exercise or 'narrative'}) raised {error[0]}: {error[1]}; only an "
                "exercise's cells may fail, and only with NotImplementedError"
            )
    report.student_raise = [e for e in report.exercises if e in raised]
    for exercise in report.exercises:
        if exercise not in raised:
            report.problems.append(
                f"{exercise}: the student version runs without raising NotImplementedError"
            )


def check_notebook(path: Path) -> Report:
    """Instructor version, wrong solutions and student version of one notebook, in one kernel."""
    nb = nbformat.read(path, as_version=4)
    report = Report(path.name)
    kernel = Kernel(path.parent)
    try:
        _check_instructor(kernel, nb, report)
        kernel.run("%reset -f")
        _check_student(kernel, student_notebook(nb, path.name), report)
    finally:
        kernel.close()
    return report


def summary_line(reports: list[Report]) -> str:
    n = sum(len(r.exercises) for r in reports)
    return (
        f"{n} exercises, {sum(len(r.solutions_pass) for r in reports)} solutions pass, "
        f"{sum(len(r.student_raise) for r in reports)} student cells raise, "
        f"{sum(len(r.wrong_rejected) for r in reports)} of {sum(r.wrong_total for r in reports)} wrong "
        "solutions rejected"
    )


def stale_student_versions(folder: Path = EXERCISES) -> list[str]:
    """Names of student notebooks missing from student/ or different from a fresh generation."""
    stale = []
    for path in instructor_notebooks(folder):
        fresh = student_notebook(nbformat.read(path, as_version=4), path.name)
        target = folder / "student" / path.name
        if not target.exists() or nbformat.writes(fresh).rstrip() != target.read_text().rstrip():
            stale.append(path.name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate student versions of the exercises; check them.")
    parser.add_argument("--generate", action="store_true", help="write notebooks/exercises/student/")
    parser.add_argument("--check", action="store_true", help="run every check (one kernel per notebook)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="instructor notebooks (default: all)")
    args = parser.parse_args(argv)
    if not (args.generate or args.check):
        parser.error("pass --generate, --check or both")
    if args.generate:
        for path in generate():
            print(f"[exercises] wrote {path.relative_to(ROOT)}")
    if not args.check:
        return 0
    reports = []
    for path in args.notebooks or instructor_notebooks():
        reports.append(check_notebook(path))
        r = reports[-1]
        print(
            f"[exercises] {r.notebook}: {len(r.exercises)} exercises, {len(r.wrong_rejected)} of "
            f"{r.wrong_total} wrong solutions rejected",
            flush=True,
        )
    stale = stale_student_versions()
    problems = [p for r in reports for p in r.problems]
    problems += [f"student/{name} is out of date: run `make exercises`" for name in stale]
    print(summary_line(reports))
    for problem in problems:
        print(f"  PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
