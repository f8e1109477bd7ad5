"""RoboEval's simulator: one fixed world state, matched by regular expressions, answers scripted in order.

    from dense_rl.robot.evalsim import EvalSim
    from dense_rl.robot.api import run_in_simulator
    state = {"locations": ["kitchen", "start_loc"], "objects": [{"label": "cup", "location": "kitchen"}],
             "agents": [], "robot_location": "start_loc"}
    run_in_simulator(EvalSim(state), 'def task_program():\\n    go_to("the kitchen")\\n    pick("a cup")\\n')

World states come from roboeval_tasks.jsonl (spec: roboeval.md, data: ../shared/data/roboeval/README.md).
Every world string (location, object label, agent name, scripted answer) is a regular expression searched
case-insensitively INSIDE the program's argument:
- go_to(arg) moves to the first location (in the state's order) found in arg: "the main conference room"
  reaches "conference room". No match is a GoToError.
- is_in_room(q) is true if an object label here, or the name of an agent here, is found in q. Agent names
  are ".*" in every state, so "is anyone here" questions ("person", "visitor", "") are true wherever an
  agent stands.
- ask(person, question, options) is answered by the first agent here: none here, or one whose answer list
  is empty, is an AskError. Answers are consumed one per ask and the last one repeats. The reply is the
  first option the answer is found in; if none, the first option containing "yes" when the answer is found
  in the question, else the first option containing "no"; no such option is an AskError. Options must be
  a list of str.
- pick(obj) needs an empty hand and an object here whose label is found in obj; the object leaves the room
  and the robot holds the string obj. place(obj) needs obj to equal the held string (case-insensitive); the
  object is then in the current room. say(msg) needs a str.

Where it departs from upstream: place compares case-insensitively (upstream lower-cased double-quoted
literals in the source text, which had the same effect for literals only); non-str arguments are robot
errors of the API called rather than whatever TypeError `re` raised.
"""

from __future__ import annotations

import re

from dense_rl.robot.trace import AskError, GoToError, IsInRoomError, PickError, PlaceError, RunLog, SayError


def found(pattern: str, text: str) -> bool:
    """The world string `pattern` (a regex) occurs somewhere in the program's argument `text`."""
    return re.search(pattern, text, re.IGNORECASE) is not None


class EvalSim:
    """One RoboEval world state for one run. Its public methods are the robot API (bound into the program).

    Never share an instance between runs: asks consume answers and picks move objects.
    """

    def __init__(self, state: dict, max_steps: int = 1000):
        self.locations: list[str] = list(state["locations"])
        self.objects: list[dict] = [dict(o) for o in state["objects"]]
        self.agents: list[dict] = [{**a, "asked": 0} for a in state["agents"]]
        self.location: str = state.get("robot_location", "start_loc")
        self.holding: str | None = None
        self.holding_label: str | None = None
        self.log = RunLog(max_steps)

    def _str(self, value: object, api: str, error: type, what: str) -> str:
        if not isinstance(value, str):
            raise self.log.fail(
                error(f"{api}: the {what} must be a str, got {type(value).__name__} {value!r}")
            )
        return value

    def _agent_here(self) -> dict | None:
        return next((a for a in self.agents if a["location"] == self.location), None)

    # --- the robot API ----------------------------------------------------------------------------------
    def get_current_location(self) -> str:
        self.log.tick()
        return self.location

    def get_all_rooms(self) -> list[str]:
        self.log.tick()
        return list(self.locations)

    def go_to(self, location: str) -> None:
        self.log.tick()
        location = self._str(location, "go_to", GoToError, "location")
        target = next((loc for loc in self.locations if found(loc, location)), None)
        if target is None:
            raise self.log.fail(
                GoToError(f"go_to({location!r}): no such location; there are {self.locations}")
            )
        self.location = target
        self.log.record("GoTo", target, location)

    def is_in_room(self, object: str) -> bool:  # the API's documented name
        self.log.tick()
        query = self._str(object, "is_in_room", IsInRoomError, "object")
        here = any(o["location"] == self.location and found(o["label"], query) for o in self.objects) or any(
            a["location"] == self.location and found(a["name"], query) for a in self.agents
        )
        self.log.record("CheckEntity", self.location, query, result=here)
        return here

    def ask(self, person: str, question: str, options: list[str]) -> str:
        self.log.tick()
        self._str(person, "ask", AskError, "person")
        self._str(question, "ask", AskError, "question")
        if not isinstance(options, list):
            raise self.log.fail(AskError(f"ask: options must be a list of str, got {type(options).__name__}"))
        for option in options:
            self._str(option, "ask", AskError, "option")
        agent = self._agent_here()
        if agent is None:
            raise self.log.fail(AskError(f"ask({person!r}, ...): nobody is in {self.location}"))
        if not agent["answers"]:
            raise self.log.fail(
                AskError(f"ask({person!r}, ...): the person in {self.location} cannot answer")
            )
        answer = agent["answers"][min(agent["asked"], len(agent["answers"]) - 1)]
        agent["asked"] += 1
        reply = choose_option(answer, question, options)
        if reply is None:
            raise self.log.fail(AskError(f"ask: the answer {answer!r} fits none of the options {options}"))
        self.log.record("Ask", self.location, question, person=person, options=tuple(options), result=reply)
        return reply

    def say(self, message: str) -> None:
        self.log.tick()
        message = self._str(message, "say", SayError, "message")
        self.log.record("Say", self.location, message)

    def pick(self, obj: str) -> None:
        self.log.tick()
        obj = self._str(obj, "pick", PickError, "object")
        if self.holding is not None:
            raise self.log.fail(PickError(f"pick({obj!r}): already holding {self.holding!r}"))
        item = next(
            (o for o in self.objects if o["location"] == self.location and found(o["label"], obj)), None
        )
        if item is None:
            raise self.log.fail(PickError(f"pick({obj!r}): there is no such object in {self.location}"))
        self.objects.remove(item)
        self.holding, self.holding_label = obj, item["label"]
        self.log.record("Pick", self.location, obj)

    def place(self, obj: str) -> None:
        self.log.tick()
        obj = self._str(obj, "place", PlaceError, "object")
        if self.holding is None:
            raise self.log.fail(PlaceError(f"place({obj!r}): the robot is not holding anything"))
        if self.holding.lower() != obj.lower():
            raise self.log.fail(PlaceError(f"place({obj!r}): the robot is holding {self.holding!r}"))
        self.objects.append({"label": self.holding_label, "location": self.location})
        self.holding = self.holding_label = None
        self.log.record("Place", self.location, obj)


def choose_option(answer: str, question: str, options: list[str]) -> str | None:
    """The option a scripted person picks (None: no option fits, an ask error).

    >>> choose_option("4|four", "How many?", ["0", "2", "4"])
    '4'
    >>> choose_option("cake", "Do you like cake?", ["Yes", "No"])
    'Yes'
    """
    for option in options:
        if found(answer, option):
            return option
    fallback = "yes" if found(answer, question) else "no"
    return next((option for option in options if fallback in option.lower()), None)
