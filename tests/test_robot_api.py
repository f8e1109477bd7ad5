"""Running a program against a simulator: error types, the program line, budgets, the namespace."""

from __future__ import annotations

import pytest

from dense_rl.robot.api import run_in_simulator
from dense_rl.robot.robosim import RoboSim
from dense_rl.robot.trace import Event, Failure, failure_from


def run(body: str, *, seed: int = 0, max_steps: int = 200, cpu_s: float = 0.3):
    source = "def task_program():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return run_in_simulator(RoboSim(seed, max_steps), source, cpu_s=cpu_s)


@pytest.mark.parametrize(
    "body, category, error_type, line",
    [
        ('go_to("kitchen")\nsay("hi")', None, None, None),  # a feasible program ends cleanly
        ('go_to("kitchen"\nsay("hi")', "python", "SyntaxError", 2),  # unclosed call: the parser's line
        ("helper()", "python", "NameError", 2),  # undefined helper, on the line that calls it
        ('say("a")\nx = 1 / 0', "python", "ZeroDivisionError", 3),  # plain Python error
        ('place("cup")', "robot", "PlaceError", 2),  # robot error raised inside the API: the call's line
        ("say(3)", "robot", "SayError", 2),  # wrong argument type is a robot error of that API
        ('pick("cup")\ngo_to("cup")', "robot", "EntityTypeError", 3),  # an object used as a place
        ("while True:\n    say('waiting')", "timeout", "BudgetExceeded", 3),  # step budget, at the API call
        ("x = 0\nwhile True: x += 1", "timeout", "BudgetExceeded", 3),  # no API calls: the CPU limit
        ("import sys\nsys.exit(0)", "python", "SystemExit", 3),  # exiting is not finishing the task
    ],
)
def test_outcome_category_and_line(body, category, error_type, line):
    failure = run(body).failure
    if category is None:
        assert failure is None
    else:
        assert (failure.category, failure.error_type, failure.line) == (category, error_type, line)


def test_errors_are_told_apart_by_type_not_message():
    # an exception that merely mentions "Robot" is a Python error (upstream counted it as a robot error)
    failure = run('raise ValueError("RobotExecutionError: robot is confused")').failure
    assert failure.category == "python"


@pytest.mark.parametrize(
    "body",
    [
        'try:\n    place("cup")\nexcept Exception:\n    pass\nsay("done")',  # caught robot error still counts
        'try:\n    place("cup")\nexcept:\n    pass',  # bare except too
    ],
)
def test_a_caught_robot_error_still_fails_the_run(body):
    failure = run(body).failure
    assert failure.category == "robot" and failure.line == 3


def test_a_swallowed_timeout_is_still_a_timeout():
    body = "while True:\n    try:\n        say('x')\n    except BaseException:\n        break\nsay('after')"
    assert run(body).failure.category == "timeout"


def test_time_sleep_counts_steps_and_does_not_sleep():
    # RoboEval programs call time.sleep without importing time; `import time` gets the same shim
    outcome = run("import time\nfor _ in range(10):\n    time.sleep(100)")
    assert outcome.ok and outcome.steps == 10


@pytest.mark.parametrize(
    "body",
    [
        "print('not a trace')\nsay('hi')",  # prints are captured and harmless
        "say('a-b'.replace('-', ' '))",  # string methods work (no text substitution of API names)
        "say('single quoted')",  # any quoting style
        "len = None\nsay('overwrote a builtin')",  # builtins are the run's own copy
    ],
)
def test_plain_python_works(body):
    assert run(body).ok


def test_builtins_changes_do_not_leak_into_the_next_run():
    run("__builtins__['len'] = None")
    assert run("say(str(len([1, 2])))").ok


def test_trace_records_location_and_line():
    outcome = run('go_to("kitchen")\nsay("hello")')
    assert outcome.trace == [
        Event("GoTo", "kitchen", "kitchen", line=2),
        Event("Say", "kitchen", "hello", line=3),
    ]


def test_outcome_round_trips_through_json_dicts():
    outcome = run('go_to("kitchen")\nis_in_room("cup")\nplace("cup")')
    from dense_rl.robot.api import RunOutcome

    assert RunOutcome.from_dict(outcome.to_dict()) == outcome


def test_missing_entry_point_is_a_python_error():
    outcome = run_in_simulator(RoboSim(0), "x = 1\n")
    assert outcome.failure.category == "python" and outcome.failure.error_type == "NameError"


def test_failure_from_a_syntax_error_in_other_code_has_no_program_line():
    try:
        compile("def f(:\n", "other.py", "exec")
    except SyntaxError as exc:
        assert failure_from(exc) == Failure("python", "SyntaxError", str(exc)[:300], None)


def test_long_texts_are_cut_in_the_trace():
    outcome = run("say('x' * 100000)")
    assert outcome.ok and len(outcome.trace[0].arg) == 2000


def test_truncated_harness_output_reads_as_not_done():
    from dense_rl.robot.sandboxed import parse_output

    good = 'n {"failure": null, "trace": [], "steps": 0}'
    assert parse_output(f'{good}\nn {{"done": true}}', "n")[1]  # complete output: done
    # a cut-off line (the output cap, or a kill mid-write) is malformed: the process never reported, every run
    # fails rather than the complete runs before it counting on their own
    outcomes, done = parse_output(f'{good}\nn {{"failure": nu', "n")
    assert outcomes == [] and not done
