"""The kit's sparse reward is TRL 0.20.0's PPO reward placement, up to one documented position.

TRL's PPOTrainer (trl/trainer/ppo_trainer.py, PPOTrainer.train, "4. compute rewards") builds
    r_t = -kl_coef * KL_t on every response token, plus one scalar score per sample at `actual_end`,
and `combine(..., mode="sparse")` builds r_t = -kl_coef * KL_t plus the sample's total non-KL reward on its
last response token. The single difference: TRL's `actual_end` is the last response token + 1 (the first
padding position, a known TRL quirk) whenever the row has room after its response, and the last token only
for rows that fill the whole width; the kit always uses the last response token. Every comparison below
moves TRL's score back by that one position first, and the per-sample totals are compared without any move.

Two routes to TRL's tensor: its inline lines reproduced here (fast, float64 batches of chosen lengths), and
one real PPOTrainer step on a shrunken tiny policy whose rewards tensor is read from the trainer (slow).
"""

from __future__ import annotations

import inspect

import pytest
import torch
from trl.trainer.ppo_trainer import INVALID_LOGPROB
from trl.trainer.utils import first_true_indices

from dense_rl import ppo
from dense_rl.batch import RewardOutput
from dense_rl.rewards.combine import combine

KL_COEF = 0.05
PAD = 0
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
# TRL indexes with a list of tensors, which torch 2.x warns about; the line is reproduced verbatim
TRL_INDEXING_WARNING = "ignore:Using a non-tuple sequence for multidimensional indexing"

# Response lengths and width of a right-padded batch. Each case has a comment on why it is there.
CASES = [
    ([3, 6, 1, 8], 8),  # short rows (TRL's score lands on the first pad), a one-token row, a full row
    ([8, 8], 8),  # no padding: TRL has no room after the response, so it uses the last token too
    ([7, 2, 5], 8),  # a row ending one before the width: TRL's score lands on the very last column
]


# --- TRL's lines and the kit's combine on the same tensors --------------------------------------------------


def trl_sequence_lengths(lengths: list[int], width: int) -> torch.Tensor:
    """Index of each row's last response token, as TRL computes it from a padded response (line 464)."""
    postprocessed_response = torch.where(torch.arange(width) < torch.tensor(lengths)[:, None], 7, PAD)
    return first_true_indices(postprocessed_response == PAD) - 1


def trl_rewards(logprobs, ref_logprobs, scores, sequence_lengths, kl_estimator: str) -> torch.Tensor:
    """trl/trainer/ppo_trainer.py lines 499-503 and 505-516 of TRL 0.20.0, verbatim but for `args.` and
    the `responses` tensor (only its shape is used there)."""
    responses = logprobs
    response_idxs = torch.arange(responses.shape[1], device=responses.device).repeat(responses.shape[0], 1)
    padding_mask = response_idxs > sequence_lengths.unsqueeze(1)
    logprobs = torch.masked_fill(logprobs, padding_mask, INVALID_LOGPROB)
    ref_logprobs = torch.masked_fill(ref_logprobs, padding_mask, INVALID_LOGPROB)
    sequence_lengths_p1 = sequence_lengths + 1
    # 4. compute rewards
    logr = ref_logprobs - logprobs
    kl = -logr if kl_estimator == "k1" else (logr.exp() - 1) - logr  # Else statement is k3
    non_score_reward = -KL_COEF * kl
    rewards = non_score_reward.clone()
    actual_start = torch.arange(rewards.size(0), device=rewards.device)
    actual_end = torch.where(sequence_lengths_p1 < rewards.size(1), sequence_lengths_p1, sequence_lengths)
    rewards[[actual_start, actual_end]] += scores
    return rewards


def move_score_back(rewards, scores, sequence_lengths) -> torch.Tensor:
    """TRL's rewards with the score taken off the first padding position and put on the last response token,
    in the rows where TRL had room to put it after the response (the one documented difference)."""
    after = sequence_lengths + 1 < rewards.shape[1]
    rows, last = torch.arange(len(scores))[after], sequence_lengths[after]
    moved = rewards.clone()
    moved[rows, last + 1] -= scores[after]
    moved[rows, last] += scores[after]
    return moved


def kit_rewards(logprobs, ref_logprobs, scores, mask, kl_estimator: str, mode: str) -> torch.Tensor:
    """`combine` with the score as its one component, spread evenly over the response tokens (the way a
    sequence-level score such as the unit-test pass rate enters the kit); sparse gathers it on the last."""
    kl = ppo.kl_penalty(logprobs, ref_logprobs, kl_estimator)
    spread = torch.where(mask, scores[:, None] / mask.sum(1, keepdim=True).clamp(min=1), 0.0)
    total = combine(
        {"tests": RewardOutput(spread)}, {"tests": 1.0}, mask=mask, kl=kl, kl_coef=KL_COEF, mode=mode
    )
    return total.per_token.to(logprobs.dtype)


def random_batch(lengths: list[int], width: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Log-probs of the sampled tokens under policy and reference, a score per sample, TRL's bookkeeping."""
    g = torch.Generator().manual_seed(seed)
    shape = (len(lengths), width)
    sequence_lengths = trl_sequence_lengths(lengths, width)
    return {
        "logprobs": -3 * torch.rand(shape, generator=g, dtype=torch.float64),
        "ref_logprobs": -3 * torch.rand(shape, generator=g, dtype=torch.float64),
        "scores": torch.randn(len(lengths), generator=g, dtype=torch.float64),
        "sequence_lengths": sequence_lengths,
        "mask": torch.arange(width) <= sequence_lengths[:, None],
    }


@pytest.mark.filterwarnings(TRL_INDEXING_WARNING)
@pytest.mark.parametrize("kl_estimator", ["k1", "k3"])
@pytest.mark.parametrize("lengths,width", CASES)
def test_sparse_equals_trl_rewards_with_the_score_moved_back(lengths, width, kl_estimator):
    b = random_batch(lengths, width)
    trl = trl_rewards(b["logprobs"], b["ref_logprobs"], b["scores"], b["sequence_lengths"], kl_estimator)
    ours = kit_rewards(b["logprobs"], b["ref_logprobs"], b["scores"], b["mask"], kl_estimator, "sparse")
    torch.testing.assert_close(ours, move_score_back(trl, b["scores"], b["sequence_lengths"]), **TOLERANCE)


@pytest.mark.filterwarnings(TRL_INDEXING_WARNING)
@pytest.mark.parametrize("kl_estimator", ["k1", "k3"])
@pytest.mark.parametrize("lengths,width", CASES)
def test_totals_per_sample_agree_with_trl_without_moving(lengths, width, kl_estimator):
    b = random_batch(lengths, width, seed=1)
    trl = trl_rewards(b["logprobs"], b["ref_logprobs"], b["scores"], b["sequence_lengths"], kl_estimator)
    ours = kit_rewards(b["logprobs"], b["ref_logprobs"], b["scores"], b["mask"], kl_estimator, "sparse")
    torch.testing.assert_close(ours.sum(1), trl.sum(1), **TOLERANCE)


@pytest.mark.filterwarnings(TRL_INDEXING_WARNING)
def test_trl_puts_the_score_one_after_the_last_token_when_there_is_room():
    """The difference itself, stated as numbers: KL is 0 on padding (INVALID_LOGPROB on both sides), so
    TRL's reward on the first padding position is exactly the score; the kit's is 0 there."""
    lengths, width = [3, 6, 8], 8  # two rows with room after the response, one full row
    b = random_batch(lengths, width, seed=2)
    trl = trl_rewards(b["logprobs"], b["ref_logprobs"], b["scores"], b["sequence_lengths"], "k3")
    ours = kit_rewards(b["logprobs"], b["ref_logprobs"], b["scores"], b["mask"], "k3", "sparse")
    for row, n in enumerate(lengths[:2]):
        assert trl[row, n] == b["scores"][row]  # first pad: TRL's score, nothing else
        assert ours[row, n] == 0  # the kit: nothing on padding
    kl_last = ppo.kl_penalty(b["logprobs"], b["ref_logprobs"], "k3")[2, -1]
    torch.testing.assert_close(trl[2, -1], b["scores"][2] - KL_COEF * kl_last)  # full row: last token
    torch.testing.assert_close(ours[2, -1], trl[2, -1])


@pytest.mark.parametrize("kl_estimator", ["k1", "k3"])
@pytest.mark.parametrize("lengths,width", CASES)
def test_dense_differs_from_sparse_only_in_where_the_total_sits(lengths, width, kl_estimator):
    """Same components, same KL: per-sample totals agree, and off the last token sparse holds only KL."""
    b = random_batch(lengths, width, seed=3)
    args = (b["logprobs"], b["ref_logprobs"], b["scores"], b["mask"], kl_estimator)
    dense, sparse = kit_rewards(*args, "dense"), kit_rewards(*args, "sparse")
    torch.testing.assert_close(dense.sum(1), sparse.sum(1), **TOLERANCE)
    kl_part = torch.where(
        b["mask"], -KL_COEF * ppo.kl_penalty(b["logprobs"], b["ref_logprobs"], kl_estimator), 0
    )
    off_last = b["mask"].clone()
    off_last[torch.arange(len(lengths)), b["sequence_lengths"]] = False
    torch.testing.assert_close(sparse[off_last], kl_part[off_last], **TOLERANCE)
    longer = torch.tensor(lengths) > 1
    assert not torch.allclose(dense[longer], sparse[longer])  # the placement really differs


# --- one real PPOTrainer step -------------------------------------------------------------------------------

RESPONSE_LENGTH = 8
# row -> position of the planted end-of-turn token (None: no stop, the row fills the width). Why each:
PLANTED = [
    0,  # a one-token response: TRL's score goes on position 1
    4,  # a mid-length response
    None,  # a full-width response: no room after it, TRL uses the last token like the kit
    RESPONSE_LENGTH - 2,  # ends one before the width: TRL's score on the last column
    RESPONSE_LENGTH - 1,  # stop token on the last column: full width again
]


class _Captured(Exception):
    """Raised from inside PPOTrainer.train once the rewards exist, so the PPO epochs are skipped."""


def capture_trl_step(tiny_path, tmp_path, monkeypatch, kl_estimator: str) -> dict[str, torch.Tensor]:
    """Run PPOTrainer.train up to its rewards and return its local tensors (rewards, logprobs, ...).

    TRL calls masked_whiten(advantages, ~padding_mask) right after computing the rewards and the GAE; a spy
    put in its place reads PPOTrainer.train's locals from the calling frame. The rollout is TRL's own
    sampling, with end-of-turn tokens planted at the PLANTED positions (and removed elsewhere) so the batch
    has the response lengths the cases need; the log-probs TRL uses are those of the planted tokens.
    """
    import trl.trainer.ppo_trainer as ppo_trainer
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl import PPOConfig, PPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    tokenizer.padding_side = "left"
    policy = AutoModelForCausalLM.from_pretrained(tiny_path)
    reference = AutoModelForCausalLM.from_pretrained(tiny_path)
    reward_model = AutoModelForSequenceClassification.from_pretrained(tiny_path, num_labels=1)
    value_model = AutoModelForSequenceClassification.from_pretrained(tiny_path, num_labels=1)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in reference.parameters():  # a reference that differs from the policy, so KL is not 0
            p.add_(0.3 * torch.randn(p.shape, generator=g))
        reward_model.score.weight.mul_(100.0)  # scores of order 1 rather than 0.01
    prompts = [
        tokenizer.apply_chat_template([{"role": "user", "content": f"f{i}"}], add_generation_prompt=True)
        for i in range(len(PLANTED))
    ]
    args = PPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=len(PLANTED),
        num_mini_batches=1,
        num_ppo_epochs=1,
        response_length=RESPONSE_LENGTH,
        total_episodes=len(PLANTED),
        kl_coef=KL_COEF,
        kl_estimator=kl_estimator,
        stop_token="eos",
        temperature=1.0,
        num_sample_generations=0,
        report_to=[],
        save_strategy="no",
        bf16=False,
        disable_tqdm=True,
    )
    trainer = PPOTrainer(
        args=args,
        processing_class=tokenizer,
        model=policy,
        ref_model=reference,
        reward_model=reward_model,
        value_model=value_model,
        train_dataset=Dataset.from_dict({"input_ids": prompts}),
    )

    real_generation = ppo_trainer.batch_generation
    stop, filler = tokenizer.eos_token_id, tokenizer("x", add_special_tokens=False)["input_ids"][0]

    def planted_generation(model, queries, *rest):
        query_responses, logits = real_generation(model, queries, *rest)
        response = query_responses[:, queries.shape[1] :]  # a view: edits land in query_responses
        response[(response == stop) | (response == tokenizer.pad_token_id)] = filler
        for row, at in enumerate(PLANTED):
            if at is not None:
                response[row, at] = stop
        return query_responses, logits

    captured: dict[str, torch.Tensor] = {}

    def spy(values, mask, shift_mean=True):
        train_locals = inspect.currentframe().f_back.f_locals
        keys = ("rewards", "logprobs", "ref_logprobs", "scores", "sequence_lengths", "padding_mask")
        captured.update({k: train_locals[k].detach().clone() for k in keys})
        raise _Captured

    monkeypatch.setattr(ppo_trainer, "batch_generation", planted_generation)
    monkeypatch.setattr(ppo_trainer, "masked_whiten", spy)
    with pytest.raises(_Captured):
        trainer.train()
    return captured


@pytest.mark.slow
@pytest.mark.filterwarnings(TRL_INDEXING_WARNING)
@pytest.mark.parametrize("kl_estimator", ["k1", "k3"])
def test_sparse_equals_the_rewards_of_a_real_trl_ppo_step(tiny_path, tmp_path, monkeypatch, kl_estimator):
    c = capture_trl_step(tiny_path, tmp_path, monkeypatch, kl_estimator)
    full = RESPONSE_LENGTH - 1
    assert c["sequence_lengths"].tolist() == [full if at is None else at for at in PLANTED]
    mask = ~c["padding_mask"]
    ours = kit_rewards(c["logprobs"], c["ref_logprobs"], c["scores"], mask, kl_estimator, "sparse")
    assert (c["logprobs"] != c["ref_logprobs"])[mask].all() and c["scores"].abs().min() > 0  # not zeros
    moved = move_score_back(c["rewards"], c["scores"], c["sequence_lengths"])
    torch.testing.assert_close(ours, moved, **TOLERANCE)
    torch.testing.assert_close(ours.sum(1), c["rewards"].sum(1), **TOLERANCE)
