"""The robot API: the text the policy is shown, and running a program against a simulator object.

    from dense_rl.robot.api import run_in_simulator
    from dense_rl.robot.robosim import RoboSim
    outcome = run_in_simulator(RoboSim(seed=0), 'def task_program():\\n    go_to("kitchen")\\n')
    outcome.failure, outcome.trace

A program is `def task_program():` plus a body that calls eight functions (spec: roboeval.md). It is
compiled with the filename PROGRAM_FILENAME and executed in a fresh namespace whose robot functions ARE the
simulator's bound methods (`namespace["go_to"] = sim.go_to`), so string methods such as `.replace(` and any
quoting style work as in plain Python. Upstream RoboEval instead rewrote the API calls in the source text
and lower-cased double-quoted literals; here matching is case-insensitive inside the simulators instead.

Budgets instead of a wall clock: every API call (and every `time.sleep`) counts one step against
`max_steps`, and the run gets `cpu_s` seconds of CPU time (a profiling timer, so a loaded machine does not
turn a correct program into a timeout the way upstream's 1 s wall clock could). Programs may use
`time.sleep` without importing time (as RoboEval's programs do); `time` in the program, imported or not, is
a copy of the time module whose `sleep` counts a step and returns at once.

What is covered: syntax errors, exceptions anywhere in the program (with the program line), robot errors
the program catches (the first one still counts), `sys.exit`, infinite loops with or without API calls,
prints (captured, so they cannot corrupt a harness's output), programs that overwrite builtins (each run
gets its own copy). What is not: this module does NOT isolate anything. It runs the program in the
calling process; call it only inside the sandbox (dense_rl.robot.sandboxed) or on trusted code such as the
kit's own reference programs.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import signal
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any

from dense_rl.robot.trace import PROGRAM_FILENAME, BudgetExceeded, Event, Failure, caller_line, failure_from

ROBOT_FUNCTIONS = (
    "get_current_location",
    "get_all_rooms",
    "is_in_room",
    "go_to",
    "ask",
    "say",
    "pick",
    "place",
)

# Every name a program finds defined without importing it (program_namespace): not undefined names for lint
PROGRAM_GLOBALS = (*ROBOT_FUNCTIONS, "time")

# The API as the policy sees it (the kit's own wording, written from the spec's table).
API_TEXT = '''\
"""Robot API. A robot program is a Python function `def task_program():` that calls only these functions
and plain Python. The robot starts at "start_loc".
"""

def get_current_location() -> str:
    """The name of the location the robot is at now."""

def get_all_rooms() -> list[str]:
    """The names of every location in the building, "start_loc" included."""

def is_in_room(object: str) -> bool:
    """True if the object or person is in the robot's current location."""

def go_to(location: str) -> None:
    """Drive to the named location."""

def ask(person: str, question: str, options: list[str]) -> str:
    """Ask a person here a question; returns the option they choose."""

def say(message: str) -> None:
    """Say the message out loud."""

def pick(obj: str) -> None:
    """Pick up the object from the current location. The robot holds at most one object."""

def place(obj: str) -> None:
    """Put down the object the robot is holding at the current location."""
'''


@dataclass
class RunOutcome:
    """The result of one run: `failure` is None when the program returned normally without robot errors."""

    failure: Failure | None
    trace: list[Event] = field(default_factory=list)
    steps: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict:
        return {
            "failure": self.failure.to_dict() if self.failure else None,
            "trace": [e.to_dict() for e in self.trace],
            "steps": self.steps,
        }

    @staticmethod
    def from_dict(d: dict) -> RunOutcome:
        failure = Failure(**d["failure"]) if d.get("failure") else None
        return RunOutcome(failure, [Event.from_dict(e) for e in d.get("trace", [])], d.get("steps", 0))


class _Discard(io.TextIOBase):
    """Where a program's prints go: nowhere (a program printing without end cannot fill memory)."""

    def write(self, text: str) -> int:
        return len(text)


def _time_module(sim: Any) -> types.ModuleType:
    """A copy of `time` whose sleep() counts one step of the simulator's budget instead of sleeping."""
    shim = types.ModuleType("time")
    shim.__dict__.update(time.__dict__)

    def sleep(seconds: float = 0) -> None:
        sim.log.tick()

    shim.sleep = sleep
    return shim


def program_namespace(sim: Any) -> dict[str, Any]:
    """Globals for one run: the API as the simulator's bound methods, `time`, and a private builtins copy."""
    time_shim = _time_module(sim)
    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "time":
            return time_shim
        return real_import(name, globals, locals, fromlist, level)

    own_builtins = dict(builtins.__dict__, __import__=guarded_import)
    namespace: dict[str, Any] = {
        "__builtins__": own_builtins,
        "__name__": "task_program_module",
        "time": time_shim,
    }
    namespace.update({name: getattr(sim, name) for name in ROBOT_FUNCTIONS})
    return namespace


@contextlib.contextmanager
def cpu_limit(cpu_s: float, log: Any = None):
    """Raise BudgetExceeded in the program once it has used `cpu_s` seconds of CPU (user + system).

    A profiling interval timer delivers SIGPROF; the handler raises inside whatever bytecode is running.
    It re-fires every 50 ms, so a program that swallows the first one with a bare `except:` is stopped
    again; it also marks `log` exhausted so that later API calls raise too. Signals only reach the main
    thread, so elsewhere only the step budget applies.
    """
    if threading.current_thread() is not threading.main_thread() or cpu_s <= 0:
        yield
        return

    def on_timer(signum, frame):
        if log is not None:
            log.exhausted = True
        raise BudgetExceeded(f"CPU time limit of {cpu_s:g} s used up", caller_line())

    previous = signal.signal(signal.SIGPROF, on_timer)
    signal.setitimer(signal.ITIMER_PROF, cpu_s, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, previous)


def run_in_simulator(sim: Any, source: str, *, cpu_s: float = 1.0, entry: str = "task_program") -> RunOutcome:
    """Compile `source`, define its functions, call `entry()` and report how it ended.

    The first robot error the simulator raised decides the outcome even if the program caught it. A
    BudgetExceeded the program swallowed still counts as a timeout.
    """
    try:
        code = compile(source, PROGRAM_FILENAME, "exec")
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        return RunOutcome(failure_from(exc))
    namespace = program_namespace(sim)
    failure = None
    try:
        with (
            cpu_limit(cpu_s, sim.log),
            contextlib.redirect_stdout(_Discard()),
            contextlib.redirect_stderr(_Discard()),
        ):
            exec(code, namespace)
            if not callable(namespace.get(entry)):
                raise NameError(f"the program defines no function {entry}()")
            namespace[entry]()
    except BaseException as exc:  # the program may raise anything
        failure = failure_from(exc)
    if sim.log.error is not None:
        failure = failure_from(sim.log.error)
    elif sim.log.exhausted and (failure is None or failure.category != "timeout"):
        failure = Failure(
            "timeout", "BudgetExceeded", "budget used up (the program caught the timeout)", None
        )
    return RunOutcome(failure, list(sim.log.trace), sim.log.steps)
