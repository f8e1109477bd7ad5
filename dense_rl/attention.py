"""Padding-safe SDPA attention: PyTorch's scaled_dot_product_attention with a mask that never leaves a query
row with no key to attend to.

    from dense_rl.attention import PADDING_SAFE_SDPA
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation=PADDING_SAFE_SDPA)

Why: a left-padded batch (batched generation, and the kit's scoring layout [left-padded prompt | response])
has query rows at the pad positions whose causal window holds only padding, so every key is masked. Since
transformers 4.53 (on torch >= 2.6) `masking_utils.sdpa_mask` no longer patches such rows (its
`allow_torch_fix` only acts on torch < 2.5). Some SDPA kernels then return NaN for the row, or NaN gradients
in the backward pass; the next layer mixes that row's values into real rows as 0 * NaN = NaN, and one update
turns the LoRA weights NaN. This is how a bf16 PPO update went NaN on an H100 with SDPA and stayed finite
with eager attention (eager masks with the dtype's minimum, not -inf, so its softmax never divides 0 by 0).
On CPUs (torch 2.13) the math and flash kernels return 0 for an empty row, so the bug does not show there;
tests/test_fast_rollout.py checks the mask itself and runs a kernel that, like the GPU ones, gives NaN.

The fix, at the depth where the mask is made: a query row that may see no key sees every key instead. Its
output is garbage but finite, and no real row reads it (real rows still mask every pad key), so logits at
real positions are unchanged. It is registered under its own name with transformers' attention and mask
interfaces, so nothing global is patched: a model opts in by its attn_implementation.

Speed: for the plain causal pattern (every layer of the kit's models) the mask is built by broadcasting,
`kv_index <= query_position` and the padding row, instead of transformers' per-element `vmap` of a mask
function. Same boolean mask (tests/test_fast_rollout.py), a fraction of the time: the vmap version cost a
tiny-code PPO step about a tenth of its time on 2 CPU cores. Any other pattern goes to transformers' builder.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import (
    AttentionMaskInterface,
    _ignore_causal_mask_sdpa,
    causal_mask_function,
    prepare_padding_mask,
    sdpa_mask,
)

PADDING_SAFE_SDPA = "sdpa_padding_safe"


def causal_padding_mask(
    batch_size: int,
    cache_position: torch.Tensor,
    kv_length: int,
    kv_offset: int = 0,
    mask_function=causal_mask_function,
    attention_mask: torch.Tensor | None = None,
    local_size: int | None = None,
    allow_is_causal_skip: bool = True,
    **kwargs,
) -> torch.Tensor | None:
    """transformers' `sdpa_mask` (same arguments, same result), by broadcasting for the causal pattern:
    query i may see key j when j <= position(i) and j is not padding. [B, 1, Q, K] booleans, or None where
    SDPA's own is_causal path needs no mask."""
    if mask_function is not causal_mask_function:
        args = (batch_size, cache_position, kv_length, kv_offset, mask_function, attention_mask, local_size)
        return sdpa_mask(*args, allow_is_causal_skip=allow_is_causal_skip, **kwargs)
    padding = prepare_padding_mask(attention_mask, kv_length, kv_offset)
    q_length = cache_position.shape[0]
    if allow_is_causal_skip and _ignore_causal_mask_sdpa(padding, q_length, kv_length, kv_offset, local_size):
        return None
    kv_index = torch.arange(kv_length, device=cache_position.device) + kv_offset
    mask = (kv_index[None, :] <= cache_position[:, None])[None, None].expand(batch_size, 1, -1, -1)
    return mask & padding.bool()[:, None, None, :] if padding is not None else mask


def padding_safe_sdpa_mask(*args, **kwargs):
    """The SDPA mask (True = attend), with every all-False query row turned all-True."""
    mask = causal_padding_mask(*args, **kwargs)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        return mask  # None: no padding, the kernel's is_causal path needs no mask
    return mask | ~mask.any(dim=-1, keepdim=True)


AttentionInterface.register(PADDING_SAFE_SDPA, sdpa_attention_forward)
AttentionMaskInterface.register(PADDING_SAFE_SDPA, padding_safe_sdpa_mask)
