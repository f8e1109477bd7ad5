"""The tiny policy: a small Qwen2 model and byte-level BPE tokenizer the kit builds itself, on CPU.

    python -m dense_rl.tiny            # build (or find) the cached tiny policy and print its path
    python -m dense_rl.tiny --robot    # ... and the tiny robot policy built on top of it
    python -m dense_rl.tiny --force    # rebuild it

Why it exists: the paper fine-tunes Qwen2.5-Coder-1.5B-Instruct, which needs a GPU and the model hub. The tiny
policy lets every notebook and command run unchanged on a laptop: it is saved with `save_pretrained` and
loaded with `AutoModelForCausalLM.from_pretrained(path)` exactly like a hub model, and it has a Qwen-style
chat template (<|im_start|>role ... <|im_end|>).

How it is built (deterministic for a seed, about 12 minutes on 2 cores):
1. a corpus of generated code tasks (dense_rl.tasks.code_tasks) and robot tasks (dense_rl.tasks.robot_tasks),
   each rendered as a chat: system, user instruction, assistant answer with a fenced python block;
2. a byte-level BPE tokenizer trained on it, digits split into single tokens (so numbers are copied digit by
   digit rather than memorised as whole tokens);
3. a Qwen2ForCausalLM (hidden 256, 4 layers, tied embeddings, ~4.7M parameters) trained by supervised
   fine-tuning on the assistant turns, for less than one epoch on purpose: a policy that has not converged
   still samples varied answers, and RL can only reinforce answers the policy sometimes finds.
The result goes to cache/tiny-policy-seed<seed>/ (gitignored), written atomically and rebuilt only when
missing. DENSE_RL_CACHE moves the cache folder.

The robot stage (model name 'tiny-robot', the robot presets' policy): the tiny policy trained further, 400
steps on fresh tasks, half code and half robot, into cache/tiny-robot-policy-seed<seed>/ (about 8 minutes).
Why a second policy: a robot program must copy names from the instruction (`go_to("slope room")`), and a
4.7M model learns to copy from the code tasks, whose answers repeat the function name right away. Built from
scratch on a robot-heavy corpus, it copied less (first name token right 21% of the time, against 45% for the
tiny policy) and solved under 1% of held-out robot tasks; trained on from the tiny policy, it copies 62% and
solves about 15% (LOG.md). The code presets keep the tiny policy itself, so the code results do not move.
A departure from the paper, which fine-tunes one model for both domains.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from dense_rl.config import TINY_MODELS
from dense_rl.progress import progress
from dense_rl.seeding import seed_everything
from dense_rl.tasks import code_tasks, robot_tasks
from dense_rl.tasks.chat import messages_for

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """What the tiny policy is made of. Change a field and the cache folder name changes with it."""

    seed: int = 0
    n_code_tasks: int = 24000  # generated code tasks in the SFT corpus
    n_robot_tasks: int = 6000  # generated robot tasks in the SFT corpus (30 templates: 200 each)
    vocab_size: int = 2048
    hidden_size: int = 256
    layers: int = 4
    heads: int = 4
    ffn_size: int = 1024
    max_positions: int = 1024
    steps: int = 700  # optimiser steps; < 1 epoch on purpose (see module docstring)
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 50

    def folder_name(self) -> str:
        default = TinySpec(seed=self.seed)
        return f"tiny-policy-seed{self.seed}" + ("" if self == default else f"-{_digest(self)}")


def _digest(spec: TinySpec) -> str:
    import hashlib

    return hashlib.sha1(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()[:8]


def cache_dir() -> Path:
    """Where built models live: $DENSE_RL_CACHE, else cache/ at the project root."""
    return Path(os.environ.get("DENSE_RL_CACHE", Path(__file__).resolve().parents[1] / "cache"))


def sft_corpus(spec: TinySpec) -> list[tuple[list[dict], str]]:
    """(messages, answer) pairs: code and robot training tasks, shuffled with the spec's seed."""
    rng = random.Random(spec.seed)
    pairs = [
        (messages_for(t), code_tasks.answer_text(t, rng))
        for t in code_tasks.generate_code_tasks(spec.n_code_tasks, "train", spec.seed)
    ]
    pairs += [
        (messages_for(t), robot_tasks.answer_text(t))
        for t in robot_tasks.generate_robot_tasks(spec.n_robot_tasks, "train", spec.seed)
    ]
    rng.shuffle(pairs)
    return pairs


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE with single-digit pre-tokenisation and a Qwen-style chat template."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)  # exact character offsets per token
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
        model_input_names=["input_ids", "attention_mask"],
        clean_up_tokenization_spaces=False,
    )


def new_model(spec: TinySpec, tokenizer: PreTrainedTokenizerFast) -> Qwen2ForCausalLM:
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.ffn_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def encode_examples(tokenizer, pairs: list[tuple[list[dict], str]]) -> list[tuple[list[int], int]]:
    """Token ids of prompt + answer + <|im_end|>, and where the answer starts (loss only on the answer)."""
    prompts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m, _ in pairs]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer([a + "<|im_end|>" for _, a in pairs], add_special_tokens=False)["input_ids"]
    return [(p + a, len(p)) for p, a in zip(prompt_ids, answer_ids, strict=True)]


def batches(examples, batch_size: int, pad_id: int, rng: random.Random):
    """Length-bucketed batches (little padding), in random order; yields (input_ids, labels, mask) forever."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    while True:
        rng.shuffle(chunks)
        for chunk in chunks:
            # round widths up to a multiple of 16: few distinct shapes, so compiled kernels are reused
            width = -(-max(len(examples[i][0]) for i in chunk) // 16) * 16
            ids = torch.full((len(chunk), width), pad_id)
            labels = torch.full((len(chunk), width), -100)
            for row, i in enumerate(chunk):
                seq, answer_start = examples[i]
                ids[row, : len(seq)] = torch.tensor(seq)
                labels[row, answer_start : len(seq)] = torch.tensor(seq[answer_start:])
            yield ids, labels, ids != pad_id


def answer_loss(model, ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the answer tokens (labels != -100).

    The same number as `model(input_ids=ids, attention_mask=mask, labels=labels).loss`, but the vocabulary
    projection runs only where a label is: two thirds of the corpus's tokens are prompt tokens (the robot
    system prompt alone is 135), and their logits would be computed only to be ignored.
    """
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    scored = targets != -100
    logits = model.lm_head(hidden[scored]).float()
    return torch.nn.functional.cross_entropy(logits, targets[scored])


def pretrain(model, examples, spec: TinySpec, pad_id: int, desc: str = "pretrain tiny policy") -> list[float]:
    """AdamW with linear warm-up and cosine decay; returns the loss of every step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.01)

    def lr_factor(step: int) -> float:
        if step < spec.warmup_steps:
            return (step + 1) / spec.warmup_steps
        progress = (step - spec.warmup_steps) / max(1, spec.steps - spec.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    stream = batches(examples, spec.batch_size, pad_id, random.Random(spec.seed))
    losses = []
    model.train()
    bar = progress(range(spec.steps), desc=desc)
    for _, (ids, labels, mask) in zip(bar, stream, strict=False):  # the stream is endless
        loss = answer_loss(model, ids, labels, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def build(spec: TinySpec, out: Path) -> dict:
    """Build tokenizer + model into `out`; returns the build record also saved as build_info.json."""
    t0 = time.time()
    seed_everything(spec.seed)
    pairs = sft_corpus(spec)
    tokenizer = train_tokenizer([m[-1]["content"] + "\n" + a for m, a in pairs], spec.vocab_size)
    model = new_model(spec, tokenizer)
    examples = encode_examples(tokenizer, pairs)
    losses = pretrain(model, examples, spec, tokenizer.pad_token_id)
    return save_build(out, spec, tokenizer, model, examples, losses, t0)


def save_build(out: Path, spec: TinySpec, tokenizer, model, examples, losses, t0: float, **extra) -> dict:
    """Save tokenizer, model and the build record (build_info.json, `extra` after the spec) into `out`."""
    tokens_seen = sum(len(e[0]) for e in examples) * spec.steps * spec.batch_size / len(examples)
    info = {
        "spec": asdict(spec),
        **extra,
        "params": sum(p.numel() for p in model.parameters()),
        "build_seconds": round(time.time() - t0, 1),
        "epochs": round(spec.steps * spec.batch_size / len(examples), 3),
        "tokens_seen": int(tokens_seen),
        "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),
        "losses": [round(x, 4) for x in losses],
        "torch_threads": torch.get_num_threads(),
    }
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    (out / "build_info.json").write_text(json.dumps(info) + "\n")
    return info


def tiny_policy_path(seed: int = 0, force: bool = False, spec: TinySpec | None = None) -> Path:
    """Path of the built tiny policy for `seed`, building it first when missing (or when `force`)."""
    spec = spec or TinySpec(seed=seed)
    return _cached(
        cache_dir() / spec.folder_name(), {"spec": asdict(spec)}, lambda out: build(spec, out), force
    )


# The robot stage (module docstring): fresh tasks (another corpus seed), half code so copying keeps improving,
# a lower peak learning rate and a short warm-up, as for any model trained on from a checkpoint.
ROBOT_STAGE = dict(n_code_tasks=8000, n_robot_tasks=8000, steps=400, learning_rate=1e-3, warmup_steps=20)


def robot_stage_spec(seed: int = 0) -> TinySpec:
    """The robot stage's corpus and schedule as a TinySpec (its model fields are the tiny policy's)."""
    return replace(TinySpec(seed=seed), seed=1000 + seed, **ROBOT_STAGE)


def robot_folder_name(seed: int = 0) -> str:
    """The cache folder of the default robot stage of `seed`."""
    return f"tiny-robot-policy-seed{seed}"


def tiny_robot_policy_path(
    seed: int = 0, force: bool = False, stage: TinySpec | None = None, base: Path | None = None
) -> Path:
    """Path of the tiny robot policy: the tiny policy of `seed` (or `base`) trained on by `stage`."""
    default = stage is None and base is None
    stage = stage or robot_stage_spec(seed)
    base = Path(base) if base is not None else tiny_policy_path(seed)
    name = robot_folder_name(seed) + ("" if default else f"-{_digest(stage)}")
    # the base's build record is part of the key: a rebuilt tiny policy means a rebuilt robot stage
    record = {"spec": asdict(stage), "base": _file_digest(base / "build_info.json")}
    return _cached(cache_dir() / name, record, lambda out: build_stage(base, stage, out), force)


def build_stage(base: Path, stage: TinySpec, out: Path) -> dict:
    """Train the policy in `base` on by `stage` (its corpus, steps and schedule) into `out`."""
    t0 = time.time()
    seed_everything(stage.seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    examples = encode_examples(tokenizer, sft_corpus(stage))
    losses = pretrain(model, examples, stage, tokenizer.pad_token_id, desc="robot stage")
    base_digest = _file_digest(base / "build_info.json")
    return save_build(
        out, stage, tokenizer, model, examples, losses, t0, base=base_digest, base_folder=base.name
    )


def _file_digest(path: Path) -> str:
    import hashlib

    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _cached(final: Path, record: dict, make, force: bool) -> Path:
    """`final`, built by make(folder) unless it exists with a build record that holds `record`."""
    if final.is_symlink() and not force:
        return final  # a model linked in on purpose (e.g. a smaller one for tests) is taken as it is
    if final.exists() and not force:
        built = json.loads((final / "build_info.json").read_text())
        if all(built.get(k) == v for k, v in record.items()):
            return final
        # a default changed since this folder was built (its name carries no digest): never reuse it
        changed = [k for k, v in record.items() if built.get(k) != v]
        print(f"{final} was built from another {' and '.join(changed)}; rebuilding it")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
    try:
        make(staging)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)  # atomic: a half-built model is never found under the final name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def tiny_model_path(name: str, seed: int = 0) -> Path:
    """The folder behind a tiny model name of the presets: 'tiny' or 'tiny-robot'."""
    if name not in TINY_MODELS:
        raise ValueError(f"{name!r} is not a tiny model name; the tiny models are {', '.join(TINY_MODELS)}")
    return tiny_policy_path(seed) if name == "tiny" else tiny_robot_policy_path(seed)


def build_info(path: Path) -> dict:
    return json.loads((Path(path) / "build_info.json").read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--robot", action="store_true", help="also build the robot stage ('tiny-robot')")
    args = parser.parse_args()
    path = tiny_policy_path(args.seed, force=args.force)
    if args.robot:
        path = tiny_robot_policy_path(args.seed, force=args.force)
    info = build_info(path)
    print(json.dumps({k: v for k, v in info.items() if k != "losses"}))
    print(path)
