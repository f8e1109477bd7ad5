"""The generated robot corpus (dense_rl.tasks.robot_tasks): breadth, checks, and distance from RoboEval.

.venv/bin/python -m pytest tests/test_robot_tasks.py -q
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import DATA

from dense_rl.robot.task_checks import check_runs, reference_runs, task_success
from dense_rl.tasks.robot_tasks import TEMPLATES, generate_robot_tasks, template_named

N_WORLDS = 8


def test_there_are_at_least_25_templates_each_with_a_one_line_check():
    assert len(TEMPLATES) >= 25
    assert len({t.name for t in TEMPLATES}) == len(TEMPLATES)
    assert all(t.doc and "\n" not in t.doc for t in TEMPLATES)


@pytest.mark.parametrize("template", [t.name for t in TEMPLATES])
def test_every_reference_passes_its_own_check_in_every_world(template):
    # three entity draws per template, each in the same N randomised worlds
    tasks = [t for t in generate_robot_tasks(3 * len(TEMPLATES), "train", 7) if t.template == template]
    for task in tasks:
        runs = reference_runs(task.reference, N_WORLDS, seed=3)
        per_world = check_runs(task, runs, seed=3)
        failed = [c.name for world in per_world for c in world if not c.passed]
        assert task_success(per_world), f"{task.instruction}: {failed}"


@pytest.mark.parametrize(
    "feature, pattern",
    [
        ("a loop over all rooms", r"for room in get_all_rooms\(\)"),
        ("a condition on is_in_room", r"if (not )?is_in_room\("),
        ("an ask with options and a branch on the answer", r"if \w+ == \""),
        ("counting", r"\+= 1"),
        ("several people", r'for person in \["'),
        ("waiting for someone", r"while not is_in_room\("),
        ("returning to the start", r"go_to\(start_loc\)"),
        ("carrying objects", r"pick\(.*\n(.*\n)*.*place\("),
    ],
)
def test_the_corpus_covers(feature, pattern):
    assert any(re.search(pattern, t.program) for t in TEMPLATES), feature


def test_names_must_be_copied_not_memorised():
    # most rooms, people and objects are made from a few hundred words, so no short list covers them; all the
    # names of one task are different (a room named like an object would confuse the simulator's kinds)
    tasks = generate_robot_tasks(300, "train", 0)
    rooms = {t.entities["room"] for t in tasks}
    assert len(rooms) > 150, len(rooms)
    for t in tasks:
        names = [t.entities[k] for k in ("room", "room2", "room3", "p1", "p2", "p3", "obj", "obj2")]
        assert len(set(names)) == len(names), names


def test_names_are_quoted_in_the_instruction_as_the_program_writes_them():
    # a name in quotes is the same tokens in the instruction and after `("` in the program; unquoted, the
    # byte-level tokenizer would give its first word another token (`Ġslope` vs `slope`)
    for t in generate_robot_tasks(2 * len(TEMPLATES), "train", 3):
        for key in ("room", "room2", "room3", "obj", "obj2", "p1", "p2", "p3"):
            name = t.entities[key]
            if re.search(rf"\b{re.escape(name)}\b", t.instruction):
                assert f'"{name}"' in t.instruction, (name, t.instruction)


def test_unknown_template_names_the_known_ones():
    with pytest.raises(ValueError, match="go_say"):
        template_named("teleport")
    with pytest.raises(ValueError, match="go_say"):  # also when asked for through the generator
        generate_robot_tasks(3, "train", 0, templates=("go_say", "teleport"))


@pytest.mark.parametrize(
    "templates, expected",
    [
        ((), [t.name for t in TEMPLATES[:4]]),  # default: every template in turn
        (("fetch",), ["fetch"] * 4),  # one template: all its tasks
        (("fetch", "go_say"), ["go_say", "fetch"] * 2),  # several: in TEMPLATES order, whatever was asked
    ],
)
def test_the_corpus_can_be_narrowed_to_some_templates(templates, expected):
    assert [t.template for t in generate_robot_tasks(4, "heldout", 0, templates)] == expected


def test_narrowing_leaves_the_full_corpus_as_it_was():
    # the default draws exactly the tasks it drew before the option existed (committed runs stay valid)
    assert generate_robot_tasks(40, "train", 3) == generate_robot_tasks(40, "train", 3, templates=())
    assert generate_robot_tasks(
        40, "train", 3, templates=[t.name for t in TEMPLATES]
    ) == generate_robot_tasks(40, "train", 3)


# --- no RoboEval in the corpus ------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _grams(text: str, n: int) -> set[tuple[str, ...]]:
    w = _words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def _shingles(text: str) -> tuple[list[str], set, set]:
    return _words(text), _grams(text, 4), _grams(text, 8)


def near_duplicate(a: str | tuple, b: str | tuple) -> bool:
    """Half the word 4-grams of the shorter text appear in the other, or they share a run of 8 words.
    Either text may be given as its precomputed _shingles."""
    (wa, ga, ea), (wb, gb, eb) = (x if isinstance(x, tuple) else _shingles(x) for x in (a, b))
    if not ga or not gb:
        return wa == wb
    return len(ga & gb) / min(len(ga), len(gb)) >= 0.5 or bool(ea & eb)


def content_line(line: str) -> bool:
    """A program line that carries task-specific text: its string literals hold at least 3 words. Lines of
    bare API idiom (`go_to(start_loc)`, `go_to("kitchen")`, `def task_program():`) are shared by any two
    programs written against the same API and say nothing about copying."""
    literals = re.findall(r"\"([^\"]*)\"|'([^']*)'", line)
    return sum(len(_words(s)) for pair in literals for s in pair) >= 3


@pytest.fixture(scope="module")
def corpus():
    return generate_robot_tasks(1500, "train", 0) + generate_robot_tasks(400, "heldout", 0)


@pytest.fixture(scope="module")
def roboeval():
    folder = DATA / "roboeval"
    prompts = [json.loads(line)["prompt"] for line in open(folder / "roboeval_tasks.jsonl")]
    programs = [
        json.loads(line)["reference_program"] for line in open(folder / "roboeval_reference_programs.jsonl")
    ]
    return prompts, programs


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (
            "Go to the kitchen and say hi to everyone there",
            "go to the Kitchen, and say hi to everyone there!",
            True,
        ),
        ("Go to the kitchen and say hi", "Bring the cup from the lab to the garage", False),  # unrelated
        (  # one word changed: a long run of shared words remains
            "Count the rooms that have a cup, then come back and tell me the number",
            "Count the rooms that have a pen, then come back and tell me the number",
            True,
        ),
    ],
)
def test_near_duplicate_detector(a, b, expected):
    assert near_duplicate(a, b) is expected


def test_no_roboeval_prompt_is_in_the_corpus(corpus, roboeval):
    prompts, _ = roboeval
    instructions = {t.instruction: _shingles(t.instruction) for t in corpus}
    theirs = {p: _shingles(p) for p in prompts}
    hits = [(p, i) for p, sp in theirs.items() for i, si in instructions.items() if near_duplicate(sp, si)]
    assert not hits, hits[:3]


def test_no_roboeval_program_line_is_in_the_corpus(corpus, roboeval):
    _, programs = roboeval
    normal = {re.sub(r"\s+", " ", line.strip()).lower() for t in corpus for line in t.reference.splitlines()}
    theirs = {re.sub(r"\s+", " ", line.strip()).lower() for p in programs for line in p.splitlines()}
    assert sum(map(content_line, theirs)) > 50  # the test has lines to look for
    assert not {line for line in theirs if content_line(line)} & normal
