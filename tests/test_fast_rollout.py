"""Fast rollouts (dense_rl.rollout) and padding-safe SDPA (dense_rl.attention) on CPU.

    .venv/bin/python -m pytest tests/test_fast_rollout.py -q

The merged copy must compute the policy's function, the static cache and prompt buckets must not change what
is sampled, and the padding-safe mask must leave no query row without a key (the cause of the bf16 NaN on
GPUs, reproduced here with a kernel that, like those, returns NaN for such a row).
"""

from __future__ import annotations

import pytest
import torch
from peft import get_peft_model
from transformers import AttentionInterface, Qwen2Config, Qwen2ForCausalLM
from transformers.masking_utils import (
    AttentionMaskInterface,
    causal_mask_function,
    sdpa_mask,
    sliding_window_causal_mask_function,
)

from dense_rl.attention import PADDING_SAFE_SDPA, causal_padding_mask, padding_safe_sdpa_mask
from dense_rl.batch import RolloutBatch
from dense_rl.config import get_preset
from dense_rl.policy import load_policy, sample
from dense_rl.rollout import Sampler, Speedups
from dense_rl.tasks.chat import messages_for
from dense_rl.tasks.sources import heldout_tasks
from dense_rl.train import lora_config, pack

CFG = get_preset("tiny-code")


@pytest.fixture()
def policy(tiny_path):
    """(tokenizer, LoRA'd tiny policy) whose adapter is not the identity (lora_B is zero at init)."""
    tokenizer, model = load_policy(str(tiny_path))
    policy = get_peft_model(model, lora_config(CFG)).eval()
    torch.manual_seed(0)
    for name, p in policy.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.05)
    return tokenizer, policy


def scoring_inputs(tokenizer, n: int = 4):
    """A left-padded [prompt | response] batch of held-out prompts, packed as training scores it."""
    prompts = [
        tokenizer.apply_chat_template(messages_for(t), add_generation_prompt=True, tokenize=False)
        for t in heldout_tasks(CFG, n)
    ]
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    batch = RolloutBatch.from_ids(tokenizer, prompts, ids, [i[: 5 + 3 * k] for k, i in enumerate(ids)])
    input_ids, attention_mask, position_ids, _ = pack(batch, tokenizer.pad_token_id)
    return dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)


def test_merged_copy_gives_the_adapter_logits(policy):
    tokenizer, model = policy
    inputs = scoring_inputs(tokenizer)
    real = inputs["attention_mask"].bool()
    with torch.no_grad():
        adapter = model(**inputs).logits[real]
        merged = Sampler(model).model(**inputs).logits[real]
        bare = model.get_base_model()
        with model.disable_adapter():
            reference = bare(**inputs).logits[real]
    assert (merged - adapter).abs().max() < 1e-4
    assert (reference - adapter).abs().max() > 1e-2  # the adapter really changes the function


def test_refresh_follows_an_update_and_leaves_the_base_weights_alone(policy):
    tokenizer, model = policy
    inputs = scoring_inputs(tokenizer)
    sampler = Sampler(model)
    before = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    for name, p in model.named_parameters():
        if "lora_A" in name:
            p.data.mul_(-2.0)  # an "update" of the adapter
    sampler.refresh()
    with torch.no_grad():
        gap = (sampler.model(**inputs).logits - model(**inputs).logits)[inputs["attention_mask"].bool()]
    assert gap.abs().max() < 1e-4
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize(
    "speedups",
    [
        Speedups(merge_lora=False, static_cache=True),  # the static cache alone
        Speedups(merge_lora=False, static_cache=True, prompt_bucket=64),  # with prompts padded to 64
        Speedups(merge_lora=True, static_cache=True, prompt_bucket=32),  # all CPU switches together
    ],
)
def test_static_cache_and_buckets_keep_the_greedy_tokens(policy, speedups):
    tokenizer, model = policy
    messages = [messages_for(t) for t in heldout_tasks(CFG, 4)]
    dynamic = sample(tokenizer, model, messages, temperature=0, max_new_tokens=24, batch_size=4)
    fast = Sampler(model, speedups).sample(tokenizer, messages, temperature=0, max_new_tokens=24)
    assert fast.response_ids == dynamic.response_ids
    assert fast.prompt_ids == dynamic.prompt_ids


def test_compile_without_a_static_cache_is_refused(policy):
    with pytest.raises(ValueError, match="static_cache"):
        Sampler(policy[1], Speedups(compile=True, static_cache=False))


# --- padding-safe SDPA --------------------------------------------------------------------------------------


def left_padded_mask(mask_function) -> torch.Tensor:
    """The 4D mask `mask_function` builds for a causal batch whose first row has 3 left pads of 6 tokens."""
    padding = torch.tensor([[0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    return mask_function(batch_size=2, cache_position=torch.arange(6), kv_length=6, attention_mask=padding)


@pytest.mark.parametrize(
    "mask_function, empty_rows",
    [
        (sdpa_mask, 3),  # transformers 4.53 on torch >= 2.6: the 3 pad queries of row 0 see no key
        (padding_safe_sdpa_mask, 0),  # the kit's mask: every query row sees at least one key
    ],
)
def test_query_rows_without_any_key(mask_function, empty_rows):
    mask = left_padded_mask(mask_function)
    assert int((~mask.any(-1)).sum()) == empty_rows


LEFT_PADS = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]], dtype=torch.bool)


@pytest.mark.parametrize(
    "cache_position, kv_length, kv_offset, attention_mask, mask_function",
    [
        (torch.arange(7), 7, 0, LEFT_PADS, causal_mask_function),  # prefill of a left-padded batch
        (torch.arange(7), 7, 0, torch.ones(2, 7, dtype=torch.bool), causal_mask_function),  # no padding
        (torch.arange(7), 7, 0, None, causal_mask_function),  # no attention mask at all
        (torch.tensor([6]), 7, 0, LEFT_PADS, causal_mask_function),  # one decoding step after a prompt
        (torch.arange(4, 7), 7, 0, LEFT_PADS, causal_mask_function),  # a chunk on top of a cache
        (torch.arange(5), 8, 0, LEFT_PADS[:, :5], causal_mask_function),  # static cache: kv longer than mask
        (torch.arange(3, 7), 4, 3, LEFT_PADS, causal_mask_function),  # kv window starting at an offset
        (torch.arange(7), 7, 0, LEFT_PADS, sliding_window_causal_mask_function(3)),  # other patterns: stock
    ],
)
def test_broadcast_mask_equals_transformers(
    cache_position, kv_length, kv_offset, attention_mask, mask_function
):
    args = dict(batch_size=2, cache_position=cache_position, kv_length=kv_length, kv_offset=kv_offset)
    args |= dict(attention_mask=attention_mask, mask_function=mask_function)
    stock, ours = sdpa_mask(**args), causal_padding_mask(**args)
    assert (stock is None and ours is None) or torch.equal(stock.expand_as(ours), ours)


def test_padding_safe_mask_is_unchanged_on_real_rows():
    stock, safe = left_padded_mask(sdpa_mask), left_padded_mask(padding_safe_sdpa_mask)
    assert torch.equal(stock[0, :, 3:], safe[0, :, 3:]) and torch.equal(stock[1], safe[1])


def naive_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """softmax over -inf-masked scores: an empty row gives 0/0 = NaN, as the faulty GPU kernels do."""
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, 1), value.repeat_interleave(groups, 1)
    scores = (query @ key.transpose(-1, -2)) * scaling
    scores = scores.masked_fill(~attention_mask, float("-inf"))
    return (scores.softmax(-1) @ value).transpose(1, 2), None


AttentionInterface.register("naive_stock_mask", naive_attention)
AttentionMaskInterface.register("naive_stock_mask", sdpa_mask)
AttentionInterface.register("naive_safe_mask", naive_attention)
AttentionMaskInterface.register("naive_safe_mask", padding_safe_sdpa_mask)


def random_qwen2(attention: str) -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    config = Qwen2Config(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
        attn_implementation=attention,
    )
    return Qwen2ForCausalLM(config).to(torch.bfloat16)


LEFT_PADDED = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1, 1], [1] * 8])


@pytest.mark.parametrize(
    "attention, finite",
    [
        (
            "naive_stock_mask",
            False,
        ),  # a NaN-on-empty-row kernel with transformers' mask: NaN reaches real rows
        ("naive_safe_mask", True),  # the same kernel with the padding-safe mask
        (PADDING_SAFE_SDPA, True),  # the kit's attention with PyTorch's CPU kernels
    ],
)
def test_left_padded_bf16_logits_at_real_positions(attention, finite):
    ids = torch.randint(3, 128, LEFT_PADDED.shape, generator=torch.Generator().manual_seed(0))
    positions = (LEFT_PADDED.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = random_qwen2(attention)(input_ids=ids, attention_mask=LEFT_PADDED, position_ids=positions)
        eager = random_qwen2("eager")(input_ids=ids, attention_mask=LEFT_PADDED, position_ids=positions)
    real = LEFT_PADDED.bool()
    assert bool(torch.isfinite(logits.logits[real]).all()) == finite
    if finite:  # and the same function as eager attention, within bf16 rounding
        assert (logits.logits[real].float() - eager.logits[real].float()).abs().max() < 0.05
