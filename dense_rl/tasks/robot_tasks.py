"""Generated service-robot instructions with reference programs against the robot API.

    from dense_rl.tasks.robot_tasks import generate_robot_tasks
    task = generate_robot_tasks(1, split="train", seed=0)[0]
    print(task.instruction); print(task.reference)

The robot API (shared spec, roboeval.md): get_current_location, get_all_rooms, is_in_room, go_to, ask, say,
pick, place. Ten templates (deliver, fetch, ask-and-report, poll several people, search every room, wait for
someone, ...) with random rooms, people, objects and messages. These are the kit's own tasks: RoboEval's
prompts and programs are evaluation data whose licence forbids training on them, so none are used here.
Train and held-out instructions never coincide (split by a stable hash of the instruction).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from dense_rl.tasks.types import RobotTask
from dense_rl.tasks.words import OBJECTS, PEOPLE, ROOMS, WORDS

# The short system message the tiny policy is trained with (its context is small). The paper's long format
# (API docstring plus few-shot turns) lives in dense_rl.robot.prompts.
COMPACT_SYSTEM = (
    "You write robot programs in Python. Available functions: get_current_location() -> str, "
    "get_all_rooms() -> list[str], is_in_room(object: str) -> bool, go_to(location: str), "
    "ask(person: str, question: str, options: list[str]) -> str, say(message: str), pick(obj: str), "
    "place(obj: str). Answer with def task_program():."
)

MESSAGES = ("good morning", "lunch is ready", "the meeting starts soon", "please check your email", "welcome")
ITEMS = ("coffee", "tea", "cake", "pizza", "a sandwich", "juice", "cookies")


def _go_say(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Go to the {room} and say '{msg}'.",
                "Say '{msg}' in the {room}.",
                "Visit the {room} and tell everyone '{msg}'.",
            ]
        )
        .format(**e)
    )
    return instruction, 'def task_program():\n    go_to("{room}")\n    say("{msg}")\n'.format(**e)


def _check_object(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Check if there is a {obj} in the {room}, then come back and tell me.",
                "Go see whether the {room} has a {obj} and report back to me.",
            ]
        )
        .format(**e)
    )
    program = (
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{room}")\n'
        '    found = is_in_room("{obj}")\n    go_to(start_loc)\n    if found:\n'
        '        say("There is a {obj} in the {room}")\n    else:\n'
        '        say("There is no {obj} in the {room}")\n'
    )
    return instruction, program.format(**e)


def _ask_report(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Go to {person}'s office and ask {person} if they want {a} or {b}. Come back and tell me the answer.",
                "Ask {person} in their office whether they prefer {a} or {b}, then tell me what they chose.",
            ]
        )
        .format(**e)
    )
    program = (
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{person}\'s office")\n'
        '    response = ask("{person}", "Would you like {a} or {b}?", ["{a}", "{b}"])\n'
        '    go_to(start_loc)\n    say("{person} chose " + response)\n'
    )
    return instruction, program.format(**e)


def _fetch(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Bring the {obj} from the {room} to the {room2}.",
                "Take the {obj} in the {room} and put it in the {room2}.",
            ]
        )
        .format(**e)
    )
    program = (
        'def task_program():\n    go_to("{room}")\n    if is_in_room("{obj}"):\n        pick("{obj}")\n'
        '        go_to("{room2}")\n        place("{obj}")\n    else:\n'
        '        say("I could not find the {obj}")\n'
    )
    return instruction, program.format(**e)


def _count_rooms(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Find out how many rooms have a {obj} and tell me.",
                "Count the rooms that contain a {obj} and report the number to me.",
            ]
        )
        .format(**e)
    )
    program = (
        "def task_program():\n    start_loc = get_current_location()\n    count = 0\n"
        '    for room in get_all_rooms():\n        go_to(room)\n        if is_in_room("{obj}"):\n'
        '            count += 1\n    go_to(start_loc)\n    say("There are " + str(count) + " rooms with a {obj}")\n'
    )
    return instruction, program.format(**e)


def _find_bring(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            ["Find a {obj} and bring it back to me.", "Look for a {obj} in every room and bring it here."]
        )
        .format(**e)
    )
    program = (
        "def task_program():\n    start_loc = get_current_location()\n    found = False\n"
        '    for room in get_all_rooms():\n        go_to(room)\n        if is_in_room("{obj}"):\n'
        '            pick("{obj}")\n            found = True\n            break\n    go_to(start_loc)\n'
        '    if found:\n        place("{obj}")\n    else:\n        say("I could not find a {obj}")\n'
    )
    return instruction, program.format(**e)


def _poll(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Ask {p1}, {p2} and {p3} in their offices if they want {item}, then tell me how many said yes.",
                "Visit the offices of {p1}, {p2} and {p3}, ask each one whether they would like {item}, and report the count.",
            ]
        )
        .format(**e)
    )
    program = (
        "def task_program():\n    start_loc = get_current_location()\n    yes_count = 0\n"
        '    for person in ["{p1}", "{p2}", "{p3}"]:\n        go_to(person + "\'s office")\n'
        '        if is_in_room(person):\n            answer = ask(person, "Would you like {item}?", ["Yes", "No"])\n'
        '            if answer == "Yes":\n                yes_count += 1\n    go_to(start_loc)\n'
        '    say(str(yes_count) + " people want {item}")\n'
    )
    return instruction, program.format(**e)


def _wait_for(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Wait in the {room} until {person} arrives, then say '{msg}'.",
                "Go to the {room}, wait for {person} to show up and tell them '{msg}'.",
            ]
        )
        .format(**e)
    )
    program = (
        'def task_program():\n    go_to("{room}")\n    while not is_in_room("{person}"):\n        pass\n'
        '    say("{msg}")\n'
    )
    return instruction, program.format(**e)


def _deliver_to_person(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Take the {obj} from the {room} to {person}'s office. If {person} is not there, tell me.",
                "Get the {obj} in the {room} and deliver it to {person}'s office, but only if {person} is in.",
            ]
        )
        .format(**e)
    )
    program = (
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{person}\'s office")\n'
        '    if is_in_room("{person}"):\n        go_to("{room}")\n        pick("{obj}")\n'
        '        go_to("{person}\'s office")\n        place("{obj}")\n    else:\n        go_to(start_loc)\n'
        '        say("{person} is not in the office")\n'
    )
    return instruction, program.format(**e)


def _greet_people(e: dict) -> tuple[str, str]:
    instruction = (
        random.Random(e["seed"])
        .choice(
            [
                "Go to every room and say '{msg}' wherever there is a person.",
                "Say '{msg}' in each room that has someone in it.",
            ]
        )
        .format(**e)
    )
    program = (
        "def task_program():\n    for room in get_all_rooms():\n        go_to(room)\n"
        '        if is_in_room("person"):\n            say("{msg}")\n'
    )
    return instruction, program.format(**e)


TEMPLATES: tuple[Callable[[dict], tuple[str, str]], ...] = (
    _go_say,
    _check_object,
    _ask_report,
    _fetch,
    _count_rooms,
    _find_bring,
    _poll,
    _wait_for,
    _deliver_to_person,
    _greet_people,
)


def _entities(rng: random.Random) -> dict:
    rooms = rng.sample(ROOMS, 2)
    people = rng.sample(PEOPLE, 3)
    a, b = rng.sample(ITEMS, 2)
    msg = rng.choice([*MESSAGES, f"the {rng.choice(WORDS)} meeting is at {rng.randint(1, 12)}"])
    return dict(
        room=rooms[0],
        room2=rooms[1],
        obj=rng.choice(OBJECTS),
        person=people[0],
        p1=people[0],
        p2=people[1],
        p3=people[2],
        a=a,
        b=b,
        item=rng.choice(ITEMS),
        msg=msg,
        seed=rng.randrange(2**31),
    )


def instruction_split(instruction: str) -> str:
    """'heldout' for one instruction in five (stable hash), else 'train'."""
    return "heldout" if hashlib.sha1(instruction.encode()).digest()[0] % 5 == 0 else "train"


def generate_robot_tasks(n: int, split: str = "train", seed: int = 0) -> list[RobotTask]:
    """`n` robot tasks of `split` ('train' or 'heldout'), deterministic for (split, seed)."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    rng = random.Random(f"robot/{split}/{seed}")
    tasks: list[RobotTask] = []
    while len(tasks) < n:
        template = TEMPLATES[len(tasks) % len(TEMPLATES)]
        entities = _entities(rng)
        instruction, program = template(entities)
        if instruction_split(instruction) != split:
            continue
        entities.pop("seed")
        task_id = f"tiny-robot/{split}/{seed}/{len(tasks):05d}"
        tasks.append(RobotTask(task_id, instruction, program, template.__name__.lstrip("_"), entities))
    return tasks


def answer_text(task: RobotTask) -> str:
    """The assistant's answer used for supervised pre-training: the program in a fenced block."""
    return f"```python\n{task.reference}```"
