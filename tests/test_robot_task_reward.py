"""The check-based task reward for generated robot tasks (dense_rl.robot.task_reward): totals that a trivial
program cannot game, and where on the program the credit and the blame land.

    .venv/bin/python -m pytest tests/test_robot_task_reward.py -q
"""

from __future__ import annotations

import pytest
from test_spans import batch_of

from dense_rl.config import get_preset
from dense_rl.robot.reward import robot_reward, run_responses
from dense_rl.robot.task_checks import Check
from dense_rl.robot.task_reward import NO_PROGRAM, task_reward, world_blame, world_credit
from dense_rl.tasks.robot_tasks import template_named
from dense_rl.tasks.types import RobotTask

ENTITIES = dict(
    room="kitchen", room2="garage", room3="library", obj="cup", obj2="pen", p1="ava", p2="ben", p3="carl",
    a="tea", b="coffee", c="juice", item="cake", msg="lunch is ready",
)  # fmt: skip


def task(template: str) -> RobotTask:
    t = template_named(template)
    return RobotTask(
        "t", t.instructions[0].format(**ENTITIES), t.program.format(**ENTITIES), template, ENTITIES
    )


def fenced(body: str) -> str:
    lines = "".join(f"    {line}\n" for line in body.strip().splitlines())
    return f"```python\ndef task_program():\n{lines}```"


# (program, template, description) -- hand-made answers to one instruction, from right to wrong
PROGRAMS = {
    "go_say_return": [
        ('s = get_current_location()\ngo_to("kitchen")\nsay("lunch is ready")\ngo_to(s)', "right"),
        ('go_to("kitchen")\nsay("lunch is ready")', "forgets to come back"),
        ('go_to("garage")\nsay("lunch is ready")', "wrong room, no return"),
        ('say("workshop")', "says something, does nothing"),
    ],
    "count_rooms": [
        (
            'n = 0\nfor r in get_all_rooms():\n    go_to(r)\n    if is_in_room("cup"):\n        n += 1\n'
            'go_to("start_loc")\nsay(str(n))',
            "right",
        ),
        (
            'for r in get_all_rooms():\n    go_to(r)\n    is_in_room("cup")\ngo_to("start_loc")\nsay("7")',
            "wrong count",
        ),
        ('say("workshop")', "says something, does nothing"),
    ],
}


@pytest.fixture(scope="module")
def scored():
    """Task and simulator reward totals of every hand-made program, one sandboxed batch."""
    rows = [(name, body, what) for name, programs in PROGRAMS.items() for body, what in programs]
    batch = batch_of(*(fenced(body) for _, body, _ in rows))
    tasks = [task(name) for name, _, _ in rows]
    runs = run_responses(batch.responses, n_runs=5, seed=0)
    task_totals = task_reward(batch, tasks, n_runs=5, seed=0, runs=runs).per_token.sum(1).tolist()
    sim_totals = robot_reward(batch, tasks, n_runs=5, seed=0, runs=runs).per_token.sum(1).tolist()
    return {(name, what): (t, s) for (name, _, what), t, s in zip(rows, task_totals, sim_totals, strict=True)}


@pytest.mark.parametrize("template", list(PROGRAMS))
def test_task_reward_ranks_right_above_partial_above_trivial(template, scored):
    totals = [scored[(template, what)][0] for _, what in PROGRAMS[template]]
    assert totals[0] == pytest.approx(1.0, abs=1e-4)  # right everywhere: +1
    assert totals == sorted(totals, reverse=True), totals  # each program in the table is worse than the last
    assert totals[-1] <= -0.75  # the trivial program is punished


@pytest.mark.parametrize("preset, trivial_wins", [("tiny-robot", False), ("tiny-robot-paper", True)])
def test_combined_reward_of_the_trivial_program(preset, trivial_wins, scored):
    # the paper's reward (simulator alone) pays a lone say() as much as the right program; the kit's does not
    cfg = get_preset(preset)
    for template in PROGRAMS:
        right = scored[(template, "right")]
        trivial = scored[(template, "says something, does nothing")]
        total = {k: cfg.w_task * t + cfg.w_sim * s for k, (t, s) in (("right", right), ("trivial", trivial))}
        assert (total["trivial"] >= total["right"]) is trivial_wins
        if not trivial_wins:
            assert total["right"] - total["trivial"] >= 1.0  # clearly worse, not by a hair


def test_blame_lands_on_the_line_that_went_wrong():
    # right room, comes back, wrong message: the say() line (program line 4) carries the negative reward, the
    # other lines share the credit of the one check passed (0.5 * 1/2), the say line its blame (-1/2)
    text = fenced('s = get_current_location()\ngo_to("kitchen")\nsay("good night")\ngo_to(s)')
    batch = batch_of(text)
    rewards = task_reward(batch, [task("go_say_return")], n_runs=3, seed=0).per_token[0].tolist()
    start, end = text.index("def task_program"), text.rindex("```")
    by_line: dict[int, float] = {}
    for r, span in zip(rewards, batch.token_spans[0], strict=False):
        if span[0] >= start and span[1] <= end:
            line = text[start : span[0]].count("\n") + 1
            by_line[line] = by_line.get(line, 0.0) + r
    assert by_line[4] < 0, by_line  # the say line is blamed
    assert all(by_line[line] > 0 for line in (2, 3, 5)), by_line  # the rest is only credited
    assert sum(rewards) == pytest.approx(0.25 - 0.5, abs=1e-4)


def test_a_response_without_a_program_scores_below_the_worst_program():
    batch = batch_of("I would rather not.")
    out = task_reward(batch, [task("go_say")], n_runs=2, seed=0)
    last = int(batch.response_mask[0].sum()) - 1
    assert out.per_token[0, last] == NO_PROGRAM and out.per_token[0].sum() == NO_PROGRAM
    assert NO_PROGRAM < -1.0  # a program's task reward is never below -1: giving up must never pay
    assert out.summary["task_success"] == [0.0]


@pytest.mark.parametrize(
    "per_world, credit, blame",
    [
        ([[Check("a", True)], [Check("a", True)]], 1.0, {}),  # all passed everywhere
        ([[Check("a", True), Check("b", False, 4)]], 0.25, {4: 0.5}),  # half passed: half credit of a half
        ([[Check("a", False, None)], [Check("a", True)]], 0.5, {None: 0.5}),  # one world of two failed
    ],
)
def test_world_credit_and_blame(per_world, credit, blame):
    assert world_credit(per_world) == pytest.approx(credit)
    assert world_blame(per_world) == pytest.approx(blame)


def test_task_reward_needs_one_task_per_response():
    with pytest.raises(ValueError, match="one each"):
        task_reward(batch_of("x"), [])


def test_heldout_metrics_of_hand_made_answers():
    from dense_rl.evaluate import robot_heldout, robot_metrics

    t = task("go_say_return")
    answers = [
        f"```python\n{t.reference}```",
        fenced('say("workshop")'),
        fenced('say("workshop")'),
        "no code",
    ]
    records = robot_heldout([t] * 4, answers, n_worlds=3, seed=0)
    assert [r["kind"] for r in records] == ["pass", "wrong", "wrong", "no_code"]
    metrics = robot_metrics(records)
    assert metrics["task_success"] == 0.25 and metrics["error_free"] == 0.75
    assert metrics["distinct_programs"] == 2  # the two trivial answers are one program
    assert metrics["api_calls_per_program"] == (4 + 1 + 1 + 0) / 4  # get_current_location, go_to, say, go_to


def test_a_task_without_checks_gets_no_task_reward():
    # a Robo-Instruct row (or any task not from the kit's templates) has nothing to check: zero, not -1
    batch = batch_of(fenced('go_to("kitchen")\nsay("hi")'))
    row = RobotTask("robo-instruct/0", "Go to the kitchen and say hi.", "", "robo-instruct")
    out = task_reward(batch, [row], n_runs=1)
    assert out.per_token.abs().sum() == 0 and out.summary["task_success"] == [0.0]


@pytest.mark.parametrize("template", list(PROGRAMS))
def test_a_training_step_pays_the_right_program_more_than_an_empty_one(template):
    # the whole reward path of a tiny-robot step (syntax, lint, simulator, checks). Before the robot API was
    # declared to Ruff, each call cost -1 of lint, and a run learned to answer with an empty program (LOG.md)
    from dense_rl.rewards.combine import combine, config_weights
    from dense_rl.train import reward_components

    cfg = get_preset("tiny-robot")
    right = PROGRAMS[template][0][0]
    batch = batch_of(fenced(right), fenced("pass"))
    parts = reward_components(cfg, batch, [task(template)] * 2)
    assert parts["lint"].per_token[0].sum() == 0  # the right program has nothing to lint
    total = combine(parts, config_weights(cfg), mask=batch.response_mask).per_token.sum(1)
    assert total[0] > total[1] + 1.0


def test_a_missing_action_is_blamed_on_the_end_not_on_the_lines_that_were_right():
    # right room, right message, never comes back: every program token keeps its credit, and the blame of the
    # failed "ends at the start" check sits on the last response token, the decision to stop. Blamed on the
    # last line instead (the say), it taught a run to drop that line, then the next (LOG.md)
    text = fenced('go_to("kitchen")\nsay("lunch is ready")')
    batch = batch_of(text)
    rewards = task_reward(batch, [task("go_say_return")], n_runs=3, seed=0).per_token[0]
    last = int(batch.response_mask[0].sum()) - 1
    assert (rewards[:last] >= 0).all() and rewards[:last].sum() > 0
    assert rewards[last] < 0


@pytest.mark.parametrize(
    "instruction, program, expected",
    [
        (
            "Announce 'good morning' in the \"dinner room\".",
            'go_to("dinner room")\nsay("good morning")',
            [2, 2],
        ),
        ("Announce 'good morning' in the \"dinner room\".", 'go_to("dinner room")\nsay("welcome")', [1, 2]),
        ("Announce 'good morning' in the \"dinner room\".", "go_to('dinner room')", [1, 2]),  # either quote
        (
            'Visit "dan"\'s office and ask "dan" for "tea" or "cake".',
            'ask("dan", "?", ["tea", "cake"])',
            [3, 3],
        ),
        (
            "Count how many rooms have someone in them.",
            "say(str(len(get_all_rooms())))",
            [0, 0],
        ),  # none quoted
        ("Say 'hi' in the \"kitchen\".", 'say("hi there")\ngo_to("kitchen area")', [0, 2]),  # not the literal
    ],
)
def test_names_copied_counts_the_instructions_quoted_names_found_as_literals(instruction, program, expected):
    from dense_rl.evaluate import names_copied

    assert names_copied(instruction, program) == expected


def test_robot_metrics_report_the_share_of_names_copied_when_records_have_it():
    from dense_rl.evaluate import robot_metrics

    records = [dict(kind="pass", solution="say('a')", names_copied=[2, 2]), dict(kind="wrong", solution="")]
    assert "names_copied" not in robot_metrics(records)  # a record from before the field: no share at all
    records[1]["names_copied"] = [0, 2]
    assert robot_metrics(records)["names_copied"] == 0.5


@pytest.mark.parametrize(
    "programs, expected",
    [
        (['say("welcome")'], {"welcome": 1}),  # one literal message
        (['say("hi")\nsay("hi")', "say('hi')"], {"hi": 3}),  # both quote styles, across programs
        (['say(msg)\nsay("a" + name)'], {"a": 1}),  # a variable: nothing literal; a concatenation: its start
        (['go_to("kitchen")\nassay("x")'], {}),  # other calls, and names that only end in "say"
        ([' say( "spaced" )'], {"spaced": 1}),  # blanks inside the call
    ],
)
def test_said_messages_counts_literal_messages(programs, expected):
    from dense_rl.evaluate import said_messages

    assert dict(said_messages(programs)) == expected
