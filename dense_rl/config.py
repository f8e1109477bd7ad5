"""Presets: every knob of a run in one typed, documented dataclass.

    from dense_rl.config import get_preset
    cfg = get_preset("tiny-code", seed=1)     # unknown names or fields raise with the valid ones listed
    cfg.to_json("results/tiny/run/config.json")

Five presets:
- `tiny-code`, `tiny-robot`, `tiny-robot-paper` (the defaults; `tiny` means all three): the kit's own small
  Qwen2 policy, trained on CPU from generated tasks (dense_rl/tiny.py). Everything runs on a laptop.
  `tiny-robot` adds the kit's success checks of generated robot tasks to the paper's simulator reward;
  `tiny-robot-paper` is the paper's robot reward alone (the arm that shows its hack).
- `paper-mbpp`, `paper-robo`: Qwen/Qwen2.5-Coder-1.5B-Instruct with the paper's hyper-parameters (LoRA r16,
  alpha 32, dropout .05 on all projections; k3 KL; clip .2; value clip .3; vf_coef 1; 4 PPO epochs; 256
  response tokens; code: lr 3e-6, KL .1, batch 8 per GPU x 2 GPUs, weights syntax .1 lint .1 DFG .1 tests .7;
  robot: lr 1e-6, KL .9, batch 4, weights syntax .1 lint .1 simulator .8). They need a GPU and the hub.

The tiny presets depart from the paper where a 5M-parameter model on 2 CPU cores needs it (larger learning
rate, shorter responses, smaller batches); each such field says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

TINY_MODEL = "tiny"  # stands for the kit's own policy, built on first use (dense_rl.tiny)
TINY_ROBOT_MODEL = "tiny-robot"  # the same policy trained on by a robot stage (dense_rl.tiny says why)
TINY_MODELS = (TINY_MODEL, TINY_ROBOT_MODEL)
PAPER_MODEL = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _f(default, help: str):  # noqa: A002 - "help" mirrors argparse / TRL's field metadata
    """A dataclass field with its documentation attached (shown by `describe()`)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults so presets stay immutable")
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Config:
    """One training / evaluation run. `asdict(cfg)` is saved as config.json beside every result."""

    preset: str = _f("tiny-code", "name of the preset these values came from")
    domain: str = _f("code", "'code' (unit tests + DFG) or 'robot' (simulator reward)")
    model: str = _f(TINY_MODEL, "hub id or local path; 'tiny' / 'tiny-robot' = the kit's own CPU models")
    seed: int = _f(0, "seeds python, numpy and torch in one place (dense_rl.seeding)")
    train_data: str = _f(
        "", "paper presets: local .jsonl/.parquet or hub id of the training rows (tasks/sources.py)"
    )

    # --- LoRA (the paper fine-tunes adapters; the reference policy is the adapter disabled) ---
    lora_r: int = _f(16, "LoRA rank")
    lora_alpha: int = _f(32, "LoRA scaling alpha")
    lora_dropout: float = _f(0.05, "dropout on the LoRA input")
    lora_targets: tuple[str, ...] = _f(LORA_TARGETS, "module names that get adapters")

    # --- PPO ---
    learning_rate: float = _f(3e-6, "AdamW learning rate of policy and critic")
    kl_coef: float = _f(0.1, "weight of the per-token KL penalty to the reference policy")
    kl_estimator: str = _f("k3", "'k1' (log-ratio) or 'k3' ((r-1) - log r), per token")
    cliprange: float = _f(0.2, "PPO ratio clip epsilon")
    cliprange_value: float = _f(0.3, "clip of the value update around the old values")
    vf_coef: float = _f(1.0, "weight of the value loss")
    ppo_epochs: int = _f(4, "passes over each rollout batch")
    batch_size: int = _f(8, "prompts per rollout, per process")
    mini_batch_size: int = _f(4, "samples per gradient step")
    samples_per_prompt: int = _f(1, "answers sampled per prompt in a rollout (batch_size counts answers)")
    gamma: float = _f(1.0, "discount of GAE")
    lam: float = _f(0.95, "lambda of GAE")
    max_grad_norm: float = _f(1.0, "gradient clipping norm")
    response_length: int = _f(256, "maximum new tokens per response")
    temperature: float = _f(1.0, "sampling temperature of rollouts")
    total_steps: int = _f(200, "PPO steps (rollout + updates) in a run")
    checkpoint_every: int = _f(25, "steps between checkpoints")
    num_processes: int = _f(2, "data-parallel processes (the paper: 2 GPUs)")

    # --- reward: r_t = w_syntax*syntax_t + w_lint*lint_t - kl_coef*KL_t + sum_k w_k*task_k,t ---
    reward_mode: str = _f("dense", "'dense' (per token, the paper) or 'sparse' (sum on the last token)")
    w_syntax: float = _f(0.1, "weight of the syntax reward")
    w_lint: float = _f(0.1, "weight of the Ruff lint reward")
    w_dfg: float = _f(0.1, "weight of the data-flow-graph match (code domain)")
    w_tests: float = _f(0.7, "weight of the unit-test pass fraction (code domain)")
    w_sim: float = _f(0.0, "weight of the simulator reward (robot domain)")
    w_task: float = _f(
        0.0, "weight of the success checks of generated robot tasks (robot domain; not in the paper)"
    )
    syntax_scheme: str = _f(
        "signed", "'signed' (+1 per valid code token, -1 on the offending one; the paper) or 'penalty'"
    )
    length_normalise: bool = _f(False, "divide each sample's non-KL reward by its length (length bias fix)")
    group_baseline: bool = _f(
        False,
        "subtract the mean reward of the answers to the same prompt (as GRPO; not in the paper)",
    )
    sim_runs: int = _f(5, "simulator runs per program in fresh random worlds (robot domain)")
    robot_templates: tuple[str, ...] = _f(
        (), "generated robot tasks: train and evaluate on these templates only (default: all of them)"
    )

    def to_json(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @property
    def scale(self) -> str:
        """'tiny' or the preset name: the results/ folder this run writes to."""
        return "tiny" if self.preset.startswith("tiny") else self.preset


_TINY = dict(
    model=TINY_MODEL,
    # departs from the paper: a 5M model needs far larger steps than a 1.5B one, and LoRA rank 16 on a
    # 256-wide model is already a large share of its weights
    lora_r=16,
    lora_alpha=32,
    learning_rate=4e-4,
    # 2 PPO epochs, not 4: at 4 the clip bit on ~1% of tokens (the policy barely moved per epoch), so half the
    # passes with twice the step size move it as far for half the CPU time (LOG.md)
    ppo_epochs=2,
    # several answers per prompt: the batch holds right and wrong answers to the same question, the contrast
    # RL learns from (prompts where every answer gets the same reward carry no signal)
    samples_per_prompt=4,
    batch_size=16,
    mini_batch_size=8,
    response_length=128,  # tiny answers are 30-90 tokens
    total_steps=160,  # about 8 minutes on 2 CPU cores
    checkpoint_every=20,
    num_processes=1,
    # a fix of the paper's known flaw: +1 per valid token rewards length, not correctness (the paper keeps it)
    syntax_scheme="penalty",
)

# both tiny robot arms: no unit tests or data-flow match; robot programs run 60-200 tokens, and 128 cut
# many of them short (syntax errors by truncation). The policy is the tiny one trained on by a robot stage:
# the tiny policy itself solves 3% of held-out robot tasks, too few for RL to reinforce (dense_rl.tiny)
_TINY_ROBOT = dict(
    domain="robot",
    kl_coef=0.05,
    w_dfg=0.0,
    w_tests=0.0,
    **(_TINY | {"model": TINY_ROBOT_MODEL, "total_steps": 40, "response_length": 256}),
)

PRESETS: dict[str, Config] = {
    "tiny-code": Config(preset="tiny-code", domain="code", kl_coef=0.05, **_TINY),
    # the kit's robot arm: the paper's simulator reward plus the success checks of the generated tasks
    # (dense_rl.robot.task_reward, a departure from the paper): the simulator alone is gamed by a trivial
    # program that never fails (say("workshop") for every task, LOG.md)
    "tiny-robot": Config(preset="tiny-robot", w_sim=0.3, w_task=1.0, **_TINY_ROBOT),
    # the paper's robot reward alone (syntax, lint, simulator), to show what it teaches
    "tiny-robot-paper": Config(preset="tiny-robot-paper", w_sim=0.8, **_TINY_ROBOT),
    "paper-mbpp": Config(preset="paper-mbpp", domain="code", model=PAPER_MODEL),
    "paper-robo": Config(
        preset="paper-robo",
        domain="robot",
        model=PAPER_MODEL,
        learning_rate=1e-6,
        kl_coef=0.9,
        batch_size=4,
        mini_batch_size=2,
        w_dfg=0.0,
        w_tests=0.0,
        w_sim=0.8,
    ),
}
ALIASES = {"tiny": ("tiny-code", "tiny-robot", "tiny-robot-paper")}


def preset_names(preset: str) -> tuple[str, ...]:
    """Expand an alias: 'tiny' -> ('tiny-code', 'tiny-robot', 'tiny-robot-paper'); a preset name -> itself."""
    if preset in ALIASES:
        return ALIASES[preset]
    if preset in PRESETS:
        return (preset,)
    raise ValueError(f"unknown preset {preset!r}; valid presets: {', '.join([*PRESETS, *ALIASES])}")


def get_preset(name: str, **overrides) -> Config:
    """The preset `name` with fields replaced by `overrides`, validated."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    valid = {f.name for f in fields(Config)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; valid fields: {', '.join(sorted(valid))}")
    cfg = replace(PRESETS[name], **overrides)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Reject values no run can use, naming the field and what is allowed."""
    choices = {
        "domain": ("code", "robot"),
        "kl_estimator": ("k1", "k3"),
        "reward_mode": ("dense", "sparse"),
        "syntax_scheme": ("signed", "penalty"),
    }
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"config field {name}={getattr(cfg, name)!r} is not one of {allowed}")
    for name in ("w_syntax", "w_lint", "w_dfg", "w_tests", "w_sim", "w_task", "kl_coef"):
        value = getattr(cfg, name)
        usable = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not usable or not math.isfinite(value) or value < 0:
            raise ValueError(
                f"config field {name}={value!r} must be a finite number >= 0: weights add rewards, and "
                "penalties come from the rewards themselves; set it to 0 to switch that term off"
            )
    if cfg.robot_templates:
        if cfg.domain != "robot" or cfg.train_data:
            raise ValueError("config field robot_templates only applies to the generated robot tasks")
        from dense_rl.tasks.robot_tasks import chosen_templates

        chosen_templates(cfg.robot_templates)  # raises, naming the valid templates
    if cfg.samples_per_prompt < 1 or cfg.batch_size % cfg.samples_per_prompt:
        raise ValueError(
            f"samples_per_prompt={cfg.samples_per_prompt} must be >= 1 and divide batch_size={cfg.batch_size}"
        )
    if cfg.mini_batch_size > cfg.batch_size or cfg.batch_size % cfg.mini_batch_size:
        raise ValueError(
            f"mini_batch_size={cfg.mini_batch_size} must divide batch_size={cfg.batch_size}; "
            "pick a divisor of batch_size"
        )


def describe() -> str:
    """Every field with its documentation, for `python -m dense_rl.config`."""
    return "\n".join(f"{f.name:18s} {f.metadata['help']}" for f in fields(Config))


if __name__ == "__main__":
    print(describe())
