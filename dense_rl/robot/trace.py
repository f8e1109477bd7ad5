"""What a robot program did (a trace of events) and how it failed (typed errors that carry the program line).

    from dense_rl.robot.trace import Event, RobotError, GoToError
    Event("GoTo", location="kitchen", arg="the kitchen", line=3)

Both simulators (robosim.py for training, evalsim.py for RoboEval) record the same six event kinds, in the
order the program called the API:

    GoTo(arg)  Say(msg)  Ask(question, options)  CheckEntity(e) for is_in_room  Pick(obj)  Place(obj)

Each event also records where the robot was when it happened (for GoTo: where it arrived) and the program
line of the call, so success checks can say "a Say at the start location" and the dense reward can point at
a line.

Errors are told apart by type, never by message text: every robot error is a `RobotError` subclass
(go-to, is-in-room, ask, pick, place, say, entity type); anything else a program raises is a Python error;
running out of the step or CPU budget raises `BudgetExceeded`, which derives from BaseException so that a
program's `except Exception:` cannot swallow it. Upstream RoboEval counted an error as a robot error when
its message merely contained "Robot"; here a user-defined exception with such a message is a Python error.

The program line of an error is found from the traceback: the deepest frame whose code was compiled from
the program (filename PROGRAM_FILENAME) is the line that raised, whether the error came from the program's
own code or from inside an API call it made.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from types import TracebackType

PROGRAM_FILENAME = "<task_program>"  # the filename robot programs are compiled with
EVENT_KINDS = ("GoTo", "Say", "Ask", "CheckEntity", "Pick", "Place")
MAX_TEXT = 2000  # characters of an argument kept in the trace
MAX_OPTIONS = 50  # options of an ask kept in the trace


@dataclass(frozen=True)
class Event:
    """One robot action.

    kind: one of EVENT_KINDS.
    location: where the robot is when it happens (for GoTo: the location it reached).
    arg: GoTo's target as written, Say's message, Ask's question, CheckEntity's entity, Pick/Place's object.
    person, options: Ask only.
    result: Ask's answer, CheckEntity's bool; None otherwise.
    line: program line of the call (1 = the line `def task_program():`), None when unknown.
    """

    kind: str
    location: str
    arg: str
    person: str = ""
    options: tuple[str, ...] = ()
    result: str | bool | None = None
    line: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> Event:
        return Event(**{**d, "options": tuple(d.get("options", ()))})


def format_event(e: Event) -> str:
    """A one-line, human-readable rendering, e.g. `Ask(question, [a, b]) -> 'a' @kitchen`."""
    if e.kind == "Ask":
        text = f"Ask({e.person!r}, {e.arg!r}, {list(e.options)}) -> {e.result!r}"
    elif e.kind == "CheckEntity":
        text = f"CheckEntity({e.arg!r}) -> {e.result}"
    else:
        text = f"{e.kind}({e.arg!r})"
    return f"{text}  @{e.location}" + (f"  (line {e.line})" if e.line else "")


def format_trace(trace: list[Event]) -> str:
    """The trace, one numbered event per line."""
    return "\n".join(f"{i:3d}  {format_event(e)}" for i, e in enumerate(trace))


class RobotError(Exception):
    """A robot API call the world cannot carry out ("simulation error" in the paper).

    `line` is the program line of the call; it is filled in by the simulator when the error is raised.
    """

    api = "robot"

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class GoToError(RobotError):
    api = "go_to"


class IsInRoomError(RobotError):
    api = "is_in_room"


class AskError(RobotError):
    api = "ask"


class PickError(RobotError):
    api = "pick"


class PlaceError(RobotError):
    api = "place"


class SayError(RobotError):
    api = "say"


class EntityTypeError(RobotError):
    """An entity used as two incompatible kinds, e.g. picked up as an object and then visited as a place."""

    api = "entity type"


class BudgetExceeded(BaseException):
    """The run used up its step budget (API calls) or its CPU time: counted as a timeout, never a pass."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Failure:
    """Why a run did not finish cleanly.

    category: "robot" (a RobotError), "python" (any other exception, including SyntaxError and SystemExit)
        or "timeout" (the step or CPU budget ran out).
    error_type: the exception's class name, e.g. "PickError", "NameError", "BudgetExceeded".
    line: program line that raised it (None when the program has no such line, e.g. a crash of the harness).
    """

    category: str
    error_type: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def program_line(tb: TracebackType | None) -> int | None:
    """Line of the deepest traceback frame that belongs to the program, or None if none does."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def caller_line() -> int | None:
    """Line of the innermost program frame on the current call stack (the API call being made)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == PROGRAM_FILENAME:
            return frame.f_lineno
        frame = frame.f_back
    return None


def failure_from(exc: BaseException) -> Failure:
    """Classify an exception a program run ended with, and find the program line it came from.

    Robot errors and budget errors already know their line (set at the API call); for the rest the
    traceback tells, and a SyntaxError carries its own line.
    """
    if isinstance(exc, SyntaxError) and exc.filename == PROGRAM_FILENAME:
        line = exc.lineno
    else:
        line = getattr(exc, "line", None) or program_line(exc.__traceback__)
    if isinstance(exc, RobotError):
        category = "robot"
    elif isinstance(exc, BudgetExceeded):
        category = "timeout"
    else:
        category = "python"
    return Failure(category, type(exc).__name__, str(exc)[:300], line)


@dataclass
class RunLog:
    """The bookkeeping both simulators share: the trace, the step count and the first error raised.

    The first robot error is remembered even if the program catches it (`try: pick(x) except: pass`), so
    a program cannot hide a failed action from the reward or the evaluator. Once the budget is spent,
    every later API call raises again, so a program that swallows BudgetExceeded with a bare `except:`
    still cannot make progress.
    """

    max_steps: int
    steps: int = 0
    trace: list[Event] = field(default_factory=list)
    error: RobotError | None = None
    exhausted: bool = False

    def tick(self) -> None:
        """Count one API call (or simulated sleep) against the budget."""
        self.steps += 1
        if self.exhausted or self.steps > self.max_steps:
            self.exhausted = True
            raise BudgetExceeded(f"step budget of {self.max_steps} robot API calls used up", caller_line())

    def record(self, kind: str, location: str, arg: str, **extra) -> None:
        # long texts are cut so that a run's trace stays small enough to send back from the sandbox
        extra = {k: v[:MAX_TEXT] if isinstance(v, str) else v for k, v in extra.items()}
        if "options" in extra:
            extra["options"] = tuple(o[:MAX_TEXT] for o in extra["options"][:MAX_OPTIONS])
        self.trace.append(Event(kind, location[:MAX_TEXT], arg[:MAX_TEXT], line=caller_line(), **extra))

    def fail(self, error: RobotError) -> RobotError:
        """Attach the program line to `error`, remember the first one, and return it for `raise`."""
        error.line = caller_line()
        if self.error is None:
            self.error = error
        return error
