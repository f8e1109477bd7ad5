"""Shared fixtures. The tiny policy used by tests is a shrunken build (seconds, not minutes): the same code
path as the real one, with a smaller corpus, model and step count."""

from __future__ import annotations

from pathlib import Path

import pytest

from dense_rl.tiny import TinySpec, tiny_policy_path

SHRUNKEN = TinySpec(  # ~15 s: big enough to write fenced `def` blocks, so every reward has something to say
    n_code_tasks=1500,
    n_robot_tasks=100,
    vocab_size=400,
    hidden_size=64,
    layers=2,
    heads=2,
    ffn_size=128,
    max_positions=512,
    steps=120,
    batch_size=16,
    warmup_steps=5,
    learning_rate=3e-3,
)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> Path:
    """A shrunken tiny policy, built once per test session into a temporary cache."""
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("DENSE_RL_CACHE", str(cache))
    try:
        return tiny_policy_path(spec=SHRUNKEN)
    finally:
        mp.undo()
