"""Dense PPO for code: rollout -> per-token rewards -> advantages -> clipped updates of policy and critic.

    python -m dense_rl.train --preset tiny-code                      # ~10 minutes on 2 CPU cores
    python -m dense_rl.train --preset tiny-code --reward-mode sparse # the ablation: same total, last token
    python -m dense_rl.train --preset tiny-robot --seed 1 --resume
    python -m dense_rl.train --preset tiny-robot --steps 100 --set group_baseline=true   # any config field
    accelerate launch --config_file configs/deepspeed_zero2.yaml -m dense_rl.train --preset paper-mbpp

The loop reads like the paper's algorithm, top to bottom in `train()`:
1. rollout: sample one answer per prompt from the policy (LoRA adapter on);
2. score: log-probs of the policy and of the reference (the same model with the adapter disabled, as in the
   paper) and the critic's values for every response token;
3. rewards: each component (dense_rl.rewards.*, dense_rl.robot.reward) gives one value per token; `combine`
   weights them and subtracts kl_coef * KL per token; mode "dense" keeps them where they fell, "sparse" puts
   each sample's total on its last token (the ablation);
4. advantages: GAE over the response tokens, whitened;
5. PPO epochs over mini-batches: clipped policy loss + vf_coef * clipped value loss, gradient clipping;
6. log a row of metrics.csv, checkpoint every `checkpoint_every` steps.
The critic is a separate model (the paper's "secondary model"): a LoRA'd copy of the base with a scalar head.

Where this departs from the paper: rewards, placement and losses follow it; the tiny presets use a larger
learning rate and shorter answers (dense_rl/config.py says why); a run evaluates held-out pass@1 before and
after training (results/<scale>/<run>/summary.json) so every run reports what it changed.
Resuming: a checkpoint holds adapters, critic, optimiser, RNG states, step and data position, and is written
to a temporary folder and renamed, so a crash never leaves a half-written checkpoint behind; metrics.csv rows
after the checkpoint's step are dropped on resume, so the log has no duplicated or lost steps.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import operator
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from peft import LoraConfig, get_peft_model

from dense_rl import ppo
from dense_rl.attention import PADDING_SAFE_SDPA
from dense_rl.batch import RewardOutput, RolloutBatch
from dense_rl.config import TINY_MODELS, Config, get_preset
from dense_rl.evaluate import code_pass_at_1
from dense_rl.paths import project_path
from dense_rl.policy import load_policy, sample
from dense_rl.progress import progress
from dense_rl.rewards.combine import combine, config_weights
from dense_rl.rewards.dfg import dfg_reward
from dense_rl.rewards.kl import kl_per_token
from dense_rl.rewards.lint import lint_reward
from dense_rl.rewards.syntax import syntax_reward
from dense_rl.rewards.tests import unit_test_reward
from dense_rl.rollout import Sampler, Speedups
from dense_rl.seeding import seed_everything
from dense_rl.tasks.chat import messages_for
from dense_rl.tasks.sources import heldout_tasks, training_tasks
from dense_rl.tiny import tiny_model_path


class ValueModel(torch.nn.Module):
    """The critic: a transformer backbone (LoRA'd) and a scalar head, V(s_t) for every position."""

    def __init__(self, backbone: torch.nn.Module, hidden_size: int):
        super().__init__()
        self.backbone = backbone
        self.v_head = torch.nn.Linear(hidden_size, 1)
        torch.nn.init.zeros_(self.v_head.weight)
        torch.nn.init.zeros_(self.v_head.bias)

    def forward(self, input_ids, attention_mask, position_ids, P: int, T: int) -> torch.Tensor:
        """V(s_t) for response tokens 0 ... T-1: the critic read at columns P-1 ... P+T-2 (`at_responses`)."""
        hidden = at_responses(self.backbone, (input_ids, attention_mask, position_ids), P, T, logits=False)
        h = hidden.to(self.v_head.weight.dtype)  # bf16 backbone, fp32 head on GPUs
        return self.v_head(h).squeeze(-1).float()


def lora_config(cfg: Config) -> LoraConfig:
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_targets),
        task_type="CAUSAL_LM",
    )


def train_dtype() -> torch.dtype | None:
    """bf16 weights where the GPU supports them (as the paper's runs), the checkpoint's own dtype on CPU."""
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else None


def train_attention() -> str:
    """SDPA with a mask that leaves no query row without a key (dense_rl.attention). With stock SDPA the bf16
    PPO update of a left-padded batch went NaN at step 2 on an H100: the pad rows of left padding see no key,
    some kernels return NaN there, and 0 * NaN spreads it into real rows (results/gpu/README.md)."""
    return PADDING_SAFE_SDPA


def build_models(cfg: Config, load=load_policy):
    """(tokenizer, policy with LoRA, critic). The reference policy is the policy with its adapter disabled.

    `load(name, seed=, dtype=, attn_implementation=)` returns (tokenizer, model); benchmarks/gpu_ppo_step.py
    passes one that builds randomly initialised weights of the paper model's shape.
    """
    kwargs = dict(seed=cfg.seed, dtype=train_dtype(), attn_implementation=train_attention())
    tokenizer, base = load(cfg.model, **kwargs)
    policy = get_peft_model(base, lora_config(cfg))
    _, critic_base = load(cfg.model, **kwargs)
    critic_base = get_peft_model(critic_base, lora_config(cfg))
    critic = ValueModel(critic_base.get_base_model().model, base.config.hidden_size)
    return tokenizer, policy, critic


# ------------------------------------------------------------------------------------------------------------
# Scoring: one batched forward over [left-padded prompt | right-padded response]
# ------------------------------------------------------------------------------------------------------------


def pack(batch: RolloutBatch, pad_id: int):
    """input_ids, attention_mask, position_ids of [prompt | response], and P: where responses start.

    Prompts are left-padded to a common length P so that response token t sits at column P + t in every row;
    the logits at column P + t - 1 predict it. Position ids count real tokens only.
    """
    B, T = batch.response_ids.shape
    P = max(len(p) for p in batch.prompt_ids)
    input_ids = torch.full((B, P + T), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((B, P + T), dtype=torch.long)
    for row, prompt in enumerate(batch.prompt_ids):
        input_ids[row, P - len(prompt) : P] = torch.tensor(prompt)
        attention_mask[row, P - len(prompt) : P] = 1
    input_ids[:, P:] = batch.response_ids
    attention_mask[:, P:] = batch.response_mask.long()
    position_ids = (attention_mask.cumsum(1) - 1).clamp(min=0)
    return input_ids, attention_mask, position_ids, P


def repeated_prompts(inputs, P: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(first row of each distinct prompt, for each row the index of its prompt), or None when all differ."""
    input_ids, attention_mask, _ = inputs
    prompts = torch.cat([input_ids[:, :P], attention_mask[:, :P]], dim=1)
    distinct, row_prompt = torch.unique(prompts, dim=0, return_inverse=True)
    if len(distinct) == len(prompts):
        return None
    first = torch.stack([(row_prompt == u).nonzero()[0, 0] for u in range(len(distinct))])
    return first, row_prompt


def at_responses(model, inputs, P: int, T: int, logits: bool = True) -> torch.Tensor:
    """The model's logits (or last hidden states) at columns P-1 ... P+T-2, those that predict response tokens
    0 ... T-1 of the packed batch: Tensor[B, T, ...].

    Rows that repeat a prompt (a prompt answered `samples_per_prompt` times) share its forward pass: each
    distinct prompt runs once, and its key/value cache is copied to every row that repeats it before the
    responses run on top. Same numbers as one forward over the whole batch (tests/test_train.py), and the
    gradient reaches the prompt's positions through the copied cache, as it would through the rows. With
    4 answers per prompt this skips most of the prompt compute, the larger part of a tiny-code step.
    One process only: under DDP a module must be called once per backward.
    """
    input_ids, attention_mask, position_ids = inputs
    read = operator.attrgetter("logits" if logits else "last_hidden_state")
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    shared = None if distributed else repeated_prompts(inputs, P)
    if shared is None:
        keep = dict(logits_to_keep=T + 1) if logits else {}  # the lm_head only where it is read
        out = read(
            model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **keep)
        )
        return out[:, :T] if logits else out[:, P - 1 : P + T - 1]
    first, row_prompt = shared
    prompt = model(
        input_ids=input_ids[first, :P],
        attention_mask=attention_mask[first, :P],
        position_ids=position_ids[first, :P],
        use_cache=True,
        **(dict(logits_to_keep=1) if logits else {}),
    )
    cache = prompt.past_key_values
    cache.batch_select_indices(row_prompt.to(input_ids.device))  # one copy of the prompt's keys per row
    rest = model(
        input_ids=input_ids[:, P:],
        attention_mask=attention_mask,
        position_ids=position_ids[:, P:],
        past_key_values=cache,
        use_cache=True,
    )
    return torch.cat([read(prompt)[row_prompt, -1:], read(rest)[:, : T - 1]], dim=1)


def policy_logprobs(model, inputs, response_ids, P: int, temperature: float, with_entropy: bool = False):
    """log pi(a_t | s_t) for every response token, Tensor[B, T] (and the logits' entropy per token)."""
    T = response_ids.shape[1]
    logits = at_responses(model, inputs, P, T).float() / temperature
    logprobs = ppo.logprobs_from_logits(logits, response_ids)
    return (logprobs, logits) if with_entropy else logprobs


def critic_values(critic, inputs, P: int, T: int) -> torch.Tensor:
    """V(s_t) for every response token t: the critic read at the position that predicts token t."""
    return critic(*inputs, P=P, T=T)


# ------------------------------------------------------------------------------------------------------------
# Rewards: the components of the preset's domain, weighted and placed by `combine`
# ------------------------------------------------------------------------------------------------------------


def reward_components(cfg: Config, batch: RolloutBatch, tasks: list) -> dict[str, RewardOutput]:
    """Every component with a non-zero weight, each a Tensor[B, T] of per-token rewards."""
    parts: dict[str, RewardOutput] = {}
    if cfg.w_syntax:
        parts["syntax"] = syntax_reward(batch, tasks, scheme=cfg.syntax_scheme)
    if cfg.w_lint:
        from dense_rl.robot.api import PROGRAM_GLOBALS

        known = PROGRAM_GLOBALS if cfg.domain == "robot" else ()  # the simulator defines the robot API
        parts["lint"] = lint_reward(batch, tasks, builtins=known)
    if cfg.domain == "code":
        if cfg.w_tests:
            parts["tests"] = unit_test_reward(batch, tasks)
        if cfg.w_dfg:
            parts["dfg"] = dfg_reward(batch, tasks)
    else:
        from dense_rl.robot.reward import robot_reward, run_responses
        from dense_rl.robot.task_reward import task_reward

        runs = run_responses(batch.responses, cfg.sim_runs, cfg.seed)  # one set of runs for both rewards
        if cfg.w_sim:
            parts["sim"] = robot_reward(batch, tasks, n_runs=cfg.sim_runs, seed=cfg.seed, runs=runs)
        if cfg.w_task:
            parts["checks"] = task_reward(batch, tasks, n_runs=cfg.sim_runs, seed=cfg.seed, runs=runs)
    return parts


# ------------------------------------------------------------------------------------------------------------
# Checkpoints and logs
# ------------------------------------------------------------------------------------------------------------


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_checkpoint(run_dir: Path, step: int, policy, critic, optimizer) -> Path:
    """Write checkpoints/step_N atomically (temporary folder, then rename) and point `latest` at it."""
    final = run_dir / "checkpoints" / f"step_{step:06d}"
    staging = run_dir / "checkpoints" / f".staging_{step:06d}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    policy.save_pretrained(staging / "policy")
    trainable = {k: v for k, v in critic.state_dict().items() if "lora_" in k or k.startswith("v_head")}
    torch.save(trainable, staging / "critic.pt")
    torch.save({"optimizer": optimizer.state_dict(), "rng": rng_state(), "step": step}, staging / "state.pt")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    latest_tmp = run_dir / "checkpoints" / ".latest"
    latest_tmp.write_text(final.name)
    os.replace(latest_tmp, run_dir / "checkpoints" / "latest")
    return final


def load_checkpoint(run_dir: Path, policy, critic, optimizer) -> int:
    """Restore the latest complete checkpoint; returns its step (0 when there is none)."""
    pointer = run_dir / "checkpoints" / "latest"
    if not pointer.exists():
        return 0
    folder = run_dir / "checkpoints" / pointer.read_text().strip()
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(policy, load_file(folder / "policy" / "adapter_model.safetensors"))
    critic.load_state_dict(torch.load(folder / "critic.pt"), strict=False)
    state = torch.load(folder / "state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    set_rng_state(state["rng"])
    return state["step"]


def append_metrics(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


# Config fields that never change what a run produces: the preset's label (the prefix of the name shows it)
# and how often checkpoints are written. Every other field, and the held-out task count, keys the run.
NOT_IN_KEY = ("preset", "checkpoint_every")
# Fields added after runs were recorded key a run only when set away from their default, so that runs made
# before a field existed keep their folders (and their config.json still describes them exactly).
KEY_WHEN_SET = {"group_baseline": False, "robot_templates": ()}


def key_settings(settings: dict) -> dict:
    """A run's settings (asdict(cfg) or its config.json) without KEY_WHEN_SET fields left at their default."""

    def at_default(k, v):  # a tuple default reads back from config.json as a list
        return k in KEY_WHEN_SET and json.dumps(KEY_WHEN_SET[k]) == json.dumps(v)

    return {k: v for k, v in settings.items() if not at_default(k, v)}


def run_key(cfg: Config, eval_tasks: int = 500) -> str:
    """8 hex digits hashing every setting that changes a run's results (all config fields but NOT_IN_KEY,
    and eval_tasks): a run with any of them changed (steps, seed, mode, weights, lr...) gets another folder.

    Not in the key: the weights behind cfg.model (for the kit's "tiny" model, the build in cache/)."""
    settings = key_settings(asdict(cfg))
    settings = {k: v for k, v in settings.items() if k not in NOT_IN_KEY} | {"eval_tasks": eval_tasks}
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def run_name(cfg: Config, eval_tasks: int = 500) -> str:
    """A run's folder name: '<preset>-<mode>-s<seed>-<run_key>', e.g. 'tiny-code-dense-s0-3f9a0c1e'."""
    return f"{cfg.preset}-{cfg.reward_mode}-s{cfg.seed}-{run_key(cfg, eval_tasks)}"


def run_finished(run_dir: Path, cfg: Config | None = None) -> bool:
    """Did a run here finish on this machine? Its summary and its final policy (checkpoints are not committed,
    so results from elsewhere, e.g. a fresh clone's results/, count as unfinished and are trained again).
    With `cfg`, the run must also have been made with exactly these settings (its config.json)."""
    done = (run_dir / "summary.json").exists() and (run_dir / "checkpoints" / "latest").exists()
    if done and cfg is not None:
        return same_settings(json.loads((run_dir / "config.json").read_text()), cfg)
    return done


def same_settings(recorded: dict, cfg: Config) -> bool:
    """Was the run whose config.json holds `recorded` made with exactly `cfg`'s settings?"""
    return key_settings(recorded) == key_settings(json.loads(json.dumps(asdict(cfg))))


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only rows with step <= last_step (a resumed run rewrites what came after its checkpoint)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= last_step]
    if not rows:  # nothing kept: the next row starts a new file, header included
        path.unlink()
        return
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def seconds_so_far(path: Path) -> float:
    """Training seconds of the steps a metrics file keeps (its last row's `seconds`; 0 without one)."""
    if not path.exists():
        return 0.0
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1].get("seconds") or 0) if rows else 0.0


def heldout_eval(cfg: Config, tokenizer, model, n_tasks: int) -> tuple[float, list[dict]]:
    """Greedy pass@1 (code) or task success (robot: every success check in every world) on held-out tasks.

    Returns (score, one record per task: task_id, answer, solution, kind); kind is the judge's verdict (code)
    or the check verdict (robot: evaluate.robot_heldout, which also records the error-free share).
    """
    tasks = heldout_tasks(cfg, n_tasks)
    if not tasks:
        return float("nan"), []
    if cfg.domain == "code":
        return code_pass_at_1(tokenizer, model, tasks, max_new_tokens=cfg.response_length)
    from dense_rl.evaluate import robot_heldout

    out = sample(
        tokenizer, model, [messages_for(t) for t in tasks], temperature=0, max_new_tokens=cfg.response_length
    )
    # kind 'pass' = task success
    records = robot_heldout(tasks, out.texts, n_worlds=cfg.sim_runs, seed=cfg.seed)
    return sum(r["kind"] == "pass" for r in records) / len(records), records


def write_records(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def base_evaluation(cfg: Config, run_dir: Path, tokenizer, model, n_tasks: int) -> float:
    """The untrained policy's held-out score, written to run_dir (base_eval.json, heldout_base.jsonl).

    Runs of the same built tiny policy, domain, seed, task count and answer length (the dense and sparse runs
    of the ablation) share one evaluation: it is copied from a sibling or cousin run folder when one matches.
    """
    key = None
    if cfg.model in TINY_MODELS:  # only the kit's own models have a build record to fingerprint their weights
        build = (tiny_model_path(cfg.model, cfg.seed) / "build_info.json").read_bytes()
        key = dict(weights=hashlib.sha1(build).hexdigest(), domain=cfg.domain, seed=cfg.seed, tasks=n_tasks)
        key["response_length"] = cfg.response_length
        if cfg.robot_templates:  # other held-out tasks
            key["robot_templates"] = list(cfg.robot_templates)
    # siblings (results/tiny/<run>/) and cousins (the ablation's <arm>/s<seed>/ folders)
    siblings = [*run_dir.parent.glob("*/base_eval.json"), *run_dir.parent.parent.glob("*/*/base_eval.json")]
    for other in sorted(set(siblings)) if key else []:
        found = json.loads(other.read_text())
        if found.get("key") == key and (other.parent / "heldout_base.jsonl").exists():
            shutil.copy(other.parent / "heldout_base.jsonl", run_dir / "heldout_base.jsonl")
            (run_dir / "base_eval.json").write_text(json.dumps(found))
            return found["heldout_pass_at_1"]
    score, records = heldout_eval(cfg, tokenizer, model, n_tasks)
    write_records(run_dir / "heldout_base.jsonl", records)
    # written whole, then renamed, after the records: a run beside this one (--jobs) reads both or neither
    partial = run_dir / "base_eval.json.partial"
    partial.write_text(json.dumps({"heldout_pass_at_1": score, "key": key}))
    os.replace(partial, run_dir / "base_eval.json")
    return score


# ------------------------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Experience:
    """One rollout, scored: everything PPO's update needs (and everything a notebook wants to look at)."""

    batch: RolloutBatch
    components: dict[str, RewardOutput]  # each reward component's per-token rewards
    total: RewardOutput  # r_t after weighting, placement (dense / sparse) and the KL penalty
    kl: torch.Tensor  # per-token KL to the reference, [B, T]
    logprobs: torch.Tensor  # log pi_old(a_t | s_t), [B, T]
    values: torch.Tensor  # V_old(s_t), [B, T]
    advantages: torch.Tensor  # whitened GAE advantages, [B, T]
    returns: torch.Tensor  # advantages (before whitening) + values: the critic's targets
    inputs: tuple  # packed (input_ids, attention_mask, position_ids) on the device
    P: int  # column where responses start in `inputs`
    reward_seconds: float


def collect_experience(
    cfg: Config, tokenizer, policy, critic, accelerator, tasks: list, sampler: Sampler | None = None
) -> Experience:
    """Steps 1-4: rollout, score, rewards, advantages (no gradients).

    `sampler`: the fast rollout path (dense_rl.rollout: merged LoRA, static cache); None samples through the
    adapter, as a notebook does for one batch."""
    unwrapped = accelerator.unwrap_model(policy)
    # 1. rollout
    with torch.no_grad():
        out = (sampler or Sampler(unwrapped, Speedups(merge_lora=False))).sample(
            tokenizer,
            [messages_for(t) for t in tasks],
            temperature=cfg.temperature,
            max_new_tokens=cfg.response_length,
        )
    batch = RolloutBatch.from_ids(tokenizer, out.prompts, out.prompt_ids, out.response_ids)
    mask = batch.response_mask
    inputs = pack(batch, tokenizer.pad_token_id)
    P, T = inputs[3], mask.shape[1]
    inputs = tuple(x.to(accelerator.device) for x in inputs[:3])
    response_ids = batch.response_ids.to(accelerator.device)

    # 2. score: log pi, log pi_ref (adapter off) and V(s_t) per response token
    with torch.no_grad():
        logprobs = policy_logprobs(policy, inputs, response_ids, P, cfg.temperature).cpu()
        with unwrapped.disable_adapter():
            ref_logprobs = policy_logprobs(unwrapped, inputs, response_ids, P, cfg.temperature).cpu()
        values = critic_values(critic, inputs, P, T).cpu()

    # 3. rewards: r_t = sum_k w_k component_k,t - kl_coef * KL_t, dense or sparse
    t_reward = time.time()
    kl = kl_per_token(logprobs, ref_logprobs, mask, estimator=cfg.kl_estimator)  # the KL reward component
    parts = reward_components(cfg, batch, tasks)
    weights = {k: v for k, v in config_weights(cfg).items() if k in parts}
    total = combine(
        parts,
        weights,
        mask=mask,
        kl=kl,
        kl_coef=cfg.kl_coef,
        mode=cfg.reward_mode,
        length_normalise=cfg.length_normalise,
        groups=torch.arange(len(tasks)) // cfg.samples_per_prompt if cfg.group_baseline else None,
    )
    reward_seconds = time.time() - t_reward

    # 4. advantages: delta_t = r_t + gamma V(s_{t+1}) - V(s_t); A_t = delta_t + gamma lam A_{t+1}
    advantages, returns = ppo.gae(total.per_token, values, mask, cfg.gamma, cfg.lam)
    advantages = ppo.masked_whiten(advantages, mask) if mask.sum() > 1 else advantages

    return Experience(
        batch, parts, total, kl, logprobs, values, advantages, returns, inputs, P, reward_seconds
    )


def ppo_update(
    cfg: Config, policy, critic, optimizer, accelerator, exp: Experience
) -> dict[str, list[float]]:
    """Step 5: PPO epochs over mini-batches: clipped policy loss + vf_coef * clipped value loss."""
    B = exp.batch.response_mask.shape[0]
    P, inputs, mask, dev = exp.P, exp.inputs, exp.batch.response_mask, accelerator.device
    response_ids = exp.batch.response_ids.to(dev)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    # models stay in eval mode: no dropout, so the first epoch starts at ratio 1
    stats: dict[str, list[float]] = {}
    for _ in range(cfg.ppo_epochs):
        for idx in torch.randperm(B).split(cfg.mini_batch_size):
            # columns past the mini-batch's longest response are padding for all its rows: causal attention
            # never lets a real token see them, and every loss is masked, so they are cut (same numbers)
            t = int(mask[idx].any(0).nonzero().max()) + 1 if mask[idx].any() else 1
            mb_inputs = tuple(x[idx, : P + t] for x in inputs)
            mb_mask = mask[idx, :t].to(dev)
            old = {
                k: getattr(exp, k)[idx, :t].to(dev) for k in ("logprobs", "advantages", "values", "returns")
            }
            new_logprobs, logits = policy_logprobs(
                policy, mb_inputs, response_ids[idx, :t], P, cfg.temperature, with_entropy=True
            )
            new_values = critic_values(critic, mb_inputs, P, t)
            pg_loss, pg_stats = ppo.policy_loss(
                new_logprobs, old["logprobs"], old["advantages"], mb_mask, cfg.cliprange
            )
            vf_loss, vf_stats = ppo.value_loss(
                new_values, old["values"], old["returns"], mb_mask, cfg.cliprange_value
            )
            loss = pg_loss + cfg.vf_coef * vf_loss
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                entropy = ppo.entropy_from_logits(logits, mb_mask)
            for k, v in {
                "pg_loss": pg_loss,
                "vf_loss": vf_loss,
                "entropy": entropy,
                **pg_stats,
                **vf_stats,
            }.items():
                stats.setdefault(k, []).append(float(torch.as_tensor(v).detach()))
    return stats


def ppo_step(
    cfg: Config, tokenizer, policy, critic, optimizer, accelerator, tasks: list, sampler=None
) -> dict:
    """One PPO step on `tasks` (one prompt each): steps 1-5 of the module docstring; returns metrics."""
    exp = collect_experience(cfg, tokenizer, policy, critic, accelerator, tasks, sampler)
    stats = ppo_update(cfg, policy, critic, optimizer, accelerator, exp)
    row = {"reward_seconds": round(exp.reward_seconds, 3)}
    row |= {k: round(float(np.mean(v)), 5) for k, v in exp.total.summary.items() if _is_number_list(v)}
    row |= {k: round(float(np.mean(v)), 5) for k, v in stats.items()}
    row["response_tokens"] = float(exp.batch.response_mask.sum(1).float().mean())
    return row


def train(
    cfg: Config,
    run_dir: Path,
    resume: bool = False,
    eval_tasks: int = 500,
    curve_every: int = 0,
    curve_tasks: int = 100,
) -> dict:
    """Run PPO with `cfg`, writing config.json, metrics.csv, checkpoints and summary.json into `run_dir`.
    With `curve_every`, the first `curve_tasks` held-out tasks are also scored greedily every `curve_every`
    steps (heldout_curve.csv): a learning curve on a fixed subset, not just two endpoints."""
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    # TRY NOT TO MODIFY: seeding (one place; each process gets its own sampling stream)
    seed_everything(cfg.seed + accelerator.process_index)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume and (run_dir / "metrics.csv").exists():
        raise FileExistsError(
            f"{run_dir} already holds a run: pass --resume to continue it, or a new --run-name"
        )
    cfg.to_json(run_dir / "config.json")

    tokenizer, policy, critic = build_models(cfg)
    params = [p for p in [*policy.parameters(), *critic.parameters()] if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, eps=1e-5)
    start = load_checkpoint(run_dir, policy, critic, optimizer) if resume else 0
    truncate_metrics(run_dir / "metrics.csv", start)
    truncate_metrics(run_dir / "heldout_curve.csv", start)
    policy, critic, optimizer = accelerator.prepare(policy, critic, optimizer)
    policy.eval()  # as TRL does: dropout off while sampling and while scoring the same tokens
    critic.eval()
    unwrapped = accelerator.unwrap_model(policy)
    base_pass = None
    if start == 0 and accelerator.is_main_process and eval_tasks:
        base_pass = base_evaluation(cfg, run_dir, tokenizer, unwrapped, eval_tasks)

    sampler = Sampler(unwrapped, Speedups.for_device(torch.cuda.is_available()))  # merged LoRA copy
    B = cfg.batch_size
    n_prompts = B // cfg.samples_per_prompt  # each prompt is answered samples_per_prompt times
    tasks_all = training_tasks(cfg, cfg.total_steps * n_prompts * accelerator.num_processes)
    t0 = time.time() - seconds_so_far(run_dir / "metrics.csv")  # a resumed run's clock goes on
    bar = progress(
        range(start, cfg.total_steps),
        desc=f"PPO {cfg.preset} {cfg.reward_mode}",
        disable=not accelerator.is_main_process,
    )
    for step in bar:
        # data position: step * B * num_processes + rank, so a resumed run continues with the same prompts
        first = (step * accelerator.num_processes + accelerator.process_index) * n_prompts
        tasks = [t for t in tasks_all[first : first + n_prompts] for _ in range(cfg.samples_per_prompt)]

        row = {"step": step + 1}
        row |= ppo_step(cfg, tokenizer, policy, critic, optimizer, accelerator, tasks, sampler)
        row["seconds"] = round(time.time() - t0, 2)

        # 6. log and checkpoint
        if accelerator.is_main_process:
            append_metrics(run_dir / "metrics.csv", row)
            bar.set_postfix(reward=f"{row['reward_total']:.3f}", **_progress(row))
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.total_steps:
                save_checkpoint(run_dir, step + 1, unwrapped, accelerator.unwrap_model(critic), optimizer)
            if curve_every and (step + 1) % curve_every == 0 and step + 1 < cfg.total_steps:
                score, _ = heldout_eval(cfg, tokenizer, unwrapped, curve_tasks)
                row = {"step": step + 1, "heldout_pass_at_1": round(score, 4), "tasks": curve_tasks}
                append_metrics(run_dir / "heldout_curve.csv", row)
        accelerator.wait_for_everyone()

    summary = {
        "preset": cfg.preset,
        "reward_mode": cfg.reward_mode,
        "seed": cfg.seed,
        "steps": cfg.total_steps,
        "minutes": round((time.time() - t0) / 60, 2),
    }
    if accelerator.is_main_process and eval_tasks:
        base = (
            base_pass
            if base_pass is not None
            else json.loads((run_dir / "base_eval.json").read_text())["heldout_pass_at_1"]
        )
        final, records = heldout_eval(cfg, tokenizer, unwrapped, eval_tasks)
        write_records(run_dir / "heldout_final.jsonl", records)
        summary |= {
            "base_heldout_pass_at_1": base,
            "final_heldout_pass_at_1": final,
            "heldout_tasks": eval_tasks,
        }
        if cfg.domain == "robot":  # task success, error-free share, distinct programs, length, API calls
            from dense_rl.evaluate import robot_metrics

            base_records = [json.loads(x) for x in (run_dir / "heldout_base.jsonl").read_text().splitlines()]
            summary |= {"base_robot": robot_metrics(base_records), "final_robot": robot_metrics(records)}
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _is_number_list(values) -> bool:
    return isinstance(values, list) and all(isinstance(v, (int, float)) for v in values)


def _progress(row: dict) -> dict:
    """The live numbers on the progress bar: pass rate (code) or error-free runs (robot)."""
    keys = {"pass_at_1": "pass", "sim_success": "sim_ok", "syntax_valid": "syntax_ok"}
    return {short: f"{row[k]:.2f}" for k, short in keys.items() if k in row}


def parse_sets(items: list[str]) -> dict:
    """--set FIELD=VALUE pairs as config overrides; VALUE is read as JSON (true, 1e-4, 0.5), else as text.

    >>> parse_sets(["group_baseline=true", "lam=1.0", "reward_mode=sparse"])
    {'group_baseline': True, 'lam': 1.0, 'reward_mode': 'sparse'}
    """
    overrides = {}
    for item in items:
        field_name, sep, value = item.partition("=")
        if not sep or not field_name:
            raise SystemExit(f"--set {item!r}: write FIELD=VALUE, e.g. --set lam=1.0")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        overrides[field_name] = tuple(parsed) if isinstance(parsed, list) else parsed  # presets keep tuples
    return overrides


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Dense PPO for code LLMs (see the module docstring).")
    parser.add_argument("--preset", default="tiny-code", help="tiny-code, tiny-robot, paper-mbpp, paper-robo")
    parser.add_argument(
        "--reward-mode", choices=("dense", "sparse"), help="override the preset's reward mode"
    )
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--model", help="hub id or local path; overrides the preset's model")
    parser.add_argument("--steps", type=int, help="override total_steps")
    parser.add_argument(
        "--run-name", help="folder under results/<scale>/ (default: <preset>-<mode>-s<seed>-<settings key>)"
    )
    parser.add_argument(
        "--eval-tasks", type=int, default=500, help="held-out tasks evaluated before and after"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the run's latest checkpoint")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other config field, e.g. --set group_baseline=true (all: python -m dense_rl.config)",
    )
    args = parser.parse_args(argv)
    overrides = {
        k: v
        for k, v in {
            "reward_mode": args.reward_mode,
            "seed": args.seed,
            "model": args.model,
            "total_steps": args.steps,
        }.items()
        if v is not None
    }
    cfg = get_preset(args.preset, **(overrides | parse_sets(args.set)))
    name = args.run_name or run_name(cfg, args.eval_tasks)
    summary = train(
        cfg, project_path(f"results/{cfg.scale}/{name}"), resume=args.resume, eval_tasks=args.eval_tasks
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
