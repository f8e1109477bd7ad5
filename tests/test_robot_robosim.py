"""RoboSim, the training simulator: lazy random worlds that stay consistent, entity kinds, feasibility."""

from __future__ import annotations

import pytest

from dense_rl.robot.robosim import IS_IN_ROOM_PATIENCE, START, RoboSim, simulate, success_fraction
from dense_rl.robot.trace import AskError, EntityTypeError, PickError, PlaceError, RobotError, SayError
from dense_rl.tasks.robot_tasks import generate_robot_tasks


def program(body: str) -> str:
    return "def task_program():\n" + "".join(f"    {line}\n" for line in body.splitlines())


def test_world_starts_with_generic_rooms_and_start_loc():
    sim = RoboSim(seed=3)
    rooms = sim.get_all_rooms()
    assert sim.get_current_location() == START and rooms[-1] == START and 3 <= len(rooms) <= 5


def test_go_to_an_unknown_place_invents_it():
    sim = RoboSim(seed=0)
    sim.go_to("Alice's office")
    assert "Alice's office" in sim.get_all_rooms() and sim.get_current_location() == "Alice's office"


def test_is_in_room_is_remembered_at_a_location():
    for seed in range(20):
        sim = RoboSim(seed)
        sim.go_to("kitchen")
        first = sim.is_in_room("cup")
        assert all(sim.is_in_room("Cup ") == first for _ in range(IS_IN_ROOM_PATIENCE - 1))  # same entity


def test_is_in_room_memory_is_dropped_after_patience_runs_out():
    # after 15 queries without leaving, the 16th re-draws: over many seeds some answers must change
    changed = 0
    for seed in range(40):
        sim = RoboSim(seed)
        answers = [sim.is_in_room("person") for _ in range(IS_IN_ROOM_PATIENCE + 1)]
        assert len(set(answers[:IS_IN_ROOM_PATIENCE])) == 1
        changed += answers[-1] != answers[0]
    assert 5 < changed < 35  # a fair coin, re-flipped


def test_wait_loops_end():
    # `while not is_in_room(...)` must terminate in every world thanks to the re-draw
    outcomes = simulate(
        program('go_to("lobby")\nwhile not is_in_room("Alice"):\n    pass\nsay("hi")'), n_runs=20
    )
    assert success_fraction(outcomes) == 1.0


def test_facts_stay_consistent_after_pick_and_place():
    sim = RoboSim(seed=1)
    sim.go_to("kitchen")
    sim.pick("cup")  # never asked about: assumed there
    assert sim.is_in_room("cup") is False  # it left with the robot
    sim.go_to("lab")
    sim.place("cup")
    assert sim.is_in_room("cup") is True


@pytest.mark.parametrize(
    "calls, error",
    [
        ([("go_to", "desk"), ("pick", "desk")], EntityTypeError),  # a place picked up as an object
        ([("pick", "cup"), ("place", "cup"), ("go_to", "cup")], EntityTypeError),  # an object visited
        ([("pick", "cup"), ("ask", "cup")], EntityTypeError),  # an object asked a question
        ([("pick", "cup"), ("pick", "pen")], PickError),  # the robot holds at most one object
        ([("place", "cup")], PlaceError),  # placing while holding nothing
        ([("pick", "cup"), ("place", "pen")], PlaceError),  # placing something other than what is held
        ([("say", 42)], SayError),  # a message must be a str
    ],
)
def test_infeasible_calls_raise_typed_robot_errors(calls, error):
    sim = RoboSim(seed=0)
    with pytest.raises(error):
        for name, arg in calls:
            if name == "ask":
                sim.ask(arg, "question?", ["yes", "no"])
            else:
                getattr(sim, name)(arg)


@pytest.mark.parametrize(
    "calls",
    [
        [("go_to", "Alice"), ("ask", "Alice")],  # a person may stand for a location and back
        [("ask", "Alice's office"), ("go_to", "Alice's office")],
        [("is_in_room", "Bob"), ("ask", "Bob")],  # object-or-person refined to person
        [("is_in_room", "cup"), ("go_to", "kitchen"), ("pick", "cup")],  # ... or to object
    ],
)
def test_compatible_kinds_are_allowed(calls):
    sim = RoboSim(seed=0)
    for name, arg in calls:
        if name == "ask":
            sim.present.clear()  # only the kinds are under test here, not presence
            sim.ask(arg, "question?", ["yes", "no"])
        else:
            getattr(sim, name)(arg)


def _seed_where_absent(entity: str) -> RoboSim:
    for seed in range(50):
        sim = RoboSim(seed)
        if not sim.is_in_room(entity):
            return sim
    raise AssertionError("no seed gave an absent entity")


def test_ask_someone_seen_absent_is_an_error():
    sim = _seed_where_absent("person")
    with pytest.raises(AskError):
        sim.ask("", "Are you there?", ["yes", "no"])  # "" means whoever is here: "person"


def test_pick_an_object_seen_absent_is_an_error():
    sim = _seed_where_absent("cup")
    with pytest.raises(PickError):
        sim.pick("cup")


@pytest.mark.parametrize(
    "question, options",
    [
        ("", ["yes"]),  # empty question
        ("Coffee?", []),  # no options
        ("Coffee?", "yes or no"),  # options must be a list
        ("Coffee?", ["yes", ""]),  # an empty option
        ("Coffee?", ["yes", 1]),  # a non-str option
    ],
)
def test_ask_arguments_are_checked(question, options):
    with pytest.raises(AskError):
        RoboSim(0).ask("Alice", question, options)


def test_ask_answers_with_one_of_the_options_and_marks_the_person_present():
    sim = RoboSim(0)
    assert sim.ask("Alice", "Tea?", ["yes", "no"]) in ("yes", "no")
    assert sim.is_in_room("Alice") is True


def test_runs_are_reproducible_per_seed_and_vary_across_runs():
    source = program('if is_in_room("cup"):\n    say("yes")\nelse:\n    say("no")')
    first = [o.trace for o in simulate(source, n_runs=8, seed=5)]
    again = [o.trace for o in simulate(source, n_runs=8, seed=5)]
    said = {t[-1].arg for t in first}
    assert first == again and said == {"yes", "no"}  # branches are randomised across runs


def test_reward_is_the_fraction_of_clean_runs():
    # picks a cup only if one is seen; places it only when holding it: some worlds fail the place
    source = program('go_to("kitchen")\nif is_in_room("cup"):\n    pick("cup")\nplace("cup")')
    outcomes = simulate(source, n_runs=20, seed=0)
    ok = [o.ok for o in outcomes]
    assert success_fraction(outcomes) == sum(ok) / 20 and 0 < sum(ok) < 20
    assert all(o.failure.error_type == "PlaceError" and o.failure.line == 5 for o in outcomes if not o.ok)


def test_robot_errors_share_one_base_class():
    assert all(
        issubclass(e, RobotError) for e in (AskError, EntityTypeError, PickError, PlaceError, SayError)
    )


def test_generated_training_tasks_are_feasible():
    # the kit's own robot tasks (the tiny policy's corpus) must pass RoboSim in every world
    for task in generate_robot_tasks(20, "train", seed=0):
        assert success_fraction(simulate(task.reference, n_runs=5, seed=1)) == 1.0, task.template
