"""Generated service-robot instructions, each with a reference program and a success check.

    from dense_rl.tasks.robot_tasks import generate_robot_tasks, TEMPLATES
    task = generate_robot_tasks(1, split="train", seed=0)[0]
    print(task.instruction); print(task.reference)
    for t in TEMPLATES: print(f"{t.name:22s} {t.doc}")     # every template's check, one line each

The robot API (shared spec, roboeval.md): get_current_location, get_all_rooms, is_in_room, go_to, ask, say,
pick, place. Thirty templates, written from that API alone: single errands (go and say, fetch, deliver),
loops over every room, conditions on is_in_room, ask with options and a branch on the answer, counting and
reporting, several people or objects, waiting for someone, coming back to the start, and combinations.
Random rooms, people, objects, items and messages fill them in; most names are made up from the words of
dense_rl.tasks.words (a policy must copy them, it cannot memorise them), and the instruction shows each name
in double quotes (`quoted` says why).

Each template carries its check (dense_rl.robot.task_checks): what must be observable after the program ran
in a randomised RoboSim world. `doc` says it in one line. The reference program passes its own check in
every world (tests/test_robot_tasks.py). These are the kit's own tasks: RoboEval's prompts and programs are
evaluation data whose licence forbids training on them, so none are used here, and a test checks that no
RoboEval prompt or program line appears in the generated corpus, exactly or nearly.
Train and held-out instructions never coincide (split by a stable hash of the instruction).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dense_rl.robot import task_checks as tc
from dense_rl.tasks.types import RobotTask
from dense_rl.tasks.words import OBJECTS, PEOPLE, ROOMS, WORDS

# The short system message the tiny policy is trained with (its context is small). The paper's long format
# (API docstring plus few-shot turns) lives in dense_rl.robot.prompts.
COMPACT_SYSTEM = (
    "Write a robot program def task_program(): with go_to, say, ask, pick, place, is_in_room, "
    "get_all_rooms, get_current_location."
)

MESSAGES = ("good morning", "lunch is ready", "the meeting starts soon", "please check your email", "welcome")
ITEMS = ("coffee", "tea", "cake", "pizza", "soup", "juice", "cookies", "salad", "muffins")
START = tc.START
Check = tc.Check


@dataclass(frozen=True)
class Template:
    """One kind of task: instruction wordings, the reference program, and the check of the result.

    check(entities, trace, rooms) -> list[Check]: `rooms` are the world's rooms at the start of the run.
    """

    name: str
    doc: str  # the check in one line
    instructions: tuple[str, ...]
    program: str
    check: Callable[[dict, list, list], list[Check]]


def office(person: str) -> str:
    return f"{person}'s office"


def _after_check(t, entity: str) -> int:
    return tc.end_of(t, lambda e: e.kind == "CheckEntity" and tc.same_place(e.arg, entity))


# --- checks (one function per template whose check is more than one line) ---------------------------------


def _check_object(e, t, rooms):
    seen = tc.observed(t, e["obj"], e["room"])
    report = tc.report_presence(
        t, _after_check(t, e["obj"]), [e["obj"]] if seen else [], [] if seen else [e["obj"]], "what it saw"
    )
    return [tc.looked(t, e["obj"], e["room"]), report]


def _ask_report(e, t, rooms):
    where = office(e["p1"])
    answer = tc.answer_at(t, where)
    after = tc.end_of(t, lambda ev: ev.kind == "Ask")
    told = tc.reported(
        t, after, lambda m: answer is not None and tc.mentions(m, answer), "reports the answer"
    )
    return [tc.asked(t, where, e["p1"], options=(e["a"], e["b"])), told]


def _fetch(e, t, rooms):
    if tc.observed(t, e["obj"], e["room"]) is False:  # looked, not there: say so instead of carrying
        return [tc.no_pick(t, e["obj"]), tc.said(t, None, e["obj"], name=f"says the {e['obj']} is missing")]
    return [tc.picked(t, e["obj"], e["room"]), tc.placed(t, e["obj"], e["room2"])]


def _count(entity: str) -> Callable:
    def check(e, t, rooms):
        what = e.get(entity, entity)
        looks = tc.every_room(t, rooms, lambda r: [tc.looked(t, what, r)])
        # the start is a room of get_all_rooms() too: counting it or not are both read as right
        counts = {tc.count_true(t, what), tc.count_true(t, what) - bool(tc.observed(t, what, START))}
        return [*looks, tc.report_number(t, _after_check(t, what), *counts)]

    return check


def _find_bring(e, t, rooms):
    obj = e["obj"]
    pick = tc.first_index(t, "Pick", entity=obj)
    seen = tc.first_index(t, "CheckEntity", entity=obj, result=True)
    if pick is not None or seen is not None:
        where = t[pick].location if pick is not None else t[seen].location
        return [tc.picked(t, obj, where), tc.placed(t, obj, START)]
    looks = tc.every_room(t, rooms, lambda r: [tc.looked(t, obj, r)])
    return [*looks, tc.report_presence(t, _after_check(t, obj), [], [obj], f"that there is no {obj}")]


def _poll_people(e, t, rooms):
    checks, yes = [], 0
    for p in (e["p1"], e["p2"], e["p3"]):
        here = tc.observed(t, p, office(p))
        checks.append(tc.looked(t, p, office(p)))
        if here is None:  # never looked: the absence checks below would pass for doing nothing
            continue
        if here:
            checks.append(tc.asked(t, office(p), p, words=(e["item"],), options=("yes", "no")))
            yes += tc.is_yes(tc.answer_at(t, office(p)))
        else:
            checks.append(tc.no_ask(t, office(p)))
    return [*checks, tc.report_number(t, tc.after_leaving(t), yes)]


def _waited(t, person: str, where: str) -> tuple[Check, int]:
    """Did the robot see `person` at `where` (is_in_room True)? And the index after that sighting."""
    seen = tc.first_index(t, "CheckEntity", where, entity=person, result=True)
    line = None if seen is not None else tc.blame(t, "CheckEntity")
    return Check(f"waits until {person} is in {where}", seen is not None, line), (
        len(t) if seen is None else seen + 1
    )


def _wait_for(e, t, rooms):
    waited, after = _waited(t, e["p1"], e["room"])
    checks = [waited, tc.said(t, e["room"], e["msg"], after=after)]
    first_say = tc.first_index(t, "Say", e["room"])
    if first_say is not None:  # (without any Say this check would pass for doing nothing)
        early = first_say < after
        checks.append(
            Check("says nothing before they arrive", not early, t[first_say].line if early else None)
        )
    return checks


def _deliver_to_person(e, t, rooms):
    where = office(e["p1"])
    seen = tc.observed(t, e["p1"], where)
    if seen is None:
        return [tc.looked(t, e["p1"], where)]
    if seen:
        return [tc.picked(t, e["obj"], e["room"]), tc.placed(t, e["obj"], where)]
    missing = tc.report_presence(t, _after_check(t, e["p1"]), [], [e["p1"]], f"that {e['p1']} was out")
    return [tc.no_pick(t, e["obj"]), missing]


def _greet(e, t, rooms):
    def room_check(r):
        seen = tc.observed(t, "person", r)
        if seen is None:
            return [tc.looked(t, "person", r)]
        return [tc.said(t, r, e["msg"])] if seen else [tc.not_said(t, r, e["msg"])]

    return tc.every_room(t, rooms, room_check)


def _tell_person(e, t, rooms):
    where = office(e["p1"])
    seen = tc.observed(t, e["p1"], where)
    if seen is None:
        return [tc.looked(t, e["p1"], where)]
    if seen:
        return [tc.said(t, where, e["msg"])]
    missing = tc.report_presence(t, _after_check(t, e["p1"]), [], [e["p1"]], f"that {e['p1']} was out")
    return [tc.not_said(t, where, e["msg"]), missing]


def _choice(answer: str | None, *wanted: str) -> str:
    """Which of `wanted` the answer names (the answer itself when none)."""
    return next((w for w in wanted if answer and tc.mentions(answer, w)), answer or wanted[0])


def _ask_branch_fetch(e, t, rooms):
    where = office(e["p1"])
    item = _choice(tc.answer_at(t, where), e["a"], e["b"])
    asked = tc.asked(t, where, e["p1"], options=(e["a"], e["b"]))
    return [asked, tc.picked(t, item, e["room"]), tc.placed(t, item, where)]


def _ask_yes_fetch(e, t, rooms):
    where = office(e["p1"])
    asked = tc.asked(t, where, e["p1"], words=(e["obj"],), options=("yes", "no"))
    answer = tc.answer_at(t, where)
    if answer is None:  # asked nobody: "did not pick" would pass for doing nothing
        return [asked]
    if tc.is_yes(answer):
        return [asked, tc.picked(t, e["obj"], e["room"]), tc.placed(t, e["obj"], where)]
    return [asked, tc.no_pick(t, e["obj"])]


def _which_rooms(e, t, rooms):
    obj, names = e["obj"], [r for r in rooms if r != START]
    looks = tc.every_room(t, rooms, lambda r: [tc.looked(t, obj, r)])
    have = [r for r in names if tc.observed(t, obj, r)]
    lack = [r for r in names if r not in have]
    return [*looks, tc.report_presence(t, _after_check(t, obj), have, lack, f"the rooms with a {obj}")]


def _two_rooms(e, t, rooms):
    obj, places = e["obj"], [e["room"], e["room2"]]
    have = [r for r in places if tc.observed(t, obj, r)]
    lack = [r for r in places if r not in have]
    report = tc.report_presence(t, _after_check(t, obj), have, lack, f"where the {obj} is")
    return [*(tc.looked(t, obj, r) for r in places), report]


def _ask_two(e, t, rooms):
    checks, answers = [], []
    for p in (e["p1"], e["p2"]):
        checks.append(tc.asked(t, office(p), p, options=(e["a"], e["b"])))
        answers.append((p, _choice(tc.answer_at(t, office(p)), e["a"], e["b"])))

    def test(m: str) -> bool:
        return all(tc.mentions(m, p) and tc.mentions(m, a) for p, a in answers)

    return [*checks, tc.reported(t, tc.after_leaving(t), test, "reports each person's choice")]


def _find_person(e, t, rooms):
    p = e["p1"]
    seen = tc.first_index(t, "CheckEntity", entity=p, result=True)
    if seen is not None:
        return [tc.said(t, t[seen].location, e["msg"], after=seen)]
    looks = tc.every_room(t, rooms, lambda r: [tc.looked(t, p, r)])
    return [*looks, tc.report_presence(t, _after_check(t, p), [], [p], f"that {p} was nowhere")]


def _wait_then_ask(e, t, rooms):
    waited, after = _waited(t, e["p1"], e["room"])
    answer = tc.answer_at(t, e["room"], after)
    told = tc.reported(
        t, tc.after_leaving(t), lambda m: answer is not None and tc.mentions(m, answer), "reports the answer"
    )
    return [waited, tc.asked(t, e["room"], e["p1"], options=(e["a"], e["b"]), after=after), told]


def _poll_rooms(e, t, rooms):
    def room_check(r):
        seen = tc.observed(t, "person", r)
        if seen is None:
            return [tc.looked(t, "person", r)]
        return [tc.asked(t, r, words=(e["item"],), options=("yes", "no"))] if seen else [tc.no_ask(t, r)]

    checks = tc.every_room(t, rooms, room_check)
    yes = sum(tc.is_yes(tc.answer_at(t, r)) for r in rooms if r != START and tc.observed(t, "person", r))
    at_start = tc.observed(t, "person", START) and tc.is_yes(tc.answer_at(t, START))
    return [*checks, tc.report_number(t, tc.after_leaving(t), yes, yes + bool(at_start))]


def _place_where_told(e, t, rooms):
    where = office(e["p1"])
    dest = _choice(tc.answer_at(t, where), e["room"], e["room2"])
    asked = tc.asked(t, where, e["p1"], options=(e["room"], e["room2"]))
    return [tc.picked(t, e["obj"], START), asked, tc.placed(t, e["obj"], dest)]


def _who_is_in(e, t, rooms):
    people = (e["p1"], e["p2"])
    looks = [tc.looked(t, p, office(p)) for p in people]
    here = [p for p in people if tc.observed(t, p, office(p))]
    away = [p for p in people if p not in here]
    return [*looks, tc.report_presence(t, _after_check(t, people[-1]), here, away, "who is in")]


def _count_choice(e, t, rooms):
    people = (e["p1"], e["p2"], e["p3"])
    asks = [tc.asked(t, office(p), p, options=(e["a"], e["b"], e["c"])) for p in people]
    chose = sum(_choice(tc.answer_at(t, office(p)), e["a"], e["b"], e["c"]) == e["a"] for p in people)
    return [*asks, tc.report_number(t, tc.after_leaving(t), chose)]


# --- the templates ----------------------------------------------------------------------------------------


def _t(name: str, doc: str, instructions: tuple[str, ...], program: str, check: Callable) -> Template:
    return Template(name, doc, instructions, program, check)


TEMPLATES: tuple[Template, ...] = (
    _t(
        "go_say",
        "a Say of the message in the room",
        ("Drive to the {room} and say '{msg}'.", "Announce '{msg}' in the {room}."),
        'def task_program():\n    go_to("{room}")\n    say("{msg}")\n',
        lambda e, t, r: [tc.said(t, e["room"], e["msg"])],
    ),
    _t(
        "go_say_return",
        "a Say of the message in the room, and the robot ends at the start",
        (
            "Head to the {room}, announce '{msg}' there, and return here afterwards.",
            "Please say '{msg}' in the {room} and then drive back to where you started.",
        ),
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{room}")\n'
        '    say("{msg}")\n    go_to(start_loc)\n',
        lambda e, t, r: [tc.said(t, e["room"], e["msg"]), tc.ends_at(t)],
    ),
    _t(
        "check_object",
        "is_in_room(obj) in the room, then a Say at the start that affirms or denies it as observed",
        (
            "Look in the {room} for a {obj}; once back here, let me know if you saw one.",
            "Is there a {obj} in the {room}? Drive over, look, and report back to me here.",
        ),
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{room}")\n'
        '    found = is_in_room("{obj}")\n    go_to(start_loc)\n    if found:\n'
        '        say("I saw a {obj} in the {room}")\n    else:\n        say("I did not see a {obj} in the {room}")\n',
        _check_object,
    ),
    _t(
        "ask_report",
        "an Ask at the person's office offering both items, then a Say at the start naming the answer",
        (
            "Visit {p1}'s office and find out whether {p1} would rather have {a} or {b}; report the choice to me.",
            "In {p1}'s office, let {p1} pick between {a} and {b}, then come and tell me which one.",
        ),
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{p1}\'s office")\n'
        '    choice = ask("{p1}", "Would you rather have {a} or {b}?", ["{a}", "{b}"])\n'
        '    go_to(start_loc)\n    say("{p1} would like " + choice)\n',
        _ask_report,
    ),
    _t(
        "fetch",
        "Pick(obj) in the room and Place(obj) in the target room, or, if it was seen missing, a Say about it",
        (
            "Carry the {obj} from the {room} over to the {room2}.",
            "Move the {obj} that is in the {room} into the {room2}; if it is not there, say so.",
        ),
        'def task_program():\n    go_to("{room}")\n    if is_in_room("{obj}"):\n        pick("{obj}")\n'
        '        go_to("{room2}")\n        place("{obj}")\n    else:\n'
        '        say("The {obj} is not in the {room}")\n',
        _fetch,
    ),
    _t(
        "count_rooms",
        "is_in_room(obj) in every room, then a Say at the start with the number of rooms where it was True",
        (
            "How many rooms contain a {obj}? Check them all and tell me the number when you are back.",
            "Tour the building, count the rooms holding a {obj}, and report the total to me here.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    total = 0\n"
        '    for room in get_all_rooms():\n        go_to(room)\n        if is_in_room("{obj}"):\n'
        '            total += 1\n    go_to(start_loc)\n    say("Rooms with a {obj}: " + str(total))\n',
        _count("obj"),
    ),
    _t(
        "find_bring",
        "Pick(obj) where it was found and Place(obj) at the start; if never found, every room checked and a "
        "negated report",
        (
            "Search the rooms until you find a {obj}, then carry it back to me.",
            "Locate any {obj} in the building and deliver it here; tell me if there is none.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    for room in get_all_rooms():\n"
        '        go_to(room)\n        if is_in_room("{obj}"):\n            pick("{obj}")\n'
        '            go_to(start_loc)\n            place("{obj}")\n            return\n'
        '    go_to(start_loc)\n    say("There is no {obj} anywhere")\n',
        _find_bring,
    ),
    _t(
        "poll_people",
        "at each of 3 offices is_in_room(person); a yes/no Ask about the item where present, none where "
        "absent; the yes count reported at the start",
        (
            "Check on {p1}, {p2} and {p3} in their offices; whoever is in, ask if they want {item}. Then tell "
            "me how many said yes.",
            "For {p1}, {p2} and {p3}: stop by each office, and if the person is there, ask whether they would "
            "like {item}. Report the number of yes answers to me.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    yes_count = 0\n"
        '    for person in ["{p1}", "{p2}", "{p3}"]:\n        go_to(person + "\'s office")\n'
        "        if is_in_room(person):\n"
        '            reply = ask(person, "Would you like {item}?", ["Yes", "No"])\n'
        '            if reply == "Yes":\n                yes_count += 1\n    go_to(start_loc)\n'
        '    say(str(yes_count) + " said yes to {item}")\n',
        _poll_people,
    ),
    _t(
        "wait_for",
        "is_in_room(person) True in the room before the Say of the message there, and no Say before it",
        (
            "Stay in the {room} until {p1} shows up, and then say '{msg}'.",
            "Go to the {room} and keep waiting for {p1}; when {p1} is there, say '{msg}'.",
        ),
        'def task_program():\n    go_to("{room}")\n    while not is_in_room("{p1}"):\n        pass\n'
        '    say("{msg}")\n',
        _wait_for,
    ),
    _t(
        "deliver_to_person",
        "if the person was seen in: Pick(obj) in the room, Place(obj) in the office; else no Pick and a "
        "report at the start that they were out",
        (
            "If {p1} is in their office, bring {p1} the {obj} from the {room}; otherwise come back and tell me.",
            "See whether {p1} is in; if so, fetch the {obj} from the {room} and leave it in {p1}'s office. If "
            "not, let me know.",
        ),
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{p1}\'s office")\n'
        '    if is_in_room("{p1}"):\n        go_to("{room}")\n        pick("{obj}")\n'
        '        go_to("{p1}\'s office")\n        place("{obj}")\n    else:\n        go_to(start_loc)\n'
        '        say("{p1} is not in the office")\n',
        _deliver_to_person,
    ),
    _t(
        "greet_people",
        "in every room is_in_room('person'); a Say of the message exactly where someone was",
        (
            "In each room where somebody is present, say '{msg}'.",
            "Walk through all rooms and say '{msg}' wherever you find a person.",
        ),
        "def task_program():\n    for room in get_all_rooms():\n        go_to(room)\n"
        '        if is_in_room("person"):\n            say("{msg}")\n',
        _greet,
    ),
    _t(
        "tell_person",
        "if the person was seen in: a Say of the message in the office; else no such Say and a report at the "
        "start",
        (
            "Pass the message '{msg}' to {p1} in their office; if {p1} is out, come back and tell me.",
            "Tell {p1} '{msg}' if you find {p1} in the office, and otherwise report to me that {p1} was out.",
        ),
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{p1}\'s office")\n'
        '    if is_in_room("{p1}"):\n        say("{msg}")\n    else:\n        go_to(start_loc)\n'
        '        say("{p1} was not in the office")\n',
        _tell_person,
    ),
    _t(
        "ask_branch_fetch",
        "an Ask in the office offering both items, then Pick of the chosen one in the room and Place of it in "
        "the office",
        (
            "Find out whether {p1} wants {a} or {b}, then get that from the {room} and bring it to {p1}'s office.",
            "Let {p1} choose between {a} and {b} in their office, pick up the chosen one in the {room}, and "
            "deliver it to {p1}.",
        ),
        'def task_program():\n    go_to("{p1}\'s office")\n'
        '    choice = ask("{p1}", "Do you want {a} or {b}?", ["{a}", "{b}"])\n    go_to("{room}")\n'
        '    pick(choice)\n    go_to("{p1}\'s office")\n    place(choice)\n',
        _ask_branch_fetch,
    ),
    _t(
        "ask_yes_fetch",
        "a yes/no Ask about the object in the office; on yes Pick in the room and Place in the office, on no "
        "no Pick",
        (
            "Ask {p1} whether they need the {obj} from the {room}; only if the answer is yes, bring it to their "
            "office.",
            "Go to {p1}'s office and ask if {p1} wants the {obj}. If yes, fetch it from the {room} for them.",
        ),
        'def task_program():\n    go_to("{p1}\'s office")\n'
        '    reply = ask("{p1}", "Do you want the {obj}?", ["Yes", "No"])\n    if reply == "Yes":\n'
        '        go_to("{room}")\n        pick("{obj}")\n        go_to("{p1}\'s office")\n'
        '        place("{obj}")\n',
        _ask_yes_fetch,
    ),
    _t(
        "which_rooms",
        "is_in_room(obj) in every room; a report at the start naming the rooms where it was True and no other",
        (
            "Find every room that has a {obj} and list those rooms to me when you return.",
            "Go through the building checking for a {obj}, then tell me which rooms have one.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    found = []\n"
        '    for room in get_all_rooms():\n        go_to(room)\n        if is_in_room("{obj}"):\n'
        "            found.append(room)\n    go_to(start_loc)\n    if found:\n"
        '        say("A {obj} is in: " + ", ".join(found))\n    else:\n'
        '        say("No room has a {obj}")\n',
        _which_rooms,
    ),
    _t(
        "count_people",
        "is_in_room('person') in every room, then the number of occupied rooms reported at the start",
        (
            "Count how many rooms have someone in them, and tell me the number here.",
            "Visit all rooms, note which ones are occupied, and report the count of occupied rooms to me.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    occupied = 0\n"
        "    for room in get_all_rooms():\n        go_to(room)\n"
        '        if is_in_room("person"):\n            occupied += 1\n    go_to(start_loc)\n'
        '    say(str(occupied) + " rooms have people in them")\n',
        _count("person"),
    ),
    _t(
        "two_deliveries",
        "Pick/Place of each object from its room to the target room (either order)",
        (
            "Bring the {obj} from the {room} and the {obj2} from the {room2} to the {room3}.",
            "Collect the {obj2} in the {room2} and the {obj} in the {room}; put both in the {room3}.",
        ),
        'def task_program():\n    go_to("{room}")\n    pick("{obj}")\n    go_to("{room3}")\n'
        '    place("{obj}")\n    go_to("{room2}")\n    pick("{obj2}")\n    go_to("{room3}")\n'
        '    place("{obj2}")\n',
        lambda e, t, r: [
            tc.picked(t, e["obj"], e["room"]),
            tc.placed(t, e["obj"], e["room3"]),
            tc.picked(t, e["obj2"], e["room2"]),
            tc.placed(t, e["obj2"], e["room3"]),
        ],
    ),
    _t(
        "tell_everyone",
        "a Say of the message in each of the three offices (any order)",
        (
            "Deliver the message '{msg}' to {p1}, {p2} and {p3} in their offices.",
            "Stop by the offices of {p1}, {p2} and {p3} and say '{msg}' in each.",
        ),
        'def task_program():\n    for person in ["{p1}", "{p2}", "{p3}"]:\n'
        '        go_to(person + "\'s office")\n        say("{msg}")\n',
        lambda e, t, r: [tc.said(t, office(p), e["msg"]) for p in (e["p1"], e["p2"], e["p3"])],
    ),
    _t(
        "ask_two_report",
        "an Ask offering both items in each of two offices; a report at the start naming each person and "
        "their choice",
        (
            "Find out if {p1} and {p2} each prefer {a} or {b}, and report both choices to me.",
            "Go to the offices of {p1} and {p2}, let each choose {a} or {b}, then come back and tell me who chose "
            "what.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    report = []\n"
        '    for person in ["{p1}", "{p2}"]:\n        go_to(person + "\'s office")\n'
        '        pick_one = ask(person, "Do you prefer {a} or {b}?", ["{a}", "{b}"])\n'
        '        report.append(person + " chose " + pick_one)\n    go_to(start_loc)\n'
        '    say(", ".join(report))\n',
        _ask_two,
    ),
    _t(
        "find_person",
        "the Say of the message where the person was first seen; if never seen, every room checked and a "
        "negated report naming them",
        (
            "Look for {p1} in every room and, once you find {p1}, say '{msg}'. If {p1} is nowhere, tell me.",
            "Track down {p1} somewhere in the building and give them the message '{msg}'.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    for room in get_all_rooms():\n"
        '        go_to(room)\n        if is_in_room("{p1}"):\n            say("{msg}")\n            return\n'
        '    go_to(start_loc)\n    say("I could not find {p1}")\n',
        _find_person,
    ),
    _t(
        "take_from_here",
        "Pick(obj) at the start, Place(obj) in the room, and the robot ends at the start",
        (
            "Take the {obj} from here to the {room}, leave it there, and come back.",
            "Pick up the {obj} where you are, drop it off in the {room}, then return to me.",
        ),
        'def task_program():\n    start_loc = get_current_location()\n    pick("{obj}")\n'
        '    go_to("{room}")\n    place("{obj}")\n    go_to(start_loc)\n',
        lambda e, t, r: [tc.picked(t, e["obj"], START), tc.placed(t, e["obj"], e["room"]), tc.ends_at(t)],
    ),
    _t(
        "check_two_rooms",
        "is_in_room(obj) in both rooms; a report at the start naming the rooms where it was True and no other",
        (
            "Is the {obj} in the {room} or in the {room2}? Check both and tell me.",
            "Look for a {obj} in the {room} and in the {room2}, then report where you saw one.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    seen = []\n"
        '    for room in ["{room}", "{room2}"]:\n        go_to(room)\n        if is_in_room("{obj}"):\n'
        "            seen.append(room)\n    go_to(start_loc)\n    if seen:\n"
        '        say("The {obj} is in the " + " and the ".join(seen))\n    else:\n'
        '        say("There is no {obj} in either room")\n',
        _two_rooms,
    ),
    _t(
        "wait_then_ask",
        "is_in_room(person) True in the room, then an Ask there offering both items, then a report of the "
        "answer at the start",
        (
            "Wait in the {room} for {p1}, ask whether {p1} wants {a} or {b}, and come back with the answer.",
            "Go to the {room}; as soon as {p1} is there, let {p1} choose {a} or {b}. Tell me the choice here.",
        ),
        'def task_program():\n    start_loc = get_current_location()\n    go_to("{room}")\n'
        '    while not is_in_room("{p1}"):\n        pass\n'
        '    choice = ask("{p1}", "{a} or {b}?", ["{a}", "{b}"])\n    go_to(start_loc)\n'
        '    say("{p1} wants " + choice)\n',
        _wait_then_ask,
    ),
    _t(
        "poll_rooms",
        "in every room is_in_room('person'); a yes/no Ask about the item where someone was, none elsewhere; "
        "the yes count reported at the start",
        (
            "In every room with somebody in it, ask whether they would like {item}; then report how many said "
            "yes.",
            "Survey the building: wherever a person is present, offer {item} with a yes or no question, and tell "
            "me the number of yes answers.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    yes_count = 0\n"
        '    for room in get_all_rooms():\n        go_to(room)\n        if is_in_room("person"):\n'
        '            reply = ask("", "Would you like {item}?", ["Yes", "No"])\n'
        '            if reply == "Yes":\n                yes_count += 1\n    go_to(start_loc)\n'
        '    say(str(yes_count) + " people want {item}")\n',
        _poll_rooms,
    ),
    _t(
        "place_where_told",
        "Pick(obj) at the start, an Ask in the office offering both rooms, Place(obj) in the room chosen",
        (
            "Pick up the {obj} here, ask {p1} in their office whether it belongs in the {room} or the {room2}, "
            "and put it there.",
            "Take the {obj} with you to {p1}'s office, let {p1} decide between the {room} and the {room2}, then "
            "leave it in that room.",
        ),
        'def task_program():\n    pick("{obj}")\n    go_to("{p1}\'s office")\n'
        '    target = ask("{p1}", "Where should the {obj} go?", ["{room}", "{room2}"])\n'
        '    go_to(target)\n    place("{obj}")\n',
        _place_where_told,
    ),
    _t(
        "say_every_room",
        "a Say of the message in every room of the world",
        ("Say '{msg}' in each and every room.", "Go room by room and announce '{msg}' everywhere."),
        'def task_program():\n    for room in get_all_rooms():\n        go_to(room)\n        say("{msg}")\n',
        lambda e, t, rooms: tc.every_room(t, rooms, lambda r: [tc.said(t, r, e["msg"])]),
    ),
    _t(
        "who_is_in",
        "is_in_room(person) in each of two offices; a report at the start naming who was in and affirming "
        "no one who was out",
        (
            "Find out which of {p1} and {p2} are in their offices right now, and tell me.",
            "Check whether {p1} and {p2} are at their desks and report to me who is in.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    present = []\n"
        '    for person in ["{p1}", "{p2}"]:\n        go_to(person + "\'s office")\n'
        "        if is_in_room(person):\n            present.append(person)\n    go_to(start_loc)\n"
        "    if present:\n"
        '        say(" and ".join(present) + " in the office")\n    else:\n        say("Nobody is in")\n',
        _who_is_in,
    ),
    _t(
        "two_people_delivery",
        "Pick/Place of each object from its room to its person's office (either order)",
        (
            "Bring the {obj} from the {room} to {p1}'s office and the {obj2} from the {room2} to {p2}'s office.",
            "Two deliveries: the {obj} in the {room} goes to {p1}, the {obj2} in the {room2} goes to {p2}.",
        ),
        'def task_program():\n    go_to("{room}")\n    pick("{obj}")\n    go_to("{p1}\'s office")\n'
        '    place("{obj}")\n    go_to("{room2}")\n    pick("{obj2}")\n    go_to("{p2}\'s office")\n'
        '    place("{obj2}")\n',
        lambda e, t, r: [
            tc.picked(t, e["obj"], e["room"]),
            tc.placed(t, e["obj"], office(e["p1"])),
            tc.picked(t, e["obj2"], e["room2"]),
            tc.placed(t, e["obj2"], office(e["p2"])),
        ],
    ),
    _t(
        "count_choice",
        "an Ask offering all three items in each of three offices; the number who chose the first item "
        "reported at the start",
        (
            "Let {p1}, {p2} and {p3} each pick {a}, {b} or {c}; tell me how many picked {a}.",
            "Offer {a}, {b} and {c} to {p1}, {p2} and {p3} in their offices, and report the number choosing {a}.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n    votes = 0\n"
        '    for person in ["{p1}", "{p2}", "{p3}"]:\n        go_to(person + "\'s office")\n'
        '        pick_one = ask(person, "Which do you want?", ["{a}", "{b}", "{c}"])\n'
        '        if pick_one == "{a}":\n            votes += 1\n    go_to(start_loc)\n'
        '    say(str(votes) + " chose {a}")\n',
        _count_choice,
    ),
    _t(
        "route_in_order",
        "GoTo the three rooms in the given order, a Say of the message in the last one, and the robot ends at "
        "the start",
        (
            "Drive to the {room}, then the {room2}, then the {room3}; say '{msg}' in the {room3} and come back.",
            "Make a round: {room}, {room2}, {room3} in that order. Announce '{msg}' at the last stop, then "
            "return.",
        ),
        "def task_program():\n    start_loc = get_current_location()\n"
        '    for room in ["{room}", "{room2}", "{room3}"]:\n        go_to(room)\n    say("{msg}")\n'
        "    go_to(start_loc)\n",
        lambda e, t, r: [
            tc.in_order(t, [e["room"], e["room2"], e["room3"]]),
            tc.said(t, e["room3"], e["msg"]),
            tc.ends_at(t),
        ],
    ),
)
_BY_NAME = {t.name: t for t in TEMPLATES}


def has_checks(task) -> bool:
    """Does `task` come from one of the kit's templates (so its success can be checked)?"""
    return getattr(task, "template", "") in _BY_NAME


def template_named(name: str) -> Template:
    if name not in _BY_NAME:
        raise ValueError(f"unknown robot task template {name!r}; known: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def _names(rng: random.Random, common: tuple[str, ...], n: int, made, taken: set[str]) -> list[str]:
    """`n` distinct names, one in four from `common`, the rest `made(word)` from a random word.

    Why mostly made-up names: with 20 rooms and 36 people a small policy lowers its loss by memorising the
    most frequent names instead of looking them up in the instruction (LOG.md); names drawn from a few
    hundred words can only be copied, as in the code tasks (dense_rl.tasks.words).
    """
    names: list[str] = []
    while len(names) < n:
        name = rng.choice(common) if rng.random() < 0.25 else made(rng.choice(WORDS))
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _entities(rng: random.Random) -> dict:
    taken: set[str] = set()
    rooms = _names(rng, ROOMS, 3, lambda w: f"{w} room", taken)
    people = _names(rng, PEOPLE, 3, lambda w: w, taken)
    objects = _names(rng, OBJECTS, 2, lambda w: w, taken)
    a, b, c = rng.sample(ITEMS, 3)
    msg = rng.choice([*MESSAGES, f"the {rng.choice(WORDS)} meeting is at {rng.randint(1, 12)}"])
    return dict(
        room=rooms[0],
        room2=rooms[1],
        room3=rooms[2],
        obj=objects[0],
        obj2=objects[1],
        p1=people[0],
        p2=people[1],
        p3=people[2],
        a=a,
        b=b,
        c=c,
        item=rng.choice(ITEMS),
        msg=msg,
    )


NAMES = ("room", "room2", "room3", "obj", "obj2", "p1", "p2", "p3", "a", "b", "c", "item")


def quoted(entities: dict) -> dict:
    """Entities as the instruction shows them: names in double quotes, messages as they are.

    Why: the byte-level tokenizer gives a word after a space (`Ġslope` in "the slope room") another token
    than the same word after `("` (`slope` in `go_to("slope room")`), so an unquoted name has to be
    translated, not copied, and the tiny policy never learns it (LOG.md). In quotes (`the "slope room"`) the
    name is the same tokens in the instruction and in the program. Code tasks need no quotes: there the name
    follows a space in both places (`Define onion(x)`, `def onion(x)`).
    """
    return {k: f'"{v}"' if k in NAMES else v for k, v in entities.items()}


def instruction_split(instruction: str) -> str:
    """'heldout' for one instruction in five (stable hash), else 'train'."""
    return "heldout" if hashlib.sha1(instruction.encode()).digest()[0] % 5 == 0 else "train"


def generate_robot_tasks(
    n: int, split: str = "train", seed: int = 0, templates: Sequence[str] = ()
) -> list[RobotTask]:
    """`n` robot tasks of `split` ('train' or 'heldout'), deterministic for (split, seed), templates in turn.

    templates: names of the templates to draw from (default: all of them, in TEMPLATES order).
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    pool = chosen_templates(templates)
    rng = random.Random(f"robot/{split}/{seed}")
    tasks: list[RobotTask] = []
    while len(tasks) < n:
        template = pool[len(tasks) % len(pool)]
        entities = _entities(rng)
        instruction = rng.choice(template.instructions).format(**quoted(entities))
        if instruction_split(instruction) != split:
            continue
        task_id = f"tiny-robot/{split}/{seed}/{len(tasks):05d}"
        program = template.program.format(**entities)
        tasks.append(RobotTask(task_id, instruction, program, template.name, entities))
    return tasks


def chosen_templates(names: Sequence[str] = ()) -> tuple[Template, ...]:
    """The templates named (all of them when `names` is empty), in TEMPLATES order; unknown names raise."""
    wanted = {template_named(name).name for name in names}
    return tuple(t for t in TEMPLATES if t.name in wanted) if wanted else TEMPLATES


def answer_text(task: RobotTask) -> str:
    """The assistant's answer used for supervised pre-training: the program in a fenced block."""
    return f"```python\n{task.reference}```"
