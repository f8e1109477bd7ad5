"""Benchmark: one PPO step of the kit (dense_rl.train.ppo_step) against TRL 0.20.0's PPOTrainer, side by side.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ppo_step.py --quick      # under ~2 minutes on 2 cores
    .venv/bin/python benchmarks/ppo_step.py --model cache/tiny-policy-seed0  # the real tiny policy
    .venv/bin/python benchmarks/ppo_step.py --quick --model cache/tiny-policy-seed0 \
        --batch 16 --mini-batch 8 --answers-per-prompt 4                     # the tiny-code training layout

A step is what one iteration of each trainer does: sample a batch of answers, score them with policy,
reference and critic, compute rewards and GAE, then the PPO epochs over mini-batches. Both get the same
model, the same prompts (the tiny-code training tasks), batch size, mini-batch size, response length, PPO
epochs, learning rate, KL coefficient and estimator, clip ranges and temperature, and both stop sampling at
the end-of-turn token. The two are timed in one process, alternately (which goes first flips every step, so
machine noise hits both), after one warm-up step each; the numbers are medians over the timed steps.

The model is, by default, a shrunken tiny policy built like tests/conftest.py's SHRUNKEN spec (hidden 32, one
layer: seconds to build); `--model PATH` takes any saved causal LM, e.g. the kit's tiny policy.

What each side runs, as it ships (so the comparison is of the two trainers, not of identical work):
- the kit: LoRA policy whose reference is the same model with the adapter off; critic = LoRA'd copy of the
  backbone plus a scalar head; rewards = the preset's real components (syntax, Ruff lint, unit tests in the
  sandbox, data-flow match), timed apart inside ppo_step (`reward_seconds`), so the step is also reported
  without them, and `reward_share_of_step` says how much of the kit's step its rewards take;
- TRL: the same LoRA config on the policy (reference = adapter off, as TRL does with a peft_config), and a
  Qwen2ForSequenceClassification built from the same weights as value model (fully trained, TRL's design)
  and as reward model (one forward pass: far cheaper than running unit tests). TRL's mini-batch maps onto
  the kit's with per_device_train_batch_size = mini-batch, gradient_accumulation_steps = num_mini_batches =
  batch / mini-batch: the same number of forward/backward passes, but accelerate then applies the
  optimiser once per PPO epoch rather than after every mini-batch, and TRL clips no gradients. Each TRL
  step is one `trainer.train()` call of one update (its per-call set-up, logging and gc.collect() included;
  the set-up was seen to cost well under the step-to-step noise).

The last line printed is one JSON object: ours_seconds_per_step, ours_seconds_per_step_excluding_rewards,
trl_seconds_per_step, ratio (ours / trl; target <= 1.0), ratio_excluding_rewards, reward_share_of_step,
trl_gc_collect_seconds_per_step (the part of TRL's step spent in its two gc.collect() calls, estimated), and
trl_seconds_per_step_excluding_gc, ours_mean_response_tokens, and the settings (batch, mini-batch, response
length, epochs, model parameters, threads, steps). The shrunken policy answers with random tokens and no
code, so the kit's rewards have next to nothing to run there (reward_share_of_step near 0) and fixed costs
dominate both steps; the tiny policy (--model) writes real code and gives the realistic reward share.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from dense_rl.config import get_preset
from dense_rl.seeding import seed_everything
from dense_rl.tasks.chat import messages_for
from dense_rl.tasks.sources import training_tasks
from dense_rl.tiny import TinySpec, tiny_policy_path
from dense_rl.train import build_models, lora_config, ppo_step

# the same spec as tests/conftest.py's SHRUNKEN: a policy that builds in seconds
SHRUNKEN = TinySpec(
    n_code_tasks=300,
    n_robot_tasks=60,
    vocab_size=400,
    hidden_size=32,
    layers=1,
    heads=2,
    ffn_size=64,
    max_positions=512,
    steps=3,
    batch_size=8,
    warmup_steps=1,
)
QUICK = dict(batch=8, mini_batch=4, response_length=32, epochs=2, steps=3)
FULL = dict(batch=8, mini_batch=4, response_length=64, epochs=4, steps=5)


def kit_trainer(cfg):
    """The kit's models, optimiser and accelerator, set up as dense_rl.train.train does before its loop."""
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    tokenizer, policy, critic = build_models(cfg)
    params = [p for p in [*policy.parameters(), *critic.parameters()] if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, eps=1e-5)
    policy, critic, optimizer = accelerator.prepare(policy, critic, optimizer)
    policy.eval()
    critic.eval()
    return tokenizer, policy, critic, optimizer, accelerator


def trl_trainer(cfg, tasks: list, output_dir: str):
    """TRL's PPOTrainer on the same model, prompts and PPO settings, running one update per train() call."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl import PPOConfig, PPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    tokenizer.padding_side = "left"  # TRL generates from left-padded queries
    prompts = [tokenizer.apply_chat_template(messages_for(t), add_generation_prompt=True) for t in tasks]
    rounds = cfg.batch_size // cfg.mini_batch_size
    args = PPOConfig(
        output_dir=output_dir,
        per_device_train_batch_size=cfg.mini_batch_size,
        gradient_accumulation_steps=rounds,
        num_mini_batches=rounds,
        num_ppo_epochs=cfg.ppo_epochs,
        total_episodes=cfg.batch_size,  # one update per train() call
        response_length=cfg.response_length,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant",
        kl_coef=cfg.kl_coef,
        kl_estimator=cfg.kl_estimator,
        cliprange=cfg.cliprange,
        cliprange_value=cfg.cliprange_value,
        vf_coef=cfg.vf_coef,
        gamma=cfg.gamma,
        lam=cfg.lam,
        temperature=cfg.temperature,
        stop_token="eos",
        seed=cfg.seed,
        num_sample_generations=0,
        report_to=[],
        save_strategy="no",
        bf16=False,
        disable_tqdm=True,
    )

    def classifier():
        return AutoModelForSequenceClassification.from_pretrained(cfg.model, num_labels=1)

    return PPOTrainer(
        args=args,
        processing_class=tokenizer,
        model=AutoModelForCausalLM.from_pretrained(cfg.model),
        ref_model=None,
        reward_model=classifier(),
        value_model=classifier(),
        train_dataset=Dataset.from_dict({"input_ids": prompts}),
        peft_config=lora_config(cfg),
    )


def time_kit_step(cfg, kit, tasks: list) -> tuple[float, dict]:
    """Seconds of one dense_rl.train.ppo_step, and its metrics row (with `reward_seconds`)."""
    t0 = time.perf_counter()
    row = ppo_step(cfg, *kit, tasks)
    return time.perf_counter() - t0, row


def time_trl_step(trainer) -> float:
    """Seconds of one PPOTrainer update (its printed log line and torch's indexing warning swallowed)."""
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using a non-tuple sequence for multidimensional indexing")
        trainer.train()
    return time.perf_counter() - t0


def time_gc_collect() -> float:
    """Seconds of one full gc.collect() in this process. TRL calls it twice per update; its cost grows with
    every Python object alive in the process, so it is reported apart (measured outside the timed steps)."""
    t0 = time.perf_counter()
    gc.collect()
    return time.perf_counter() - t0


def side_by_side(cfg, kit, trainer, tasks: list, n: int) -> dict[str, list[float]]:
    """n steps of each trainer, alternating which goes first; per-step seconds (step 0 is the warm-up)."""
    B = cfg.batch_size
    t: dict[str, list[float]] = {"ours": [], "rewards": [], "trl": [], "gc": [], "tokens": []}
    for step in range(n):
        batch = tasks[step * B : (step + 1) * B]
        if step % 2:
            t["trl"].append(time_trl_step(trainer))
            ours_s, row = time_kit_step(cfg, kit, batch)
        else:
            ours_s, row = time_kit_step(cfg, kit, batch)
            t["trl"].append(time_trl_step(trainer))
        t["ours"].append(ours_s)
        t["rewards"].append(row["reward_seconds"])
        t["tokens"].append(row["response_tokens"])
        t["gc"].append(time_gc_collect())
        label = "warm-up" if step == 0 else f"step {step}"
        print(
            f"{label}: ours {ours_s:.2f} s (rewards {row['reward_seconds']:.2f} s), trl {t['trl'][-1]:.2f} s",
            flush=True,
        )
    return t


def summarise(t: dict[str, list[float]]) -> dict:
    """Medians over the timed steps (the warm-up step dropped) and the ratios the targets are set on."""
    ours, rewards, trl, gcs = (t[k][1:] for k in ("ours", "rewards", "trl", "gc"))
    ours_s, trl_s = statistics.median(ours), statistics.median(trl)
    ours_ex = statistics.median(o - r for o, r in zip(ours, rewards, strict=True))
    return {
        "ours_seconds_per_step": round(ours_s, 3),
        "ours_seconds_per_step_excluding_rewards": round(ours_ex, 3),
        "trl_seconds_per_step": round(trl_s, 3),
        "ratio": round(ours_s / trl_s, 3),
        "ratio_excluding_rewards": round(ours_ex / trl_s, 3),
        "reward_share_of_step": round(statistics.median(rewards) / ours_s, 3),
        "trl_gc_collect_seconds_per_step": round(2 * statistics.median(gcs), 3),
        "trl_seconds_per_step_excluding_gc": round(
            statistics.median(s - 2 * g for s, g in zip(trl, gcs, strict=True)), 3
        ),
        "ours_mean_response_tokens": round(statistics.mean(t["tokens"][1:]), 1),
        "timed_steps": len(ours),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"short run: {QUICK}")
    parser.add_argument("--model", help="a saved causal LM folder (default: a shrunken tiny policy)")
    parser.add_argument("--steps", type=int, help="timed steps per trainer, after one warm-up step each")
    parser.add_argument("--batch", type=int, help="answers per rollout")
    parser.add_argument("--mini-batch", type=int, help="answers per gradient step")
    parser.add_argument(
        "--answers-per-prompt",
        type=int,
        default=1,
        help="each prompt answered this many times in a row, as the tiny presets train (4); the kit scores a "
        "repeated prompt once, TRL (which shuffles its prompts) does the full work either way",
    )
    parser.add_argument("--response-length", type=int, help="maximum new tokens per answer")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, e.g. OMP_NUM_THREADS)")
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    overrides = {"steps": args.steps, "batch": args.batch, "response_length": args.response_length}
    overrides["mini_batch"] = args.mini_batch
    settings |= {k: v for k, v in overrides.items() if v is not None}
    settings["mini_batch"] = min(settings["mini_batch"], settings["batch"])
    if args.threads:
        torch.set_num_threads(args.threads)

    model = args.model or str(tiny_policy_path(spec=SHRUNKEN))
    cfg = get_preset(
        "tiny-code",
        model=str(Path(model).resolve()) if Path(model).exists() else model,
        batch_size=settings["batch"],
        mini_batch_size=settings["mini_batch"],
        response_length=settings["response_length"],
        ppo_epochs=settings["epochs"],
    )
    seed_everything(cfg.seed)
    n = settings["steps"] + 1
    k = args.answers_per_prompt
    if cfg.batch_size % k:
        parser.error(f"--batch {cfg.batch_size} is not a multiple of --answers-per-prompt {k}")
    tasks = [t for t in training_tasks(cfg, cfg.batch_size * n // k) for _ in range(k)]
    kit = kit_trainer(cfg)
    with tempfile.TemporaryDirectory() as out:
        times = side_by_side(cfg, kit, trl_trainer(cfg, tasks, out), tasks, n)
    _, policy, _, _, accelerator = kit
    base = accelerator.unwrap_model(policy).get_base_model()
    result = summarise(times) | {
        "batch": cfg.batch_size,
        "mini_batch": cfg.mini_batch_size,
        "answers_per_prompt": k,
        "response_length": cfg.response_length,
        "ppo_epochs": cfg.ppo_epochs,
        "model": cfg.model if args.model else "shrunken tiny policy (tests/conftest.py SHRUNKEN)",
        "model_params": sum(p.numel() for p in base.parameters()),
        "threads": torch.get_num_threads(),
        "device": str(accelerator.device),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
