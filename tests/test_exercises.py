"""Classroom exercises: the student generator, and checks that pass right solutions and reject wrong ones.

    .venv/bin/python -m pytest tests/test_exercises.py -q

The notebook checks run each instructor notebook in one kernel (dense_rl.exercises.check_notebook): about
5-10 s of CPU per notebook, most of it importing torch.
"""

from __future__ import annotations

import nbformat
import pytest

from dense_rl import exercises
from dense_rl.exercises import instructor_notebooks, replace_solution, student_source

SOLVED = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"


@pytest.mark.parametrize(
    "source, expected",
    [
        # a solution inside a function: the stub keeps the block's indentation
        (SOLVED, "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError"),
        # hidden tests go, visible ones stay
        (
            "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS\nprint('ok')",
            "assert f(1) == 2\nprint('ok')",
        ),
        # a cell without delimiters is left alone
        ("x = 1", "x = 1"),
    ],
)
def test_student_source(source, expected):
    assert student_source(source) == expected


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),  # unclosed block
        ("x = 1\n### END SOLUTION\n", "closes no block"),  # closing without opening
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),  # nested
    ],
)
def test_unbalanced_delimiters_are_named(source, message):
    with pytest.raises(ValueError, match=message):
        student_source(source, "nb cell 3")


def test_wrong_solution_replaces_the_block_at_its_indentation():
    assert replace_solution(SOLVED, "return x - 1") == "def f(x):\n    return x - 1"


def test_word_batch_tokens_cover_the_text():
    batch = exercises.word_batch(["def f(x):\n    return x", "ok"])
    text, spans = batch.responses[0], batch.token_spans[0]
    assert "".join(text[s:e] for s, e in spans) == text  # every character belongs to one token
    assert batch.response_mask.sum(1).tolist() == [len(spans), 1]  # the short row is padded


def test_every_notebook_has_two_exercises_each_with_a_wrong_solution():
    notebooks = instructor_notebooks()
    assert len(notebooks) >= 7
    for path in notebooks:
        cells = nbformat.read(path, as_version=4).cells
        solutions = [c for c in cells if c.metadata.get("dense_rl", {}).get("role") == "solution"]
        assert len(solutions) >= 2, path.name
        assert all(c.metadata["dense_rl"]["wrong"] for c in solutions), path.name


def test_student_versions_are_up_to_date():
    assert exercises.stale_student_versions() == [], (
        "run `make exercises` and commit notebooks/exercises/student"
    )


@pytest.fixture(scope="module", params=[p.name for p in instructor_notebooks()])
def report(request):
    return exercises.check_notebook(exercises.EXERCISES / request.param)


@pytest.mark.slow
def test_instructor_solutions_pass(report):
    assert report.solutions_pass == report.exercises, report.problems


@pytest.mark.slow
def test_wrong_solutions_are_rejected(report):
    assert report.wrong_total >= len(report.exercises)
    assert len(report.wrong_rejected) == report.wrong_total, report.problems


@pytest.mark.slow
def test_student_version_fails_only_at_exercises(report):
    assert report.student_raise == report.exercises, report.problems
    assert not [p for p in report.problems if p.startswith("student")], report.problems
