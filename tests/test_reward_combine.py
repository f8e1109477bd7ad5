"""Combining components: weights, dense vs sparse placement, KL, length normalisation, bad weights."""

from __future__ import annotations

import math

import pytest
import torch
from test_spans import batch_of

from dense_rl.batch import RewardOutput
from dense_rl.rewards.combine import combine, last_token_index
from dense_rl.rewards.lint import lint_reward
from dense_rl.rewards.syntax import syntax_reward

MASK = torch.tensor([[True, True, True, False], [True, True, False, False], [False, False, False, False]])
SYNTAX = RewardOutput(
    torch.tensor([[1.0, 1.0, -1.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0] * 4]), {"ok": [0.0, 1, 0]}
)
TESTS = RewardOutput(torch.tensor([[0.2, 0.2, 0.2, 0.0], [0.5, 0.5, 0.0, 0.0], [0.0] * 4]))
KL = torch.tensor([[0.1, 0.0, 0.3, 9.0], [0.2, 0.2, 9.0, 9.0], [9.0] * 4])
WEIGHTS = {"syntax": 0.1, "tests": 0.7}


@pytest.mark.parametrize(
    "length_normalise",
    [
        # raw sums (the paper)
        False,
        # divided by each sample's response length
        True,
    ],
)
def test_dense_and_sparse_give_the_same_total_per_sample(length_normalise):
    kwargs = dict(mask=MASK, kl=KL, kl_coef=0.1, length_normalise=length_normalise)
    dense = combine({"syntax": SYNTAX, "tests": TESTS}, WEIGHTS, mode="dense", **kwargs)
    sparse = combine({"syntax": SYNTAX, "tests": TESTS}, WEIGHTS, mode="sparse", **kwargs)
    assert torch.allclose(dense.per_token.sum(dim=1), sparse.per_token.sum(dim=1))
    assert dense.summary["reward_total"] == pytest.approx(sparse.summary["reward_total"])


def test_sparse_puts_the_task_reward_on_the_last_token_and_keeps_kl_per_token():
    out = combine({"syntax": SYNTAX, "tests": TESTS}, WEIGHTS, mask=MASK, kl=KL, kl_coef=0.1, mode="sparse")
    # sample 0: task total 0.1*(1+1-1) + 0.7*0.6 = 0.52 on token 2; KL -0.1*KL elsewhere
    expected = torch.tensor([[-0.01, 0.0, 0.52 - 0.03, 0.0], [-0.02, 0.1 * 2 + 0.7 + -0.02, 0, 0], [0.0] * 4])
    assert torch.allclose(out.per_token, expected, atol=1e-6)


def test_dense_is_the_weighted_sum_minus_kl():
    out = combine({"syntax": SYNTAX, "tests": TESTS}, WEIGHTS, mask=MASK, kl=KL, kl_coef=0.1, mode="dense")
    expected = (0.1 * SYNTAX.per_token + 0.7 * TESTS.per_token - 0.1 * KL) * MASK
    assert torch.allclose(out.per_token, expected)


def test_padding_and_empty_responses_get_nothing():
    out = combine({"syntax": SYNTAX}, WEIGHTS, mask=MASK, kl=KL, kl_coef=0.5, mode="sparse")
    assert out.per_token[~MASK].eq(0).all()


def test_summary_keeps_component_summaries_and_adds_totals():
    out = combine({"syntax": SYNTAX, "tests": TESTS}, WEIGHTS, mask=MASK, kl=KL, kl_coef=0.1)
    assert out.summary["ok"] == [0.0, 1, 0]
    assert out.summary["reward_tests"] == pytest.approx([0.42, 0.7, 0.0])
    assert out.summary["kl"] == pytest.approx([0.4, 0.4, 0.0])


def test_same_total_on_real_components():
    batch = batch_of("```python\ndef f(x=[]):\n    return x == None\n```", "```python\nx = = 1\n```", "")
    parts = {"syntax": syntax_reward(batch), "lint": lint_reward(batch)}
    weights = {"syntax": 0.1, "lint": 0.1}
    totals = [
        combine(parts, weights, mask=batch.response_mask, mode=mode).per_token.sum(dim=1)
        for mode in ("dense", "sparse")
    ]
    assert torch.allclose(*totals)


@pytest.mark.parametrize(
    "weights, kl_coef, match",
    [
        # a negative weight
        ({"syntax": -0.1, "tests": 0.7}, 0.1, "syntax"),
        # NaN
        ({"syntax": math.nan, "tests": 0.7}, 0.1, "syntax"),
        # infinite
        ({"syntax": math.inf, "tests": 0.7}, 0.1, "syntax=inf"),
        # not a number at all
        ({"syntax": "0.1", "tests": 0.7}, 0.1, "syntax='0.1'"),
        # the message says how to fix it
        ({"syntax": -1.0, "tests": 0.7}, 0.1, "set it to 0 to switch that term off"),
        # a negative KL coefficient
        (WEIGHTS, -1.0, "kl_coef"),
        # a component without a weight
        ({"syntax": 0.1}, 0.1, "no weight"),
    ],
)
def test_bad_weights_raise(weights, kl_coef, match):
    with pytest.raises(ValueError, match=match):
        combine({"syntax": SYNTAX, "tests": TESTS}, weights, mask=MASK, kl=KL, kl_coef=kl_coef)


def test_unknown_mode_raises():
    with pytest.raises(ValueError, match="mode"):
        combine({"syntax": SYNTAX}, WEIGHTS, mask=MASK, mode="medium")


def test_last_token_index():
    assert last_token_index(MASK).tolist() == [2, 1, 0]


def test_nan_and_inf_on_padding_do_not_leak():
    # the reference's log-probs on padding are whatever the model said there; they must not reach r_t
    kl = KL.clone()
    kl[~MASK] = float("nan")
    parts = {"syntax": RewardOutput(torch.where(MASK, SYNTAX.per_token, torch.tensor(float("inf"))))}
    out = combine(parts, WEIGHTS, mask=MASK, kl=kl, kl_coef=0.1, mode="sparse")
    assert torch.isfinite(out.per_token).all() and all(map(math.isfinite, out.summary["reward_total"]))


# ---- group baseline: each answer's total becomes R_i - mean of its prompt's answers ----

GROUP_MASK = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 0]], dtype=torch.bool)
GROUP_TESTS = RewardOutput(torch.tensor([[0.5, 0.5, 0], [0.0, 0.0, 0.0], [2.0, 0, 0], [1.0, 1.0, 0]]))


@pytest.mark.parametrize(
    "groups, centred",
    [
        # two prompts, two answers each: totals 1, 0 | 2, 2 -> 0.5, -0.5 | 0, 0 (a tie carries no signal)
        ([0, 0, 1, 1], [0.5, -0.5, 0.0, 0.0]),
        # one prompt for all four: mean 1.25
        ([0, 0, 0, 0], [-0.25, -1.25, 0.75, 0.75]),
        # every answer its own prompt: nothing is left
        ([0, 1, 2, 3], [0.0, 0.0, 0.0, 0.0]),
    ],
)
@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_group_baseline_centres_each_total_on_its_group(groups, centred, mode):
    out = combine(
        {"tests": GROUP_TESTS}, {"tests": 1.0}, mask=GROUP_MASK, mode=mode, groups=torch.tensor(groups)
    )
    assert out.per_token.sum(dim=1).tolist() == pytest.approx(centred)
    assert out.summary["reward_task"] == pytest.approx([1.0, 0.0, 2.0, 2.0])  # logged before the baseline
    assert out.per_token[~GROUP_MASK].eq(0).all()


def test_group_baseline_keeps_dense_placement_and_spreads_the_mean_evenly():
    out = combine({"tests": GROUP_TESTS}, {"tests": 1.0}, mask=GROUP_MASK, groups=torch.tensor([0, 0, 1, 1]))
    # answer 1 had 0 on each of its 3 tokens; its group mean 0.5 comes off evenly: -1/6 each
    assert out.per_token[1].tolist() == pytest.approx([-1 / 6] * 3)
    # answer 0 keeps its shape (0.5, 0.5) shifted by -0.25 per token
    assert out.per_token[0, :2].tolist() == pytest.approx([0.25, 0.25])


def test_group_baseline_leaves_the_kl_alone():
    kl = torch.ones(GROUP_MASK.shape)
    out = combine(
        {"tests": GROUP_TESTS}, {"tests": 1.0}, mask=GROUP_MASK, kl=kl, kl_coef=0.1, groups=torch.zeros(4)
    )
    expected = [-0.25 - 0.2, -1.25 - 0.3, 0.75 - 0.1, 0.75 - 0.2]  # centred totals minus 0.1 x length
    assert out.per_token.sum(dim=1).tolist() == pytest.approx(expected)


def test_groups_of_the_wrong_shape_raise():
    with pytest.raises(ValueError, match="one id per row"):
        combine({"tests": GROUP_TESTS}, {"tests": 1.0}, mask=GROUP_MASK, groups=torch.tensor([0, 0, 1]))
