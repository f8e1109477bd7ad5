"""PPO maths: each function against a plain-loop reference on ragged batches, its defining properties,
padding invariance, and parity with TRL 0.20.0's own code path."""

import math

import pytest
import torch

from dense_rl import ppo

# Ragged right-padded batches: (row lengths, width T). Each case has a comment on why it is there.
RAGGED = [
    ([5, 3, 1, 4], 5),  # a full row, a one-token row and two partial rows
    ([2, 7, 0, 6, 7], 7),  # an empty row (a response with no tokens) next to full rows
    ([9, 9, 9], 9),  # no padding at all: masked maths must equal plain maths
    ([1, 2], 6),  # mostly padding
]


def right_padded_mask(lengths: list[int], width: int, as_float: bool = False) -> torch.Tensor:
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    return mask.double() if as_float else mask


def randn(shape, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def real_cells(mask: torch.Tensor) -> list[tuple[int, int]]:
    return [(b, t) for b in range(mask.shape[0]) for t in range(mask.shape[1]) if mask[b, t]]


def batch(lengths: list[int], width: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every [B, T] input the functions take, random on real tokens and padding alike."""
    shape = (len(lengths), width)
    logprobs = -randn(shape, seed + 1).abs()
    return {
        "x": randn(shape, seed, scale=3.0) + 2.0,
        "rewards": randn(shape, seed + 2),
        "values": randn(shape, seed + 3),
        "old_values": randn(shape, seed + 4),
        "returns": randn(shape, seed + 5),
        "advantages": randn(shape, seed + 6),
        "logprobs": logprobs,
        "old_logprobs": logprobs + randn(shape, seed + 7, scale=0.3),
        "ref_logprobs": -randn(shape, seed + 8).abs(),
        "logits": randn((*shape, 11), seed + 9, scale=2.0),
        "labels": torch.randint(0, 11, shape, generator=torch.Generator().manual_seed(seed + 10)),
    }


# --- plain-loop references -------------------------------------------------------------------------------


def loop_mean(x, mask) -> float:
    cells = real_cells(mask)
    return sum(float(x[c]) for c in cells) / len(cells) if cells else 0.0


def loop_var(x, mask, unbiased: bool) -> float:
    cells = real_cells(mask)
    mean = loop_mean(x, mask)
    return sum((float(x[c]) - mean) ** 2 for c in cells) / (len(cells) - (1 if unbiased else 0))


def loop_gae(rewards, values, lengths, gamma, lam):
    advantages = torch.zeros_like(values)
    for b, length in enumerate(lengths):
        last = 0.0
        for t in reversed(range(length)):
            next_value = float(values[b, t + 1]) if t + 1 < length else 0.0
            delta = float(rewards[b, t]) + gamma * next_value - float(values[b, t])
            last = delta + gamma * lam * last
            advantages[b, t] = last
    returns = torch.where(right_padded_mask(lengths, values.shape[1]), advantages + values, 0.0)
    return advantages, returns


# --- masked statistics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lengths,width", RAGGED)
@pytest.mark.parametrize("as_float", [False, True])  # the mask may come as bool or as 0/1 floats
def test_masked_mean_matches_loop(lengths, width, as_float):
    x, mask = batch(lengths, width)["x"], right_padded_mask(lengths, width, as_float)
    assert float(ppo.masked_mean(x, mask)) == pytest.approx(loop_mean(x, mask != 0), abs=1e-12)
    per_row = [loop_mean(x[b : b + 1], mask[b : b + 1] != 0) for b in range(len(lengths))]
    assert ppo.masked_mean(x, mask, dim=1).tolist() == pytest.approx(per_row, abs=1e-12)


@pytest.mark.parametrize("lengths,width", RAGGED)
@pytest.mark.parametrize("unbiased", [True, False])  # Bessel-corrected or not
def test_masked_var_matches_loop(lengths, width, unbiased):
    x, mask = batch(lengths, width)["x"], right_padded_mask(lengths, width)
    assert float(ppo.masked_var(x, mask, unbiased)) == pytest.approx(loop_var(x, mask, unbiased), rel=1e-12)


@pytest.mark.parametrize("lengths,width", RAGGED)
def test_whitening_gives_mean_0_var_1_on_real_tokens_and_leaves_padding(lengths, width):
    x, mask = batch(lengths, width)["x"], right_padded_mask(lengths, width)
    white = ppo.masked_whiten(x, mask)
    assert loop_mean(white, mask) == pytest.approx(0.0, abs=1e-9)
    assert loop_var(white, mask, unbiased=True) == pytest.approx(1.0, rel=1e-6)
    assert torch.equal(white[~mask], x[~mask])


def test_whitening_without_mean_shift_keeps_the_mean():
    x, mask = batch([5, 3, 1, 4], 5)["x"], right_padded_mask([5, 3, 1, 4], 5)
    white = ppo.masked_whiten(x, mask, shift_mean=False)
    assert loop_mean(white, mask) == pytest.approx(loop_mean(x, mask), rel=1e-9)
    assert loop_var(white, mask, unbiased=True) == pytest.approx(1.0, rel=1e-6)


def test_empty_mask_averages_to_zero_not_nan():
    mask = torch.zeros(2, 3, dtype=torch.bool)
    assert float(ppo.masked_mean(torch.ones(2, 3), mask)) == 0.0
    assert ppo.masked_mean(torch.ones(2, 3), mask, dim=1).tolist() == [0.0, 0.0]


# --- GAE -------------------------------------------------------------------------------------------------

GAE_CASES = [
    (1.0, 1.0),  # Monte Carlo: reward-to-go minus value
    (1.0, 0.95),  # the kit's default
    (0.99, 0.95),  # discounted, the usual control setting
    (1.0, 0.0),  # TD(0): advantage is the one-step TD error
    (0.5, 0.3),  # strong discount, to catch a gamma/lam mix-up
]


@pytest.mark.parametrize("lengths,width", RAGGED)
@pytest.mark.parametrize("gamma,lam", GAE_CASES)
def test_gae_matches_loop(lengths, width, gamma, lam):
    t, mask = batch(lengths, width), right_padded_mask(lengths, width)
    advantages, returns = ppo.gae(t["rewards"], t["values"], mask, gamma, lam)
    ref_adv, ref_ret = loop_gae(t["rewards"], t["values"], lengths, gamma, lam)
    torch.testing.assert_close(advantages, ref_adv, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(returns, ref_ret, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lengths,width", RAGGED)
def test_gae_with_gamma_1_lam_1_is_reward_to_go_minus_value(lengths, width):
    t, mask = batch(lengths, width), right_padded_mask(lengths, width)
    advantages, returns = ppo.gae(t["rewards"], t["values"], mask, gamma=1.0, lam=1.0)
    for b, n in enumerate(lengths):
        for s in range(n):
            reward_to_go = float(t["rewards"][b, s:n].sum())
            assert float(advantages[b, s]) == pytest.approx(
                reward_to_go - float(t["values"][b, s]), abs=1e-12
            )
            assert float(returns[b, s]) == pytest.approx(reward_to_go, abs=1e-12)


def test_gae_outputs_are_targets_without_gradient():
    t, mask = batch([3, 2], 3), right_padded_mask([3, 2], 3)
    advantages, returns = ppo.gae(t["rewards"], t["values"].requires_grad_(), mask, 1.0, 0.95)
    assert not advantages.requires_grad and not returns.requires_grad


# --- policy and value losses -----------------------------------------------------------------------------


@pytest.mark.parametrize("lengths,width", RAGGED)
@pytest.mark.parametrize("cliprange", [0.2, 0.05])  # the paper's clip, and a tight one where most tokens clip
def test_policy_loss_matches_loop(lengths, width, cliprange):
    t, mask = batch(lengths, width), right_padded_mask(lengths, width)
    loss, stats = ppo.policy_loss(t["logprobs"], t["old_logprobs"], t["advantages"], mask, cliprange)
    losses, clipped, k3, sq = [], [], [], []
    for c in real_cells(mask):
        log_ratio = float(t["logprobs"][c]) - float(t["old_logprobs"][c])
        ratio, a = math.exp(log_ratio), float(t["advantages"][c])
        unclipped, clipped_loss = -a * ratio, -a * min(max(ratio, 1 - cliprange), 1 + cliprange)
        losses.append(max(unclipped, clipped_loss))
        clipped.append(float(clipped_loss > unclipped))
        k3.append((ratio - 1) - log_ratio)
        sq.append(0.5 * log_ratio**2)
    n = max(len(losses), 1)
    assert float(loss) == pytest.approx(sum(losses) / n, abs=1e-12)
    assert float(stats["clipfrac"]) == pytest.approx(sum(clipped) / n, abs=1e-12)
    assert float(stats["approx_kl"]) == pytest.approx(sum(k3) / n, abs=1e-12)
    assert float(stats["approx_kl_old"]) == pytest.approx(sum(sq) / n, abs=1e-12)


# (ratio, advantage, gradient is zero): the clip removes the incentive only in the direction A favours
CLIP_GRADIENT = [
    (1.5, 1.0, True),  # above 1 + eps with A > 0: raising pi further earns nothing
    (0.5, -1.0, True),  # below 1 - eps with A < 0: lowering pi further earns nothing
    (1.5, -1.0, False),  # above the clip but A < 0: the pessimistic unclipped term still pulls pi down
    (0.5, 1.0, False),  # below the clip but A > 0: still pulled back up
    (1.1, 1.0, False),  # inside the trust region: the ordinary policy gradient
    (1.0, 0.0, True),  # zero advantage: nothing to learn
]


@pytest.mark.parametrize("ratio,advantage,zero_grad", CLIP_GRADIENT)
def test_clipped_ratio_gets_zero_gradient(ratio, advantage, zero_grad):
    old = torch.tensor([[-1.0]], dtype=torch.float64)
    new = (old + math.log(ratio)).requires_grad_()
    loss, _ = ppo.policy_loss(new, old, torch.tensor([[advantage]]), torch.ones(1, 1, dtype=torch.bool), 0.2)
    loss.backward()
    assert (float(new.grad) == 0.0) == zero_grad


@pytest.mark.parametrize("lengths,width", RAGGED)
@pytest.mark.parametrize("cliprange_value", [0.3, 0.05])  # the paper's value clip, and a tight one
def test_value_loss_matches_loop(lengths, width, cliprange_value):
    t, mask = batch(lengths, width), right_padded_mask(lengths, width)
    loss, stats = ppo.value_loss(t["values"], t["old_values"], t["returns"], mask, cliprange_value)
    losses, clipped = [], []
    for c in real_cells(mask):
        v, v_old, r = float(t["values"][c]), float(t["old_values"][c]), float(t["returns"][c])
        v_clip = min(max(v, v_old - cliprange_value), v_old + cliprange_value)
        losses.append(max((v - r) ** 2, (v_clip - r) ** 2))
        clipped.append(float((v_clip - r) ** 2 > (v - r) ** 2))
    n = max(len(losses), 1)
    assert float(loss) == pytest.approx(0.5 * sum(losses) / n, abs=1e-12)
    assert float(stats["vf_clipfrac"]) == pytest.approx(sum(clipped) / n, abs=1e-12)


# (new value, old value, return, gradient is zero), value clip 0.3
VALUE_CLIP_GRADIENT = [
    (1.0, 0.0, 2.0, True),  # moved 1.0 towards the return, past the clip: no further pull
    (1.0, 0.0, -2.0, False),  # moved away from the return: the unclipped error pulls it back
    (0.1, 0.0, 2.0, False),  # inside the clip: ordinary regression
]


@pytest.mark.parametrize("value,old_value,ret,zero_grad", VALUE_CLIP_GRADIENT)
def test_clipped_value_gets_zero_gradient(value, old_value, ret, zero_grad):
    v = torch.tensor([[value]], dtype=torch.float64, requires_grad=True)
    old, target = torch.tensor([[old_value]], dtype=torch.float64), torch.tensor([[ret]], dtype=torch.float64)
    loss, _ = ppo.value_loss(v, old, target, torch.ones(1, 1, dtype=torch.bool), 0.3)
    loss.backward()
    assert (float(v.grad) == 0.0) == zero_grad


# --- logits: entropy and log-probs -----------------------------------------------------------------------


@pytest.mark.parametrize("lengths,width", RAGGED)
def test_entropy_matches_loop(lengths, width):
    t, mask = batch(lengths, width), right_padded_mask(lengths, width)
    per_token = []
    for c in real_cells(mask):
        z = [float(v) for v in t["logits"][c]]
        log_norm = math.log(sum(math.exp(v) for v in z))
        per_token.append(-sum(math.exp(v - log_norm) * (v - log_norm) for v in z))
    expected = sum(per_token) / max(len(per_token), 1)
    assert float(ppo.entropy_from_logits(t["logits"], mask)) == pytest.approx(expected, abs=1e-12)


ENTROPY_EXTREMES = [
    (torch.zeros(1, 1, 8), math.log(8)),  # uniform over 8 tokens: the maximum, log V
    (torch.tensor([[[50.0, 0.0, 0.0, 0.0]]]), 0.0),  # all mass on one token: no uncertainty
]


@pytest.mark.parametrize("logits,expected", ENTROPY_EXTREMES)
def test_entropy_extremes(logits, expected):
    assert float(ppo.entropy_from_logits(logits, torch.ones(1, 1))) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])  # bf16 is upcast per row
def test_logprobs_match_log_softmax_gather(dtype):
    t = batch([5, 3, 1, 4], 5)
    logits = t["logits"].to(dtype)
    expected = torch.log_softmax(logits.double(), -1).gather(-1, t["labels"][..., None]).squeeze(-1)
    got = ppo.logprobs_from_logits(logits, t["labels"])
    assert got.dtype == torch.promote_types(dtype, torch.float32)
    torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-6)


# --- KL estimators ---------------------------------------------------------------------------------------


def test_k3_is_never_negative():
    t = batch([9, 9, 9], 9)
    logprobs = t["logprobs"] + randn(t["logprobs"].shape, 99, scale=5.0)  # far from the reference too
    assert (ppo.kl_penalty(logprobs, t["ref_logprobs"], "k3") >= 0).all()


@pytest.mark.parametrize("estimator", ["k1", "k3"])  # both are unbiased estimators of KL(pi || pi_ref)
def test_estimators_average_to_exact_kl_on_sampled_tokens(estimator):
    g = torch.Generator().manual_seed(0)
    log_p = torch.log_softmax(torch.randn(6, generator=g, dtype=torch.float64), -1)
    log_q = torch.log_softmax(torch.randn(6, generator=g, dtype=torch.float64), -1)
    exact = float((log_p.exp() * (log_p - log_q)).sum())
    tokens = torch.multinomial(log_p.exp(), 200_000, replacement=True, generator=g)
    per_token = ppo.kl_penalty(log_p[tokens], log_q[tokens], estimator)
    # four standard errors: fails by chance about once in 15,000 seeds (and the seed is fixed)
    assert float(per_token.mean()) == pytest.approx(exact, abs=4 * float(per_token.std()) / 200_000**0.5)


# --- padding never affects any output --------------------------------------------------------------------


def _loss_and_stats(out):
    loss, stats = out
    return (loss, *stats.values())


# name -> function of (inputs, mask) giving every output that must not depend on padding
OUTPUTS = {
    "masked_mean": lambda t, m: (ppo.masked_mean(t["x"], m), ppo.masked_mean(t["x"], m, dim=1)),
    "masked_var": lambda t, m: (ppo.masked_var(t["x"], m),),
    "masked_whiten": lambda t, m: (ppo.masked_whiten(t["x"], m)[m],),
    "gae": lambda t, m: ppo.gae(t["rewards"], t["values"], m, 0.99, 0.95),
    "policy_loss": lambda t, m: _loss_and_stats(
        ppo.policy_loss(t["logprobs"], t["old_logprobs"], t["advantages"], m, 0.2)
    ),
    "value_loss": lambda t, m: _loss_and_stats(
        ppo.value_loss(t["values"], t["old_values"], t["returns"], m, 0.3)
    ),
    "entropy_from_logits": lambda t, m: (ppo.entropy_from_logits(t["logits"], m),),
    "logprobs_from_logits": lambda t, m: (ppo.logprobs_from_logits(t["logits"], t["labels"])[m],),
    "kl_penalty": lambda t, m: (ppo.kl_penalty(t["logprobs"], t["ref_logprobs"], "k3")[m],),
}

# what the padding is overwritten with
GARBAGE = {
    "large": lambda shape: randn(shape, 123, scale=1e4),  # huge but finite: exp() of it overflows
    "inf": lambda shape: torch.full(shape, math.inf, dtype=torch.float64),  # a sentinel gone wrong
    "nan": lambda shape: torch.full(shape, math.nan, dtype=torch.float64),  # 0 * nan is nan: products leak
}


def _with_garbage_padding(t, mask, garbage):
    out = {}
    for name, x in t.items():
        pad = ~mask if x.dim() == 2 else ~mask[..., None].expand_as(x)
        fill = torch.randint(0, 11, x.shape) if name == "labels" else GARBAGE[garbage](x.shape)
        out[name] = torch.where(pad, fill, x)
    return out


def _outputs_and_grads(name, t, mask):
    t = {k: v.clone().requires_grad_() if v.is_floating_point() else v for k, v in t.items()}
    outputs = OUTPUTS[name](t, mask)
    # functions without a mask work per position: a padded cell's output (and gradient) is its own business
    if outputs[0].requires_grad and name not in ("logprobs_from_logits", "kl_penalty"):
        outputs[0].sum().backward()
    grads = {k: v.grad for k, v in t.items() if v.is_floating_point() and v.grad is not None}
    return [o.detach() for o in outputs], grads


@pytest.mark.parametrize("name", list(OUTPUTS))
@pytest.mark.parametrize("garbage", list(GARBAGE))
def test_padding_never_affects_outputs_or_gradients(name, garbage):
    lengths, width = [5, 3, 1, 0, 4], 5
    mask = right_padded_mask(lengths, width)
    t = batch(lengths, width)
    clean, clean_grads = _outputs_and_grads(name, t, mask)
    dirty, dirty_grads = _outputs_and_grads(name, _with_garbage_padding(t, mask, garbage), mask)
    for a, b in zip(clean, dirty, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert clean_grads.keys() == dirty_grads.keys()
    for key, grad in dirty_grads.items():
        torch.testing.assert_close(grad, clean_grads[key], rtol=0, atol=0)
        pad = ~mask if grad.dim() == 2 else ~mask[..., None].expand_as(grad)
        assert (grad[pad] == 0).all(), f"{name}: gradient reaches padding of {key}"


# --- bad input -------------------------------------------------------------------------------------------

BAD_INPUT = [
    # x and mask disagree in shape
    (lambda: ppo.masked_mean(torch.ones(2, 3), torch.ones(2, 4)), "mask has shape"),
    # one real token: the unbiased variance is undefined
    (lambda: ppo.masked_var(torch.ones(2, 3), right_padded_mask([1, 0], 3)), "at least 2"),
    # whitening needs the variance too
    (lambda: ppo.masked_whiten(torch.ones(2, 3), right_padded_mask([0, 0], 3)), "at least 2"),
    # a hole in the mask: GAE cannot tell where the episode ends
    (
        lambda: ppo.gae(torch.ones(1, 3), torch.ones(1, 3), torch.tensor([[1, 0, 1]]), 1.0, 1.0),
        "right-padded",
    ),
    # values misaligned with the rewards
    (lambda: ppo.gae(torch.ones(1, 3), torch.ones(1, 2), torch.ones(1, 3), 1.0, 1.0), "values"),
    # HF's -100 ignore label is not a token id
    (lambda: ppo.logprobs_from_logits(torch.zeros(1, 2, 5), torch.tensor([[1, -100]])), "-100"),
    # logits not [B, T, V]
    (lambda: ppo.entropy_from_logits(torch.zeros(1, 2), torch.ones(1, 2)), "logits"),
    # an estimator that does not exist
    (lambda: ppo.kl_penalty(torch.zeros(2), torch.zeros(2), "k2"), "'k1' or 'k3'"),
]


@pytest.mark.parametrize("call,message", BAD_INPUT)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- parity with TRL 0.20.0 ------------------------------------------------------------------------------

# TRL's masked_var takes the Bessel factor n / (n - 1) from integer tensors, i.e. in float32, so whitened
# advantages (and all that follows from them) agree to ~1e-8 relative, not to float64 precision.
TRL_TOLERANCE = {"rtol": 1e-6, "atol": 1e-9}


@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.9, 0.8)])  # the kit's default, and a discounted case
def test_parity_with_trl_ppo_trainer(gamma, lam):
    """Our gae + masked_whiten + policy_loss + value_loss against TRL's helpers and its inline lines
    (trl/trainer/ppo_trainer.py, PPOTrainer.train, steps 6 and the micro-batch loss), same tensors."""
    from trl.core import masked_mean as trl_masked_mean
    from trl.core import masked_whiten as trl_masked_whiten

    lengths, width, cliprange, cliprange_value = [7, 4, 1, 6, 2], 7, 0.2, 0.3
    t = batch(lengths, width, seed=5)
    mask = right_padded_mask(lengths, width)
    # TRL's bookkeeping: sequence_lengths is the index of the last real token
    sequence_lengths = torch.tensor(lengths) - 1
    response_idxs = torch.arange(width).repeat(len(lengths), 1)
    padding_mask = response_idxs > sequence_lengths.unsqueeze(1)
    padding_mask_p1 = response_idxs > (sequence_lengths + 1).unsqueeze(1)
    assert torch.equal(~padding_mask, mask)
    # Deliberate difference: TRL keeps V at the first padding position (where it puts its scalar score) and
    # bootstraps the last real token from it; our episode ends at the last real token. Zero V on all
    # padding, and put the rewards on real tokens only, so both describe the same episode.
    rewards = torch.where(mask, t["rewards"], 0.0)
    values = torch.masked_fill(torch.where(mask, t["values"], 0.0), padding_mask_p1, 0)

    # TRL, step 6 (inline there)
    lastgaelam = 0
    advantages_reversed = []
    for s in reversed(range(width)):
        nextvalues = values[:, s + 1] if s < width - 1 else 0.0
        delta = rewards[:, s] + gamma * nextvalues - values[:, s]
        lastgaelam = delta + gamma * lam * lastgaelam
        advantages_reversed.append(lastgaelam)
    trl_advantages = torch.stack(advantages_reversed[::-1], axis=1)
    trl_returns = trl_advantages + values
    trl_advantages = torch.masked_fill(trl_masked_whiten(trl_advantages, ~padding_mask), padding_mask, 0)

    advantages, returns = ppo.gae(rewards, values, mask, gamma, lam)
    advantages = ppo.masked_whiten(advantages, mask)
    torch.testing.assert_close(advantages, trl_advantages, **TRL_TOLERANCE)
    torch.testing.assert_close(returns, trl_returns, **TRL_TOLERANCE)

    # TRL, micro-batch losses (inline there). INVALID_LOGPROB = 1.0 fills log-probs on padding.
    new_logprobs = torch.masked_fill(t["logprobs"], padding_mask, 1.0).requires_grad_()
    old_logprobs = torch.masked_fill(t["old_logprobs"], padding_mask, 1.0)
    logprobs_diff = new_logprobs - old_logprobs
    ratio = torch.exp(logprobs_diff)
    pg_losses = -trl_advantages * ratio
    pg_losses2 = -trl_advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    trl_pg_loss = trl_masked_mean(torch.max(pg_losses, pg_losses2), ~padding_mask)
    trl_clipfrac = trl_masked_mean((pg_losses2 > pg_losses).float(), ~padding_mask)
    trl_approxkl = 0.5 * (logprobs_diff**2).mean()
    (trl_grad,) = torch.autograd.grad(trl_pg_loss, new_logprobs)

    ours_logprobs = new_logprobs.detach().clone().requires_grad_()
    pg_loss, pg_stats = ppo.policy_loss(ours_logprobs, old_logprobs, advantages, mask, cliprange)
    pg_loss.backward()
    torch.testing.assert_close(pg_loss, trl_pg_loss, **TRL_TOLERANCE)
    torch.testing.assert_close(ours_logprobs.grad, trl_grad, **TRL_TOLERANCE)
    torch.testing.assert_close(pg_stats["clipfrac"], trl_clipfrac.double(), **TRL_TOLERANCE)
    # Deliberate difference: TRL averages approxkl over all [B, T] cells (padding holds 0); we average over
    # real tokens, so TRL's number is ours times the real-token share.
    torch.testing.assert_close(
        pg_stats["approx_kl_old"] * mask.double().mean(), trl_approxkl, **TRL_TOLERANCE
    )

    vpred = torch.masked_fill(t["old_values"], padding_mask_p1, 0)
    vpredclipped = torch.clamp(vpred, values - cliprange_value, values + cliprange_value)
    vf_losses1 = torch.square(vpred - trl_returns)
    vf_losses2 = torch.square(vpredclipped - trl_returns)
    trl_vf_loss = 0.5 * trl_masked_mean(torch.max(vf_losses1, vf_losses2), ~padding_mask_p1)
    trl_vf_clipfrac = trl_masked_mean((vf_losses2 > vf_losses1).float(), ~padding_mask_p1)
    # Deliberate difference: TRL trains the value head on one extra position (~padding_mask_p1); the kit
    # passes the response mask. The maths is the same given the mask, so check it under TRL's mask.
    vf_loss, vf_stats = ppo.value_loss(vpred, values, returns, ~padding_mask_p1, cliprange_value)
    torch.testing.assert_close(vf_loss, trl_vf_loss, **TRL_TOLERANCE)
    torch.testing.assert_close(vf_stats["vf_clipfrac"], trl_vf_clipfrac.double(), **TRL_TOLERANCE)
