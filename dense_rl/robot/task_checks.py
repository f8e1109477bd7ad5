"""Success checks for generated robot tasks: does the program do what the instruction asked?

    from dense_rl.robot.task_checks import check_runs, reference_runs
    from dense_rl.tasks.robot_tasks import generate_robot_tasks
    task = generate_robot_tasks(1, "heldout", 0)[0]
    runs = reference_runs(task.reference, n_worlds=5, seed=0)   # trusted code only (the kit's references)
    [all(c.passed for c in world) for world in check_runs(task, runs, seed=0)]   # [True] * 5

The kit's analogue of unit tests for the robot domain. Each template of dense_rl.tasks.robot_tasks says, in
one function of these primitives, what must be observable after the program ran: messages said where,
questions asked to whom with which options, objects picked and placed where, rooms visited, where the robot
ends up when it was asked to come back, counts reported. The checks read the trace a run recorded
(dense_rl.robot.trace): GoTo, Say, Ask, CheckEntity, Pick, Place, each with the place it happened and its
program line.

Worlds: the program runs in N randomised RoboSim worlds (robosim.run_seeds(seed, N): the same worlds for
every program and for the reference). RoboSim invents facts as the program asks (a fair coin per
is_in_room, a random option per ask), so a check is relative to what THIS run observed: "count the rooms
with a cup" expects the number of rooms where the run's own is_in_room("cup") came back True; "if Ava says
yes, bring her the cup" expects a delivery exactly when the run's ask returned a yes. A program that skips
the observation fails the check that asks for it (the count cannot be right without looking).

What is accepted: any order the instruction leaves open (deliveries to several people, rooms of a loop);
messages that contain the asked-for words (case and punctuation ignored, "the " before a place ignored);
numbers as digits or words; yes/no options in any wording that starts with yes/no. What is not checked: the
exact question wording (only that it mentions what it must), politeness, extra harmless actions (a program
that also says hello passes).

Each failed check names the program line to blame: the first event of the kind the check needs that does not
satisfy it (a Say in the wrong room, an Ask without the options), else END when no such event happened at
all (an omission: the program stopped before doing it, so the decision to stop is what went wrong). This is
what the kit's task reward (dense_rl.robot.task_reward) attributes densely. Why not the last line the
program ran, as an earlier version did: that taught a PPO run to drop its last line, then the new last line,
until nothing was left (LOG.md). A missing action is fixed by writing more, never by writing less.

Not in the paper: the paper's robot reward is the simulator's error-free share only; these checks are the
kit's own (RoboEval's checks are evaluation data and are never used for training).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dense_rl.robot.trace import Event

START = "start_loc"
NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
).split()
NEGATIONS = ("no", "not", "none", "nobody", "nothing", "isn't", "wasn't", "couldn't", "can't", "didn't")


@dataclass(frozen=True)
class Check:
    """One observable requirement: its one-line description, whether the run met it, the line to blame."""

    name: str
    passed: bool
    line: int | None = None


# --- text and place matching --------------------------------------------------------------------------------


def norm(text: str) -> str:
    """Lower case, words only (apostrophes kept inside words), single spaces, a leading 'the ' dropped."""
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", str(text).lower())
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


def mentions(text: str, phrase: str) -> bool:
    """Does `text` contain `phrase` as whole words (after norm)?"""
    return f" {norm(phrase)} " in f" {norm(text)} "


def same_place(a: str, b: str) -> bool:
    return norm(a) == norm(b)


def says_number(text: str, n: int) -> bool:
    """Does `text` state the number n, as digits ('3') or as a word ('three')?"""
    words = norm(text).split()
    return str(n) in words or (n < len(NUMBER_WORDS) and NUMBER_WORDS[n] in words)


def is_yes(answer: object) -> bool:
    return isinstance(answer, str) and norm(answer).startswith("yes")


def negated(text: str) -> bool:
    return any(w in NEGATIONS or w.endswith("n't") for w in norm(text).split())


# --- trace queries ------------------------------------------------------------------------------------------


def find(trace: Sequence[Event], pred: Callable[[Event], bool], start: int = 0) -> int | None:
    """Index of the first event at or after `start` that satisfies pred, else None."""
    return next((i for i in range(start, len(trace)) if pred(trace[i])), None)


END = 0  # no program line has this number: "never happened", blamed where the program stopped


def blame(trace: Sequence[Event], kind: str, start: int = 0) -> int:
    """Line of the first `kind` event from `start` (the attempt that went wrong), else END (an omission)."""
    i = find(trace, lambda e: e.kind == kind, start)
    return trace[i].line if i is not None else END


def at(e: Event, where: str | None) -> bool:
    """Did `e` happen at `where` (None: anywhere)?"""
    return where is None or same_place(e.location, where)


def checks_of(trace: Sequence[Event], entity: str, where: str) -> list[Event]:
    return [e for e in trace if e.kind == "CheckEntity" and at(e, where) and same_place(e.arg, entity)]


def observed(trace: Sequence[Event], entity: str, where: str) -> bool | None:
    """What the run's first is_in_room(entity) at `where` returned (None: never looked)."""
    found = checks_of(trace, entity, where)
    return bool(found[0].result) if found else None


def asks_at(trace: Sequence[Event], where: str) -> list[Event]:
    return [e for e in trace if e.kind == "Ask" and at(e, where)]


# --- check primitives: each returns a Check ---------------------------------------------------------------


def said(trace, where: str, *phrases: str, after: int = 0, name: str = "") -> Check:
    """A Say at `where` (from event `after` on) that contains every phrase."""
    ok = find(
        trace, lambda e: e.kind == "Say" and at(e, where) and all(mentions(e.arg, p) for p in phrases), after
    )
    name = name or f"says {' + '.join(map(repr, phrases)) or 'something'} at {where}"
    return Check(name, ok is not None, None if ok is not None else blame(trace, "Say", after))


def not_said(trace, where: str, phrase: str, name: str = "") -> Check:
    """No Say at `where` contains `phrase`."""
    bad = find(trace, lambda e: e.kind == "Say" and at(e, where) and mentions(e.arg, phrase))
    return Check(
        name or f"does not say {phrase!r} at {where}",
        bad is None,
        trace[bad].line if bad is not None else None,
    )


def visited(trace, where: str) -> Check:
    ok = find(trace, lambda e: e.kind == "GoTo" and at(e, where))
    return Check(f"goes to {where}", ok is not None, None if ok is not None else blame(trace, "GoTo"))


def looked(trace, entity: str, where: str) -> Check:
    """An is_in_room(entity) while at `where`."""
    ok = bool(checks_of(trace, entity, where))
    return Check(f"checks for {entity} at {where}", ok, None if ok else blame(trace, "CheckEntity"))


def asked(
    trace,
    where: str,
    person: str = "",
    words: Sequence[str] = (),
    options: Sequence[str] = (),
    after: int = 0,
) -> Check:
    """An Ask at `where` (to `person` when given; an empty person means whoever is there) whose question
    or options mention every one of `words`, and, for every entry of `options`, some option mentions it."""

    def good(e: Event) -> bool:
        text = " ".join([e.arg, *e.options])
        return (
            e.kind == "Ask"
            and at(e, where)
            and (not person or mentions(e.person, person) or not e.person.strip())
            and all(mentions(text, w) for w in words)
            and all(any(mentions(o, want) for o in e.options) for want in options)
        )

    ok = find(trace, good, after)
    what = ", ".join([*words, *options])
    line = None if ok is not None else blame(trace, "Ask", after)
    return Check(f"asks {person or 'someone'} about {what} at {where}", ok is not None, line)


def first_ask(trace, where: str) -> Event | None:
    found = asks_at(trace, where)
    return found[0] if found else None


def no_ask(trace, where: str) -> Check:
    bad = find(trace, lambda e: e.kind == "Ask" and at(e, where))
    return Check(f"asks nobody at {where}", bad is None, trace[bad].line if bad is not None else None)


def picked(trace, obj: str, where: str) -> Check:
    ok = find(trace, lambda e: e.kind == "Pick" and same_place(e.arg, obj) and at(e, where))
    return Check(f"picks {obj} at {where}", ok is not None, None if ok is not None else blame(trace, "Pick"))


def placed(trace, obj: str, where: str) -> Check:
    """A Place of `obj` at `where` after a Pick of it (the object travelled there)."""
    first_pick = find(trace, lambda e: e.kind == "Pick" and same_place(e.arg, obj))
    ok = (
        None
        if first_pick is None
        else find(trace, lambda e: e.kind == "Place" and same_place(e.arg, obj) and at(e, where), first_pick)
    )
    return Check(
        f"places {obj} at {where}", ok is not None, None if ok is not None else blame(trace, "Place")
    )


def no_pick(trace, obj: str) -> Check:
    bad = find(trace, lambda e: e.kind == "Pick" and same_place(e.arg, obj))
    return Check(f"does not pick {obj}", bad is None, trace[bad].line if bad is not None else None)


def ends_at(trace, where: str = START) -> Check:
    """The robot went somewhere else and its last location is `where` (it came back; never leaving is no
    coming back, so a program that does nothing cannot pass this check)."""
    moves = [e for e in trace if e.kind == "GoTo"]
    left = any(not same_place(e.location, where) for e in moves)
    ok = left and same_place(moves[-1].location, where)
    return Check(f"ends at {where}", ok, None if ok else END)  # the missing go_to(start) belonged at the end


def reports(trace, after: int) -> list[Event]:
    """The Says at the start location from event `after` on: what the robot told the user when it was back."""
    return [e for e in trace[after:] if e.kind == "Say" and at(e, START)]


def reported(trace, after: int, test: Callable[[str], bool], name: str) -> Check:
    """A report (see `reports`) passes `test`: one Say of it, or all of them read together."""
    said_back = [e.arg for e in reports(trace, after)]
    ok = any(test(m) for m in said_back) or (len(said_back) > 1 and test(" . ".join(said_back)))
    return Check(name, ok, None if ok else blame(trace, "Say", after))


def clauses(text: str) -> list[str]:
    """A message cut into clauses, so 'Ava is in, Ben is not' says one thing about each name."""
    return [c for c in re.split(r"[.,;:!?]| and | but ", text.lower()) if c.strip()]


def affirms(text: str, name: str) -> bool:
    return any(mentions(c, name) and not negated(c) for c in clauses(text))


def denies_all(text: str, names: Sequence[str]) -> bool:
    return all(not affirms(text, n) for n in names)


def report_presence(trace, after: int, present: Sequence[str], absent: Sequence[str], what: str) -> Check:
    """The report names every `present` name (not negated) and affirms no `absent` one; when nothing is
    present it must say so (a negation)."""

    def test(m: str) -> bool:
        if not present:
            return negated(m) and denies_all(m, absent)
        return all(affirms(m, n) for n in present) and denies_all(m, absent)

    return reported(trace, after, test, f"reports {what} at {START}")


def report_number(trace, after: int, *accepted: int) -> Check:
    """A report at the start that states one of the `accepted` numbers."""
    name = f"reports the number {' or '.join(map(str, sorted(set(accepted))))} at {START}"
    return reported(trace, after, lambda m: any(says_number(m, n) for n in accepted), name)


def end_of(trace, pred: Callable[[Event], bool]) -> int:
    """Index just after the last event satisfying pred (0 when none): 'after the visits' for reports."""
    hits = [i for i, e in enumerate(trace) if pred(e)]
    return hits[-1] + 1 if hits else 0


def after_leaving(trace) -> int:
    """Index just after the last event away from the start: a report made there comes after the errands."""
    return end_of(trace, lambda e: not at(e, START))


def every_room(trace, rooms: Sequence[str], check: Callable[[str], list[Check]]) -> list[Check]:
    """The checks of `check(room)` for every room of the world except the start."""
    return [c for room in rooms if not same_place(room, START) for c in check(room)]


def count_true(trace, entity: str) -> int:
    """Distinct places where the run's is_in_room(entity) first came back True."""
    seen: dict[str, bool] = {}
    for e in trace:
        if e.kind == "CheckEntity" and same_place(e.arg, entity):
            seen.setdefault(norm(e.location), bool(e.result))
    return sum(seen.values())


# --- running the checks -----------------------------------------------------------------------------------


def world_rooms(world_seed: str) -> list[str]:
    """The rooms a RoboSim world starts with (get_all_rooms() before the program goes anywhere new)."""
    from dense_rl.robot.robosim import RoboSim

    return list(RoboSim(world_seed).rooms)


def check_trace(task, trace: Sequence[Event], rooms: Sequence[str]) -> list[Check]:
    """The checks of `task`'s template on one run's trace in a world that started with `rooms`."""
    from dense_rl.tasks.robot_tasks import template_named

    return template_named(task.template).check(task.entities, list(trace), list(rooms))


def check_runs(task, outcomes, seed: int = 0) -> list[list[Check]]:
    """Checks per world for a program's runs (RunOutcome per world of robosim.run_seeds(seed, n)).

    A run that ended in an error fails as a whole: one failed check 'runs without error' blaming its line,
    on top of the template's checks on the trace so far.
    """
    from dense_rl.robot.robosim import run_seeds

    seeds = run_seeds(seed, len(outcomes))
    results = []
    for world_seed, outcome in zip(seeds, outcomes, strict=True):
        checks = check_trace(task, outcome.trace, world_rooms(world_seed))
        if outcome.failure is not None:
            checks.append(Check("runs without error", False, outcome.failure.line))
        results.append(checks)
    return results


def task_success(checks_per_world: Sequence[Sequence[Check]]) -> bool:
    """The headline: every check passes in every world (and there was at least one world)."""
    return bool(checks_per_world) and all(c.passed for world in checks_per_world for c in world)


def reference_runs(program: str, n_worlds: int = 5, seed: int = 0):
    """Run a TRUSTED program (a template's reference) in this process in the N check worlds."""
    from dense_rl.robot.robosim import simulate

    return simulate(program, n_runs=n_worlds, seed=seed)


def first_index(trace, kind: str, where: str | None = None, entity: str = "", result=None, after: int = 0):
    """Index of the first `kind` event at `where` (about `entity`, with `result`, when given), else None."""

    def good(e: Event) -> bool:
        return (
            e.kind == kind
            and at(e, where)
            and (not entity or same_place(e.arg, entity))
            and (result is None or e.result == result)
        )

    return find(trace, good, after)


def answer_at(trace, where: str, after: int = 0) -> str | None:
    """The answer of the first Ask at `where` (None: nobody was asked there)."""
    i = first_index(trace, "Ask", where, after=after)
    return None if i is None else str(trace[i].result)


def in_order(trace, places: Sequence[str]) -> Check:
    """The robot reaches `places` in this order (other stops in between allowed)."""
    i = 0
    for place in places:
        j = first_index(trace, "GoTo", place, after=i)
        if j is None:
            return Check(f"goes to {', '.join(places)} in that order", False, blame(trace, "GoTo", i))
        i = j + 1
    return Check(f"goes to {', '.join(places)} in that order", True)
