"""Unit-test reward: run each generated function against its task's asserts in the sandbox.

    from dense_rl.rewards.tests import run_unit_tests, unit_test_reward
    run_unit_tests(["def inc(x):\\n    return x + 1"], [["assert inc(1) == 2", "assert inc(2) == 4"]])
    # [TestOutcome(passed=1, total=2, status='fail')]
    out = unit_test_reward(batch, tasks)      # pass fraction spread over each response's code tokens

The reward: sample i's pass fraction (asserts passed / asserts) divided evenly over its code tokens, so its
tokens sum to the pass fraction; prose tokens get 0, and a response without code gets 0 (its "program" is
empty, status "error"). The summary holds the pass fraction and pass@1 (1 when every assert passed).

How one program is judged: ONE sandboxed process per program (dense_rl.sandbox) runs a small harness that
1. defines the program (its own module namespace, `__name__ == "solution"`, so a `__main__` block is skipped),
2. runs every assert separately, each under its own time budget (SIGALRM), so one failing or hanging assert
   does not hide the others,
3. reports one result line per assert on a private copy of stdout, each line prefixed with a random nonce
   the harness read from stdin before the program ran. The program's own stdout/stderr go to /dev/null at
   the file-descriptor level, so its prints can neither flood the capped output nor look like results.

What a program cannot do to its score (each tried in tests/test_hostile.py): print result lines or write
them to any descriptor without the nonce; read the nonce back (stdin was a pipe, already read, and
descriptor 0 now points at /dev/null); import the harness's module to call its report function (the nonce,
the results descriptor and `report` live in a function's frame); replace `exec`, `compile`, `os.write`,
`os._exit`, `signal.setitimer`, `AssertionError` or any other builtin the harness or an assert uses (the
harness binds what it needs before the program runs, and each assert gets a fresh copy of the builtins as
they were then); make `__import__` hand the asserts a fake module.

What it still can (strict xfails there): the program runs in the harness's interpreter, so code that walks
the frames (or `gc`) reaches the nonce and the report function; the asserts run in the program's namespace,
so a top-level name can shadow a builtin they use; modules are shared, so it can patch `math.isclose`; and a
value whose `__eq__` always says True passes any `==` assert. The sandbox bounds what such code can do to
the machine; it does not make the score adversarially robust. Closing these needs the comparison done
outside the program's process (expected values compared in the parent), which plain assert strings do not
allow.

Status of an outcome: "pass" (all asserts pass), "fail" (some fail), "error" (no code, syntax error, the
program crashed while being defined, or the process died before reporting), "timeout" (an assert or the
whole process ran out of time; the asserts that finished before still count).

Where this departs from the paper: the paper scores tests through EvalPlus with base + plus inputs; here a
task's tests are plain assert statements (MBPP style), which is what the tiny tasks and MBPP's test_list give.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from dense_rl.batch import RewardOutput, RolloutBatch, spread_over_code
from dense_rl.sandbox import Limits, RunResult, run_programs
from dense_rl.spans import code_region
from dense_rl.tasks.types import CodeTask

TEST_LIMITS = Limits(wall_s=5, cpu_s=5)  # per program, all its asserts together

# The harness source; {program} and {tests} are Python literals, {budget} seconds per assert. Everything the
# harness uses after the program has run is bound before it runs (the default arguments, `write`, `arm`,
# `start`), so a program that replaces builtins, os.write or signal.setitimer changes nothing here; the
# nonce and the results descriptor live in the function's frame, not in the module the program can import.
_HARNESS = """\
import builtins, os, signal, sys


def harness(
    program, tests, budget, run=exec, build=compile, dict=dict, enumerate=enumerate, Base=BaseException
):
    nonce = sys.stdin.readline().strip()
    results = os.dup(1)
    sink = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(sink, fd)  # stdin, which held the nonce, is gone; the program's output goes nowhere
    write, leave, arm, clock = os.write, os._exit, signal.setitimer, signal.ITIMER_REAL
    start = dict(vars(builtins))  # each assert gets a fresh copy of the builtins as they were

    def report(text):
        write(results, (nonce + " " + text + "\\n").encode())

    class Budget(Base):
        pass

    def on_alarm(signum, frame):
        raise Budget()

    signal.signal(signal.SIGALRM, on_alarm)
    namespace = {{"__name__": "solution", "__builtins__": dict(start)}}
    try:
        arm(clock, budget)
        run(build(program, "solution.py", "exec"), namespace)
        arm(clock, 0)
    except Budget:
        report("error Budget")
        leave(0)
    except Base:
        arm(clock, 0)
        report("error")
        leave(0)
    report("defined")
    for index, test in enumerate(tests):
        namespace["__builtins__"] = dict(start)
        try:
            arm(clock, budget)
            run(test, namespace)
            arm(clock, 0)
            report(f"{{index}} pass")
        except Budget:
            report(f"{{index}} timeout")
        except Base:
            arm(clock, 0)
            report(f"{{index}} fail")
    report("done")
    leave(0)


harness({program}, {tests}, {budget})
"""


@dataclass(frozen=True)
class TestOutcome:
    """How one program did on its asserts (see the module docstring for the statuses)."""

    __test__ = False  # not a pytest test class despite its name

    passed: int
    total: int
    status: str

    @property
    def pass_fraction(self) -> float:
        """passed / total, 0.0 when there are no tests."""
        return self.passed / self.total if self.total else 0.0


def harness_source(program: str, tests: Sequence[str], budget_s: float) -> str:
    """The Python source that defines `program` and runs each of `tests`, reporting with a nonce."""
    return _HARNESS.format(program=repr(program), tests=repr(list(tests)), budget=repr(budget_s))


def parse_outcome(run: RunResult, nonce: str, total: int) -> TestOutcome:
    """Read the nonce-stamped lines of one harness run into a TestOutcome; unstamped lines are ignored."""
    lines = [line[len(nonce) + 1 :] for line in run.stdout.splitlines() if line.startswith(nonce + " ")]
    if "defined" not in lines:
        timed_out = _ran_out_of_time(run) or "error Budget" in lines
        return TestOutcome(0, total, "timeout" if timed_out else "error")
    verdicts = [line.split()[1] for line in lines if line.split()[0].isdigit()]
    passed = verdicts.count("pass")
    if "done" not in lines:
        status = "timeout" if _ran_out_of_time(run) else "error"
    elif "timeout" in verdicts:
        status = "timeout"
    else:
        status = "pass" if passed == total else "fail"
    return TestOutcome(passed, total, status)


def _ran_out_of_time(run: RunResult) -> bool:
    return run.status == "timeout" or run.returncode == -signal.SIGXCPU


def run_unit_tests(
    programs: Sequence[str],
    tests: Sequence[Sequence[str]],
    *,
    limits: Limits = TEST_LIMITS,
    workers: int = 2,
) -> list[TestOutcome]:
    """Run programs[i] against the asserts tests[i], one sandboxed process per program.

    Each assert gets an equal share of the time limit, so a hanging assert costs at most its share.

    >>> outcomes = run_unit_tests(["def f():\\n    return 1", ""], [["assert f() == 1"], ["assert 1"]])
    >>> [o.status for o in outcomes]
    ['pass', 'error']
    """
    if len(programs) != len(tests):
        raise ValueError(
            f"run_unit_tests: {len(programs)} programs but {len(tests)} test lists; pass one each"
        )
    for index, task_tests in enumerate(tests):
        if isinstance(task_tests, str) or not task_tests:
            raise ValueError(
                f"run_unit_tests: tests[{index}] must be a non-empty list of assert statements, got "
                f"{task_tests!r}"
            )
    outcomes: list[TestOutcome | None] = [None] * len(programs)
    sources, stdins, nonces, slots = [], [], [], []
    for index, (program, task_tests) in enumerate(zip(programs, tests, strict=True)):
        if not program.strip():
            outcomes[index] = TestOutcome(0, len(task_tests), "error")
            continue
        budget = max(0.05, 0.8 * min(limits.wall_s, limits.cpu_s) / (len(task_tests) + 1))
        nonce = secrets.token_hex(16)
        sources.append(harness_source(program, task_tests, budget))
        stdins.append(nonce + "\n")
        nonces.append(nonce)
        slots.append(index)
    runs = run_programs(sources, stdins=stdins, limits=limits, workers=workers)
    for index, run, nonce in zip(slots, runs, nonces, strict=True):
        outcomes[index] = parse_outcome(run, nonce, len(tests[index]))
    return outcomes


def extract_program(text: str) -> str:
    """The code region of a response ('' when there is none): what the tests run."""
    region = code_region(text)
    return text[region[0] : region[1]] if region else ""


def unit_test_reward(
    batch: RolloutBatch,
    tasks: Sequence[CodeTask],
    *,
    limits: Limits = TEST_LIMITS,
    workers: int = 2,
) -> RewardOutput:
    """Pass fraction of each response's code on tasks[i].tests, spread uniformly over its code tokens.


    >>> from transformers import AutoTokenizer
    >>> from dense_rl.tiny import tiny_policy_path
    >>> tok = AutoTokenizer.from_pretrained(tiny_policy_path())     # the kit's tiny tokenizer (built once)
    >>> task = CodeTask("t", "add one", "inc", "def inc(x):\\n    return x + 1\\n", ("assert inc(1) == 2",))
    >>> ids = tok("```python\\ndef inc(x):\\n    return x + 1\\n```")["input_ids"]
    >>> unit_test_reward(RolloutBatch.from_ids(tok, [""], [[]], [ids]), [task]).summary["pass_at_1"]
    [1.0]
    """
    if len(tasks) != len(batch):
        raise ValueError(
            f"unit_test_reward: {len(tasks)} tasks for a batch of {len(batch)}; pass one per sample"
        )
    programs = [extract_program(text) for text in batch.responses]
    outcomes = run_unit_tests(programs, [task.tests for task in tasks], limits=limits, workers=workers)
    fractions = [outcome.pass_fraction for outcome in outcomes]
    per_token = spread_over_code(batch, fractions)
    summary = {
        "tests_pass_fraction": fractions,
        "pass_at_1": [float(outcome.status == "pass") for outcome in outcomes],
        "tests_timeout": [float(outcome.status == "timeout") for outcome in outcomes],
        "tests_error": [float(outcome.status == "error") for outcome in outcomes],
    }
    return RewardOutput(per_token * batch.response_mask.to(torch.float32), summary)
