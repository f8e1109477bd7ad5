"""The PPO loop: exact resume after a crash, determinism, atomic checkpoints, batched scoring."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from dense_rl import ppo
from dense_rl.batch import RolloutBatch
from dense_rl.config import get_preset
from dense_rl.policy import load_policy, sample
from dense_rl.rewards.kl import response_logprobs
from dense_rl.tasks.chat import messages_for
from dense_rl.tasks.code_tasks import generate_code_tasks
from dense_rl.train import (
    append_metrics,
    build_models,
    critic_values,
    pack,
    policy_logprobs,
    repeated_prompts,
    run_finished,
    train,
    truncate_metrics,
)

TIMING = {"seconds", "reward_seconds"}  # wall-clock columns differ between any two runs


def _cfg(model: Path, **overrides):
    small = dict(total_steps=4, checkpoint_every=2, batch_size=4, mini_batch_size=2, response_length=24)
    return get_preset("tiny-code", model=str(model), **(small | overrides))


def _metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def reference_run(tiny_path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("uninterrupted")
    train(_cfg(tiny_path), run, eval_tasks=0)
    return run


@pytest.mark.slow
def test_same_seed_gives_identical_metrics_and_another_seed_differs(tiny_path, reference_run, tmp_path):
    train(_cfg(tiny_path), tmp_path / "again", eval_tasks=0)
    train(_cfg(tiny_path, seed=1), tmp_path / "seed1", eval_tasks=0)
    assert _metrics(tmp_path / "again") == _metrics(reference_run)
    assert _metrics(tmp_path / "seed1") != _metrics(reference_run)


@pytest.mark.slow
def test_killed_run_resumes_where_the_uninterrupted_run_would_be(tiny_path, reference_run, tmp_path):
    run = tmp_path / "killed"
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, 'tests')\n"
        "from test_train import _cfg; from dense_rl.train import train\n"
        f"train(_cfg(Path({str(tiny_path)!r})), Path({str(run)!r}), eval_tasks=0)\n"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, start_new_session=True)
    latest = run / "checkpoints" / "latest"
    deadline = time.time() + 300
    while not (latest.exists() and latest.read_text() == "step_000002") and time.time() < deadline:
        assert proc.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # SIGKILL: no cleanup, no chance to finish a write
    proc.wait()
    train(_cfg(tiny_path), run, resume=True, eval_tasks=0)
    assert _metrics(run) == _metrics(reference_run)  # no lost, duplicated or different steps


# A child run whose torch.save writes half of the step-4 checkpoint's state.pt, then SIGKILLs its process.
_DIES_WHILE_WRITING = """
import os, signal, sys, torch
from pathlib import Path
sys.path.insert(0, "tests")
from test_train import _cfg
from dense_rl.train import train
real_save = torch.save
def dying_save(obj, f, *args, **kwargs):
    if str(f).endswith(".staging_000004/state.pt"):
        Path(f).write_bytes(b"half a checkpoint")
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, f, *args, **kwargs)
torch.save = dying_save
train(_cfg(Path(sys.argv[1])), Path(sys.argv[2]), eval_tasks=0)
"""


@pytest.mark.slow
def test_killed_during_a_checkpoint_write_resumes_from_the_last_complete_one(
    tiny_path, reference_run, tmp_path
):
    run = tmp_path / "killed"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", _DIES_WHILE_WRITING, str(tiny_path), str(run)], cwd=root)
    assert proc.returncode == -signal.SIGKILL
    assert (run / "checkpoints" / "latest").read_text() == "step_000002"  # the torn one was never pointed at
    train(_cfg(tiny_path), run, resume=True, eval_tasks=0)
    assert _metrics(run) == _metrics(reference_run)  # no lost, duplicated or different steps


@pytest.mark.slow
def test_half_written_checkpoint_is_never_loaded(tiny_path, reference_run, tmp_path):
    run = tmp_path / "run"
    train(_cfg(tiny_path, total_steps=2), run, eval_tasks=0)
    staging = run / "checkpoints" / ".staging_000004"  # what a crash in the middle of a write leaves
    staging.mkdir()
    (staging / "state.pt").write_bytes(b"truncated")
    train(_cfg(tiny_path), run, resume=True, eval_tasks=0)
    assert _metrics(run) == _metrics(reference_run)


def test_a_resumed_run_keeps_counting_its_seconds(tiny_path, tmp_path):
    run = tmp_path / "run"
    train(_cfg(tiny_path, total_steps=2), run, eval_tasks=0)
    train(_cfg(tiny_path), run, resume=True, eval_tasks=0)  # steps 3-4 after a restart
    seconds = [float(row["seconds"]) for row in csv.DictReader(open(run / "metrics.csv"))]
    assert len(seconds) == 4 and seconds == sorted(seconds)  # the clock goes on, it does not restart at 0


def test_existing_run_is_not_overwritten_without_resume(tiny_path, reference_run):
    with pytest.raises(FileExistsError, match="--resume"):
        train(_cfg(tiny_path), reference_run, eval_tasks=0)


def test_batched_scoring_matches_one_sample_at_a_time(tiny_path):
    # left-padded prompts + right-padded responses must give each token the same log-prob as an unpadded pass
    tokenizer, model = load_policy(str(tiny_path))
    tasks = generate_code_tasks(4, "train")
    out = sample(tokenizer, model, [messages_for(t) for t in tasks], temperature=1.0, max_new_tokens=20)
    batch = RolloutBatch.from_ids(tokenizer, out.prompts, out.prompt_ids, out.response_ids)
    input_ids, attention_mask, position_ids, P = pack(batch, tokenizer.pad_token_id)
    with torch.no_grad():
        batched = policy_logprobs(
            model, (input_ids, attention_mask, position_ids), batch.response_ids, P, 1.0
        )
        single = response_logprobs(model, batch)
    mask = batch.response_mask
    assert torch.allclose(batched[mask], single[mask], atol=1e-4)


def _packed_repeats(tokenizer, model, answers_per_prompt: int):
    """A packed batch of 3 prompts, each answered `answers_per_prompt` times (rows of a prompt adjacent)."""
    tasks = [t for t in generate_code_tasks(3, "train") for _ in range(answers_per_prompt)]
    out = sample(tokenizer, model, [messages_for(t) for t in tasks], temperature=1.0, max_new_tokens=20)
    batch = RolloutBatch.from_ids(tokenizer, out.prompts, out.prompt_ids, out.response_ids)
    *inputs, P = pack(batch, tokenizer.pad_token_id)
    return batch, tuple(inputs), P


@pytest.mark.parametrize(
    "answers_per_prompt, distinct",
    [
        (1, None),  # every prompt once: nothing to share
        (4, 3),  # the training layout: 4 answers per prompt, 3 prompts
    ],
)
def test_repeated_prompts_are_found(tiny_path, answers_per_prompt, distinct):
    tokenizer, model = load_policy(str(tiny_path))
    _, inputs, P = _packed_repeats(tokenizer, model, answers_per_prompt)
    shared = repeated_prompts(inputs, P)
    assert (shared if shared is None else len(shared[0])) == distinct


def _plain_scores(policy, critic, inputs, response_ids, P):
    """log-probs and values from one forward over every row, prompt included (no sharing)."""
    T = response_ids.shape[1]
    named = dict(zip(("input_ids", "attention_mask", "position_ids"), inputs, strict=True))
    logits = policy(**named).logits[:, P - 1 : P + T - 1]
    hidden = critic.backbone(**named).last_hidden_state[:, P - 1 : P + T - 1]
    return ppo.logprobs_from_logits(logits, response_ids), critic.v_head(hidden).squeeze(-1)


def test_shared_prompt_scoring_matches_one_forward_with_gradients(tiny_path):
    # each distinct prompt runs once and its KV cache is copied to its rows: the log-probs, values and
    # gradients must be those of one forward over every row
    tokenizer, policy, critic = build_models(get_preset("tiny-code", model=str(tiny_path)))
    policy.eval(), critic.eval()  # as in training: no LoRA dropout, so both passes see the same function
    batch, inputs, P = _packed_repeats(tokenizer, policy, 4)
    ids, mask = batch.response_ids, batch.response_mask
    shared = (policy_logprobs(policy, inputs, ids, P, 1.0), critic_values(critic, inputs, P, ids.shape[1]))
    plain = _plain_scores(policy, critic, inputs, ids, P)
    params = [p for p in [*policy.parameters(), *critic.parameters()] if p.requires_grad]
    grads = []
    for logprobs, values in (shared, plain):
        loss = (logprobs * mask).sum() + (values * mask).sum()
        grads.append(torch.autograd.grad(loss, params))
    assert torch.allclose(shared[0][mask], plain[0][mask], atol=1e-5)
    assert torch.allclose(shared[1][mask], plain[1][mask], atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(*grads, strict=True))
    assert any(g.abs().sum() > 0 for g in grads[0])  # LoRA B starts at zero, but the A's and heads get some


def test_accelerator_runs_on_cpu():
    assert Accelerator(cpu=True).device.type == "cpu"


def test_metrics_cut_to_nothing_start_afresh_with_a_header(tmp_path):
    path = tmp_path / "metrics.csv"
    append_metrics(path, {"step": 1, "reward_total": 0.5})
    truncate_metrics(path, 0)  # a resumed run without a checkpoint keeps no rows
    append_metrics(path, {"step": 1, "reward_total": 0.25})
    assert path.read_text().splitlines() == ["step,reward_total", "1,0.25"]


def test_a_run_counts_as_finished_only_with_its_policy(tmp_path):
    (tmp_path / "summary.json").write_text("{}")  # results copied from elsewhere, no checkpoint
    assert not run_finished(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("step-000002")
    assert run_finished(tmp_path)
