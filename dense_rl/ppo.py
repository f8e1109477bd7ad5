"""The maths of PPO as pure tensor functions: masked statistics, GAE, the clipped losses, entropy, KL.

    from dense_rl import ppo
    advantages, returns = ppo.gae(rewards, values, mask, gamma=1.0, lam=0.95)
    advantages = ppo.masked_whiten(advantages, mask)
    pg_loss, pg_stats = ppo.policy_loss(logprobs, old_logprobs, advantages, mask, cliprange=0.2)
    vf_loss, vf_stats = ppo.value_loss(values_new, values, returns, mask, cliprange_value=0.3)
    loss = pg_loss + vf_coef * vf_loss

Nothing here knows of models, optimisers or reward components: every function takes right-padded [B, T]
tensors over the response tokens plus a response `mask` ([B, T], bool or 0/1 float, 1 on real tokens),
because responses in a batch have different lengths. A token-level MDP: state s_t is prompt + response[:t],
action a_t is response token t, the episode ends after the last real token of each row.
Run the checks with `.venv/bin/pytest tests/test_ppo.py`.

Padding never reaches an output. Masked positions are replaced with 0 by `torch.where` before any
arithmetic (not multiplied by the mask), so NaN or inf in padding (an overflowing exp, a sentinel
log-prob) can leak neither into real-token results nor into their gradients.

Where this departs from the paper: nothing in the maths; this is standard PPO with a clipped value loss,
run with the paper's settings (clip .2, value clip .3, k3 KL, vf_coef 1; see dense_rl/config.py). The kit
takes TRL 0.20.0's PPOTrainer as its reference implementation and tests/test_ppo.py checks parity with it.
Deliberate differences from TRL:
- The episode ends at the last real token (V = 0 after it), and GAE and the value loss cover response
  tokens only. TRL keeps the value of the first padding position, bootstraps the last real token from it
  and trains the value head there, because it puts its scalar score on that position. Here every reward
  (dense, or sparse on the last response token) sits on a response token, so no extra position is needed.
- `approx_kl_old` (0.5 mean (log ratio)^2, TRL's `approxkl`) and the entropy are averaged over real tokens.
  TRL averages both over the whole [B, T] block: padding counts as 0 in its approxkl (shrinking it by the
  padding share) and with the model's entropy at pad positions in its entropy.
- An empty mask averages to 0 rather than NaN; whitening fewer than 2 tokens raises a ValueError (TRL raises
  for 0 tokens and divides by zero for 1).
- `gae` returns 0 advantages and returns on padding (TRL leaves whatever the loop produced there).
"""

from __future__ import annotations

import torch

__all__ = [
    "entropy_from_logits",
    "gae",
    "kl_penalty",
    "logprobs_from_logits",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "policy_loss",
    "value_loss",
]


def _real(mask: torch.Tensor) -> torch.Tensor:
    """The mask as bool (accepts bool or 0/1 floats)."""
    return mask if mask.dtype == torch.bool else mask != 0


def _check_same_shape(name: str, x: torch.Tensor, mask: torch.Tensor) -> None:
    if x.shape != mask.shape:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)} but mask has shape {tuple(mask.shape)}; "
            "pass [B, T] tensors aligned with the response mask"
        )


def _on_real(x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """x on real tokens, 0 on padding. A select, not a product: 0 * inf is NaN, and so would be its grad."""
    return torch.where(real, x, torch.zeros((), dtype=x.dtype, device=x.device))


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of x over the real tokens (over all of them, or along `dim`).

    PPO losses are averages over tokens, and a plain .mean() would count padding as tokens with loss 0,
    so the loss (and its gradient) would shrink as responses got shorter. An empty mask (or an empty row
    along `dim`) averages to 0: it contributes nothing rather than a NaN that poisons the whole update.
    """
    _check_same_shape("masked_mean: x", x, mask)
    real = _real(mask)
    # mean = sum_t m_t x_t / sum_t m_t
    total = _on_real(x, real).sum() if dim is None else _on_real(x, real).sum(dim=dim)
    count = real.sum() if dim is None else real.sum(dim=dim)
    return total / count.clamp(min=1).to(total.dtype)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of x over all real tokens of the batch (Bessel-corrected when `unbiased`).

    Raises ValueError when the mask holds fewer than 2 real tokens with `unbiased` (n / (n - 1) is
    undefined), or none at all: a spread cannot be measured there.
    """
    _check_same_shape("masked_var: x", x, mask)
    n = int(_real(mask).sum())
    if n < (2 if unbiased else 1):
        raise ValueError(
            f"masked_var: the mask holds {n} real token(s); the variance needs at least "
            f"{2 if unbiased else 1}. Use a larger (mini)batch, or skip whitening for this batch."
        )
    mean = masked_mean(x, mask)
    # var = sum_t m_t (x_t - mean)^2 / sum_t m_t  (padding zeroed first, so it cannot reach the gradient)
    var = masked_mean((_on_real(x, _real(mask)) - mean) ** 2, mask)
    if unbiased:
        # Bessel: var * n / (n - 1)
        var = var * n / (n - 1)
    return var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Normalise x to mean 0 and variance 1 over the real tokens; padding is returned unchanged.

    Whitening advantages makes the policy step size independent of the reward scale (a batch whose
    rewards are all 10x larger takes the same step). The statistics come from real tokens only: padding
    counted as zeros would drag the mean towards 0 and shrink the variance. With shift_mean=False the
    mean is added back (scale only), as TRL does for rewards.
    """
    real = _real(mask)
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    # x_hat = (x - mean) / sqrt(var + 1e-8)
    whitened = (_on_real(x, real) - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(real, whitened, x)


def _check_right_padded(mask: torch.Tensor) -> None:
    real = _real(mask)
    if real.shape[-1] > 1 and (real[:, 1:] & ~real[:, :-1]).any():
        raise ValueError(
            "gae: mask has a real token after a padding token; GAE needs right-padded rows "
            "(1...1 0...0), so that each episode ends at its last real token. Right-pad the responses."
        )


@torch.no_grad()
def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over the response tokens: (advantages, returns), both [B, T].

    A_t blends the one-step TD error (low variance, biased by the critic) with the Monte-Carlo return
    (unbiased, high variance): lam = 0 gives delta_t, lam = 1 gives reward-to-go minus V(s_t).
    The episode ends after each row's last real token, so V(s) = 0 beyond it and no reward from padding
    enters. Both outputs are targets for the update and carry no gradient; both are 0 on padding.
    Vectorised over the batch; the loop runs backwards over T because A_t needs A_{t+1}.
    """
    _check_same_shape("gae: rewards", rewards, mask)
    _check_same_shape("gae: values", values, mask)
    _check_right_padded(mask)
    real = _real(mask)
    rewards, values = _on_real(rewards, real), _on_real(values, real)
    # V(s_{t+1}), with V = 0 after the last real token (values are already 0 on padding)
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
    # delta_t = r_t + gamma V(s_{t+1}) - V(s_t)
    deltas = rewards + gamma * next_values - values
    advantages = torch.zeros_like(values)
    last_gae = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        # A_t = delta_t + gamma lam A_{t+1}
        last_gae = deltas[:, t] + gamma * lam * last_gae
        advantages[:, t] = last_gae
    advantages = _on_real(advantages, real)
    # R_t = A_t + V(s_t): the value target
    returns = _on_real(advantages + values, real)
    return advantages, returns


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cliprange: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's clipped surrogate loss over real tokens, and stats (clipfrac, approx_kl, approx_kl_old).

    The ratio pi/pi_old reweights old samples to the current policy. Taking the max of the unclipped and
    clipped losses (the min of the objectives) removes any incentive to push the ratio beyond
    [1 - eps, 1 + eps] in the direction the advantage favours: there the gradient is 0, so several epochs
    on one batch cannot walk the policy far from the one that sampled it.
    Stats (detached): clipfrac, the share of tokens where clipping bit; approx_kl, the k3 estimate of
    KL(pi_old || pi), which is >= 0 and unbiased; approx_kl_old, 0.5 mean (log ratio)^2, the older
    estimator TRL logs as `approxkl`.
    """
    for name, x in (("logprobs", logprobs), ("old_logprobs", old_logprobs), ("advantages", advantages)):
        _check_same_shape(f"policy_loss: {name}", x, mask)
    real = _real(mask)
    # log ratio = log pi(a_t|s_t) - log pi_old(a_t|s_t), 0 on padding (so ratio = 1 there)
    log_ratio = _on_real(logprobs - old_logprobs, real)
    # ratio = exp(logp - logp_old)
    ratio = torch.exp(log_ratio)
    advantages = _on_real(advantages, real)
    # pg_loss1 = -A * ratio
    pg_loss1 = -advantages * ratio
    # pg_loss2 = -A * clip(ratio, 1 - eps, 1 + eps)
    pg_loss2 = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    # L = mean_t max(pg_loss1, pg_loss2)
    loss = masked_mean(torch.max(pg_loss1, pg_loss2), mask)
    with torch.no_grad():
        stats = {
            "clipfrac": masked_mean((pg_loss2 > pg_loss1).to(ratio.dtype), mask),
            # k3: KL ~ mean((ratio - 1) - log ratio)
            "approx_kl": masked_mean((ratio - 1) - log_ratio, mask),
            # 0.5 mean (log ratio)^2
            "approx_kl_old": 0.5 * masked_mean(log_ratio**2, mask),
        }
    return loss, stats


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    cliprange_value: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped value loss over real tokens, and stats (vf_clipfrac).

    The critic regresses V(s_t) onto the returns R_t. As with the policy, the update is kept near the
    values seen at rollout time: the clipped prediction may move at most c from V_old, and taking the max
    of the two squared errors means a step beyond c earns no further reduction of the loss.
    vf_clipfrac is the share of tokens where the clipped error was the larger one.
    """
    for name, x in (("values", values), ("old_values", old_values), ("returns", returns)):
        _check_same_shape(f"value_loss: {name}", x, mask)
    real = _real(mask)
    values, old_values, returns = _on_real(values, real), _on_real(old_values, real), _on_real(returns, real)
    # V_clip = clip(V, V_old - c, V_old + c)
    values_clipped = torch.clamp(values, old_values - cliprange_value, old_values + cliprange_value)
    # vf_loss1 = (V - R)^2 ; vf_loss2 = (V_clip - R)^2
    vf_loss1 = (values - returns) ** 2
    vf_loss2 = (values_clipped - returns) ** 2
    # L_V = 0.5 mean_t max(vf_loss1, vf_loss2)
    loss = 0.5 * masked_mean(torch.max(vf_loss1, vf_loss2), mask)
    with torch.no_grad():
        stats = {"vf_clipfrac": masked_mean((vf_loss2 > vf_loss1).to(values.dtype), mask)}
    return loss, stats


def entropy_from_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the policy's next-token distribution over the real tokens.

    A health check: entropy falling towards 0 means the policy has collapsed onto fixed answers and stops
    exploring. logits is [B, T, V]; the softmax is formed one row at a time, so the peak extra memory is
    one [T, V] block rather than the whole batch. Differentiable, so it can also serve as a bonus term.
    """
    if logits.shape[:-1] != mask.shape:
        raise ValueError(
            f"entropy_from_logits: logits has shape {tuple(logits.shape)}, mask {tuple(mask.shape)}; "
            "pass logits [B, T, V] for the response positions and mask [B, T]"
        )
    real = _real(mask)
    dtype = torch.promote_types(logits.dtype, torch.float32)
    rows = []
    for row_logits, row_real in zip(logits, real, strict=True):
        row_logits = _on_real(row_logits.to(dtype), row_real[:, None])
        logp = torch.log_softmax(row_logits, dim=-1)
        # H_t = -sum_v p_v log p_v
        rows.append(-(logp.exp() * logp).sum(dim=-1))
    return masked_mean(torch.stack(rows), mask)


def logprobs_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log pi(label_t | s_t) for each position: [B, T, V] logits and [B, T] labels give [B, T] (float32+).

    Equal to log_softmax(logits).gather(labels) without building the [B, T, V] log-softmax: only the
    chosen logit and one log-normaliser per position are needed, and the normaliser is taken one row at a
    time. Half-precision logits are upcast per row, because log-ratios of nearly equal probabilities lose
    all their digits in bfloat16. Labels on padding must still be valid ids (use the pad id, not -100).
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logprobs_from_logits: logits has shape {tuple(logits.shape)}, labels {tuple(labels.shape)}; "
            "pass logits [B, T, V] and the token ids [B, T] they predict"
        )
    vocab = logits.shape[-1]
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= vocab):
        raise ValueError(
            f"logprobs_from_logits: labels must lie in [0, {vocab}), got [{int(labels.min())}, "
            f"{int(labels.max())}]; replace ignore markers such as -100 with the pad id (the mask drops them)"
        )
    dtype = torch.promote_types(logits.dtype, torch.float32)
    chosen = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1).to(dtype)
    # log Z_t = logsumexp_v z_{t,v}, one row at a time
    log_z = torch.stack([torch.logsumexp(row.to(dtype), dim=-1) for row in logits])
    # log pi(a_t|s_t) = z_{t,a_t} - log Z_t
    return chosen - log_z


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str) -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from the sampled token's log-probs under both policies.

    The exact KL sums over the whole vocabulary; on a sampled token a_t ~ pi we only see two numbers,
    and both estimators average to the true KL over samples:
    - "k1": logp - logp_ref. Unbiased but noisy, and negative on some tokens.
    - "k3": (r - 1) - log r with r = pi_ref/pi. Unbiased, lower variance, and >= 0 on every token (since
      log r <= r - 1), so a per-token penalty never turns into a bonus. The paper's choice.
    Padding is not masked here: the caller multiplies by kl_coef and masks with the rest of the reward.
    """
    if logprobs.shape != ref_logprobs.shape:
        raise ValueError(
            f"kl_penalty: logprobs has shape {tuple(logprobs.shape)}, ref_logprobs "
            f"{tuple(ref_logprobs.shape)}; pass per-token log-probs of the same tokens"
        )
    if estimator == "k1":
        # k1 = log pi(a_t|s_t) - log pi_ref(a_t|s_t)
        return logprobs - ref_logprobs
    if estimator == "k3":
        # log r = log pi_ref - log pi
        log_r = ref_logprobs - logprobs
        # k3 = (r - 1) - log r
        return torch.expm1(log_r) - log_r
    raise ValueError(f"kl_penalty: unknown estimator {estimator!r}; use 'k1' or 'k3'")
