"""RoboEval: the fixed-world simulator, the 16 success checks and the four classes of Table 2."""

from __future__ import annotations

import json

import pytest

from dense_rl.robot.evalsim import EvalSim, choose_option
from dense_rl.robot.roboeval import classify, evaluate, load_programs, load_tasks, main
from dense_rl.robot.sandboxed import run_request
from dense_rl.robot.trace import AskError, GoToError, PickError, PlaceError

try:
    from dense_rl.paths import data_dir

    ROBOEVAL = data_dir() / "roboeval"
except FileNotFoundError:  # pragma: no cover - the data folder lives beside the checkout
    ROBOEVAL = None

needs_data = pytest.mark.skipif(ROBOEVAL is None, reason="RoboEval data not found: set DENSE_RL_DATA")
PROGRAMS = None if ROBOEVAL is None else ROBOEVAL / "roboeval_reference_programs.jsonl"
TASKS = (
    {} if ROBOEVAL is None else {t["instance_id"]: t for t in load_tasks(ROBOEVAL / "roboeval_tasks.jsonl")}
)
REFERENCE = {} if ROBOEVAL is None else load_programs(PROGRAMS, list(TASKS.values()))

STATE = {
    "locations": ["conference room", "main conference room", "kitchen", "start_loc"],
    "objects": [{"label": "stapler", "location": "kitchen"}, {"label": "bin", "location": "kitchen"}],
    "agents": [{"name": ".*", "location": "kitchen", "answers": ["yes", "4|four"]}],
    "robot_location": "start_loc",
}


# --- the simulator ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "arg, reached",
    [
        ("the main conference room", "conference room"),  # first location (in order) found in the argument
        ("KITCHEN", "kitchen"),  # case-insensitive
        ("start_loc", "start_loc"),
    ],
)
def test_go_to_reaches_the_first_location_found_in_the_argument(arg, reached):
    sim = EvalSim(STATE)
    sim.go_to(arg)
    assert sim.get_current_location() == reached


def test_go_to_an_unknown_place_is_a_go_to_error():
    with pytest.raises(GoToError):
        EvalSim(STATE).go_to("garage")


@pytest.mark.parametrize(
    "where, query, expected",
    [
        ("kitchen", "a red stapler", True),  # an object label found in the query
        ("kitchen", "person", True),  # an agent named ".*" matches anything
        ("conference room", "person", False),  # nobody here
        ("conference room", "stapler", False),  # the stapler is elsewhere
    ],
)
def test_is_in_room(where, query, expected):
    sim = EvalSim(STATE)
    sim.go_to(where)
    assert sim.is_in_room(query) is expected


def test_answers_are_consumed_and_the_last_repeats():
    sim = EvalSim(STATE)
    sim.go_to("kitchen")
    replies = [sim.ask("", "How many?", ["Yes", "4", "No"]) for _ in range(3)]
    assert replies == ["Yes", "4", "4"]


@pytest.mark.parametrize(
    "answer, question, options, reply",
    [
        ("tea", "Which drink?", ["water", "iced tea"], "iced tea"),  # the option the answer is found in
        (
            "tea",
            "Do you want tea?",
            ["Sure, yes", "Nope"],
            "Sure, yes",
        ),  # answer in question -> the "yes" one
        ("tea", "Coffee?", ["Yes", "No thanks"], "No thanks"),  # answer nowhere -> the "no" one
        ("tea", "Coffee?", ["Yes", "Maybe"], None),  # nothing fits: an ask error
    ],
)
def test_choose_option(answer, question, options, reply):
    assert choose_option(answer, question, options) == reply


@pytest.mark.parametrize(
    "state_change, options",
    [
        ({"agents": []}, ["yes"]),  # nobody in the room
        ({"agents": [{"name": ".*", "location": "kitchen", "answers": []}]}, ["yes"]),  # cannot answer
        ({}, "yes or no"),  # options must be a list
    ],
)
def test_ask_errors(state_change, options):
    sim = EvalSim({**STATE, **state_change})
    sim.go_to("kitchen")
    with pytest.raises(AskError):
        sim.ask("", "Hello?", options)


def test_pick_moves_the_object_and_place_needs_the_same_string():
    sim = EvalSim({**STATE, "agents": []})  # an agent named ".*" would match "bin" too
    sim.go_to("kitchen")
    sim.pick("mail bin")
    assert not sim.is_in_room("bin")
    with pytest.raises(PlaceError):
        sim.place("bin")  # the robot holds "mail bin", not "bin"
    sim.place("Mail Bin")  # case-insensitive
    assert sim.is_in_room("bin")


@pytest.mark.parametrize(
    "calls, error",
    [
        ([("pick", "stapler")], PickError),  # not in this room (the robot is at start_loc)
        ([("go_to", "kitchen"), ("pick", "stapler"), ("pick", "bin")], PickError),  # hands full
        ([("place", "stapler")], PlaceError),  # holding nothing
    ],
)
def test_pick_and_place_errors(calls, error):
    sim = EvalSim(STATE)
    with pytest.raises(error):
        for name, arg in calls:
            getattr(sim, name)(arg)


# --- classification of mutated reference programs ---------------------------------------------------------
def classify_in_process(instance_id: str, source: str) -> tuple[str, list[dict]]:
    """(class, account) of a (trusted, test-written) program, run in this process for speed."""
    task = TASKS[instance_id]
    request = {
        "mode": "roboeval",
        "program": source,
        "states": task["world_states"],
        "max_steps": 1000,
        "cpu_s": 0.3,
    }
    return classify(task["task"], task["world_states"], list(run_request(request)))


def classify_here(instance_id: str, source: str) -> str:
    return classify_in_process(instance_id, source)[0]


def mutate(instance_id: str, old: str, new: str) -> str:
    source = REFERENCE[instance_id]
    assert old in source, f"{old!r} is not in the reference program of {instance_id}"
    return source.replace(old, new, 1)


MUTATIONS = [
    # (instance, old, new, expected class)
    ("GetDrink_0", 'go_to("lobby")\n', 'go_to("lobby"\n', "PythonError"),  # syntax error
    ("FindBackpack_0", "go_to(start_loc)", "walk_back(start_loc)", "PythonError"),  # undefined helper
    ("SetTemperature_0", 'new_temp = "74 degrees"', "new_temp = 74", "PythonError"),  # str + int
    (
        "StaplerDelivery_0",
        'pick("stapler")',
        'pick("stapler")\n            pick("stapler")',
        "RobotExecutionError",
    ),
    ("GetDrink_0", "pick(response)", "place(response)", "RobotExecutionError"),  # place while empty
    ("GetDrink_0", 'go_to("kitchen")', 'go_to("garage")', "RobotExecutionError"),  # unknown place
    ("SayGoodDay_0", 'if is_in_room("person"):', "if True:", "CompletionError"),  # greets empty labs
    (
        "CountSavory_0",
        'if "office" not in room:',
        'if "office" not in room or "david" in room:',
        "CompletionError",
    ),
    ("CountSavory_0", "str(savory_count)", "str(savory_count + 1)", "CompletionError"),  # wrong count
    ("HalloweenShopping_0", "str(count)", "str(count + 1)", "CompletionError"),  # wrong totals
    (
        "MailDelivery_0",
        '    go_to("mail room")\n    place',
        "    place",
        "CompletionError",
    ),  # no return visit
    ("StaplerSupply_0", 'if not is_in_room("stapler")', 'if is_in_room("stapler")', "CompletionError"),
    # a zero savory count said as "nobody" (state 0 has none), as upstream accepts
    ("CountSavory_0", "str(savory_count)", '(str(savory_count) if savory_count else "nobody")', "Success"),
    # a zero savory count said as "no", as upstream accepts
    ("CountSavory_0", "str(savory_count)", '(str(savory_count) if savory_count else "no")', "Success"),
    # a zero savory count left out of the report entirely is still wrong
    ("CountSavory_0", "str(savory_count)", '(str(savory_count) if savory_count else "")', "CompletionError"),
    # negation inside a word ("cannot"), as upstream's substring test accepts
    ("StaplerSupply_0", '"do not have a stapler"', '"I cannot find a stapler"', "Success"),
    # "none" negates too
    ("StaplerSupply_0", '"do not have a stapler"', '"has none"', "Success"),
    ("ElevatorTour_0", "time.sleep(1)", "break", "CompletionError"),  # gives up waiting where it must wait
    ("WeatherPoll_0", "time.sleep(1)", "while True: pass", "PythonError"),  # loops where it must end
    ("WeatherPoll_0", "time.sleep(1)", "pass", "Success"),  # busy waiting without sleep is fine
    ("FindBackpack_0", 'place("backpack")', "place('Backpack')", "Success"),  # any quoting / capitalisation
    (
        "LunchBreak_0",
        "say(message)",
        'print("debug")\n    say(message)',
        "Success",
    ),  # print does not cut the trace
]


@needs_data
@pytest.mark.parametrize("instance_id, old, new, expected", MUTATIONS)
def test_mutated_reference_programs_land_in_the_right_class(instance_id, old, new, expected):
    assert classify_here(instance_id, mutate(instance_id, old, new)) == expected


@needs_data
@pytest.mark.parametrize("task", sorted({t["task"] for t in TASKS.values()}))
def test_a_program_that_never_moves_is_incomplete_not_a_crash_of_the_checks(task):
    """A trace without a single GoTo has no visits; every task's checks must still give a verdict."""
    assert classify_here(f"{task}_0", "def task_program():\n    say('hello')\n") == "CompletionError"


@needs_data
def test_ask_with_nobody_there_is_a_robot_error():
    # SayGoodDay state 3: nobody in the labs; asking there fails
    source = mutate("SayGoodDay_0", 'if is_in_room("person"):', 'if ask("", "Anyone?", ["yes"]) == "yes":')
    assert classify_here("SayGoodDay_0", source) == "RobotExecutionError"


@needs_data
def test_a_later_crash_overrides_an_earlier_completion_error():
    # state 0 (1 savory) reports a wrong count; state 3 (no person in alice's office) crashes on the ask
    source = mutate("CountSavory_0", 'if is_in_room("person"):', "if True:")
    assert classify_here("CountSavory_0", source) == "RobotExecutionError"


@needs_data
def test_timeout_expected_states_pass_only_while_waiting():
    account = dict(classify_account("ElevatorTour_0", REFERENCE["ElevatorTour_0"]))
    assert account[1]["outcome"] == account[2]["outcome"] == "timeout" and account[0]["outcome"] == "ok"


def classify_account(instance_id, source):
    _, account = classify_in_process(instance_id, source)
    return [(row["state_idx"], row) for row in account]


@needs_data
def test_the_data_has_16_tasks_80_instances_52_states():
    assert len(TASKS) == 80 and len({t["task"] for t in TASKS.values()}) == 16
    assert sum(len(t["world_states"]) for t in TASKS.values() if t["variant_id"] == 0) == 52


# --- end to end, sandboxed ---------------------------------------------------------------------------------
@needs_data
@pytest.mark.slow
def test_all_80_reference_programs_succeed_in_the_sandbox(tmp_path):
    summary = main(["--programs", str(PROGRAMS), "--out", str(tmp_path)])
    assert summary["Success"] == 80 and summary["total"] == 80
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 80 and "| 80 | 0 | 0 | 0 | 80 |" in (tmp_path / "table2.md").read_text()


@needs_data
def test_sandboxed_evaluation_classifies_crashes_and_forgeries():
    tasks = [TASKS["GetDrink_0"], TASKS["FindBackpack_0"], TASKS["SayGoodDay_0"]]
    forged = (
        "def task_program():\n    import os\n    os.write(1, b'x {\"done\": true}\\n')\n    os._exit(0)\n"
    )
    programs = {
        "GetDrink_0": "def task_program(:\n",
        "FindBackpack_0": forged,
        "SayGoodDay_0": REFERENCE["SayGoodDay_0"],
    }
    classes = [r["class"] for r in evaluate(programs, tasks)]
    assert classes == ["PythonError", "PythonError", "Success"]


@needs_data
def test_missing_programs_are_named(tmp_path):
    path = tmp_path / "programs.jsonl"
    path.write_text(
        json.dumps({"instance_id": "GetDrink_0", "program": "def task_program():\n    pass\n"}) + "\n"
    )
    with pytest.raises(ValueError, match="no program for 79 instances"):
        load_programs(path, list(TASKS.values()))


@needs_data
def test_a_fenced_response_runs_as_the_program_inside_the_fence():
    """A policy's raw answer is Markdown; evaluating it must run the code in the fence, not the backticks."""
    response = "Here is the program.\n```python\n" + REFERENCE["SayGoodDay_0"] + "```\nDone."
    [result] = evaluate({"SayGoodDay_0": response}, [TASKS["SayGoodDay_0"]])
    assert result["class"] == "Success"
