"""Benchmark: the paper-mbpp preset's PPO step on one GPU, with random weights of Qwen2.5-Coder-1.5B's shape.

    python benchmarks/gpu_ppo_step.py --out results/gpu             # on a CUDA machine (no download)
    python benchmarks/gpu_ppo_step.py --shape tiny --steps 1        # the same code path on a CPU, in seconds

Rollout paths, measured side by side in one run on the same models (--paths, each `--steps` steps; the first
step of a path includes its warm-up, compilation included):
- adapter: sampling through the LoRA adapter (the old path);
- merged: from a merged copy of the weights refreshed each step (dense_rl.rollout);
- merged+static: that, with a static KV cache and prompts padded to 64-token buckets, not compiled;
- merged+static+compile: that, with the decoding step compiled (CUDA only; the training default there).

What it runs: dense_rl.train's own pieces (build_models, collect_experience, ppo_update) with the paper-mbpp
preset's hyper-parameters (LoRA r16 on all projections, batch 8 per GPU, mini-batch 4, 4 PPO epochs, 256
response tokens, the four code rewards and the k3 KL), on a Qwen2ForCausalLM of the 1.5B model's shape (28
layers, hidden 1536, FFN 8960, 12 heads, 2 KV heads, vocab 151,936, tied embeddings) whose weights are random:
the model cannot be downloaded where this runs, and the cost of a step depends on the shape, not the values.
The policy and the critic are two such models in bf16 (as `build_models` loads the paper model on a GPU).

Where it departs from a real run: a random model writes random tokens, so every answer runs to the full 256
tokens (the worst case for generation) and has no code, so the rewards have nothing to execute. The tokenizer
is the kit's own byte-level BPE (2,048 tokens) trained here on the generated tasks; sampling is restricted to
its ids so answers decode (the others' logits are overwritten); the model still computes all 151,936.

Writes <out>/ppo_step_paths.json: per path and step the seconds of generation, of rollout+scoring
(generation, policy/reference/critic forward passes, rewards, GAE) and of the PPO update, response tokens per
second of generation and over the step, and peak GPU memory; per path the last step's generation speed-up
over the adapter path; and the device, torch version and settings. Prints the same JSON as its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import Qwen2Config, Qwen2ForCausalLM

from dense_rl.attention import PADDING_SAFE_SDPA
from dense_rl.config import get_preset
from dense_rl.rollout import Sampler, Speedups
from dense_rl.seeding import seed_everything
from dense_rl.tasks.sources import training_tasks
from dense_rl.tiny import TinySpec, sft_corpus, train_tokenizer
from dense_rl.train import build_models, collect_experience, ppo_update

SHAPES = {  # Qwen2.5-Coder-1.5B-Instruct's config.json, and a small one to check the script on a CPU
    "1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
    ),
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=4096,
    ),
}


def random_loader(shape: str, tokenizer, attn: str | None = None):
    """A `load(name, seed=, dtype=, attn_implementation=)` for build_models: a randomly initialised Qwen2 of
    `shape`; `attn` overrides the attention build_models asks for."""

    def load(name: str, *, seed: int = 0, dtype=None, attn_implementation=None):
        torch.manual_seed(seed)
        config = Qwen2Config(
            **SHAPES[shape],
            max_position_embeddings=32768,
            rope_theta=1_000_000.0,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
            attn_implementation=attn or attn_implementation or PADDING_SAFE_SDPA,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = Qwen2ForCausalLM(config)
        model = model.to(dtype or torch.float32).eval()
        # answers must decode with the small tokenizer: ids it does not have get a logit of -1e4 (one slice
        # write; generate's suppress_tokens with 150k ids cost 120 ms per token on an H100)
        model.lm_head.register_forward_hook(_mask_unknown_ids(len(tokenizer)))
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        return tokenizer, model

    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1.5b")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--out", default="results/gpu")
    parser.add_argument(
        "--attn",
        choices=("sdpa", "eager", PADDING_SAFE_SDPA),
        help="attention (default: what dense_rl.train.build_models picks)",
    )
    parser.add_argument("--paths", default=",".join(PATHS), help=f"rollout paths, of {', '.join(PATHS)}")
    args = parser.parse_args()
    paths = args.paths.split(",")
    if unknown := set(paths) - set(PATHS):
        parser.error(f"unknown rollout path(s) {sorted(unknown)}; choose from {', '.join(PATHS)}")

    cfg = get_preset("paper-mbpp")
    seed_everything(cfg.seed)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    spec = TinySpec(n_code_tasks=2000, n_robot_tasks=200)
    tokenizer = train_tokenizer([m[-1]["content"] + "\n" + a for m, a in sft_corpus(spec)], spec.vocab_size)
    tokenizer.padding_side = "left"
    _, policy, critic = build_models(cfg, load=random_loader(args.shape, tokenizer, args.attn))
    params = [p for p in [*policy.parameters(), *critic.parameters()] if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, eps=1e-5)
    policy, critic, optimizer = accelerator.prepare(policy, critic, optimizer)
    policy.eval()  # as dense_rl.train.train: no dropout while sampling and scoring the same tokens
    critic.eval()
    tasks = training_tasks(get_preset("tiny-code"), cfg.batch_size * args.steps * len(paths))  # generated

    n_params = sum(p.numel() for p in accelerator.unwrap_model(policy).get_base_model().parameters())
    report = {
        "what": "paper-mbpp PPO step, random weights of the 1.5B shape (benchmarks/gpu_ppo_step.py)",
        "shape": args.shape,
        "attention": accelerator.unwrap_model(policy).get_base_model().config._attn_implementation,
        "policy_parameters": n_params,
        "trainable_parameters": sum(p.numel() for p in params),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor(),
        "torch": torch.__version__,
        "dtype": str(next(accelerator.unwrap_model(policy).parameters()).dtype),
        "settings": {
            k: getattr(cfg, k)
            for k in ("batch_size", "mini_batch_size", "ppo_epochs", "response_length", "lora_r")
        },
        "paths": {},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    unwrapped = accelerator.unwrap_model(policy)
    for n, path in enumerate(paths):
        if "compile" in path and not torch.cuda.is_available():
            report["paths"][path] = "skipped: generate compiles the decoding step on CUDA only"
            continue
        sampler = Sampler(unwrapped, PATHS[path])
        if sampler.model is not unwrapped:  # the merged copy needs the same restriction to the small vocab
            sampler.model.lm_head.register_forward_hook(_mask_unknown_ids(len(tokenizer)))
        steps = report["paths"][path] = []
        for step in range(args.steps):
            first = (n * args.steps + step) * cfg.batch_size
            batch = tasks[first : first + cfg.batch_size]
            row = timed_step(cfg, tokenizer, policy, critic, optimizer, accelerator, batch, sampler)
            steps.append({"step": step + 1, **row})
            (out / "ppo_step_paths.json").write_text(json.dumps(report, indent=2) + "\n")  # kept on failure
            print(json.dumps({path: steps[-1]}), flush=True)
            if not all(math.isfinite(v) for v in row.values() if isinstance(v, float)):
                raise SystemExit(f"{path} step {step + 1} gave a non-finite loss or statistic: {row}")
        del sampler
    report["generation_speedup_vs_adapter"] = speedups(report["paths"])
    (out / "ppo_step_paths.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


PATHS = {
    "adapter": Speedups(merge_lora=False),
    "merged": Speedups(merge_lora=True),
    "merged+static": Speedups(merge_lora=True, static_cache=True, prompt_bucket=64),
    "merged+static+compile": Speedups(merge_lora=True, static_cache=True, compile=True, prompt_bucket=64),
}


def speedups(paths: dict) -> dict:
    """Each path's generation tokens/s at its last step, over the adapter path's."""
    last = {k: v[-1]["generation_tokens_per_second"] for k, v in paths.items() if isinstance(v, list) and v}
    if "adapter" not in last:
        return {}
    return {k: round(v / last["adapter"], 2) for k, v in last.items()}


class _TimedSampler:
    """A Sampler whose sample() is timed (GPU synchronised), for collect_experience."""

    def __init__(self, sampler: Sampler):
        self.sampler, self.seconds = sampler, 0.0

    def sample(self, *args, **kwargs):
        _sync()
        t0 = time.perf_counter()
        out = self.sampler.sample(*args, **kwargs)
        _sync()
        self.seconds = time.perf_counter() - t0
        return out


def timed_step(cfg, tokenizer, policy, critic, optimizer, accelerator, batch, sampler) -> dict:
    """One PPO step, timed in its two halves, with the update's mean statistics and the peak GPU memory."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    timed = _TimedSampler(sampler)
    t0 = time.perf_counter()
    exp = collect_experience(cfg, tokenizer, policy, critic, accelerator, batch, timed)
    _sync()
    t1 = time.perf_counter()
    stats = ppo_update(cfg, policy, critic, optimizer, accelerator, exp)
    _sync()
    t2 = time.perf_counter()
    tokens = int(exp.batch.response_mask.sum())
    return {
        "generation_seconds": round(timed.seconds, 3),
        "generation_tokens_per_second": round(tokens / timed.seconds, 1),
        "rollout_and_scoring_seconds": round(t1 - t0, 3),
        "reward_seconds": round(exp.reward_seconds, 3),
        "update_seconds": round(t2 - t1, 3),
        "step_seconds": round(t2 - t0, 3),
        "response_tokens": tokens,
        "response_tokens_per_second": round(tokens / (t2 - t0), 1),
        "prompt_tokens_max": exp.P,
        **{k: round(sum(v) / len(v), 5) for k, v in stats.items()},
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if torch.cuda.is_available()
        else None,
    }


def _mask_unknown_ids(n: int):
    def hook(module, inputs, logits):
        logits[..., n:] = -1e4  # finite: exp() gives 0 and 0 * log 0 stays 0 in the entropy

    return hook


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
