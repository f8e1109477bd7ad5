"""Training data behind one interface: fixtures in the OpenCodeInstruct and Robo-Instruct formats."""

import json

import pytest

from dense_rl.config import get_preset
from dense_rl.tasks.sources import (
    heldout_tasks,
    mbpp_test_tasks,
    opencodeinstruct_task,
    opencodeinstruct_tasks,
    roboinstruct_task,
    training_tasks,
)

OCI_ROW = {
    "id": "abc",
    "input": "Write a function add(a, b) that returns a + b.",
    "output": "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```",
    "unit_tests": "['assert add(1, 2) == 3', 'assert add(0, 0) == 0']",
}
ROBO_ROW = {
    "text": "# Instruction: Go to the kitchen\n# and say hello.\ndef task_program():\n",
    "program": 'def task_program():\n    go_to("kitchen")\n    say("hello")\n',
}


def test_opencodeinstruct_row_becomes_a_code_task():
    task = opencodeinstruct_task(OCI_ROW, 0)
    assert task.entry_point == "add" and task.tests == ("assert add(1, 2) == 3", "assert add(0, 0) == 0")
    assert task.reference.startswith("def add(a, b):")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"input": None}, "'input' is missing"),  # missing field
        ({"output": 42}, "'output' is missing or not a non-empty string"),  # wrong type
        ({"unit_tests": "[]"}, "list of assert strings"),  # empty tests
        ({"unit_tests": "assert add(1, 2) == 3"}, "list of assert strings"),  # not a list
        ({"output": "no code here"}, "no function definition"),  # no function to call
    ],
)
def test_malformed_opencodeinstruct_rows_are_named(change, message):
    with pytest.raises(ValueError, match=f"row 7: .*{message}"):
        opencodeinstruct_task({**OCI_ROW, **change}, 7)


def test_opencodeinstruct_subset_is_seeded(tmp_path):
    path = tmp_path / "oci.jsonl"
    rows = [{**OCI_ROW, "id": str(i)} for i in range(30)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    a = opencodeinstruct_tasks(str(path), seed=1, n=10)
    assert a == opencodeinstruct_tasks(str(path), seed=1, n=10)
    assert [t.task_id for t in a] != [t.task_id for t in opencodeinstruct_tasks(str(path), seed=2, n=10)]


def test_roboinstruct_row_becomes_a_robot_task():
    task = roboinstruct_task(ROBO_ROW, 0)
    assert task.instruction == "Go to the kitchen and say hello."
    assert task.reference.startswith("def task_program():")


def test_roboinstruct_row_without_instruction_is_named():
    with pytest.raises(ValueError, match="row 3: 'text' has no '# Instruction:'"):
        roboinstruct_task({**ROBO_ROW, "text": "def task_program():"}, 3)


def test_missing_training_file_says_what_to_do(tmp_path):
    cfg = get_preset("paper-mbpp", train_data=str(tmp_path / "missing.jsonl"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        training_tasks(cfg, 4)


@pytest.mark.parametrize("preset", ["tiny-code", "tiny-robot"])
def test_tiny_training_prompts_never_hold_heldout_tasks(preset):
    cfg = get_preset(preset)
    train = {t.instruction for t in training_tasks(cfg, 400)}
    assert not train & {t.instruction for t in heldout_tasks(cfg, 200)}


def test_mbpp_heldout_is_the_test_split_and_never_mbpp_plus_training():
    ids = [int(t.task_id.split("/")[1]) for t in mbpp_test_tasks()]
    assert min(ids) == 11 and max(ids) == 510 and len(ids) == 500
