"""Hostile generated programs: each tries to break, escape or fool the sandbox, and must get nothing for it.

    .venv/bin/python -m pytest -q tests/test_hostile.py        # the same set: pytest -k hostile

The programs are tests/hostile_programs.py (shared with benchmarks/load.py), one test case each. For every
program: its reward is defined and it gets no credit (no assert passed / no robot run succeeded), the canary
files outside its directory (one under /tmp, one in the repository's .pytest_cache) are unchanged, the port
the test listens on saw no connection, and no process it started is left running. A few also go through the
reward path of a training step (dense_rl.train.reward_components, then combine). Cases that rely on
bubblewrap or the seccomp filter are skipped where those do not work (there the program could really do
harm); known holes are strict xfails, so closing one shows up.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import torch
from hostile_programs import CODE, CODE_REFERENCE, CODE_TESTS, ROBOT, Hostile, render
from test_spans import batch_of

from dense_rl.config import get_preset
from dense_rl.rewards.combine import combine, config_weights
from dense_rl.rewards.tests import run_unit_tests
from dense_rl.robot.robosim import success_fraction
from dense_rl.robot.sandboxed import run_robosim
from dense_rl.sandbox import Limits, bwrap_available, process_filter
from dense_rl.tasks.types import CodeTask
from dense_rl.train import reward_components

LIMITS = Limits(wall_s=3, cpu_s=2)
SECRET_NAME = "DENSE_RL_FAKE_SECRET"
TASK = CodeTask("hostile/0", "Write f(x) that returns x + 1.", "f", CODE_REFERENCE, CODE_TESTS)


def _params(corpus: dict[str, Hostile]) -> list:
    """One pytest.param per program: skipped where its containment is missing, xfail for a known hole."""
    params = []
    for name, case in corpus.items():
        marks = []
        if case.needs == "bwrap":
            marks.append(pytest.mark.skipif(not bwrap_available(), reason="needs bubblewrap"))
        if case.needs == "filter":
            marks.append(pytest.mark.skipif(not process_filter(), reason="needs the seccomp filter"))
        if case.gap:
            marks.append(pytest.mark.xfail(strict=True, reason=case.gap))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@dataclass
class World:
    """What a hostile program may try to touch, and the checks that it did not."""

    values: dict[str, str]
    canaries: list[Path]
    listener: socket.socket
    children_before: set[int]

    def assert_untouched(self) -> None:
        for canary in self.canaries:
            assert canary.read_text() == "canary", f"{canary} was changed"
            assert sorted(canary.parent.iterdir()) == [canary], f"files appeared next to {canary}"
        with pytest.raises(BlockingIOError):  # nothing is waiting to be accepted
            self.listener.accept()

    def assert_no_process_left(self) -> None:
        marker = self.values["marker"]
        deadline = time.monotonic() + 3  # a killed namespace takes a moment to go
        while (left := _leftovers(marker, self.children_before)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"processes left running: {left}"


def _leftovers(marker: str, children_before: set[int]) -> list[str]:
    """Live processes that carry the marker, or children of this process that were not there before."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(proc.info["cmdline"] or []):
            found.append(f"{proc.info['pid']} {proc.info['cmdline']}")
    for child in psutil.Process().children(recursive=True):
        try:
            if child.pid not in children_before and child.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{child.pid} {child.cmdline()}")
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.fixture
def world(tmp_path, pytestconfig, monkeypatch):
    tag = uuid.uuid4().hex
    outside_tmp = pytestconfig.cache.mkdir("hostile") / tag  # outside /tmp: visible, read-only in bubblewrap
    outside_tmp.mkdir()
    canaries = [tmp_path / "canary" / "canary.txt", outside_tmp / "canary.txt"]
    for canary in canaries:
        canary.parent.mkdir(exist_ok=True)
        canary.write_text("canary")
    secret = f"s3cret-{tag}"
    monkeypatch.setenv(SECRET_NAME, secret)  # the caller's environment ...
    holder = subprocess.Popen(["sleep", "60"], env={**os.environ})  # ... and another process's
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    values = {
        "marker": f"dense_rl_hostile_{tag}",
        "canary_tmp": str(canaries[0]),
        "canary_repo": str(canaries[1]),
        "secret_name": SECRET_NAME,
        "secret": secret,
        "port": str(listener.getsockname()[1]),
    }
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    yield World(values, canaries, listener, children)
    listener.close()
    holder.kill()
    holder.wait()
    for path in outside_tmp.iterdir():
        path.unlink()
    outside_tmp.rmdir()


@pytest.mark.parametrize("name", _params(CODE))
def test_hostile_code_program_gets_nothing_and_leaves_nothing(name, world):
    source = render(CODE[name].source, **world.values)
    outcome = run_unit_tests([source], [CODE_TESTS], limits=LIMITS)[0]
    assert outcome.total == len(CODE_TESTS) and math.isfinite(outcome.pass_fraction)  # defined
    world.assert_untouched()
    world.assert_no_process_left()
    assert (outcome.passed, outcome.status != "pass") == (0, True), outcome


@pytest.mark.parametrize("name", _params(ROBOT))
def test_hostile_robot_program_fails_every_run_and_leaves_nothing(name, world):
    source = render(ROBOT[name].source, **world.values)
    start = time.monotonic()
    runs = run_robosim([source], n_runs=2, seed=0)[0]
    assert len(runs) == 2 and time.monotonic() - start < 8  # defined, and no wait for the wall clock (13 s)
    world.assert_untouched()
    world.assert_no_process_left()
    assert success_fraction(runs) == 0.0, [run.failure for run in runs]


NO_CODE = {"tiny-code": "I would rather not write this function.", "tiny-robot": "I cannot do that."}


@pytest.mark.parametrize(
    "preset, name",
    [
        # forges stamped results with a nonce read back from stdin
        ("tiny-code", "forge_with_nonce_from_stdin"),
        # floods every descriptor, the result pipe included
        ("tiny-code", "gigabytes_of_output"),
        # invalid UTF-8 everywhere
        ("tiny-code", "invalid_utf8"),
        # crashes the interpreter
        ("tiny-code", "segfault_ctypes"),
        # a response with no code at all
        ("tiny-code", "no_code"),
        # a robot program that never returns
        ("tiny-robot", "robot_infinite_loop"),
        # a robot response with no program
        ("tiny-robot", "no_code"),
    ],
)
def test_hostile_response_through_a_training_step_reward(preset, name, world):
    cfg = get_preset(preset)
    program = {**CODE, **ROBOT}.get(name)
    text = f"Here it is.\n```python\n{program.source}```\n" if program else NO_CODE[preset]
    batch = batch_of(text)
    parts = reward_components(cfg, batch, [TASK])
    weights = {k: v for k, v in config_weights(cfg).items() if k in parts}
    total = combine(parts, weights, mask=batch.response_mask, kl_coef=cfg.kl_coef, mode=cfg.reward_mode)
    assert torch.isfinite(total.per_token).all() and all(map(math.isfinite, total.summary["reward_total"]))
    if "tests" in parts:
        assert parts["tests"].summary["tests_pass_fraction"] == [0.0]
    if "sim" in parts:
        assert parts["sim"].summary["sim_success"] == [0.0]
        assert parts["sim"].per_token.sum().item() < 0  # failing runs (or no program) cost reward
    world.assert_no_process_left()
