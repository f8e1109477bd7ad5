"""Evaluation helpers: pass@k, failure kinds, HumanEval as tasks (canonical solutions pass)."""

import json

import pytest

from dense_rl.evaluate import humaneval_tasks, judge, outcome_kind, pass_at_k, saved_heldout
from dense_rl.rewards.tests import TestOutcome


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (8, 0, 8, 0.0),  # never solved
        (8, 8, 1, 1.0),  # always solved
        (8, 1, 8, 1.0),  # one of eight samples is enough for pass@8
        (8, 2, 1, 0.25),  # pass@1 is the per-sample rate
        (10, 3, 2, 1 - (7 * 6) / (10 * 9)),  # the unbiased estimator: 1 - C(7,2)/C(10,2)
    ],
)
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    "code, outcome, kind",
    [
        ("", TestOutcome(0, 3, "error"), "no_code"),  # nothing extracted
        ("def f(:\n", TestOutcome(0, 3, "error"), "syntax_error"),  # compile() rejects it, never run
        ("def f(): return 1\n", TestOutcome(3, 3, "pass"), "pass"),
        ("def f(): return 1\n", TestOutcome(1, 3, "fail"), "wrong_answer"),
        ("def f(): return 1\n", TestOutcome(0, 3, "timeout"), "timeout"),
        ("def f(): return g()\n", TestOutcome(0, 3, "error"), "runtime_error"),  # crashed while defined
    ],
)
def test_outcome_kinds(code, outcome, kind):
    assert outcome_kind(code, outcome) == kind


@pytest.mark.slow
def test_humaneval_canonical_solutions_pass_and_empty_answers_fail():
    tasks = humaneval_tasks()[:12]
    assert len(humaneval_tasks()) == 159  # the 5 checks that assert inside a loop are left out
    answers = [f"```python\n{t.reference}```" for t in tasks]
    assert all(kind == "pass" for _, kind, _ in judge(tasks, answers))
    assert all(kind == "no_code" for _, kind, _ in judge(tasks, ["I don't know."] * len(tasks)))


@pytest.mark.parametrize(
    "lines, n_tasks, expected",
    [
        (None, 2, None),  # the run wrote no records: evaluate afresh
        (["pass", "wrong_answer"], 3, None),  # it evaluated a different number of tasks: evaluate afresh
        (["pass", "wrong_answer"], 2, 0.5),  # same tasks: reuse its verdicts
    ],
)
def test_saved_heldout_is_reused_only_for_the_same_tasks(tmp_path, lines, n_tasks, expected):
    if lines is not None:
        records = [{"task_id": f"t{i}", "answer": "", "solution": "", "kind": k} for i, k in enumerate(lines)]
        (tmp_path / "heldout_final.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    found = saved_heldout(tmp_path, "fine-tuned", n_tasks)
    assert (found and found[0]) == expected
