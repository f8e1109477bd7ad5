"""Combine reward components into the per-token reward PPO learns from, dense (the paper) or sparse.

    from dense_rl.rewards.combine import combine
    total = combine({"syntax": s, "lint": l, "tests": t, "dfg": d}, {"syntax": .1, "lint": .1, "tests": .7,
                    "dfg": .1}, kl=kl, kl_coef=0.1, mask=batch.response_mask, mode="dense")
    total.per_token          # Tensor[B, T]: r_t

    r_t = sum_k w_k * component_k,t - kl_coef * KL_t

Two modes, same total reward per sample, different credit assignment:
- "dense" (the paper): every component keeps its per-token placement, so the token that broke the syntax
  or wrote `eval(` carries that penalty itself.
- "sparse" (TRL's placement): each sample's total non-KL reward sits on its last response token; only the
  KL stays per token. This is the ablation the paper never ran.
Optional length normalisation divides each sample's non-KL reward by its number of response tokens, so that
"+1 per valid token" cannot be farmed by writing longer answers; it is applied before placement, so both
modes still agree on the total.
Optional group baseline (`groups`, one id per row: rows with the same id answer the same prompt): from each
answer's non-KL reward, the mean total of its group, R_bar_g = mean_{j in g} R_j, is taken away, spread evenly
over the answer's tokens, so each answer's total becomes R_i - R_bar_g. What is left is how much better this
answer did than its siblings, the contrast RL learns from; how hard the prompt was cancels out. (GRPO and RLOO
use the same group mean in place of a critic; here the critic stays and learns what remains.) On the robot
preset it did not raise task success (LOG.md); no preset turns it on.

Where this departs from the paper: the sparse mode, the length normalisation and the group baseline are
additions; the paper reports dense rewards without normalisation or baseline (the defaults here).
"""

from __future__ import annotations

import math

import torch

from dense_rl.batch import RewardOutput

MODES = ("dense", "sparse")


def check_weights(weights: dict[str, float], kl_coef: float = 0.0) -> None:
    """Reject negative, NaN, infinite or non-numeric weights by name: every component is added, and signs
    live in the components."""
    for name, value in {**weights, "kl_coef": kl_coef}.items():
        usable = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not usable or not math.isfinite(value) or value < 0:
            raise ValueError(
                f"reward weight {name}={value!r} must be a finite number >= 0 (signs live in the "
                "components); set it to 0 to switch that term off"
            )


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last True position in `mask` (0 for an all-False row)."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    return (positions * mask).max(dim=1).values


def combine(
    components: dict[str, RewardOutput],
    weights: dict[str, float],
    *,
    mask: torch.Tensor,
    kl: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    mode: str = "dense",
    length_normalise: bool = False,
    groups: torch.Tensor | None = None,
) -> RewardOutput:
    """Weighted sum of the components' per-token rewards minus kl_coef * KL, placed per `mode`.

    Summary: every component's own summary, plus per sample `reward_<name>` (its weighted total),
    `reward_task` (all non-KL rewards), `kl` (summed KL) and `reward_total`, all before the group baseline.

    >>> m = torch.tensor([[True, True, False]])
    >>> part = RewardOutput(torch.tensor([[1.0, 1.0, 0.0]]))
    >>> combine({"syntax": part}, {"syntax": 0.5}, mask=m, mode="dense").per_token
    tensor([[0.5000, 0.5000, 0.0000]])
    >>> combine({"syntax": part}, {"syntax": 0.5}, mask=m, mode="sparse").per_token
    tensor([[0., 1., 0.]])
    """
    if mode not in MODES:
        raise ValueError(f"combine: mode={mode!r} is not one of {MODES}")
    missing = sorted(set(components) - set(weights))
    if missing:
        raise ValueError(f"combine: no weight for component(s) {missing}; weights given: {sorted(weights)}")
    check_weights({name: weights[name] for name in components}, kl_coef)
    mask = mask.bool()
    mask_f = mask.to(torch.float32)
    zero = torch.zeros(mask.shape, dtype=torch.float32)
    task = zero.clone()
    summary: dict[str, list[float]] = {}
    for name, part in components.items():
        if part.per_token.shape != mask.shape:
            raise ValueError(
                f"combine: {name} has shape {tuple(part.per_token.shape)}, mask {tuple(mask.shape)}"
            )
        # torch.where, not a product with the mask: NaN or inf on padding must not leak (NaN * 0 = NaN)
        weighted = torch.where(mask, weights[name] * part.per_token.float(), zero)
        task += weighted
        summary.update(part.summary)
        summary[f"reward_{name}"] = weighted.sum(dim=1).tolist()
    if length_normalise:
        task = task / mask_f.sum(dim=1, keepdim=True).clamp(min=1.0)
    totals = task.sum(dim=1)  # R_i, logged before any baseline
    if groups is not None:
        # r_i,t -= R_bar_g / L_i on each real token, so that sum_t r_i,t = R_i - R_bar_g
        lengths = mask_f.sum(dim=1, keepdim=True).clamp(min=1.0)
        task = task - group_means(totals, groups)[:, None] * mask_f / lengths
    if mode == "sparse":
        centred = task.sum(dim=1)
        task = torch.zeros_like(task)
        task[torch.arange(len(centred)), last_token_index(mask)] = centred * mask.any(dim=1)
    if kl is not None and kl.shape != mask.shape:
        raise ValueError(f"combine: kl has shape {tuple(kl.shape)}, mask {tuple(mask.shape)}")
    kl = torch.where(mask, kl.float(), zero) if kl is not None else zero
    kl_part = kl_coef * kl
    summary["reward_task"] = totals.tolist()
    summary["kl"] = kl.sum(dim=1).tolist()
    per_token = task - kl_part
    summary["reward_total"] = (totals - kl_part.sum(dim=1)).tolist()
    return RewardOutput(per_token, summary)


def group_means(totals: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """For each row, the mean of `totals` over the rows with the same group id (R_bar_g, itself included).

    >>> group_means(torch.tensor([1.0, 0.0, 2.0, 2.0]), torch.tensor([0, 0, 1, 1]))
    tensor([0.5000, 0.5000, 2.0000, 2.0000])
    """
    groups = torch.as_tensor(groups)
    if groups.shape != totals.shape:
        raise ValueError(
            f"combine: groups has shape {tuple(groups.shape)}; pass one id per row: {tuple(totals.shape)}"
        )
    same = groups[:, None] == groups[None, :]
    return (same.float() @ totals) / same.sum(dim=1)


def config_weights(cfg) -> dict[str, float]:
    """Component weights of a dense_rl.config.Config, keyed by component name."""
    return {
        "syntax": cfg.w_syntax,
        "lint": cfg.w_lint,
        "dfg": cfg.w_dfg,
        "tests": cfg.w_tests,
        "sim": cfg.w_sim,
        "checks": cfg.w_task,  # the success checks of generated robot tasks (robot.task_reward)
    }
