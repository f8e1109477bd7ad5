"""The training simulator: random worlds, invented lazily, that check whether a program is feasible.

    from dense_rl.robot.robosim import simulate
    runs = simulate('def task_program():\\n    go_to("kitchen")\\n    pick("cup")\\n', n_runs=5, seed=0)
    sum(r.ok for r in runs) / len(runs)      # the simulator reward of the paper: 1.0 here

RoboSim semantics (spec: roboeval.md). The training reward needs no reference program and no fixed world,
so the world is made up as the program asks about it:
- A world starts with a few generic rooms (a random 2-4 of GENERIC_ROOMS) plus "start_loc", where the robot
  is. `go_to` an unknown place adds it to the world (and to get_all_rooms()).
- Every entity gets a kind on first use and must keep it: go_to -> location, ask -> person, pick/place ->
  object, is_in_room -> object or person. Kinds are kept as the set still possible, so is_in_room("x")
  then pick("x") refines x to an object, while go_to("x") then pick("x") is an EntityTypeError. A location
  and a person may stand for each other (go_to("Alice") and ask("Alice's office", ...) are fine).
- is_in_room(e) flips a fair coin the first time e is asked about at a location and then remembers the
  answer. After IS_IN_ROOM_PATIENCE (15, as upstream) queries of e without the robot leaving, the memory is
  dropped and the coin flipped again, so a program that waits for someone to turn up can end.
- ask: the person (empty = whoever is there, kept as "person") must not have been seen absent here; the
  question must be a non-empty str and options a non-empty list of non-empty str; the answer is a random
  option. A successful ask also marks the person as present here.
- pick: error if the robot already holds something, or the object was seen absent here; the object is
  then gone from the room. place: error if the robot holds nothing or something else; the object is then
  here. say: the message must be a str.
- Facts, once invented, stay consistent for the whole run; every random choice comes from the run's own
  seeded generator, so (program, seed) always gives the same run.
Reward = fraction of `n_runs` runs, each in a fresh world with its own seed, that end without a robot error,
a Python error or a timeout.

What it catches: infeasible actions (picking with full hands, placing what is not held, asking nobody,
mixing up entity kinds), wrong argument types, Python errors, programs that never end. What it cannot
catch: whether the program does what the instruction asked (it has no reference); a program that never
checks anything and only says things always passes.

Where it departs from upstream RoboSim: the wait-loop rule counts queries per entity since the robot
arrived (a `time.sleep` between queries does not reset it); string arguments are compared case-insensitively
after stripping spaces; runs are bounded by a step budget and CPU time instead of 2 s of wall clock.
"""

from __future__ import annotations

import random

from dense_rl.robot.api import RunOutcome, run_in_simulator
from dense_rl.robot.trace import (
    AskError,
    EntityTypeError,
    GoToError,
    IsInRoomError,
    PickError,
    PlaceError,
    RunLog,
    SayError,
)

GENERIC_ROOMS = (
    "kitchen",
    "lobby",
    "office",
    "conference room",
    "mail room",
    "lab",
    "break room",
    "storage room",
)
START = "start_loc"
IS_IN_ROOM_PATIENCE = 15  # queries of one entity at one place before its presence is re-drawn (upstream: 15)
LOCATION, PERSON, OBJECT = "location", "person", "object"
ANY_KIND = frozenset({LOCATION, PERSON, OBJECT})


def key(name: str) -> str:
    """How entity names are compared: case-insensitive, surrounding spaces ignored."""
    return name.strip().lower()


class RoboSim:
    """One random world for one run. Its public methods are the robot API (bound into the program)."""

    def __init__(self, seed: int | str = 0, max_steps: int = 500):
        self.rng = random.Random(seed)
        rooms = self.rng.sample(GENERIC_ROOMS, k=self.rng.randint(2, 4))
        self.rooms: list[str] = [*rooms, START]
        self.kinds: dict[str, frozenset[str]] = {key(r): frozenset({LOCATION, PERSON}) for r in self.rooms}
        self.location = START
        self.holding: str | None = None
        self.present: dict[tuple[str, str], bool] = {}  # (location key, entity key) -> is it there
        self.queries: dict[str, int] = {}  # entity key -> is_in_room calls since the robot arrived here
        self.log = RunLog(max_steps)

    # --- helpers -------------------------------------------------------------------------------------
    def _name(self, value: object, api: str, error: type, what: str = "name") -> str:
        """Check a string argument; raise the API's own error type when it is not a non-empty str."""
        if not isinstance(value, str):
            raise self.log.fail(
                error(f"{api}: the {what} must be a str, got {type(value).__name__} {value!r}")
            )
        if not value.strip():
            raise self.log.fail(error(f"{api}: the {what} is empty"))
        return value

    def _constrain(self, name: str, allowed: frozenset[str], api: str) -> None:
        """Narrow the kinds `name` may still be; an empty set means it was used as two kinds."""
        known = self.kinds.get(key(name), ANY_KIND)
        narrowed = known & allowed
        if not narrowed:
            was = " or ".join(sorted(known))
            raise self.log.fail(EntityTypeError(f"{api}({name!r}): {name!r} was used before as a {was}"))
        self.kinds[key(name)] = narrowed

    def _here(self, entity: str) -> tuple[str, str]:
        return key(self.location), key(entity)

    # --- the robot API ----------------------------------------------------------------------------------
    def get_current_location(self) -> str:
        self.log.tick()
        return self.location

    def get_all_rooms(self) -> list[str]:
        self.log.tick()
        return list(self.rooms)

    def go_to(self, location: str) -> None:
        self.log.tick()
        location = self._name(location, "go_to", GoToError, "location")
        self._constrain(location, frozenset({LOCATION, PERSON}), "go_to")
        known = {key(r): r for r in self.rooms}
        if key(location) not in known:
            self.rooms.insert(len(self.rooms) - 1, location)  # invented on first visit; start_loc stays last
        self.location = known.get(key(location), location)
        self.queries.clear()
        self.log.record("GoTo", self.location, location)

    def is_in_room(self, object: str) -> bool:  # the API's documented name
        self.log.tick()
        entity = self._name(object, "is_in_room", IsInRoomError, "object")
        self._constrain(entity, frozenset({OBJECT, PERSON}), "is_in_room")
        here = self._here(entity)
        self.queries[here[1]] = self.queries.get(here[1], 0) + 1
        if self.queries[here[1]] > IS_IN_ROOM_PATIENCE:  # waited long enough: the world may have changed
            self.present.pop(here, None)
            self.queries[here[1]] = 1
        if here not in self.present:
            self.present[here] = self.rng.random() < 0.5
        self.log.record("CheckEntity", self.location, entity, result=self.present[here])
        return self.present[here]

    def ask(self, person: str, question: str, options: list[str]) -> str:
        self.log.tick()
        if not isinstance(person, str):
            raise self.log.fail(AskError(f"ask: the person must be a str, got {type(person).__name__}"))
        self._name(question, "ask", AskError, "question")
        if not isinstance(options, list) or not options:
            raise self.log.fail(AskError(f"ask: options must be a non-empty list of str, got {options!r}"))
        for option in options:
            self._name(option, "ask", AskError, "option")
        who = person if person.strip() else "person"
        if person.strip():
            self._constrain(person, frozenset({PERSON, LOCATION}), "ask")
        if self.present.get(self._here(who)) is False:
            raise self.log.fail(AskError(f"ask({person!r}, ...): {who!r} is not in {self.location}"))
        self.present[self._here(who)] = True
        answer = self.rng.choice(options)
        self.log.record("Ask", self.location, question, person=person, options=tuple(options), result=answer)
        return answer

    def say(self, message: str) -> None:
        self.log.tick()
        if not isinstance(message, str):
            raise self.log.fail(SayError(f"say: the message must be a str, got {type(message).__name__}"))
        self.log.record("Say", self.location, message)

    def pick(self, obj: str) -> None:
        self.log.tick()
        obj = self._name(obj, "pick", PickError, "object")
        self._constrain(obj, frozenset({OBJECT}), "pick")
        if self.holding is not None:
            raise self.log.fail(PickError(f"pick({obj!r}): already holding {self.holding!r}"))
        if self.present.get(self._here(obj)) is False:
            raise self.log.fail(PickError(f"pick({obj!r}): there is no {obj} in {self.location}"))
        self.holding = obj
        self.present[self._here(obj)] = False
        self.log.record("Pick", self.location, obj)

    def place(self, obj: str) -> None:
        self.log.tick()
        obj = self._name(obj, "place", PlaceError, "object")
        self._constrain(obj, frozenset({OBJECT}), "place")
        if self.holding is None:
            raise self.log.fail(PlaceError(f"place({obj!r}): the robot is not holding anything"))
        if key(self.holding) != key(obj):
            raise self.log.fail(PlaceError(f"place({obj!r}): the robot is holding {self.holding!r}"))
        self.holding = None
        self.present[self._here(obj)] = True
        self.log.record("Place", self.location, obj)


def run_seeds(seed: int, n_runs: int) -> list[str]:
    """The world seeds of one program's runs: distinct per run, reproducible across processes."""
    return [f"robosim/{seed}/{i}" for i in range(n_runs)]


def simulate(
    source: str, *, n_runs: int = 5, seed: int = 0, max_steps: int = 500, cpu_s: float = 0.5
) -> list[RunOutcome]:
    """Run a program in `n_runs` fresh random worlds IN THIS PROCESS (trusted code or inside the sandbox)."""
    return [
        run_in_simulator(RoboSim(world_seed, max_steps), source, cpu_s=cpu_s)
        for world_seed in run_seeds(seed, n_runs)
    ]


def success_fraction(outcomes: list[RunOutcome]) -> float:
    """The paper's simulator reward: runs without any robot error, Python error or timeout, over all runs."""
    return sum(o.ok for o in outcomes) / len(outcomes) if outcomes else 0.0
