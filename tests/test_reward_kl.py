"""Per-token KL estimators k1 and k3 against their definitions."""

from __future__ import annotations

import math

import pytest
import torch
from test_spans import batch_of, toy_tokenizer
from transformers import Qwen2Config, Qwen2ForCausalLM

from dense_rl.rewards.kl import kl_per_token, response_logprobs

CASES = [
    # same probability: no divergence for either estimator
    (0.5, 0.5, 0.0, 0.0),
    # policy more confident than the reference: k1 = log 2, k3 = (1/2 - 1) + log 2
    (0.5, 0.25, math.log(2), -0.5 + math.log(2)),
    # policy less confident: k1 is negative on this sample, k3 stays >= 0
    (0.25, 0.5, -math.log(2), 1.0 - math.log(2)),
]


@pytest.mark.parametrize("p, p_ref, k1, k3", CASES)
def test_estimators_match_their_definitions(p, p_ref, k1, k3):
    logp, logp_ref = torch.tensor([[math.log(p)]]), torch.tensor([[math.log(p_ref)]])
    assert kl_per_token(logp, logp_ref, estimator="k1").item() == pytest.approx(k1)
    assert kl_per_token(logp, logp_ref, estimator="k3").item() == pytest.approx(k3)


def test_k3_is_never_negative_and_finite_for_extreme_ratios():
    logp = torch.tensor([[-1e-3, -80.0, -5.0]])
    logp_ref = torch.tensor([[-90.0, -1e-3, -5.0]])
    kl = kl_per_token(logp, logp_ref, estimator="k3")
    assert torch.isfinite(kl).all() and (kl >= 0).all()


def test_both_estimate_the_true_kl_on_average():
    torch.manual_seed(0)
    p, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.4, 0.4, 0.2])
    true_kl = (p * (p / q).log()).sum().item()
    x = torch.multinomial(p, 200_000, replacement=True)
    for estimator in ("k1", "k3"):
        estimate = kl_per_token(p.log()[x], q.log()[x], estimator=estimator).mean().item()
        assert estimate == pytest.approx(true_kl, abs=5e-3)


def test_mask_zeroes_padding():
    kl = kl_per_token(torch.zeros(1, 3), torch.full((1, 3), -1.0), torch.tensor([[True, True, False]]))
    assert kl[0, 2].item() == 0.0 and kl[0, 0].item() > 0


@pytest.mark.parametrize(
    "logp_ref, estimator",
    [
        # unknown estimator
        (torch.zeros(1, 2), "k2"),
        # shapes must agree
        (torch.zeros(1, 3), "k3"),
    ],
)
def test_bad_inputs_raise(logp_ref, estimator):
    with pytest.raises(ValueError, match="kl_per_token"):
        kl_per_token(torch.zeros(1, 2), logp_ref, estimator=estimator)


def test_response_logprobs_match_a_full_forward_pass():
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(toy_tokenizer()),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    model = Qwen2ForCausalLM(config).eval()
    batch = batch_of("def f(x):\n    return x", "ok")  # prompts are [1, 2] for every sample
    logp = response_logprobs(model, batch)
    for row in range(2):
        n = int(batch.response_mask[row].sum())
        ids = torch.cat([torch.tensor([1, 2]), batch.response_ids[row, :n]])
        full = torch.log_softmax(model(input_ids=ids[None]).logits[0], dim=-1)
        expected = full[1 : 1 + n].gather(1, ids[2:, None]).squeeze(1)
        assert torch.allclose(logp[row, :n], expected, atol=1e-5)
        assert logp[row, n:].eq(0).all()
