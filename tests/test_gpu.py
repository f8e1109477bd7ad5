"""GPU checks of the training attention and the fast rollout path (skipped without CUDA, with the reason).

    python -m pytest tests/test_gpu.py -q -rs          # on a CUDA machine (benchmarks/gpu_checks.sh runs it)

The bf16 PPO update of a left-padded batch went NaN with stock SDPA on an H100 (results/gpu/README.md). These
tests build random Qwen2 models (no download) with the attention training uses (dense_rl.train
.train_attention) and check what must hold there: finite logits, loss and LoRA gradients over two AdamW
steps; the merged copy's logits match the adapter's in bf16; the compiled static-cache decoding gives the
dynamic cache's greedy tokens and does not recompile for a second batch in the same prompt bucket. The
finite-values test also runs on CPU in bf16 with a small shape (PyTorch's CPU kernels never showed the NaN,
so there it guards the plumbing, not the kernel).
"""

from __future__ import annotations

import pytest
import torch
from peft import get_peft_model
from transformers import Qwen2Config, Qwen2ForCausalLM

from dense_rl.config import get_preset
from dense_rl.rollout import Sampler, Speedups
from dense_rl.train import lora_config, train_attention

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU: run benchmarks/gpu_checks.sh there")
SHAPES = {  # a few layers of the paper model's width (its heads and KV heads), and a CPU-sized one
    "cuda": dict(hidden_size=1536, intermediate_size=8960, num_attention_heads=12, num_key_value_heads=2),
    "cpu": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2),
}


def lora_policy(device: str, dtype=torch.bfloat16, layers: int = 4):
    """A random Qwen2 with the paper preset's LoRA, its adapter moved off the identity."""
    torch.manual_seed(0)
    config = Qwen2Config(
        **SHAPES[device],
        num_hidden_layers=layers,
        vocab_size=4096,
        attn_implementation=train_attention(),
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
    )
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(dtype)
    policy = get_peft_model(model, lora_config(get_preset("paper-mbpp"))).eval()
    for name, p in policy.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.02)
    return policy


def left_padded_batch(device: str, rows: int = 8, width: int = 96):
    """Token ids, mask and position ids of `rows` sequences, row i left-padded by 11 * i tokens."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 4096, (rows, width), generator=g)
    mask = torch.ones(rows, width, dtype=torch.long)
    for i in range(rows):
        mask[i, : 11 * i] = 0
    ids[mask == 0] = 0
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


@pytest.mark.parametrize("device", [pytest.param("cuda", marks=needs_cuda), "cpu"])
def test_left_padded_bf16_update_stays_finite(device):
    policy = lora_policy(device)
    ids, mask, positions = left_padded_batch(device)
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=1e-3)
    for step in range(2):  # the NaN showed in the second update's forward pass
        logits = policy(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        real = mask.bool()
        assert torch.isfinite(logits[real]).all(), f"step {step}: non-finite logits at real positions"
        logprobs = logits[:, :-1].float().log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        loss = -(logprobs * real[:, 1:]).sum() / real[:, 1:].sum()
        assert torch.isfinite(loss), f"step {step}: loss {loss}"
        optimizer.zero_grad()
        loss.backward()
        grads = [p.grad for p in policy.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), f"step {step}: non-finite gradients"
        optimizer.step()


@needs_cuda
def test_merged_copy_matches_the_adapter_in_bf16():
    policy = lora_policy("cuda")
    ids, mask, positions = left_padded_batch("cuda")
    with torch.no_grad():
        adapter = policy(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        merged = Sampler(policy).model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    real = mask.bool()
    gap = (adapter[real].float() - merged[real].float()).abs().max()
    assert gap < 0.1 * adapter[real].float().abs().max(), f"merged vs adapter logits differ by {gap}"


class _Tokens:
    """The least a tokenizer needs for dense_rl.policy.sample: fixed prompts of known ids."""

    pad_token_id, eos_token_id, padding_side = 0, 1, "left"

    def __init__(self, prompts: dict[str, list[int]]):
        self.prompts = prompts

    def apply_chat_template(self, messages, **kwargs) -> str:
        return messages[-1]["content"]

    def __call__(self, texts, pad_to_multiple_of=None, **kwargs):
        from transformers import BatchEncoding

        width = max(len(self.prompts[t]) for t in texts)
        if pad_to_multiple_of:
            width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
        ids = torch.tensor([[0] * (width - len(self.prompts[t])) + self.prompts[t] for t in texts])
        return BatchEncoding({"input_ids": ids, "attention_mask": (ids != 0).long()})

    def decode(self, ids, **kwargs) -> str:
        return " ".join(map(str, ids))


@needs_cuda
def test_compiled_static_cache_keeps_greedy_tokens_without_recompiling():
    import torch._dynamo

    policy = lora_policy("cuda", dtype=torch.float32, layers=2)
    g = torch.Generator().manual_seed(1)
    prompts = {f"p{i}": torch.randint(2, 4096, (20 + 7 * i,), generator=g).tolist() for i in range(8)}
    tokens = _Tokens(prompts)
    first = [[{"role": "user", "content": f"p{i}"}] for i in range(4)]
    second = [[{"role": "user", "content": f"p{i}"}] for i in range(4, 8)]  # longer, same 64-token bucket
    plain = Sampler(policy, Speedups(merge_lora=True))
    fast = Sampler(policy, Speedups(merge_lora=True, static_cache=True, compile=True, prompt_bucket=64))
    torch._dynamo.reset()
    graphs = []
    for chats in (first, second):
        want = plain.sample(tokens, chats, temperature=0, max_new_tokens=32).response_ids
        assert fast.sample(tokens, chats, temperature=0, max_new_tokens=32).response_ids == want
        graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
    assert graphs[1] == graphs[0], f"the second batch compiled {graphs[1] - graphs[0]} new graph(s)"
