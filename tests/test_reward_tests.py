"""Unit-test runner and reward: per-assert verdicts from one sandboxed process per program."""

import pytest
import torch
from test_spans import batch_of

from dense_rl.rewards.tests import TestOutcome, run_unit_tests, unit_test_reward
from dense_rl.sandbox import Limits
from dense_rl.spans import code_region, code_token_mask
from dense_rl.tasks.types import CodeTask

TESTS = ("assert f(1) == 2", "assert f(2) == 3", "assert f(0) == 1")

PROGRAMS = [
    # correct: every assert passes
    ("def f(x):\n    return x + 1", TestOutcome(3, 3, "pass")),
    # right on one input only: one failing assert does not hide the others
    ("def f(x):\n    return 2 if x == 1 else 0", TestOutcome(1, 3, "fail")),
    # no code at all
    ("   \n", TestOutcome(0, 3, "error")),
    # a syntax error: nothing can run
    ("def f(x)\n    return x", TestOutcome(0, 3, "error")),
    # crashes while being defined
    ("raise RuntimeError('boom')\ndef f(x):\n    return x + 1", TestOutcome(0, 3, "error")),
    # prints lines that look like results: they carry no nonce and count for nothing
    ("print('defined')\nprint('0 pass')\ndef f(x):\n    return 0", TestOutcome(0, 3, "fail")),
    # floods stdout at the file-descriptor level: results still come back
    ("import os\nos.write(1, b'y' * 10**6)\ndef f(x):\n    return x + 1", TestOutcome(3, 3, "pass")),
    # hangs in every call: each assert runs out of its share of time
    ("def f(x):\n    while True:\n        pass", TestOutcome(0, 3, "timeout")),
    # hangs at the top level, before the function exists
    ("while True:\n    pass", TestOutcome(0, 3, "timeout")),
    # sys.exit inside the function fails that assert only
    ("import sys\ndef f(x):\n    sys.exit(0)", TestOutcome(0, 3, "fail")),
    # kills its own process: the harness cannot report, so it is an error
    ("import os\ndef f(x):\n    os._exit(0)", TestOutcome(0, 3, "error")),
    # a __main__ block is not run (it would wait for stdin)
    ("def f(x):\n    return x + 1\nif __name__ == '__main__':\n    input()", TestOutcome(3, 3, "pass")),
    # non-ASCII source is fine
    ("def f(x):\n    'é ✓ 雪'\n    return x + 1", TestOutcome(3, 3, "pass")),
]


def test_each_program_gets_its_outcome():
    # all programs in one call, as the trainer does: also checks order is kept
    programs = [program for program, _ in PROGRAMS]
    outcomes = run_unit_tests(programs, [TESTS] * len(programs), limits=Limits(wall_s=3, cpu_s=3))
    assert outcomes == [expected for _, expected in PROGRAMS]


@pytest.mark.parametrize(
    "outcome, fraction",
    [
        # all of them
        (TestOutcome(3, 3, "pass"), 1.0),
        # a third
        (TestOutcome(1, 3, "fail"), 1 / 3),
        # no tests at all never divides by zero
        (TestOutcome(0, 0, "error"), 0.0),
    ],
)
def test_pass_fraction(outcome, fraction):
    assert outcome.pass_fraction == pytest.approx(fraction)


@pytest.mark.parametrize(
    "programs, tests",
    [
        # one test list per program
        (["def f(): pass"], []),
        # a test list must not be empty
        (["def f(): pass"], [[]]),
        # a bare string is not a list of asserts
        (["def f(): pass"], ["assert f() is None"]),
    ],
)
def test_bad_inputs_raise_clear_errors(programs, tests):
    with pytest.raises(ValueError, match="run_unit_tests"):
        run_unit_tests(programs, tests)


TASK = CodeTask(
    "toy/0", "add one", "inc", "def inc(x):\n    return x + 1\n", ("assert inc(1) == 2", "assert inc(5) == 6")
)
ANSWERS = [
    # correct: the whole pass fraction (1) is spread over its code tokens
    ("```python\ndef inc(x):\n    return x + 1\n```", 1.0, 1.0),
    # half right: inc(1) == 2 only
    ("```python\ndef inc(x):\n    return 2\n```", 0.5, 0.0),
    # no code: nothing to run, nothing to reward
    ("I don't know.", 0.0, 0.0),
    # empty response
    ("", 0.0, 0.0),
    # truncated code does not even define the function
    ("```python\ndef inc(x):\n    return (x +", 0.0, 0.0),
]


@pytest.mark.parametrize("text, total, pass_at_1", ANSWERS)
def test_unit_test_reward_spreads_the_pass_fraction_over_code(text, total, pass_at_1):
    batch = batch_of(text)
    out = unit_test_reward(batch, [TASK])
    assert out.per_token.sum().item() == pytest.approx(total)
    assert out.summary["pass_at_1"] == [pass_at_1]
    prose = ~torch.tensor(
        code_token_mask(batch.token_spans[0], code_region(batch.responses[0])), dtype=torch.bool
    )
    assert out.per_token[0, : len(prose)][prose].eq(0).all()


def test_unit_test_reward_needs_one_task_per_sample():
    with pytest.raises(ValueError, match="unit_test_reward"):
        unit_test_reward(batch_of("x", "y"), [TASK])


@pytest.mark.parametrize(
    "program, test, status",
    [
        # a bool crosses as a bool, not as the int it also is: `is True` holds
        ("def f():\n    return True", "assert f() is True", "pass"),
        # and 1 is not True
        ("def f():\n    return 1", "assert f() is True", "fail"),
    ],
)
def test_bools_cross_as_bools(program, test, status):
    assert run_unit_tests([program], [[test]])[0].status == status
