"""Two processes on CPU (accelerate, gloo): after PPO steps both ranks hold identical weights."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import hashlib, sys
import torch
from accelerate import Accelerator
from dense_rl.config import get_preset
from dense_rl.seeding import seed_everything
from dense_rl.tasks.sources import training_tasks
from dense_rl.train import build_models, ppo_step

small = dict(batch_size=2, mini_batch_size=1, response_length=12, ppo_epochs=1, samples_per_prompt=1)
cfg = get_preset("tiny-code", model=sys.argv[1], **small)
accelerator = Accelerator(cpu=True)
seed_everything(cfg.seed + accelerator.process_index)  # each rank samples differently, as in train()
tokenizer, policy, critic = build_models(cfg)
params = [p for p in [*policy.parameters(), *critic.parameters()] if p.requires_grad]
optimizer = torch.optim.AdamW(params, lr=1e-2)
policy, critic, optimizer = accelerator.prepare(policy, critic, optimizer)
tasks = training_tasks(cfg, 8)
for step in range(2):
    first = (step * accelerator.num_processes + accelerator.process_index) * cfg.batch_size
    ppo_step(cfg, tokenizer, policy, critic, optimizer, accelerator, tasks[first : first + cfg.batch_size])
digest = hashlib.sha256()
for p in params:
    digest.update(p.detach().numpy().tobytes())
print(f"RANK {accelerator.process_index} OF {accelerator.num_processes} {digest.hexdigest()}")
"""


@pytest.mark.slow
def test_two_cpu_processes_end_with_identical_weights(tiny_path, tmp_path):
    script = tmp_path / "two_ranks.py"
    script.write_text(SCRIPT)
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    command = [
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(script),
        str(tiny_path),
    ]
    env = dict(os.environ, ACCELERATE_USE_CPU="true", OMP_NUM_THREADS="1")
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    # the two ranks share one stdout pipe, and a print's text and its newline are separate writes: one
    # rank's line can run into the other's, so the lines are found by pattern, not by splitting at newlines
    ranks = sorted(r.split() for r in re.findall(r"RANK \d+ OF \d+ [0-9a-f]{64}", out.stdout))
    assert len(ranks) == 2, out.stderr[-3000:]
    assert [r[1] for r in ranks] == ["0", "1"] and ranks[0][3] == "2"  # two real processes
    assert ranks[0][4] == ranks[1][4]  # the same weights on both ranks
