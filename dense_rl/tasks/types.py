"""The two kinds of task the kit trains and evaluates on, as plain records.

Every task source (the generated tiny tasks, MBPP/MBPP+, OpenCodeInstruct rows, robot instructions) yields
one of these, so rewards and the trainer never care where a task came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeTask:
    """A Python function to write, checked by assert-based unit tests.

    task_id:     unique id, e.g. "tiny/train/00042" or "Mbpp/2".
    instruction: the natural-language request shown to the policy (names the function to write).
    entry_point: name of the function the tests call.
    reference:   a correct solution (source of a complete function definition).
    tests:       assert statements, each runnable after the solution is defined.
    template:    which generator template (or "mbpp", "opencodeinstruct") produced the task.
    """

    task_id: str
    instruction: str
    entry_point: str
    reference: str
    tests: tuple[str, ...]
    template: str = ""


@dataclass(frozen=True)
class RobotTask:
    """A service-robot instruction and a reference program against the robot API (spec: roboeval.md).

    The reference is a complete `def task_program():` definition. Generated robot tasks only: RoboEval
    instances are evaluation data and are never turned into training tasks.
    """

    task_id: str
    instruction: str
    reference: str
    template: str = ""
    entities: dict[str, str] = field(default_factory=dict)
