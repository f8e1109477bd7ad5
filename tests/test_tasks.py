"""Task generators: deterministic, well-formed, and train / held-out never overlap."""

import ast

import pytest

from dense_rl.tasks.code_tasks import TEMPLATES, generate_code_tasks, name_split
from dense_rl.tasks.robot_tasks import generate_robot_tasks
from dense_rl.tasks.robot_tasks import instruction_split as robot_split

ROBOT_API = {"get_current_location", "get_all_rooms", "is_in_room", "go_to", "ask", "say", "pick", "place"}


def test_code_tasks_are_deterministic_for_a_seed():
    assert generate_code_tasks(60, "train", seed=3) == generate_code_tasks(60, "train", seed=3)


def test_code_tasks_differ_across_seeds():
    a, b = generate_code_tasks(60, "train", seed=1), generate_code_tasks(60, "train", seed=2)
    assert [t.instruction for t in a] != [t.instruction for t in b]


def test_train_and_heldout_never_share_a_function_name_or_instruction():
    train = generate_code_tasks(3000, "train")
    heldout = generate_code_tasks(500, "heldout")
    assert not {t.entry_point for t in train} & {t.entry_point for t in heldout}
    assert not {t.instruction for t in train} & {t.instruction for t in heldout}
    assert all(name_split(t.entry_point) == "heldout" for t in heldout)


def test_every_template_is_used_and_names_its_function():
    tasks = generate_code_tasks(2 * len(TEMPLATES), "train")
    assert {t.template for t in tasks} == {t.name for t in TEMPLATES}
    for t in tasks:
        assert t.entry_point in t.instruction  # the policy must be able to copy the name
        assert ast.parse(t.reference).body[0].name == t.entry_point


def test_reference_solutions_pass_their_own_tests():
    # trusted, kit-generated code: the tests were computed from it, so this checks the test rendering
    for t in generate_code_tasks(len(TEMPLATES) * 3, "heldout", seed=5):
        namespace: dict = {}
        exec(t.reference, namespace)
        for test in t.tests:
            exec(test, namespace)
        assert 3 <= len(t.tests) <= 4


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_robot_tasks_use_only_the_robot_api(split):
    for task in generate_robot_tasks(40, split):
        tree = ast.parse(task.reference)
        assert tree.body[0].name == "task_program"
        called = {
            n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert called <= ROBOT_API | {"str", "len", "range"}


def test_robot_train_and_heldout_are_disjoint_and_deterministic():
    train = generate_robot_tasks(500, "train")
    heldout = generate_robot_tasks(100, "heldout")
    assert not {t.instruction for t in train} & {t.instruction for t in heldout}
    assert all(robot_split(t.instruction) == "heldout" for t in heldout)
    assert generate_robot_tasks(20, "train", seed=4) == generate_robot_tasks(20, "train", seed=4)


@pytest.mark.parametrize(
    "call", [lambda: generate_code_tasks(3, "test"), lambda: generate_robot_tasks(3, "dev")]
)
def test_unknown_split_is_a_clear_error(call):
    with pytest.raises(ValueError, match="split must be"):
        call()
