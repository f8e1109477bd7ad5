"""Hostile generated programs: each tries to break, escape or fool the sandbox, and must get nothing for it.

    .venv/bin/python -m pytest -q tests/test_hostile.py        # the same set: pytest -k hostile

The programs are tests/hostile_programs.py (shared with benchmarks/load.py), one test case each, and each
runs in both sandbox modes: "bwrap" (bubblewrap, where it works) and "fallback" (forced with
DENSE_RL_SANDBOX=rlimits: what a machine without bubblewrap gets). For every program: its reward is defined
and it gets no credit (no assert passed / no robot run succeeded), the canary files outside its directory
(one under /tmp, one in the repository's .pytest_cache) are unchanged, the TCP port and the Unix socket the
test listens on saw no connection, no module appeared on the import path, and no process it started is left
running. A few also go through the reward path of a training step (dense_rl.train.reward_components, then
combine). Cases that rely on something a machine lacks (bubblewrap, the seccomp filter, Landlock) are
skipped there (the program could really do harm); known holes are strict xfails in the modes that have
them, so closing one shows up. Below the corpus: limits that must bind (memory outside the address space,
bytes written) and a cleanup that must survive what a program leaves behind.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import torch
from hostile_programs import CODE, CODE_REFERENCE, CODE_TESTS, ROBOT, Hostile, render
from test_spans import batch_of

from dense_rl import sandbox
from dense_rl.config import get_preset
from dense_rl.rewards.combine import combine, config_weights
from dense_rl.rewards.tests import run_unit_tests
from dense_rl.robot.robosim import success_fraction
from dense_rl.robot.sandboxed import run_robosim
from dense_rl.sandbox import Limits, import_path, landlock_abi, process_filter, run_program
from dense_rl.tasks.code_tasks import assert_line
from dense_rl.tasks.robot_tasks import generate_robot_tasks
from dense_rl.tasks.types import CodeTask
from dense_rl.train import reward_components

LIMITS = Limits(wall_s=3, cpu_s=2)
SECRET_NAME = "DENSE_RL_FAKE_SECRET"
TASK = CodeTask("hostile/0", "Write f(x) that returns x + 1.", "f", CODE_REFERENCE, CODE_TESTS)
MODES = ("bwrap", "fallback")


def _available(mode: str, needs: str) -> bool:
    """Whether `mode` works here and has what a case needs."""
    if mode == "bwrap" and not sandbox._bwrap_works():
        return False
    if needs == "filter":
        return bool(process_filter())
    if needs == "landlock":
        return mode == "bwrap" or landlock_abi() > 0
    return needs != "bwrap" or mode == "bwrap"


def _params(corpus: dict[str, Hostile]) -> list:
    """One pytest.param per program and mode: skipped where its containment is missing, xfail for a hole."""
    params = []
    for name, case in corpus.items():
        for mode in MODES:
            marks = [
                pytest.mark.skipif(not _available(mode, case.needs), reason=f"needs {case.needs or mode}")
            ]
            if case.gap and mode in case.gap_modes:
                marks.append(pytest.mark.xfail(strict=True, reason=case.gap))
            params.append(pytest.param(name, mode, marks=marks, id=f"{name}-{mode}"))
    return params


@pytest.fixture
def mode_env(monkeypatch):
    """Sets the sandbox mode for one test: `mode_env("fallback")` forces the fallback."""

    def set_mode(mode: str) -> None:
        monkeypatch.setenv(sandbox.MODE_ENV, "bwrap" if mode == "bwrap" else "rlimits")
        warnings.simplefilter("ignore", RuntimeWarning)  # the fallback's warning is expected here

    return set_mode


@dataclass
class World:
    """What a hostile program may try to touch, and the checks that it did not."""

    values: dict[str, str]
    canaries: list[Path]
    listeners: list[socket.socket]
    children_before: set[int]

    def assert_untouched(self) -> None:
        for canary in self.canaries:
            assert canary.read_text() == "canary", f"{canary} was changed"
            assert sorted(canary.parent.iterdir()) == [canary], f"files appeared next to {canary}"
        for listener in self.listeners:
            with pytest.raises(BlockingIOError):  # nothing is waiting to be accepted
                listener.accept()
        planted = [
            p for p in import_path().split(os.pathsep) if Path(p, self.values["marker"] + ".py").exists()
        ]
        for folder in planted:
            Path(folder, self.values["marker"] + ".py").unlink()
        assert not planted, f"a module was planted in {planted}"

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
    canaries = [tmp_path / "canary" / "canary.txt", outside_tmp / "canary" / "canary.txt"]
    for canary in canaries:
        canary.parent.mkdir(exist_ok=True, parents=True)
        canary.write_text("canary")
    secret = f"s3cret-{tag}"
    monkeypatch.setenv(SECRET_NAME, secret)  # the caller's environment ...
    holder = subprocess.Popen(["sleep", "60"], env={**os.environ})  # ... and another process's
    listener = socket.create_server(("127.0.0.1", 0))
    unix_listener = socket.socket(socket.AF_UNIX)
    unix_listener.bind(str(outside_tmp / "listener.sock"))  # outside /tmp: visible inside bubblewrap
    unix_listener.listen()
    for each in (listener, unix_listener):
        each.setblocking(False)
    values = {
        "marker": f"dense_rl_hostile_{tag}",
        "canary_tmp": str(canaries[0]),
        "canary_repo": str(canaries[1]),
        "secret_name": SECRET_NAME,
        "secret": secret,
        "port": str(listener.getsockname()[1]),
        "unix_socket": str(outside_tmp / "listener.sock"),
    }
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    yield World(values, canaries, [listener, unix_listener], children)
    listener.close()
    unix_listener.close()
    holder.kill()
    holder.wait()
    sandbox.remove_tree(str(outside_tmp))


@pytest.mark.parametrize("name, mode", _params(CODE))
def test_hostile_code_program_gets_nothing_and_leaves_nothing(name, mode, world, mode_env):
    mode_env(mode)
    source = render(CODE[name].source, **world.values)
    outcome = run_unit_tests([source], [CODE_TESTS], limits=LIMITS)[0]
    assert outcome.total == len(CODE_TESTS) and math.isfinite(outcome.pass_fraction)  # defined
    world.assert_untouched()
    world.assert_no_process_left()
    assert (outcome.passed, outcome.status != "pass") == (0, True), outcome


@pytest.mark.parametrize("name, mode", _params(ROBOT))
def test_hostile_robot_program_fails_every_run_and_leaves_nothing(name, mode, world, mode_env):
    mode_env(mode)
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
    task = TASK if cfg.domain == "code" else generate_robot_tasks(1, "heldout", 0)[0]
    parts = reward_components(cfg, batch, [task])
    weights = {k: v for k, v in config_weights(cfg).items() if k in parts}
    total = combine(parts, weights, mask=batch.response_mask, kl_coef=cfg.kl_coef, mode=cfg.reward_mode)
    assert torch.isfinite(total.per_token).all() and all(map(math.isfinite, total.summary["reward_total"]))
    if "tests" in parts:
        assert parts["tests"].summary["tests_pass_fraction"] == [0.0]
    if "sim" in parts:
        assert parts["sim"].summary["sim_success"] == [0.0]
        assert parts["sim"].per_token.sum().item() < 0  # failing runs (or no program) cost reward
    world.assert_no_process_left()


# --- limits that must bind, and a cleanup that survives what a program leaves -----------------------------
MiB = 1024 * 1024
BOMBS = [
    # 3 GiB held in memfd files, outside the address-space limit: memfd_create is refused
    (
        "memfd_bomb",
        "import os\nfd = os.memfd_create('x')\nfor _ in range(3 * 1024):\n    os.write(fd, CHUNK)",
    ),
    # pipe buffers no limit counts: pipe() is refused
    (
        "pipe_bomb",
        "import os\nwhile True:\n    r, w = os.pipe()\n    os.set_blocking(w, False)\n    os.write(w, CHUNK)",
    ),
    # RAM in the private tmpfs mounts: /tmp is bounded (bubblewrap) or not writable (fallback)
    (
        "tmpfs_bomb",
        "with open('/tmp/bomb', 'wb') as out:\n    for _ in range(3 * 1024):\n        out.write(CHUNK)",
    ),
    # /dev/shm: 1 MiB (bubblewrap) or not writable (fallback)
    (
        "shm_bomb",
        "with open('/dev/shm/bomb', 'wb') as out:\n    for _ in range(3 * 1024):\n        out.write(CHUNK)",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, body", BOMBS, ids=[b[0] for b in BOMBS])
def test_hostile_memory_outside_the_address_space_is_bounded(name, body, mode, mode_env):
    if not _available(mode, "filter" if name in ("memfd_bomb", "pipe_bomb") else "landlock"):
        pytest.skip(f"{mode} or its containment does not work here")
    mode_env(mode)
    # the program reports how many MiB it got held before the run ended
    source = f"CHUNK = b'x' * {MiB}\nheld = 0\ntry:\n" + _counting(body)
    result = run_program(source, limits=Limits(wall_s=10, cpu_s=5))
    held = int((result.stdout.split() or ["0"])[-1])
    assert held <= 64, (held, result.stderr[-300:])


def _counting(body: str) -> str:
    """`body` with a counter of the MiB written, printed however the writing ends."""
    lines = body.replace("CHUNK)", "CHUNK)\n    held += 1").splitlines()
    return "\n".join("    " + line for line in lines) + "\nexcept BaseException:\n    pass\nprint(held)\n"


@pytest.mark.parametrize(
    "mode",
    [
        "bwrap",
        # each file is capped, their total only by the wall clock: the fallback's documented limit
        pytest.param(
            "fallback", marks=pytest.mark.xfail(strict=True, reason="no bound on the total written")
        ),
    ],
)
def test_hostile_total_written_to_disk_is_bounded(mode, mode_env):
    if not _available(mode, "landlock"):
        pytest.skip(f"{mode} does not work here")
    mode_env(mode)
    source = (
        "chunk = b'x' * 2**20\nheld = 0\ntry:\n    for i in range(160):\n"
        "        with open(f'file{i}', 'wb') as out:\n            out.write(chunk)\n        held += 1\n"
        "except OSError:\n    pass\nprint(held)\n"
    )
    result = run_program(source, limits=Limits(wall_s=20, cpu_s=10))
    assert int(result.stdout.split()[-1]) <= 64, result.stderr[-300:]


@pytest.mark.parametrize("mode", MODES)
def test_hostile_deep_directory_chain_is_deleted_without_raising(mode, mode_env):
    if not _available(mode, ""):
        pytest.skip("bubblewrap does not work here")
    mode_env(mode)
    # 3,000 nested folders, the innermost one without permissions: Python's own rmtree would recurse
    source = (
        "import os\nprint(os.getcwd(), flush=True)\n"
        "for _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
        "os.mkdir('locked')\nopen('locked/x', 'w').close()\nos.chmod('locked', 0)\n"
    )
    result = run_program(source, limits=Limits(wall_s=20, cpu_s=10))
    assert result.status == "ok", result.stderr[-300:]
    if mode == "fallback":  # the working directory is on the host (with bubblewrap, in its own tmpfs)
        assert not Path(result.stdout.split()[0]).exists()


@pytest.mark.parametrize(
    "call, expected",
    [
        # a float answer gets a tolerance written so that NaN fails it
        ("f(1)", 2.5),
        # an exact answer stays `==` (NaN != anything)
        ("f(1)", 2),
    ],
)
def test_hostile_nan_fails_generated_float_asserts(call, expected):
    line = assert_line(call, expected)
    with pytest.raises(AssertionError):
        exec(line, {"f": lambda x: float("nan")})  # noqa: S102 - the kit's own assert on a NaN
    exec(line, {"f": lambda x: expected})  # noqa: S102 - and the right value passes
