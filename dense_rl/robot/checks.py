"""Success checks of the 16 RoboEval tasks: predicates over a run's trace in one world state.

    from dense_rl.robot.checks import check
    failures = check("GetDrink", trace, state)      # [] means every condition held

Written from the paraphrase in the spec (roboeval.md, "What each task's success checks require"), not from
upstream code. Every check returns the list of conditions that failed, in words, so a CompletionError can be
explained. Vocabulary:
- an event is "at X" when the robot was at location X when it happened (the simulator records it);
- a "visit" is a stretch of the trace from a GoTo to the next GoTo elsewhere (repeated GoTos to the same
  place are one visit);
- "mentions p" means the regex p is found, case-insensitively, in a Say's message, or in an Ask's question
  or options;
- a "report" is a Say at "start_loc" after the visits the task needs.
Numbers may be written as digits or words ("2" or "two"); counts are matched as the spec's patterns do,
loosely (a substring), as upstream did.

Where counts may differ from upstream's: conditions the spec states loosely were read as follows.
SetTemperature's ask must mention that state's answer ("wa"/"co"). StaplerSupply matches a room number as a
digit not next to another digit (so "one" in "no one" is not room 1). WeatherPoll's "preceded by a
CheckEntity" skips other Asks and GoTos to the entrance when looking back. LunchTime's offered times are
looked for in the ask's question and options together. A zero count (CountSavory, HalloweenShopping,
WeatherPoll) may also be said as "no"/"nobody", and StaplerSupply's negation is a substring ("cannot",
"none"), as upstream accepts them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from dense_rl.robot.trace import Event

START = "start_loc"
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)
# A substring, as upstream tests it: "cannot", "none", "nowhere" count as negations too.
NEGATION = r"not|no|don't|doesn't|without|n't"

Checks = list[tuple[bool, str]]


# --- trace vocabulary -------------------------------------------------------------------------------------
def has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


def number(n: int) -> str:
    """Digits or word for n, e.g. '2|two'."""
    return f"{n}|{NUMBER_WORDS[n]}" if n < len(NUMBER_WORDS) else str(n)


def text_of(e: Event) -> str:
    return " ".join([e.arg, *e.options])


def mentions(e: Event, *patterns: str) -> bool:
    """Every pattern is found in the event's text (Ask: question and options; Say: message)."""
    return all(has(p, text_of(e)) for p in patterns)


def visits(trace: list[Event]) -> list[tuple[int, int, str]]:
    """(first event index, end index, location) of each visit, in order; staying at the start is no visit."""
    starts, where = [], START
    for i, e in enumerate(trace):
        if e.kind == "GoTo" and e.location != where:
            starts.append(i)
            where = e.location
    if not starts:  # never left the start (e.g. a program that only says something)
        return []
    ends = [*starts[1:], len(trace)]
    return [(s, end, trace[s].location) for s, end in zip(starts, ends, strict=True)]


def visited(trace: list[Event], location: str) -> bool:
    return any(loc == location for _, _, loc in visits(trace))


def first_visit(trace: list[Event], location: str) -> int | None:
    return next((s for s, _, loc in visits(trace) if loc == location), None)


def all_visited_by(trace: list[Event], locations: list[str]) -> int | None:
    """Index by which every location was visited at least once (None if some never was)."""
    firsts = [first_visit(trace, loc) for loc in locations]
    return None if None in firsts else max(firsts)


def events(trace: list[Event], kind: str, at: str | None = None, after: int = -1) -> list[tuple[int, Event]]:
    """(index, event) of every `kind` event, optionally at one location and after index `after`."""
    return [
        (i, e)
        for i, e in enumerate(trace)
        if e.kind == kind and (at is None or e.location == at) and i > after
    ]


def reports(trace: list[Event], after: int | None) -> list[Event]:
    """Says at the start location after index `after` (none when the needed visits never happened)."""
    if after is None:
        return []
    return [e for _, e in events(trace, "Say", at=START, after=after)]


def visits_and_avoids(trace: list[Event], required: list[str], forbidden: list[str]) -> Checks:
    checks = [(visited(trace, loc), f"goes to {loc}") for loc in required]
    return checks + [(not visited(trace, loc), f"never goes to {loc}") for loc in forbidden]


def checked_each(trace: list[Event], locations: list[str], entity: str | None = None) -> Checks:
    """An is_in_room at each location (about `entity`, or about anything when None)."""
    what = entity or "..."
    return [
        (
            any(has(entity or ".", e.arg) for _, e in events(trace, "CheckEntity", at=loc)),
            f"is_in_room({what}) at {loc}",
        )
        for loc in locations
    ]


def agent_answers(state: dict) -> dict[str, list[str]]:
    """location -> scripted answers of the agent there."""
    return {a["location"]: a["answers"] for a in state["agents"]}


# --- the 16 tasks ------------------------------------------------------------------------------------------
def count_savory(trace: list[Event], state: dict) -> Checks:
    offices = [f"{p}'s office" for p in ("alice", "bob", "charlie", "david")]
    people = {loc: answers[0] for loc, answers in agent_answers(state).items()}
    savory = sum(has("sandwich|beef|jerky", food) for food in people.values())
    c = visits_and_avoids(trace, offices, ["lobby", "cafeteria"]) + checked_each(trace, offices)
    for office in offices:
        asks = events(trace, "Ask", at=office)
        if office in people:
            checked = [i for i, _ in events(trace, "CheckEntity", at=office)]
            good = [i for i, e in asks if mentions(e, people[office]) and any(j < i for j in checked)]
            c.append((bool(good), f"asks about {people[office]} at {office} after checking for a person"))
        else:
            c.append((not asks, f"no ask at the empty {office}"))
    c.append((len(events(trace, "Ask")) == len(people), f"exactly {len(people)} asks"))
    said = reports(trace, all_visited_by(trace, offices))
    count = number(savory) if savory else "0|zero|no"  # "no savory food", "nobody": upstream accepts them
    c.append((any(mentions(e, count) for e in said), f"reports {savory} savory at start"))
    return c


def elevator_tour(trace: list[Event], state: dict) -> Checks:
    elevator, conference = "elevator", "conference room"
    rooms = [loc for _, _, loc in visits(trace) if loc != START]
    c = [
        (rooms[:1] == [elevator], "the elevator is the first room"),
        (not visited(trace, "lobby"), "no lobby"),
    ]
    c += checked_each(trace, [elevator])
    tour_asks = [i for i, e in events(trace, "Ask", at=elevator) if mentions(e, "tour")]
    if state["state_idx"] == 1:
        c.append((bool(tour_asks), "asks about the tour at the elevator"))
    elif state["state_idx"] == 2:
        c.append((not events(trace, "Ask", at=elevator), "no ask at the empty elevator"))
    else:
        c.append((bool(tour_asks), "asks about the tour at the elevator"))
        first_ask = tour_asks[0] if tour_asks else len(trace)
        arrive = first_visit(trace, conference)
        before = len(trace) if arrive is None else arrive
        says = [(i, e) for i, e in events(trace, "Say", at=elevator, after=first_ask) if i < before]
        c.append((any(mentions(e, "welcome", "university") for _, e in says), "welcomes at the elevator"))
        c.append((any(mentions(e, "follow") for _, e in says), "says follow me at the elevator"))
        previous = [loc for s, _, loc in visits(trace) if arrive is not None and s < arrive][-1:]
        c.append((previous == [elevator], "goes straight from the elevator to the conference room"))
        c.append(
            (any(mentions(e, "arr") for _, e in events(trace, "Say", at=conference)), "announces arrival")
        )
    return c


def find_backpack(trace: list[Event], state: dict) -> Checks:
    room = next(o["location"] for o in state["objects"] if o["label"] == "backpack")
    picks = events(trace, "Pick")
    places = events(trace, "Place")
    left_start = next((s for s, _, loc in visits(trace) if loc != START), len(trace))
    c = visits_and_avoids(trace, [], ["lobby", "tom's office"])
    c.append((any(has("backpack", e.arg) for _, e in picks), "picks up the backpack"))
    c.append((not any(has("laptop|chair", e.arg) for _, e in places), "places no laptop or chair"))
    c.append(
        (
            all(e.location == START and i > left_start for i, e in places if has("backpack", e.arg)),
            "places it at start",
        )
    )
    c.append((any(has("backpack", e.arg) and e.location == room for _, e in picks), f"picks it in {room}"))
    c.append((len(picks) == 1, "picks exactly once"))
    c += checked_each(trace, [room], "backpack")
    return c


def get_drink(trace: list[Event], state: dict) -> Checks:
    drink = agent_answers(state)["lobby"][0]
    places = [loc for _, _, loc in visits(trace)]
    rooms = [loc for loc in places if loc != START]
    c = visits_and_avoids(trace, ["lobby", "kitchen"], ["office"])
    c.append((rooms[:1] == ["lobby"], "the lobby is the first room"))
    lobby = [k for k, loc in enumerate(places) if loc == "lobby"]
    kitchen = [k for k, loc in enumerate(places) if loc == "kitchen"]
    in_order = bool(lobby) and any(lobby[0] < k < lobby[-1] for k in kitchen)
    c.append((in_order, "goes lobby -> kitchen -> lobby"))
    c.append((START not in places[lobby[0] : lobby[-1]] if lobby else False, "no start between lobby visits"))
    c.append(
        (any(mentions(e, drink) for _, e in events(trace, "Ask", at="lobby")), f"asks about {drink} in lobby")
    )
    c.append(
        (any(has(drink, e.arg) for _, e in events(trace, "Pick", at="kitchen")), f"picks {drink} in kitchen")
    )
    return c


def grilled_cheese(trace: list[Event], state: dict) -> Checks:
    office = "zarko's office"
    asks = [e for _, e in events(trace, "Ask", at=office)]
    c = visits_and_avoids(trace, [office], ["lobby"])
    c += [(any(mentions(e, food) for e in asks), f"asks Zarko about {food}") for food in ("cheese", "bread")]
    c.append((bool(reports(trace, first_visit(trace, office))), "reports at start"))
    return c


def halloween_list(trace: list[Event], state: dict) -> Checks:
    offices = [f"{p}'s office" for p in ("sally", "mark", "cindy")]
    candy = {loc: answers[0] for loc, answers in agent_answers(state).items()}
    c = visits_and_avoids(trace, offices, ["kitchen"]) + checked_each(trace, offices)
    for office in offices:
        asks = events(trace, "Ask", at=office)
        if office in candy:
            c.append(
                (any(mentions(e, candy[office]) for _, e in asks), f"asks about {candy[office]} at {office}")
            )
        else:
            c.append((not asks, f"no ask at the empty {office}"))
    said = reports(trace, all_visited_by(trace, offices))
    for kind, n in Counter(candy.values()).items():
        c.append((any(mentions(e, kind, number(n)) for e in said), f"reports {n} {kind}"))
    return c


SHOPPING_TOTALS = {0: number(12), 1: number(6), 2: number(4), 3: "0|zero|no", 4: "0|zero|no"}


def halloween_shopping(trace: list[Event], state: dict) -> Checks:
    offices = [f"{p}'s office" for p in ("gavin", "sunny", "frank")]
    total = SHOPPING_TOTALS[state["state_idx"]]
    said = [e for _, e in events(trace, "Say", at=START)]
    c = visits_and_avoids(trace, offices, ["lobby", "robotics lab"])
    return c + [
        (any(mentions(e, t, total) for e in said), f"reports {total} {t}")
        for t in ("choco", "caramel", "gumm")
    ]


def lunch_break(trace: list[Event], state: dict) -> Checks:
    answers = agent_answers(state)
    c = visits_and_avoids(trace, ["alice's office", "bob's office"], ["charlie's office"])
    at_start = [e for _, e in events(trace, "Say", at=START)]
    for person in ("alice", "bob"):
        office = f"{person}'s office"
        lunch = [i for i, e in events(trace, "Ask", at=office) if mentions(e, "lunch")]
        c.append((bool(lunch), f"asks {person} about lunch"))
        told = any(
            mentions(e, "5|five", "lobby")
            for _, e in events(trace, "Say", at=office, after=min(lunch or [-1]))
        )
        named = any(has(person, e.arg) and not has(r"\bno\b|\bnot\b", e.arg) for e in at_start)
        if answers[office][0] == "yes":
            c += [
                (told, f"tells {person} to meet in the lobby in 5"),
                (named, f"reports that {person} joins"),
            ]
        else:
            told_anyway = any(mentions(e, "5|five", "lobby") for _, e in events(trace, "Say", at=office))
            c += [
                (not told_anyway, f"does not invite {person}"),
                (not named, f"does not report {person} joins"),
            ]
    return c


def lunch_time(trace: list[Event], state: dict) -> Checks:
    office = "jill's office"
    c = visits_and_avoids(trace, [office], ["andrew's office"])
    asks = events(trace, "Ask")
    lunch = [i for i, e in events(trace, "Ask", at=office) if mentions(e, "lunch")]
    c.append((bool(lunch), "asks Jill about lunch"))
    first = lunch[0] if lunch else len(trace)
    if state["state_idx"] == 0:
        late = r"\b(1[7-9]|2[0-4]|[4-8]):"
        offers = [e for _, e in events(trace, "Ask", at=office, after=first)]
        fits = any(mentions(e, "11|12|eleven|twelve|noon") and not mentions(e, late) for e in offers)
        c.append((fits, "then offers lunch times around noon"))
    else:
        c.append((all(i == first for i, _ in asks), "asks nothing else"))
    c.append((bool(reports(trace, first_visit(trace, office))), "reports at start"))
    return c


def mail_delivery(trace: list[Event], state: dict) -> Checks:
    offices = {f"{p}'s office": p for p in ("alice", "bob", "charlie")}
    answers = agent_answers(state)
    c = visits_and_avoids(trace, [*offices, "mail room"], ["lobby", "conference room"])
    trips = visits(trace)
    rooms = [loc for _, _, loc in trips if loc != START]
    c.append((rooms[:1] == ["mail room"], "the mail room is the first room"))
    mail = [(s, end) for s, end, loc in trips if loc == "mail room"]
    picked = [i for i, e in events(trace, "Pick", at="mail room") if has("bin", e.arg)]
    c.append((bool(picked), "picks the bin in the mail room"))
    pick_trip = next((k for k, (s, end) in enumerate(mail) if picked and s <= picked[0] < end), None)
    placed = [i for i, e in events(trace, "Place", at="mail room") if has("bin", e.arg)]
    later = pick_trip is not None and any(s <= i < end for i in placed for s, end in mail[pick_trip + 1 :])
    c.append((later, "puts the bin back on a later visit to the mail room"))
    between = (mail[0][1], mail[1][0]) if len(mail) > 1 else (0, -1)
    for office, person in offices.items():
        c.append(
            (
                any(between[0] <= s < between[1] and loc == office for s, _, loc in trips),
                f"{office} on the round",
            )
        )
        c.append(
            (
                any(mentions(e, "mail") for _, e in events(trace, "Ask", at=office)),
                f"asks {person} about mail",
            )
        )
    second = [
        e for i, e in enumerate(trace) if len(mail) > 1 and mail[1][0] <= i < mail[1][1] and e.kind == "Say"
    ]
    for office, person in offices.items():
        named = any(has(person, e.arg) for e in second)
        yes = answers[office][0] == "yes"
        c.append((named == yes, f"{'names' if yes else 'does not name'} {office} at the mail room"))
    return c


MOVIE_TIME = {0: "^(?=.*6)(?=.*pm).*$", 1: "^(?=.*5)(?=.*pm).*$"}


def movie_messenger(trace: list[Event], state: dict) -> Checks:
    sally, mark = "sally's office", "mark's office"
    c = visits_and_avoids(trace, [sally, mark], [])
    places = [loc for _, _, loc in visits(trace)]
    s_i, m_i = (places.index(x) if x in places else None for x in (sally, mark))
    order = s_i is not None and m_i is not None and s_i < m_i and START not in places[s_i:m_i]
    c.append((order, "Sally's office, then Mark's, no start between"))
    c.append(
        (
            any(mentions(e, "cinema|film|movie", "mark") for _, e in events(trace, "Ask", at=sally)),
            "asks Sally",
        )
    )
    told = events(trace, "Say", at=mark)
    asks_mark = events(trace, "Ask", at=mark)
    told_at = told[0][0] if told else len(trace)
    c.append((bool(told) and all(i > told_at for i, _ in asks_mark), "tells Mark before asking him"))
    if state["state_idx"] in MOVIE_TIME:
        when = MOVIE_TIME[state["state_idx"]]
        offer = [i for i, e in asks_mark if i > told_at and any(has(when, o) for o in e.options)]
        c.append((bool(offer), "asks Mark which time, offering the time he wants"))
        back = [s for s, _, loc in visits(trace) if offer and loc == sally and s > offer[0]]
        path = [loc for s, _, loc in visits(trace) if offer and back and offer[0] < s <= back[0]]
        c.append((bool(back) and START not in path, "goes back to Sally"))
        said = back and any(has(when, e.arg) for _, e in events(trace, "Say", at=sally, after=back[0]))
        c.append((bool(said), "tells Sally the time"))
    else:
        c.append((not events(trace, "Ask", after=told_at), "asks nothing after telling Mark"))
    return c


def say_good_day(trace: list[Event], state: dict) -> Checks:
    labs = ["sam's lab", "amy's lab"]
    occupied = set(agent_answers(state))
    c = visits_and_avoids(trace, labs, ["lobby", "conference room"]) + checked_each(trace, labs)
    for lab in labs:
        says = events(trace, "Say", at=lab)
        if lab in occupied:
            first_check = min((i for i, _ in events(trace, "CheckEntity", at=lab)), default=len(trace))
            ok = any(i > first_check and mentions(e, "good", "day") for i, e in says)
            c.append((ok, f"says good day in {lab} after checking"))
        else:
            c.append((not any(mentions(e, "good|day") for _, e in says), f"no greeting in the empty {lab}"))
    return c


def set_temperature(trace: list[Event], state: dict) -> Checks:
    office = "arjun's office"
    answer = agent_answers(state)[office][0]
    low, high = (73, 89) if answer == "wa" else (50, 71)
    c = visits_and_avoids(trace, [office], ["joydeep's office"])
    c.append((any(mentions(e, answer) for _, e in events(trace, "Ask", at=office)), f"asks Arjun ({answer})"))
    arjun = first_visit(trace, office)
    back = [s for s, _, loc in visits(trace) if loc == START and arjun is not None and s > arjun]
    c.append((bool(back), "comes back to start"))
    said = reports(trace, back[0] if back else None)
    ok = any(low <= int(n) <= high for e in said for n in re.findall(r"\d+", e.arg))
    c.append((ok, f"reports a temperature in {low}-{high}"))
    return c


PRINTER_ROOMS = [f"printer room {n}" for n in (1, 2, 3)]


def lacking_stapler(state: dict) -> list[str]:
    has_one = {o["location"] for o in state["objects"] if o["label"] == "stapler"}
    return [room for room in PRINTER_ROOMS if room not in has_one]


def stapler_delivery(trace: list[Event], state: dict) -> Checks:
    lacking = lacking_stapler(state)
    picks = events(trace, "Pick")
    c = visits_and_avoids(trace, PRINTER_ROOMS, ["meeting room"]) + checked_each(
        trace, PRINTER_ROOMS, "stapler"
    )
    supply = [e for _, e in events(trace, "Pick", at="supply room") if has("stapler", e.arg)]
    c.append(
        (
            len(supply) == len(picks) == len(lacking),
            f"picks exactly {len(lacking)} staplers in the supply room",
        )
    )
    for room in lacking:
        c.append(
            (any(has("stapler", e.arg) for _, e in events(trace, "Place", at=room)), f"brings one to {room}")
        )
    return c


def stapler_supply(trace: list[Event], state: dict) -> Checks:
    lacking = lacking_stapler(state)
    c = visits_and_avoids(trace, PRINTER_ROOMS, ["meeting room"]) + checked_each(
        trace, PRINTER_ROOMS, "stapler"
    )
    said = reports(trace, all_visited_by(trace, PRINTER_ROOMS))
    for room in PRINTER_ROOMS:
        digit = rf"(?<!\d){room[-1]}(?!\d)"
        told = any(has(digit, e.arg) and has(NEGATION, e.arg) for e in said)
        c.append(
            (
                told == (room in lacking),
                f"{'reports' if room in lacking else 'does not report'} {room} lacks one",
            )
        )
    return c


POLL_PERCENT = {0: "100|hundred|all| 10", 1: "0|zero|no", 2: "60|sixty|6", 3: "40|forty|4"}


def weather_poll(trace: list[Event], state: dict) -> Checks:
    entrance = "main entrance"
    c = visits_and_avoids(trace, [entrance], ["main conference room"])
    arrived = first_visit(trace, entrance)
    after = -1 if arrived is None else arrived
    checks, asks = events(trace, "CheckEntity", after=after), events(trace, "Ask", after=after)
    if state["state_idx"] == 4:
        c += [
            (bool(checks), "checks for a person"),
            (not asks, "asks nobody"),
            (not events(trace, "Say"), "says nothing"),
        ]
        return c
    c += [
        (len(checks) >= 10, "checks for a person at least 10 times"),
        (len(asks) == 10, "asks exactly 10 times"),
    ]
    for i, _ in asks[:2]:
        before = [
            e for e in trace[:i] if not (e.kind == "Ask" or (e.kind == "GoTo" and e.location == entrance))
        ]
        c.append((bool(before) and before[-1].kind == "CheckEntity", "checks for a person before asking"))
    percent = POLL_PERCENT[state["state_idx"]]
    c.append(
        (any(mentions(e, percent) for _, e in events(trace, "Say", at=START)), f"reports {percent} percent")
    )
    return c


CHECKS: dict[str, Callable[[list[Event], dict], Checks]] = {
    "CountSavory": count_savory,
    "ElevatorTour": elevator_tour,
    "FindBackpack": find_backpack,
    "GetDrink": get_drink,
    "GrilledCheese": grilled_cheese,
    "HalloweenList": halloween_list,
    "HalloweenShopping": halloween_shopping,
    "LunchBreak": lunch_break,
    "LunchTime": lunch_time,
    "MailDelivery": mail_delivery,
    "MovieMessenger": movie_messenger,
    "SayGoodDay": say_good_day,
    "SetTemperature": set_temperature,
    "StaplerDelivery": stapler_delivery,
    "StaplerSupply": stapler_supply,
    "WeatherPoll": weather_poll,
}


def check(task: str, trace: list[Event], state: dict) -> list[str]:
    """The conditions of `task`'s success check that fail on `trace` in world `state` ([] = success)."""
    if task not in CHECKS:
        raise ValueError(f"unknown RoboEval task {task!r}; known tasks: {sorted(CHECKS)}")
    return [what for ok, what in CHECKS[task](trace, state) if not ok]
