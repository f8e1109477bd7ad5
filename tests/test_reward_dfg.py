"""Data-flow reward: CodeBLEU's data-flow match against the reference, spread over code tokens."""

from __future__ import annotations

import pytest
from test_spans import batch_of

from dense_rl.rewards.dfg import data_flow, dataflow_match, dfg_reward
from dense_rl.tasks.types import CodeTask

REFERENCE = "def total(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s\n"

MATCHES = [
    # identical programs
    (REFERENCE, REFERENCE, 1.0),
    # the same data flow under other names
    (REFERENCE.replace("s", "acc").replace("x", "item"), REFERENCE, 1.0),
    # comments and docstrings do not count
    (REFERENCE.replace("):\n", '):\n    """Sum."""\n', 1).replace("= 0", "= 0  # start"), REFERENCE, 1.0),
    # a different computation shares only part of the flow
    ("def total(xs):\n    return len(xs)\n", REFERENCE, None),
    # a reference without data flow: a candidate without any that compiles matches
    ("def one():\n    return 1\n", "def one():\n    return 1\n", 1.0),
    # ... a candidate that does not compile does not
    ("def one(:\n    return 1\n", "def one():\n    return 1\n", 0.0),
]


@pytest.mark.parametrize("candidate, reference, expected", MATCHES)
def test_dataflow_match(candidate, reference, expected):
    score = dataflow_match(candidate, reference)
    if expected is None:
        assert 0.0 < score < 1.0
    else:
        assert score == expected


def test_data_flow_is_deterministic_and_renaming_invariant():
    renamed = REFERENCE.replace("s", "acc").replace("x", "item")
    assert data_flow(REFERENCE) == data_flow(renamed) and len(data_flow(REFERENCE)) > 0


TASK = CodeTask("toy/1", "sum a list", "total", REFERENCE, ("assert total([1, 2]) == 3",))
ANSWERS = [
    # the reference itself, fenced: match 1 spread over the code tokens
    ("```python\n" + REFERENCE + "```", 1.0),
    # no code
    ("Sorry.", 0.0),
    # empty response
    ("", 0.0),
    # truncated code is parsed leniently by tree-sitter: some flow matches, never more than all
    ("```python\ndef total(xs):\n    s = 0\n    for x in", None),
]


@pytest.mark.parametrize("text, total", ANSWERS)
def test_dfg_reward_totals_the_match(text, total):
    out = dfg_reward(batch_of(text), [TASK])
    assert out.per_token.sum().item() == pytest.approx(out.summary["dfg_match"][0])
    if total is not None:
        assert out.summary["dfg_match"] == [total]
    else:
        assert 0.0 <= out.summary["dfg_match"][0] < 1.0


def test_dfg_reward_needs_one_task_per_sample():
    with pytest.raises(ValueError, match="dfg_reward"):
        dfg_reward(batch_of("x"), [TASK, TASK])
