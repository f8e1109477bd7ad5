"""What one rollout hands to the rewards: the RolloutBatch, and what each reward hands back: RewardOutput.

    from dense_rl.batch import RolloutBatch
    batch = RolloutBatch.from_ids(tokenizer, prompts, prompt_ids, response_ids_list)
    batch.responses[0], batch.token_spans[0]      # decoded text, each token's character span in it

Rewards read text (to run, parse and lint code) and write per-token tensors; `token_spans` is the bridge
(dense_rl.spans). Components know nothing of PPO and PPO knows nothing of components: both only see these
two records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from dense_rl.spans import code_region, code_token_mask, decode_with_spans


@dataclass
class RolloutBatch:
    """B sampled responses, their prompts and the text <-> token map.

    prompts:       chat-formatted prompt text per sample.
    prompt_ids:    the prompt's token ids per sample (unpadded).
    response_ids:  LongTensor[B, T], right-padded with the pad id.
    response_mask: BoolTensor[B, T], True on real response tokens (the end-of-turn token included).
    responses:     the decoded response text per sample, special tokens dropped.
    token_spans:   per sample, each response token's (start, end) character span in `responses[i]`.
    """

    prompts: list[str]
    prompt_ids: list[list[int]]
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    responses: list[str]
    token_spans: list[list[tuple[int, int]]]

    @classmethod
    def from_ids(
        cls,
        tokenizer,
        prompts: Sequence[str],
        prompt_ids: Sequence[Sequence[int]],
        response_ids_list: Sequence[Sequence[int]],
    ) -> RolloutBatch:
        """Pad the responses and decode each one once, with spans (linear in the response length)."""
        if not len(prompts) == len(prompt_ids) == len(response_ids_list):
            raise ValueError(
                f"RolloutBatch.from_ids: got {len(prompts)} prompts, {len(prompt_ids)} prompt_ids and "
                f"{len(response_ids_list)} responses; pass one of each per sample"
            )
        width = max((len(r) for r in response_ids_list), default=0)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        response_ids = torch.full((len(response_ids_list), width), pad, dtype=torch.long)
        response_mask = torch.zeros((len(response_ids_list), width), dtype=torch.bool)
        responses, token_spans = [], []
        for row, ids in enumerate(response_ids_list):
            ids = [int(t) for t in ids]
            response_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            response_mask[row, : len(ids)] = True
            text, spans = decode_with_spans(tokenizer, ids)
            responses.append(text)
            token_spans.append(spans)
        return cls(
            list(prompts), [list(p) for p in prompt_ids], response_ids, response_mask, responses, token_spans
        )

    def __len__(self) -> int:
        return len(self.responses)


@dataclass
class RewardOutput:
    """One reward component's verdict on a batch.

    per_token: Tensor[B, T] of rewards on response tokens (0 where the component has nothing to say, and
               always 0 on padding).
    summary:   per-sample numbers for logging, e.g. {"pass_at_1": [1.0, 0.0]}; each list has B entries.
    """

    per_token: torch.Tensor
    summary: dict[str, list[float]] = field(default_factory=dict)


def spread_over_code(batch: RolloutBatch, values: Sequence[float]) -> torch.Tensor:
    """Tensor[B, T]: sample i's value divided evenly over its code tokens (prose and padding get 0).

    Sequence-level scores (pass fraction, data-flow match) become dense this way while each sample's total
    stays the score itself. A sample without code gets 0 everywhere.
    """
    if len(values) != len(batch):
        raise ValueError(f"spread_over_code: {len(values)} values for a batch of {len(batch)}; pass one each")
    per_token = torch.zeros(batch.response_ids.shape, dtype=torch.float32)
    for row, (text, spans) in enumerate(zip(batch.responses, batch.token_spans, strict=True)):
        mask = torch.tensor(code_token_mask(spans, code_region(text)), dtype=torch.bool)
        if mask.any():
            per_token[row, : len(mask)][mask] = float(values[row]) / int(mask.sum())
    return per_token
