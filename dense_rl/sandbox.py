"""Run untrusted generated Python programs in separate, limited, throw-away processes.

Every reward that executes policy output (unit tests, the robot simulators) goes through `run_program` or
`run_programs`; generated code never runs in the trainer's own process.

    from dense_rl.sandbox import Limits, run_program
    run_program("print(input()[::-1])", stdin="abc").stdout   # 'cba\\n'

How one program runs:
1. Its source is written to `prog.py` (and stdin to a file) in a fresh temporary directory that is deleted
   afterwards; that directory is the working directory.
2. It runs with the interpreter of the current environment (`sys.executable`, started with -S to save the
   site module's ~25 ms; the parent's import path is passed as PYTHONPATH), so the kit's own package
   (`dense_rl`) and its dependencies stay importable, e.g. by an evaluation harness.
3. A small bootstrap sets hard resource limits (CPU seconds, address space, file size) before the program's
   first line runs, then runs it as `__main__` (with `exit`/`quit`, which -S would drop).
4. The environment is scrubbed: only PATH, HOME, LANG and a few Python variables, plus what `env` adds.
5. When bubblewrap (`bwrap`) works on the machine (probed once, then cached), the process also gets its own
   pid/network/IPC/UTS namespaces, a read-only view of the file system, an empty /tmp, no capabilities and
   dies with its parent. Without it the program still runs in its own session and process group, limited
   and scrubbed, and a warning says once what is lost.
6. stdout and stderr are read together without deadlock; at most `max_output_bytes` of each is kept, the
   rest is read and dropped. After `wall_s` the whole process group (or pid namespace) is killed.

What is covered: infinite loops (wall and CPU limits), memory bombs (address-space limit), huge output,
crashes and `sys.exit`, stray child processes (killed with the group / namespace), network access and
writes outside the working directory (bubblewrap only), leaking the caller's environment variables.

What is not covered: the program can read every file the user can read (the root is bound read-only, not
hidden); fork bombs are bounded only by the wall-clock kill; without bubblewrap a program can open network
connections, write wherever the user can, and escape the kill by starting its own session; timing side
channels. Windows is not supported (POSIX process groups and resource limits).

Where this departs from the paper: the paper's public code runs tests through EvalPlus, whose
`reliability_guard` disables dangerous functions inside the same interpreter that runs the program; here
isolation comes from the operating system instead.
"""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# A program that writes this many bytes to a single file gets SIGXFSZ: keeps runaway writes off the disk.
MAX_FILE_BYTES = 64 * 1024 * 1024

# Sets the limits (soft == hard, so the program cannot raise them) and runs prog.py as __main__.
# The interpreter starts with -S (no site module: it costs ~25 ms per start in an editable install), so
# the parent's import path comes in through PYTHONPATH and the two names `site` would add are set here.
# An uncaught MemoryError is turned into SIGKILL so that a memory bomb reads as "killed", like the
# out-of-memory killer would report it.
_BOOTSTRAP = """\
import builtins, os, resource, signal, sys, types
cpu, mem, fsize = (int(a) for a in sys.argv[1:4])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
if mem > 0:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
sys.argv = sys.argv[4:]
builtins.exit = builtins.quit = sys.exit
main = types.ModuleType("__main__")
main.__file__ = sys.argv[0]
sys.modules["__main__"] = main
with open(sys.argv[0], encoding="utf-8") as file:
    code = compile(file.read(), sys.argv[0], "exec")
try:
    exec(code, main.__dict__)
except MemoryError:
    sys.stderr.write("MemoryError: the program exceeded its memory limit\\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""

SANDBOX_DIR = "/tmp/sandbox"  # where the working directory appears inside bubblewrap


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program.

    wall_s: wall-clock limit; the whole process group is killed after it.
    cpu_s: CPU-time limit (RLIMIT_CPU); a program over it gets SIGXCPU, then SIGKILL.
    memory_mb: address-space limit (RLIMIT_AS) in MiB; 0 means no limit.
    max_output_bytes: how much of stdout and of stderr is kept; the rest is read and dropped.
    """

    wall_s: float = 5.0
    cpu_s: float = 5.0
    memory_mb: int = 1024
    max_output_bytes: int = 65536


@dataclass(frozen=True)
class RunResult:
    """What came back from one program.

    status: "ok" (exit 0) | "error" (non-zero exit) | "timeout" (wall clock) | "killed" (a signal: CPU or
        memory limit, or the program killed itself).
    returncode: the exit code, negative for a signal (-9 for SIGKILL); None after a timeout.
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


@functools.cache
def bwrap_available() -> bool:
    """Whether bubblewrap exists and can create its namespaces here (probed once per process)."""
    if sys.platform != "linux" or shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="dense_rl_probe_") as workdir:
        command = _bwrap_prefix(workdir, {"PATH": "/usr/bin:/bin"}) + [sys.executable, "-c", "pass"]
        try:
            probe = subprocess.run(command, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0


@functools.cache
def _warn_no_bwrap() -> None:
    warnings.warn(
        "bubblewrap (bwrap) is not available or cannot create namespaces on this machine: generated "
        "programs run with resource limits, their own process group and a scrubbed environment only, so "
        "they can use the network and write wherever this user can. Install it with "
        "`apt-get install bubblewrap` for full isolation.",
        RuntimeWarning,
        stacklevel=3,
    )


def _bwrap_prefix(workdir: str, env: dict[str, str]) -> list[str]:
    """bwrap arguments: read-only root, private /tmp and /dev, the workdir bound at SANDBOX_DIR."""
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    args += ["--bind", workdir, SANDBOX_DIR, "--chdir", SANDBOX_DIR]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


@functools.cache
def import_path() -> str:
    """PYTHONPATH for programs: this process's import path plus the folder holding dense_rl (an editable
    install finds it through a hook that -S skips)."""
    kit = str(Path(__file__).resolve().parents[1])
    entries = [kit, *(p for p in sys.path if p and Path(p).is_dir())]
    return os.pathsep.join(dict.fromkeys(entries))


def _scrubbed_env(home: str, extra: dict[str, str] | None) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": import_path(),
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }
    env.update(extra or {})
    return env


def _command(workdir: str, limits: Limits, env: dict[str, str], use_bwrap: bool) -> list[str]:
    cpu = max(1, int(round(limits.cpu_s)))
    mem = limits.memory_mb * 1024 * 1024
    run = [sys.executable, "-S", "-c", _BOOTSTRAP, str(cpu), str(mem), str(MAX_FILE_BYTES), "prog.py"]
    return _bwrap_prefix(workdir, env) + run if use_bwrap else run


def _read_capped(proc: subprocess.Popen, deadline: float, cap: int) -> tuple[bytes, bytes, bool]:
    """Read stdout and stderr until both close or the deadline passes; keep at most `cap` bytes of each.

    Returns (stdout, stderr, timed_out). Reading both pipes through one selector means neither can fill
    up and block the program while we wait on the other.
    """
    kept = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    selector = selectors.DefaultSelector()
    for pipe in kept:
        selector.register(pipe, selectors.EVENT_READ)
    timed_out = False
    while selector.get_map():
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if proc.poll() is not None:
            _kill_group(proc)  # stragglers holding the pipes open die; what was written stays readable
        for key, _ in selector.select(timeout=min(0.1, deadline - now)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            buffer = kept[key.fileobj]
            buffer += chunk[: max(0, cap - len(buffer))]
    selector.close()
    return bytes(kept[proc.stdout]), bytes(kept[proc.stderr]), timed_out


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _status(returncode: int, use_bwrap: bool) -> tuple[str, int]:
    """Map an exit code to (status, returncode); bwrap reports a signal as 128 + signal number."""
    if use_bwrap and returncode > 128:
        returncode = 128 - returncode
    if returncode == 0:
        return "ok", 0
    return ("killed" if returncode < 0 else "error"), returncode


def run_program(
    source: str, *, stdin: str = "", limits: Limits = Limits(), env: dict[str, str] | None = None
) -> RunResult:
    """Run one Python program in a sandbox and return its status and (capped) output.

    >>> run_program("import sys; print('hi'); sys.exit(3)").status
    'error'
    """
    if not isinstance(source, str):
        raise TypeError(f"run_program: source must be a str of Python code, got {type(source).__name__}")
    use_bwrap = bwrap_available()
    if not use_bwrap:
        _warn_no_bwrap()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dense_rl_run_") as workdir:
        Path(workdir, "prog.py").write_text(source, encoding="utf-8")
        Path(workdir, "stdin.txt").write_text(stdin, encoding="utf-8")
        child_env = _scrubbed_env(SANDBOX_DIR if use_bwrap else workdir, env)
        with open(Path(workdir, "stdin.txt"), "rb") as stdin_file:
            proc = subprocess.Popen(
                _command(workdir, limits, child_env, use_bwrap),
                stdin=stdin_file,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=child_env,
                start_new_session=True,
            )
        try:
            out, err, timed_out = _read_capped(proc, start + limits.wall_s, limits.max_output_bytes)
        finally:
            _kill_group(proc)
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    if timed_out:
        status, returncode = "timeout", None
    else:
        status, returncode = _status(proc.returncode, use_bwrap)
    stdout = out.decode("utf-8", errors="replace")
    stderr = err.decode("utf-8", errors="replace")
    return RunResult(status, returncode, stdout, stderr, time.monotonic() - start)


def run_programs(
    sources: Sequence[str],
    *,
    stdins: Sequence[str] | None = None,
    limits: Limits = Limits(),
    workers: int = 2,
) -> list[RunResult]:
    """Run many programs, `workers` at a time, each in its own sandbox; results keep the input order."""
    if stdins is not None and len(stdins) != len(sources):
        raise ValueError(f"run_programs: got {len(sources)} sources but {len(stdins)} stdins; pass one each")
    if workers < 1:
        raise ValueError(f"run_programs: workers must be >= 1, got {workers}")
    stdins = stdins if stdins is not None else [""] * len(sources)
    if not sources:
        return []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = pool.map(
            lambda pair: run_program(pair[0], stdin=pair[1], limits=limits), zip(sources, stdins, strict=True)
        )
        return list(runs)
