"""Fast rollouts: sample from a merged copy of the LoRA'd policy, with a static KV cache and fixed shapes.

    from dense_rl.rollout import Sampler
    sampler = Sampler(policy)                        # policy: the peft model being trained
    out = sampler.sample(tokenizer, messages, temperature=1.0, max_new_tokens=256)   # -> policy.Samples

Why: sampling through a LoRA adapter adds two small matmuls to each of the 196 projections of a 1.5B model for
every token, and Hugging Face's generate is bound by kernel launches at that size: on an H100 one token for 8
sequences took 67 ms through the adapter against 34 ms for the bare model (results/gpu/README.md). Each
switch below can be turned off on its own, so benchmarks/gpu_ppo_step.py measures them one by one:

- `merge_lora`: a plain copy of the base model whose projections hold W + (alpha / r) B A, refreshed from the
  policy before every rollout (a few hundred rank-r matmuls). The policy's own base weights are never
  touched: merging into them and unmerging after (peft's merge_adapter / unmerge_adapter) leaves bf16
  rounding behind in the weights that are also the frozen reference policy, step after step. The copy
  costs one more set of base weights in memory (3 GB in bf16 for the 1.5B model).
- `static_cache`: generate's pre-allocated KV cache (cache_implementation="static"). On CUDA generate then
  compiles the one-token decoding step with torch.compile (unless `compile` is off); never on CPUs.
- `prompt_bucket`: prompts are left-padded to a multiple of this many tokens, so the cache and the compiled
  step see a handful of shapes over a run instead of a new one per batch (no recompiling per step). The batch
  size of a rollout is fixed by the preset.

Where this departs from plain sampling: nothing in the distribution. The merged copy computes the same
function as the adapter (tests/test_fast_rollout.py: same logits within float tolerance), and the extra left
padding is masked out (same greedy tokens with and without the static cache and buckets).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM

from dense_rl.policy import Samples, sample


@dataclass(frozen=True)
class Speedups:
    """Which rollout speed-ups are on (each measured on its own by benchmarks/gpu_ppo_step.py)."""

    merge_lora: bool = True  # sample from a merged copy (W + BA), refreshed each rollout
    static_cache: bool = False  # pre-allocated KV cache (fixed shapes)
    compile: bool = False  # torch.compile the decoding step (needs static_cache; CUDA only, as generate does)
    prompt_bucket: int = 0  # left-pad prompts to a multiple of this many tokens (0: to the longest prompt)

    @classmethod
    def for_device(cls, cuda: bool) -> Speedups:
        """The defaults of training: everything on a GPU; on a CPU only the merge (compiling the step costs
        more than it saves over a few hundred tokens, and the static cache only pays off compiled)."""
        return cls(merge_lora=True, static_cache=cuda, compile=cuda, prompt_bucket=64 if cuda else 0)


class Sampler:
    """Rollout sampling for a LoRA'd `policy` (a peft model), with the speed-ups of `speedups`."""

    def __init__(self, policy, speedups: Speedups | None = None):
        self.policy = policy
        self.speedups = speedups or Speedups()
        if self.speedups.compile and not self.speedups.static_cache:
            raise ValueError("Speedups(compile=True) needs static_cache=True: only a static cache compiles")
        self.model = merged_copy(policy) if self.speedups.merge_lora else policy

    @torch.no_grad()
    def refresh(self) -> None:
        """Copy the policy's current W + delta W into the merged copy (call after every update)."""
        if self.model is not self.policy:
            write_merged_weights(self.policy, self.model)

    def sample(self, tokenizer, messages: list, *, temperature: float, max_new_tokens: int) -> Samples:
        """One answer per chat, as dense_rl.policy.sample, from the policy's current weights."""
        self.refresh()
        fast = self.speedups
        options = dict(cache_implementation="static", disable_compile=not fast.compile)
        return sample(
            tokenizer,
            self.model,
            messages,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            batch_size=len(messages),
            pad_to_multiple_of=fast.prompt_bucket or None,
            **(options if fast.static_cache else {}),
        )


def lora_layers(policy) -> dict:
    """{module name in the base model: peft LoRA layer} of every adapted projection."""
    from peft.tuners.lora import LoraLayer

    base = policy.get_base_model()
    return {name: m for name, m in base.named_modules() if isinstance(m, LoraLayer)}


def merged_copy(policy) -> torch.nn.Module:
    """A plain (adapter-free) model of the policy's architecture holding W + delta W, in eval mode."""
    if not lora_layers(policy):
        raise ValueError(
            "Sampler(merge_lora=True) needs a peft model with LoRA layers; got none in the policy"
        )
    base = policy.get_base_model()
    param = next(base.parameters())
    # building a model draws its random initial weights: keep the run's random stream as it was, so that a
    # resumed run (which builds the copy after restoring its RNG state) samples what the uninterrupted one did
    cuda = [param.device] if param.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), torch.device(param.device):
        model = AutoModelForCausalLM.from_config(base.config, torch_dtype=param.dtype)
    state = {k.replace(".base_layer", ""): v for k, v in base.state_dict().items() if "lora_" not in k}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:  # lm_head is absent when tied to the embeddings
        raise ValueError(f"merged copy: weights do not match the base model ({missing=}, {unexpected=})")
    model.generation_config = base.generation_config
    write_merged_weights(policy, model)
    return model.eval().requires_grad_(False)


@torch.no_grad()
def write_merged_weights(policy, model: torch.nn.Module) -> None:
    """model.<projection>.weight = W + delta W for every LoRA layer of the policy (its active adapter)."""
    for name, layer in lora_layers(policy).items():
        adapter = layer.active_adapters[0]
        if layer.merged:
            raise ValueError(f"{name}: the policy's adapter is merged into its weights; unmerge it first")
        weight = layer.get_base_layer().weight
        target = model.get_submodule(name).weight
        target.copy_(weight + layer.get_delta_weight(adapter).to(weight.dtype))
