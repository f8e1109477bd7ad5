"""Loading a policy (hub id, local path or the tiny model) and sampling answers from it.

    from dense_rl.policy import load_policy, sample
    tokenizer, model = load_policy("tiny")                      # or "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    texts = sample(tokenizer, model, [messages], n=4, temperature=1.0).texts

Every notebook and command loads its model through `load_policy`, so the tiny policy and a hub model take the
same code path. A hub id that is neither a local folder nor cached, while the hub cannot be reached, gives one
clear error that says what to do instead of a stack trace from deep inside the hub client.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from dense_rl.attention import PADDING_SAFE_SDPA
from dense_rl.config import TINY_MODEL, TINY_MODELS
from dense_rl.progress import progress as progress_bar

if not torch.cuda.is_available():  # DeepSpeed, imported lazily by transformers, warns that it found no GPU
    os.environ.setdefault("DS_ACCELERATOR", "cpu")


def load_run_policy(run_dir: str | Path):
    """(tokenizer, model) of a training run: its base model with the adapter of its latest checkpoint."""
    run_dir = Path(run_dir)
    pointer = run_dir / "checkpoints" / "latest"
    if not pointer.exists():
        raise PolicyLoadError(
            f"{run_dir} has no checkpoint yet: train it first (python -m dense_rl.train ...)"
        )
    config = json.loads((run_dir / "config.json").read_text())
    adapter = run_dir / "checkpoints" / pointer.read_text().strip() / "policy"
    return load_policy(config["model"], seed=config["seed"], adapter=str(adapter))


class PolicyLoadError(RuntimeError):
    """The policy named by the user cannot be loaded; the message says what to do."""


def load_policy(
    name_or_path: str,
    *,
    dtype: torch.dtype | None = None,
    seed: int = 0,
    adapter: str | None = None,
    attn_implementation: str | None = None,
):
    """(tokenizer, model) for a hub id, a local folder, or 'tiny' / 'tiny-robot' (the kit's own models, built
    on first use).

    `adapter`: a LoRA adapter folder (a training checkpoint's policy/) merged into the weights.
    The tokenizer pads on the left, as batched generation needs; the model is in eval mode. Attention is
    SDPA with a mask safe for left padding (dense_rl.attention) unless `attn_implementation` names another.
    """
    if name_or_path in TINY_MODELS:
        from dense_rl.tiny import tiny_model_path

        name_or_path = str(tiny_model_path(name_or_path, seed))
    looks_local = Path(name_or_path).exists() or name_or_path.startswith((".", "/", "~"))
    if looks_local and not (Path(name_or_path).expanduser() / "config.json").exists():
        raise PolicyLoadError(
            f"model folder {name_or_path!r} has no config.json; pass a folder written by save_pretrained, "
            f"a hub id, or '{TINY_MODEL}' for the kit's own CPU model"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        attention = attn_implementation or PADDING_SAFE_SDPA
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, torch_dtype=dtype, attn_implementation=attention
        )
    except OSError as err:  # the hub client raises OSError subclasses for offline / missing / unknown ids
        raise PolicyLoadError(
            f"could not load model {name_or_path!r}: it is not a local folder, not in the Hugging Face "
            "cache, "
            f"and the hub could not provide it ({type(err).__name__}). Use the tiny preset "
            f"(--preset tiny-code / model '{TINY_MODEL}'), pass a local path with --model, or download the "
            "model on a machine with internet and copy the folder here."
        ) from err
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return tokenizer, model


@dataclass
class Samples:
    """Sampled answers: per (prompt, sample) in prompt-major order (prompt 0's n samples first)."""

    prompts: list[str]  # chat-formatted prompt text, repeated n times
    prompt_ids: list[list[int]]
    response_ids: list[list[int]]  # up to and including the end-of-turn token when one was produced
    texts: list[str]  # decoded responses without special tokens


def chat_prompt(tokenizer, messages: list[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


@torch.no_grad()
def sample(
    tokenizer,
    model,
    messages: list[list[dict[str, str]]],
    *,
    n: int = 1,
    temperature: float = 1.0,
    max_new_tokens: int = 128,
    batch_size: int = 64,
    progress: bool = False,
    pad_to_multiple_of: int | None = None,
    **generate_kwargs,
) -> Samples:
    """`n` answers per chat; temperature 0 means greedy. Extra kwargs go to `model.generate`.

    `pad_to_multiple_of`: left-pad each batch's prompts to a multiple of this many tokens (fixed shapes for a
    static KV cache and a compiled decoding step, dense_rl.rollout); the extra padding is masked out.
    """
    prompts = [chat_prompt(tokenizer, m) for m in messages for _ in range(n)]
    out = Samples(prompts, [], [], [])
    eos = tokenizer.eos_token_id
    sampling = (
        dict(do_sample=False)
        if temperature == 0
        else dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
    )
    sampling |= generate_kwargs  # e.g. top_p=0.95 for the paper's evaluation protocol
    starts = range(0, len(prompts), batch_size)
    for start in progress_bar(starts, desc="sampling", disable=not progress):
        chunk = prompts[start : start + batch_size]
        enc = tokenizer(
            chunk,
            return_tensors="pt",
            padding=True,
            pad_to_multiple_of=pad_to_multiple_of,
            add_special_tokens=False,
            return_token_type_ids=False,
        ).to(model.device)
        generated = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
            **sampling,
        ).cpu()
        width = enc["input_ids"].shape[1]
        for row, mask in zip(generated, enc["attention_mask"].cpu(), strict=True):
            response = row[width:].tolist()
            if eos in response:  # rows that ended early are padded after their end-of-turn token
                response = response[: response.index(eos) + 1]
            out.prompt_ids.append(row[:width][mask.bool()].tolist())
            out.response_ids.append(response)
            out.texts.append(tokenizer.decode(response, skip_special_tokens=True))
    return out
