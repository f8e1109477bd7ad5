"""The robot prompt format and cutting the program out of a response."""

from __future__ import annotations

import pytest

from dense_rl.robot.api import API_TEXT
from dense_rl.robot.prompts import EXAMPLES, extract_program, program_region, robot_messages
from dense_rl.robot.robosim import simulate, success_fraction
from dense_rl.tasks.chat import messages_for
from dense_rl.tasks.types import RobotTask

PROGRAM = 'def task_program():\n    say("hi")\n'


@pytest.mark.parametrize(
    "response, expected",
    [
        (f"```python\n{PROGRAM}```", PROGRAM),  # a fenced block
        (f"Sure!\n```python\n{PROGRAM}```\nAnything else?", PROGRAM),  # prose around it is dropped
        (f"```python\nimport math\n\n{PROGRAM}```", PROGRAM),  # cut from the def, not from the fence
        (f"```python\n{PROGRAM}", PROGRAM),  # truncated: no closing fence, up to the end
        (PROGRAM, PROGRAM),  # a bare program
        ("```python\ndef task_program() -> None:\n    pass\n```", "def task_program() -> None:\n    pass\n"),
        ("I will go to the kitchen.", None),  # no program at all
        ("```python\ndef main():\n    pass\n```", None),  # a different function name
    ],
)
def test_extract_program(response, expected):
    assert extract_program(response) == expected


def test_program_region_indexes_the_response():
    response = f"Here:\n```python\n{PROGRAM}```"
    start, end = program_region(response)
    assert response[start:end] == PROGRAM


def test_compact_format_is_the_tiny_policys_training_format():
    task = RobotTask("t", "Go to the lab and say hi.", PROGRAM)
    assert robot_messages(task.instruction, compact=True) == messages_for(task)


def test_full_format_has_api_system_few_shot_turns_then_the_instruction():
    messages = robot_messages("Bring me a pen.")
    roles = [m["role"] for m in messages]
    assert roles == ["system"] + ["user", "assistant"] * len(EXAMPLES) + ["user"]
    assert API_TEXT in messages[0]["content"] and messages[-1]["content"] == "Bring me a pen."
    assert all(extract_program(m["content"]) for m in messages if m["role"] == "assistant")


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_few_shot_programs_are_feasible(index):
    # an example that fails in the training simulator would teach the wrong thing
    assert success_fraction(simulate(EXAMPLES[index][1], n_runs=10, seed=0)) == 1.0


@pytest.mark.parametrize("instruction", ["", "   ", None])  # empty, blank, not a string
def test_bad_instructions_are_rejected(instruction):
    with pytest.raises(ValueError, match="instruction must be a non-empty str"):
        robot_messages(instruction)


def test_few_shot_examples_are_not_roboeval_tasks():
    # RoboEval is evaluation data (its licence forbids training on it): no example may come from it
    from dense_rl.paths import data_dir

    try:
        path = data_dir() / "roboeval" / "roboeval_tasks.jsonl"
    except FileNotFoundError:
        pytest.skip("RoboEval data not found")
    text = path.read_text().lower()
    assert not any(instruction.lower()[:40] in text for instruction, _ in EXAMPLES)
