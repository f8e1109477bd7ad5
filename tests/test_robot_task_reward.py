"""The action match with a generated robot task's reference program (dense_rl.robot.task_reward)."""

from __future__ import annotations

import pytest
from test_spans import batch_of

from dense_rl.robot.task_reward import action_match, trace_match_reward
from dense_rl.tasks.robot_tasks import generate_robot_tasks

GO, SAY, PICK = ("go_to", "hall", "kitchen"), ("say", "kitchen", "hi"), ("pick", "kitchen", "apple")


@pytest.mark.parametrize(
    "program, reference, expected",
    [
        ([GO, SAY], [GO, SAY], 1.0),  # the same actions in the same order
        ([], [], 1.0),  # nothing to do, nothing done
        ([SAY], [GO, PICK], 0.0),  # nothing in common
        ([GO], [GO, SAY], 2 / 3),  # half of the reference: 2 * 1 matching / (1 + 2) actions
        ([SAY, GO], [GO, SAY], 0.5),  # the right actions in the wrong order: one of them in sequence
    ],
)
def test_action_match(program, reference, expected):
    assert action_match(program, reference) == pytest.approx(expected)


@pytest.fixture(scope="module")
def task():
    # a task whose reference goes somewhere: the trivial answer below does not match it
    return next(t for t in generate_robot_tasks(20, "train", 0) if "go_to" in t.reference)


def fenced(program: str) -> str:
    return f"```python\n{program}```"


def test_reference_program_matches_itself_and_a_trivial_program_does_not(task):
    trivial = 'def task_program():\n    say("workshop")\n'
    out = trace_match_reward(batch_of(fenced(task.reference), fenced(trivial), "no program here"), [task] * 3)
    reference_match, trivial_match, no_program = out.summary["trace_match"]
    assert reference_match == pytest.approx(1.0)
    assert trivial_match < 0.5
    assert no_program == 0.0
    # each sample's per-token rewards add up to its match (spread over the program's tokens)
    assert out.per_token.sum(1).tolist() == pytest.approx([reference_match, trivial_match, 0.0], abs=1e-5)


def test_one_task_per_response():
    with pytest.raises(ValueError, match="one each"):
        trace_match_reward(batch_of("x"), [])
