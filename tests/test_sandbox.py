"""The sandbox contains what generated programs do wrong: each case is one misbehaviour and its status."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from dense_rl import sandbox
from dense_rl.sandbox import Limits, run_program, run_programs

FAST = Limits(wall_s=2.0, cpu_s=1.0, memory_mb=512, max_output_bytes=4096)

CASES = [
    # a well-behaved program exits 0 and its output comes back
    ("print('hi')", "ok", 0, "hi\n"),
    # sys.exit with a code is an error carrying that code, not a crash
    ("import sys; sys.exit(3)", "error", 3, ""),
    # the exit() builtin works as in a script
    ("exit(4)", "error", 4, ""),
    # the program runs as __main__
    ("if __name__ == '__main__':\n    print('main')", "ok", 0, "main\n"),
    # an uncaught exception exits 1
    ("raise ValueError('boom')", "error", 1, ""),
    # a busy infinite loop hits the CPU limit and is killed by SIGXCPU
    ("while True: pass", "killed", -24, ""),
    # a memory bomb hits the address-space limit and reads as killed
    ("x = bytearray(8 * 1024**3)", "killed", -9, ""),
    # a sleeping program uses no CPU: the wall-clock limit kills it
    ("import time; time.sleep(60)", "timeout", None, ""),
    # invalid UTF-8 on stdout is decoded with replacement characters
    ("import sys; sys.stdout.buffer.write(b'\\xffok')", "ok", 0, "\ufffdok"),
    # stdin is a pipe: it cannot be rewound and read again once consumed
    ("import os; os.lseek(0, 0, 0)", "error", 1, ""),
]


@pytest.mark.parametrize("source, status, returncode, stdout", CASES)
def test_misbehaviour_gets_its_status(source, status, returncode, stdout):
    result = run_program(source, limits=FAST)
    assert (result.status, result.returncode, result.stdout) == (status, returncode, stdout)


@pytest.mark.skipif(not sandbox.process_filter(), reason="the seccomp filter cannot be installed here")
@pytest.mark.parametrize(
    "source, status, stdout",
    [
        # starting a process is refused: a fork bomb cannot start
        ("import os\ntry:\n    os.fork()\nexcept PermissionError:\n    print('refused')", "ok", "refused\n"),
        # so is running a command
        ("import subprocess; subprocess.run(['true'])", "error", ""),
        # threads still work
        (
            "import threading; t = threading.Thread(target=print, args=('t',)); t.start(); t.join()",
            "ok",
            "t\n",
        ),
    ],
)
def test_processes_are_refused_threads_are_not(source, status, stdout):
    result = run_program(source, limits=FAST)
    assert (result.status, result.stdout) == (status, stdout)


@pytest.mark.parametrize(
    "use_bwrap, euid, tasks",
    [
        # a normal user inside bubblewrap: its own user namespace, so the cap counts the program's tasks
        (True, 1000, "256"),
        # root: the kernel ignores RLIMIT_NPROC, so it is not set
        (True, 0, "0"),
        # without bubblewrap the count would include every process of the user (the trainer's threads too)
        (False, 1000, "0"),
    ],
)
def test_process_cap_is_set_only_where_it_counts(monkeypatch, use_bwrap, euid, tasks):
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: euid)
    command = sandbox._command("/tmp/x", Limits(), {}, use_bwrap)
    assert command[-7] == tasks  # ... tasks, filter, writable, readable, drop_caps, import path, prog.py


def test_huge_output_is_capped_and_the_program_still_finishes():
    # 10 MB on stdout: kept up to the cap, the rest drained so the program is never blocked
    result = run_program("print('y' * 10**7)", limits=FAST)
    assert result.status == "ok" and result.stdout == "y" * FAST.max_output_bytes


def test_endless_output_stops_at_a_limit_with_capped_output():
    result = run_program("import sys\nwhile True: sys.stdout.write('x' * 4096)", limits=FAST)
    assert result.status in ("killed", "timeout") and len(result.stdout) == FAST.max_output_bytes


def test_stdin_reaches_the_program():
    assert run_program("print(input()[::-1])", stdin="abc\n").stdout == "cba\n"


def test_environment_is_scrubbed_but_extra_env_is_passed(monkeypatch):
    monkeypatch.setenv("SECRET", "token")  # set in the caller, must not reach the program
    result = run_program(
        "import os; print(os.environ.get('SECRET'), os.environ['EXTRA'])", env={"EXTRA": "1"}
    )
    assert result.stdout == "None 1\n"


def test_the_kit_itself_is_importable_inside():
    # harnesses of the robot evaluator import dense_rl inside the sandbox
    assert run_program("import dense_rl.sandbox; print('ok')").stdout == "ok\n"


def _processes_mentioning(marker: str) -> int:
    count = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            count += marker in cmdline.read_text(errors="replace")
        except OSError:  # the process ended while we looked
            pass
    return count


@pytest.mark.parametrize("use_bwrap", [True, False])
def test_leftover_children_are_killed(monkeypatch, use_bwrap):
    # a program allowed to start processes leaves a sleeping child behind: it must not outlive the run
    if use_bwrap and not sandbox.bwrap_available():
        pytest.skip("bubblewrap not usable here")
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: use_bwrap)
    marker = f"dense_rl_child_{time.time_ns()}"
    sleeper = f"[sys.executable, '-c', 'import time; time.sleep(30)', '{marker}']"
    child = f"import subprocess, sys; subprocess.Popen({sleeper})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert run_program(child, limits=Limits(child_processes=True)).status == "ok"
    time.sleep(0.2)
    assert _processes_mentioning(marker) == 0


@pytest.mark.skipif(not sandbox.bwrap_available(), reason="bubblewrap not usable here")
@pytest.mark.parametrize(
    "source",
    [
        # no network: the namespace has no interfaces, DNS fails
        "import socket; socket.create_connection(('pypi.org', 443), timeout=2)",
        # the root file system is read-only
        "open('/usr/dense_rl_should_not_exist', 'w')",
    ],
)
def test_bubblewrap_blocks_network_and_writes(source):
    assert run_program(source, limits=FAST).status == "error"


def test_fallback_without_bubblewrap_still_limits(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="bubblewrap"):
        sandbox._warn_fallback.cache_clear()
        result = run_program("while True: pass", limits=FAST)
    assert result.status == "killed"


def test_run_programs_keeps_order_and_pairs_stdin():
    results = run_programs(["print(input())"] * 4, stdins=["a", "b", "c", "d"])
    assert [r.stdout for r in results] == ["a\n", "b\n", "c\n", "d\n"]


@pytest.mark.parametrize(
    "call",
    [
        # one stdin per source or none at all
        lambda: run_programs(["pass", "pass"], stdins=[""]),
        # at least one worker
        lambda: run_programs(["pass"], workers=0),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.skipif(not sandbox._bwrap_works(), reason="bubblewrap not usable here")
def test_a_checkout_and_interpreter_under_tmp_keep_bubblewrap(tmp_path):
    # the kit copied under /tmp and run by a virtual environment under /tmp: a private /tmp must not hide
    # them, so bubblewrap stays in use and the copy is what the program imports
    checkout = Path(tempfile.mkdtemp(prefix="dense_rl_checkout_", dir="/tmp"))
    try:
        shutil.copytree(Path(sandbox.__file__).parent, checkout / "dense_rl")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(checkout / "venv")], check=True)
        script = (
            f"import sys; sys.path.insert(0, {str(checkout)!r}); from dense_rl import sandbox; "
            "r = sandbox.run_program('import dense_rl, sys; print(dense_rl.__file__, sys.prefix)'); "
            "print(sandbox.bwrap_available(), r.status, r.stdout)"
        )
        env = {**os.environ, sandbox.MODE_ENV: "auto"}
        out = subprocess.run(
            [str(checkout / "venv/bin/python"), "-c", script], capture_output=True, text=True, env=env
        )
        assert out.stdout.split()[:3] == ["True", "ok", str(checkout / "dense_rl/__init__.py")], out.stderr[
            -500:
        ]
    finally:
        shutil.rmtree(checkout)
