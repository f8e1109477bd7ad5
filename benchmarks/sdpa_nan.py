"""Which SDPA kernel turns a left-padded bf16 batch into NaN, with transformers' mask and with the kit's.

    python benchmarks/sdpa_nan.py --out results/gpu            # on a CUDA machine (benchmarks/gpu_checks.sh)
    python benchmarks/sdpa_nan.py --shape tiny --out /tmp/x     # the same table on a CPU, in seconds

For each SDPA backend PyTorch offers on the device (math, flash, memory-efficient, cuDNN; one at a time with
torch.nn.attention.sdpa_kernel) and each attention ("sdpa": transformers 4.53's mask, "sdpa_padding_safe":
dense_rl.attention's, "eager" as the reference), one forward and backward pass of a random Qwen2 in bf16 on a
batch whose rows carry 0 to 77 left pads, with LoRA-free weights and a next-token loss over real positions.
Records whether logits at real positions, logits at pad positions, the loss and the gradients are finite, the
largest logit gap to eager at real positions, and errors (a backend that refuses the mask says so).
Writes <out>/sdpa_nan.json and prints one line per case.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import Qwen2Config, Qwen2ForCausalLM

import dense_rl.attention  # noqa: F401 - registers sdpa_padding_safe

SHAPES = {
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_attention_heads=12, num_key_value_heads=2),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2),
}
BACKENDS = {
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}


def one_case(shape: str, attention: str, backend: str, device: str) -> dict:
    torch.manual_seed(0)
    config = Qwen2Config(**SHAPES[shape], num_hidden_layers=4, vocab_size=4096, attn_implementation=attention)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    ids = torch.randint(2, 4096, (8, 96), generator=torch.Generator().manual_seed(0)).to(device)
    mask = torch.ones_like(ids)
    for row in range(8):
        mask[row, : 11 * row] = 0
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    real = mask.bool()
    try:
        with sdpa_kernel(BACKENDS[backend]):
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            logprobs = logits[:, :-1].float().log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
            loss = -(logprobs * real[:, 1:]).sum() / real[:, 1:].sum()
            loss.backward()
    except RuntimeError as err:
        return {"error": str(err).splitlines()[0][:160]}
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return {
        "real_logits_finite": bool(torch.isfinite(logits[real]).all()),
        "pad_logits_finite": bool(torch.isfinite(logits[~real]).all()),
        "loss_finite": bool(torch.isfinite(loss)),
        "grads_finite": all(bool(torch.isfinite(g).all()) for g in grads),
        "logits": logits.detach()[real].float(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1.5b")
    parser.add_argument("--out", default="results/gpu")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    backends = list(BACKENDS) if device == "cuda" else ["math", "flash"]  # the CPU has these two
    eager = one_case(args.shape, "eager", "math", device)["logits"]
    rows = []
    for backend in backends:
        for attention in ("sdpa", dense_rl.attention.PADDING_SAFE_SDPA):
            row = {
                "backend": backend,
                "attention": attention,
                **one_case(args.shape, attention, backend, device),
            }
            if "logits" in row:
                row["max_gap_to_eager"] = round(float((row.pop("logits") - eager).abs().max()), 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {
        "what": "left-padded bf16 batch, one forward + backward per SDPA backend (benchmarks/sdpa_nan.py)",
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "shape": args.shape,
        "cases": rows,
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "sdpa_nan.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
