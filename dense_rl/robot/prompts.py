"""The robot prompt format (chat messages) and cutting the program out of a response.

    from dense_rl.robot.prompts import robot_messages, extract_program
    messages = robot_messages("Bring me a cup from the kitchen.")              # the paper's format
    messages = robot_messages("Bring me a cup from the kitchen.", compact=True)  # the tiny policy's
    extract_program("Sure:\\n```python\\ndef task_program():\\n    say('hi')\\n```")

The paper's format: the API description as the system message, a few worked examples as earlier
user/assistant turns, then the instruction. The examples are the kit's own instructions and programs
(RoboEval's prompts and programs are evaluation data and never appear in a prompt). The compact format
(`compact=True`) is what the tiny policy is trained with (dense_rl.tasks.chat.messages_for): a one-paragraph
system message and no examples, because its context is ~512 tokens.

Where this departs from the paper: the paper's prompt is a single completion-style text (API docstring,
then "# instruction" comments each followed by a program); here the same pieces are chat turns, since both
the paper's model (an Instruct model) and the tiny policy are chat models.
"""

from __future__ import annotations

import re

from dense_rl.robot.api import API_TEXT
from dense_rl.tasks.robot_tasks import COMPACT_SYSTEM

SYSTEM = (
    "You are a service robot that writes its plans as Python programs. Use only the robot API below and "
    "plain Python. Answer with one program, `def task_program():`, in a ```python block.\n\n" + API_TEXT
)

# (instruction, program) pairs written for the kit; none is a RoboEval task.
EXAMPLES = (
    (
        "Find out whether there is an umbrella in the reception; if there is, bring it to the garage.",
        """\
def task_program():
    go_to("reception")
    if is_in_room("umbrella"):
        pick("umbrella")
        go_to("garage")
        place("umbrella")
    else:
        say("There is no umbrella")
""",
    ),
    (
        "Ask Priya in the design studio whether she wants the meeting at 10, 11 or 2, and tell me.",
        """\
def task_program():
    start_loc = get_current_location()
    go_to("design studio")
    if not is_in_room("Priya"):
        go_to(start_loc)
        say("Priya was not there")
        return
    answer = ask("Priya", "When should we meet?", ["10:00", "11:00", "14:00"])
    go_to(start_loc)
    say("Priya wants to meet at " + answer)
""",
    ),
    (
        "Count the rooms with a whiteboard and tell me the number when you get back.",
        """\
def task_program():
    start_loc = get_current_location()
    count = 0
    for room in get_all_rooms():
        go_to(room)
        if is_in_room("whiteboard"):
            count += 1
    go_to(start_loc)
    say("I found " + str(count) + " rooms with a whiteboard")
""",
    ),
)

_PROGRAM_START = re.compile(
    r"^[ \t]*def[ \t]+task_program[ \t]*\([ \t]*\)[ \t]*(?:->[^:\n]*)?:", re.MULTILINE
)
_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)


def fenced(program: str) -> str:
    return f"```python\n{program}```"


def robot_messages(instruction: str, *, compact: bool = False) -> list[dict[str, str]]:
    """Chat messages asking for a program that carries out `instruction`."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f"robot_messages: instruction must be a non-empty str, got {instruction!r}")
    if compact:
        return [{"role": "system", "content": COMPACT_SYSTEM}, {"role": "user", "content": instruction}]
    messages = [{"role": "system", "content": SYSTEM}]
    for example, program in EXAMPLES:
        messages += [{"role": "user", "content": example}, {"role": "assistant", "content": fenced(program)}]
    return messages + [{"role": "user", "content": instruction}]


def program_region(response: str) -> tuple[int, int] | None:
    """Character span of the program in `response`: from `def task_program():` to the closing fence after
    it (or the end of the text, for a truncated answer or a bare program); None when there is no such def.

    >>> program_region("ok\\n```python\\ndef task_program():\\n    say('hi')\\n```\\n")
    (13, 45)
    """
    start = _PROGRAM_START.search(response)
    if start is None:
        return None
    begin = start.start() + len(start.group()) - len(start.group().lstrip())  # drop indentation before def
    fence = _FENCE.search(response, start.end())
    return begin, fence.start() if fence else len(response)


def extract_program(response: str) -> str | None:
    """The program text (see program_region), or None when the response holds no `def task_program():`.

    >>> extract_program("ok\\n```python\\ndef task_program():\\n    say('hi')\\n```\\nDone.")
    "def task_program():\\n    say('hi')\\n"
    """
    region = program_region(response)
    return None if region is None else response[region[0] : region[1]]
