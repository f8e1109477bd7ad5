"""Lint reward: each Ruff diagnostic lands on exactly the tokens of what it points at."""

from __future__ import annotations

import subprocess

import pytest
from test_spans import batch_of

from dense_rl.rewards.lint import LINT_WEIGHTS, category, lint_reward, ruff_diagnostics


def fenced(code: str) -> str:
    return f"Here:\n```python\n{code}\n```\nThat is all."


def flagged_text(code: str, weights: dict[str, float] | None = None) -> str:
    """The text of the tokens the lint reward penalised, joined."""
    batch = batch_of(fenced(code))
    rewards = lint_reward(batch, weights=weights).per_token[0]
    spans = [batch.token_spans[0][i] for i in (rewards < 0).nonzero().flatten().tolist()]
    return "".join(batch.responses[0][s:e] for s, e in spans)


EXACT = [
    # F821 undefined name: only the name
    ("def f(x):\n    return x + undefined_thing", "F821", "undefined_thing"),
    # E711 comparison to None: Ruff points at the None
    ("def f(x):\n    return x == None", "E711", "None"),
    # S307 eval: the whole call
    ("def f(s):\n    return eval(s)", "S307", "eval(s)"),
    # B006 mutable default: the default's brackets
    ("def f(x=[]):\n    return x", "B006", "[]"),
]


@pytest.mark.parametrize("code, rule, expression", EXACT)
def test_rules_land_on_exactly_the_offending_tokens(code, rule, expression):
    [found] = ruff_diagnostics([code])
    assert [d.code for d in found] == [rule]
    assert code[found[0].start : found[0].end] == expression
    assert flagged_text(code).strip() == expression


@pytest.mark.parametrize(
    "code, expected",
    [
        # pyflakes undefined name: a likely bug
        ("F821", "bug"),
        # bugbear
        ("B006", "bug"),
        # comparison to None
        ("E711", "bug"),
        # bandit
        ("S307", "security"),
        # unused import is style
        ("F401", "style"),
        # line too long
        ("E501", "style"),
        # several statements on one line is style, though it is an E7 code
        ("E702", "style"),
        # Ruff's own syntax-error code
        ("invalid-syntax", "syntax"),
    ],
)
def test_categories(code, expected):
    assert category(code) == expected


def test_category_weights_scale_the_penalty():
    code = "def f(s):\n    return eval(s)"
    batch = batch_of(fenced(code))
    half = lint_reward(batch, weights={"security": 0.5}).per_token
    full = lint_reward(batch).per_token
    assert half.sum().item() == pytest.approx(0.5 * full.sum().item())


def test_overlapping_diagnostics_add_up():
    # F821 and S307 both cover `undefined_name`
    batch = batch_of(fenced("def f():\n    return eval(undefined_name)"))
    assert lint_reward(batch).per_token.min().item() == -2.0


def test_one_ruff_process_for_the_whole_batch(monkeypatch):
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    out = lint_reward(batch_of(*[fenced(f"x{i} = undefined_{i}") for i in range(8)]))
    assert len(calls) == 1 and out.summary["lint_bug"] == [1.0] * 8


BAD_INPUTS = [
    # empty response: nothing to lint
    ("", 0.0),
    # prose only
    ("No code today.", 0.0),
    # a syntax error: counted, but weighted 0 by default (the syntax reward owns it)
    (fenced("x = = 1"), 0.0),
    # truncated code
    ("```python\ndef f(x):\n    return (x +", 0.0),
    # non-ASCII: columns are characters; E702 lands on the `;` token (style), F821 on the `y` token (bug)
    (fenced("s = 'é✓雪'; t = y"), -LINT_WEIGHTS["bug"] - LINT_WEIGHTS["style"]),
]


@pytest.mark.parametrize("text, total", BAD_INPUTS)
def test_bad_inputs_get_defined_rewards(text, total):
    out = lint_reward(batch_of(text))
    assert out.per_token.sum().item() == pytest.approx(total)


def test_non_ascii_lands_on_the_right_characters():
    assert flagged_text("s = 'é✓雪'; t = y", weights={"style": 0.0}).strip() == "y"


def test_syntax_errors_are_reported_under_their_own_category():
    out = lint_reward(batch_of(fenced("x = = 1")), weights={"syntax": 1.0})
    assert out.summary["lint_syntax"] == [1.0] and out.per_token.sum().item() < 0


def test_unknown_weight_category_raises():
    with pytest.raises(ValueError, match="unknown categories"):
        lint_reward(batch_of("x"), weights={"typos": 1.0})


def test_line_granularity_penalises_the_whole_line_as_the_paper_does():
    code = "def f(x):\n    return x + undefined_thing\n"
    batch = batch_of(fenced(code))
    line = lint_reward(batch, granularity="line").per_token[0]
    span = lint_reward(batch).per_token[0]
    penalised = "".join(
        batch.responses[0][s:e] for (s, e), r in zip(batch.token_spans[0], line, strict=True) if r < 0
    )
    assert penalised.strip() == "return x + undefined_thing" and (span < 0).sum() < (line < 0).sum()


ROBOT_PROGRAM = 'def task_program():\n    go_to("lab")\n    if is_in_room("cup"):\n        say(mesage)\n'


@pytest.mark.parametrize(
    "builtins, undefined",
    [
        ((), ["go_to", "is_in_room", "say", "mesage"]),  # every API call read as a likely bug
        (("go_to", "is_in_room", "say"), ["mesage"]),  # the API declared: only the real typo is left
    ],
)
def test_names_the_runtime_defines_are_not_undefined(builtins, undefined):
    found = ruff_diagnostics([ROBOT_PROGRAM], builtins=builtins)[0]
    assert [ROBOT_PROGRAM[d.start : d.end] for d in found if d.code == "F821"] == undefined


def test_the_robot_reward_run_declares_the_robot_api():
    # what a training run passes for robot programs: no reference program of the 30 templates has a likely
    # bug (a long line, style, is all that is left)
    from dense_rl.robot.api import PROGRAM_GLOBALS
    from dense_rl.tasks.robot_tasks import generate_robot_tasks

    references = [t.reference for t in generate_robot_tasks(30, "heldout", 0)]
    found = [d for ds in ruff_diagnostics(references, builtins=PROGRAM_GLOBALS) for d in ds]
    assert {category(d.code) for d in found} <= {"style"}
