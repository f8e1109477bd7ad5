"""The dense robot reward: success spread over code tokens, failures on the line that raised them."""

from __future__ import annotations

import pytest
import torch

from dense_rl.batch import RolloutBatch
from dense_rl.robot.api import RunOutcome
from dense_rl.robot.reward import dense_rewards, line_penalties, robot_reward, run_summary
from dense_rl.robot.trace import Failure


def outcome(category: str | None = None, line: int | None = None) -> RunOutcome:
    return RunOutcome(None if category is None else Failure(category, "X", "", line))


@pytest.mark.parametrize(
    "outcomes, expected",
    [
        ([outcome(), outcome()], {}),  # clean runs put no penalty anywhere
        ([outcome("robot", 3), outcome(), outcome("robot", 3), outcome("python", 5)], {3: 0.5, 5: 0.25}),
        ([outcome("python", None), outcome()], {None: 0.5}),  # a failure without a line
    ],
)
def test_line_penalties_are_fractions_of_runs(outcomes, expected):
    assert line_penalties(outcomes) == expected


@pytest.mark.parametrize(
    "n, code, success, lines, penalties, expected",
    [
        (4, [1, 2], 1.0, {}, {}, [0.0, 0.5, 0.5, 0.0]),  # success spread over code; prose gets 0
        (4, [0, 1, 2, 3], 0.5, {2: [1, 2]}, {2: 0.5}, [0.125, -0.125, -0.125, 0.125]),  # failing line
        (3, [0, 1, 2], 0.0, {}, {None: 0.6}, [-0.2, -0.2, -0.2]),  # no line: spread over the whole program
        (3, [0, 1, 2], 0.0, {7: []}, {7: 0.3}, [-0.1, -0.1, -0.1]),  # a line no token wrote: same
    ],
)
def test_dense_rewards(n, code, success, lines, penalties, expected):
    assert dense_rewards(n, code, success, lines, penalties) == pytest.approx(expected)


def test_run_summary_counts_categories():
    summary = run_summary([outcome(), outcome("robot", 2), outcome("timeout", 2), outcome()])
    assert summary == {
        "sim_success": 0.5,
        "sim_robot_errors": 0.25,
        "sim_python_errors": 0.0,
        "sim_timeouts": 0.25,
        "has_program": 1.0,
    }


# --- on a batch, through the sandbox ------------------------------------------------------------------------
def word_batch(responses: list[str], pad: int = 2) -> RolloutBatch:
    """A batch whose 'tokens' are whitespace-separated pieces (enough to test attribution)."""
    import re

    spans = [[m.span() for m in re.finditer(r"\S+\s*|\s+", text)] for text in responses]
    width = max(len(s) for s in spans) + pad
    mask = torch.zeros((len(responses), width), dtype=torch.bool)
    for i, s in enumerate(spans):
        mask[i, : len(s)] = True
    ids = torch.zeros((len(responses), width), dtype=torch.long)
    return RolloutBatch([""] * len(responses), [[]] * len(responses), ids, mask, responses, spans)


GOOD = 'Here you go:\n```python\ndef task_program():\n    go_to("kitchen")\n    say("hello")\n```\nDone.'
BAD_LINE_3 = 'Sure.\n```python\ndef task_program():\n    go_to("kitchen")\n    place("cup")\n```'
NO_PROGRAM = "I cannot do that."


def tokens_of(batch: RolloutBatch, row: int, text: str) -> list[int]:
    start = batch.responses[row].index(text)
    return [i for i, (s, e) in enumerate(batch.token_spans[row]) if s < start + len(text) and e > start]


def test_robot_reward_on_a_batch():
    batch = word_batch([GOOD, BAD_LINE_3, NO_PROGRAM])
    out = robot_reward(batch, None, n_runs=3, seed=0)
    rewards = out.per_token
    assert rewards.shape == batch.response_mask.shape
    # a clean program: +1 in total, all on code tokens; prose and padding get 0
    assert rewards[0].sum().item() == pytest.approx(1.0)
    assert rewards[0, tokens_of(batch, 0, "Here you go:")].abs().sum() == 0
    assert rewards[0, ~batch.response_mask[0]].abs().sum() == 0
    # place while holding nothing fails every run, on line 3 of the program: -1 on that line's tokens
    line = tokens_of(batch, 1, 'place("cup")')
    assert rewards[1, line].sum().item() == pytest.approx(-1.0)
    assert rewards[1].sum().item() == pytest.approx(-1.0)
    # no program: -1 on its last token, as bad as a program that fails every run
    assert rewards[2].sum().item() == pytest.approx(-1.0)
    assert out.summary["sim_success"] == [1.0, 0.0, 0.0]
    assert out.summary["sim_robot_errors"] == [0.0, 1.0, 0.0]
    assert out.summary["has_program"] == [1.0, 1.0, 0.0]


def test_robot_reward_with_a_real_tokenizer(byte_bpe):
    # token spans from an actual byte-level BPE (the kind the tiny policy uses)
    ids = byte_bpe(BAD_LINE_3, add_special_tokens=False)["input_ids"]
    batch = RolloutBatch.from_ids(byte_bpe, ["p"], [[0]], [ids])
    rewards = robot_reward(batch, None, n_runs=2, seed=1).per_token[0]
    start = BAD_LINE_3.index('place("cup")')
    on_line = [i for i, (s, e) in enumerate(batch.token_spans[0]) if s < start + 12 and e > start]
    assert rewards[on_line].sum().item() == pytest.approx(-1.0) and rewards.sum().item() == pytest.approx(
        -1.0
    )


def test_tasks_must_match_the_batch():
    with pytest.raises(ValueError, match="1 responses but 2 tasks"):
        robot_reward(word_batch([GOOD]), [None, None])


@pytest.fixture(scope="module")
def byte_bpe():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([GOOD, BAD_LINE_3, NO_PROGRAM] * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>")


def test_heatmap_is_written(tmp_path):
    from dense_rl.heatmap import token_heatmap

    batch = word_batch([BAD_LINE_3 + "\n$x$ \x01"])  # '$' is not mathtext, control characters are drawn
    token_heatmap(
        batch.responses[0], batch.token_spans[0], [0.1, -0.2] * 20, title="t", out_png=tmp_path / "h.png"
    )
    assert (tmp_path / "h.png").stat().st_size > 1000
