"""Success checks for generated robot tasks (dense_rl.robot.task_checks): wrong programs fail, right ones in
other orders or wordings pass.

    .venv/bin/python -m pytest tests/test_robot_task_checks.py -q
"""

from __future__ import annotations

import pytest

from dense_rl.robot.task_checks import (
    Check,
    check_runs,
    mentions,
    negated,
    reference_runs,
    says_number,
    task_success,
)
from dense_rl.tasks.robot_tasks import template_named
from dense_rl.tasks.types import RobotTask

ENTITIES = dict(
    room="kitchen", room2="garage", room3="library", obj="cup", obj2="pen", p1="ava", p2="ben", p3="carl",
    a="tea", b="coffee", c="juice", item="cake", msg="lunch is ready",
)  # fmt: skip
N_WORLDS = 8


def task(template: str) -> RobotTask:
    t = template_named(template)
    return RobotTask(
        "t", t.instructions[0].format(**ENTITIES), t.program.format(**ENTITIES), template, ENTITIES
    )


def succeeds(template: str, body: str) -> bool:
    program = "def task_program():\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())
    return task_success(check_runs(task(template), reference_runs(program, N_WORLDS, seed=1), seed=1))


WRONG = [
    # (check kind, template, program body that gets it wrong)
    ("wrong room", "go_say", 'go_to("garage")\nsay("lunch is ready")'),
    ("wrong message", "go_say", 'go_to("kitchen")\nsay("good night")'),
    ("missing return", "go_say_return", 'go_to("kitchen")\nsay("lunch is ready")'),
    ("skipped person", "tell_everyone",
     'for p in ["ava", "ben"]:\n    go_to(p + "\'s office")\n    say("lunch is ready")'),
    ("wrong count (a constant)", "count_rooms", 'say("2 rooms")'),
    (
        "wrong count (off by one)",
        "count_rooms",
        "n = 1\nfor r in get_all_rooms():\n    go_to(r)\n    if is_in_room(\"cup\"):\n        n += 1\n"
        'go_to("start_loc")\nsay(str(n))',
    ),
    ("asks without looking first", "poll_people",
     'go_to("ava\'s office")\nask("ava", "cake?", ["yes", "no"])'),
    ("delivers to the wrong office", "two_people_delivery",
     'go_to("kitchen")\npick("cup")\ngo_to("ben\'s office")\nplace("cup")\ngo_to("garage")\npick("pen")\n'
     'go_to("ava\'s office")\nplace("pen")'),
    ("ignores the answer", "ask_branch_fetch",
     'go_to("ava\'s office")\nask("ava", "tea or coffee?", ["tea", "coffee"])\n'
     'go_to("kitchen")\npick("tea")\ngo_to("ava\'s office")\nplace("tea")'),
    ("says it before the person arrives", "wait_for", 'go_to("kitchen")\nsay("lunch is ready")'),
    ("only says something", "fetch", 'say("workshop")'),
    ("a Python error after doing the task", "go_say", 'go_to("kitchen")\nsay("lunch is ready")\n1 / 0'),
]  # fmt: skip


@pytest.mark.parametrize("kind, template, body", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_program_fails(kind, template, body):
    assert not succeeds(template, body)


RIGHT = [
    # (what differs from the reference, template, program body that is still right)
    ("other wording and 'the' before the room", "go_say",
     'go_to("the kitchen")\nsay("Hello! Lunch is ready.")'),
    ("people in another order", "tell_everyone",
     'for p in ["carl", "ava", "ben"]:\n    go_to(p + "\'s office")\n    say("lunch is ready")'),
    ("the count in words", "count_rooms",
     'words = ["zero", "one", "two", "three", "four", "five"]\nn = 0\n'
     'for r in get_all_rooms():\n    go_to(r)\n'
     '    if is_in_room("cup"):\n        n += 1\ngo_to("start_loc")\nsay("I counted " + words[n])'),
    ("deliveries in the other order", "two_deliveries",
     'go_to("garage")\npick("pen")\ngo_to("library")\nplace("pen")\ngo_to("kitchen")\npick("cup")\n'
     'go_to("library")\nplace("cup")'),
    ("yes/no options in other words", "ask_yes_fetch",
     'go_to("ava\'s office")\nr = ask("ava", "Shall I bring the cup?", ["yes please", "no thanks"])\n'
     'if r.startswith("yes"):\n    go_to("kitchen")\n    pick("cup")\n'
     '    go_to("ava\'s office")\n    place("cup")'),
]  # fmt: skip


@pytest.mark.parametrize("change, template, body", RIGHT, ids=[r[0] for r in RIGHT])
def test_right_program_in_another_form_passes(change, template, body):
    assert succeeds(template, body)


@pytest.mark.parametrize(
    "text, phrase, expected",
    [
        ("Lunch is ready!", "lunch is ready", True),  # case and punctuation ignored
        ("the kitchen", "kitchen", True),  # a leading 'the' ignored
        ("lunchroom", "lunch", False),  # whole words only
    ],
)
def test_mentions(text, phrase, expected):
    assert mentions(text, phrase) is expected


@pytest.mark.parametrize(
    "text, n, expected",
    [("3 rooms", 3, True), ("three rooms", 3, True), ("13 rooms", 3, False), ("no rooms", 0, False)],
)
def test_says_number(text, n, expected):
    assert says_number(text, n) is expected


@pytest.mark.parametrize(
    "text, expected", [("There is no cup", True), ("Ava isn't in", True), ("I saw a cup", False)]
)
def test_negated(text, expected):
    assert negated(text) is expected


def test_task_success_needs_every_check_in_every_world():
    ok, bad = Check("a", True), Check("b", False, 3)
    assert task_success([[ok], [ok]])
    assert not task_success([[ok], [ok, bad]])
    assert not task_success([])  # no world, no success
