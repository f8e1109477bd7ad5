"""Shared fixtures. The tiny policy used by tests is a shrunken build (seconds, not minutes): the same code
path as the real one, with a smaller corpus, model and step count."""

from __future__ import annotations

from pathlib import Path

import pytest

from dense_rl.tiny import TinySpec, tiny_policy_path

SHRUNKEN = TinySpec(
    n_code_tasks=300,
    n_robot_tasks=60,
    vocab_size=400,
    hidden_size=32,
    layers=1,
    heads=2,
    ffn_size=64,
    max_positions=512,
    steps=3,
    batch_size=8,
    warmup_steps=1,
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
