"""Per-token KL penalty: how far the policy has moved from the frozen reference, token by token.

    from dense_rl.rewards.kl import kl_per_token, response_logprobs
    logp, logp_ref = response_logprobs(policy, batch), response_logprobs(reference, batch)
    kl = kl_per_token(logp, logp_ref, batch.response_mask, estimator="k3")    # Tensor[B, T], 0 on padding

Both estimators use only the log-probabilities of the tokens that were actually sampled (from the policy);
the maths lives in dense_rl.ppo.kl_penalty, shared with the trainer:
- k1 = log p(x) - log p_ref(x): unbiased for KL(p || p_ref), but single samples can be negative.
- k3 = (r - 1) - log r with r = p_ref(x) / p(x): also unbiased, never negative, lower variance
  (Schulman, "Approximating KL Divergence", 2020). The paper uses k3.
The combined reward subtracts kl_coef * KL_t at every token in both the dense and the sparse mode.

Where this departs from the paper: nothing in the estimate; log-ratios are clamped to +-20 first, so that a
token the reference finds nearly impossible cannot turn k3 into inf.
"""

from __future__ import annotations

import torch

from dense_rl.batch import RolloutBatch
from dense_rl.ppo import kl_penalty, logprobs_from_logits

ESTIMATORS = ("k1", "k3")
LOG_RATIO_CLAMP = 20.0


def kl_per_token(
    logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor | None = None, *, estimator: str = "k3"
) -> torch.Tensor:
    """KL estimate per sampled token, Tensor[B, T] (0 where mask is False).

    >>> logp, logp_ref = torch.log(torch.tensor([[0.5, 0.25]])), torch.log(torch.tensor([[0.5, 0.5]]))
    >>> kl_per_token(logp, logp_ref, estimator="k1")
    tensor([[ 0.0000, -0.6931]])
    >>> kl_per_token(logp, logp_ref, estimator="k3")
    tensor([[0.0000, 0.3069]])
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"kl_per_token: estimator={estimator!r} is not one of {ESTIMATORS}")
    if logp.shape != logp_ref.shape:
        raise ValueError(
            f"kl_per_token: logp {tuple(logp.shape)} and logp_ref {tuple(logp_ref.shape)} differ"
        )
    # keep log r = log p_ref - log p within +-LOG_RATIO_CLAMP
    logp_ref = logp + (logp_ref - logp).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    kl = kl_penalty(logp, logp_ref, estimator)
    return torch.where(mask.bool(), kl, torch.zeros_like(kl)) if mask is not None else kl


@torch.no_grad()
def response_logprobs(model, batch: RolloutBatch, *, temperature: float = 1.0) -> torch.Tensor:
    """log pi(response token t | prompt, response[:t]) for every response token, Tensor[B, T] (0 on padding).

    One forward pass per sample (no padding needed, so no attention-mask subtleties); `temperature` divides
    the logits first, as sampling at that temperature does.
    """
    out = torch.zeros(batch.response_ids.shape, dtype=torch.float32)
    for row, prompt in enumerate(batch.prompt_ids):
        n = int(batch.response_mask[row].sum())
        if n == 0:
            continue
        if not prompt:
            raise ValueError(
                f"response_logprobs: sample {row} has an empty prompt; the first token needs context"
            )
        response = batch.response_ids[row, :n]
        ids = torch.cat([torch.tensor(prompt, dtype=torch.long), response]).unsqueeze(0)
        logits = model(input_ids=ids.to(model.device)).logits[0, len(prompt) - 1 : len(prompt) + n - 1]
        out[row, :n] = logprobs_from_logits(logits.float().cpu() / temperature, response)
    return out
