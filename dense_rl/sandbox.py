"""Run untrusted generated Python programs in separate, limited, throw-away processes.

Every reward that executes policy output (unit tests, the robot simulators) goes through `run_program` or
`run_programs`; generated code never runs in the trainer's own process.

    from dense_rl.sandbox import Limits, run_program
    run_program("print(input()[::-1])", stdin="abc").stdout   # 'cba\\n'

How one program runs:
1. Its source is written to `prog.py` in a fresh temporary directory that is deleted afterwards; that
   directory is the working directory. stdin comes through a pipe, not a file, so what a harness reads
   from it (the nonce that stamps its results) cannot be read again by the program.
2. It runs with the interpreter of the current environment (`sys.executable`, started with -S to save the
   site module's ~25 ms; the parent's import path is passed as PYTHONPATH), so the kit's own package
   (`dense_rl`) and its dependencies stay importable, e.g. by an evaluation harness.
3. A small bootstrap sets hard resource limits (CPU seconds, address space, file size, and the number of
   tasks where that limit counts, see below) and installs a seccomp filter that refuses new processes
   (fork, vfork, clone without CLONE_THREAD; threads still work; `Limits(child_processes=True)` leaves it
   out) before the program's first line runs, then runs it as `__main__` (with `exit`/`quit`, which -S
   would drop). Whether the filter can be installed is probed once; where it cannot (not Linux x86-64 or
   arm64, no seccomp) a warning says so once.
4. The environment is scrubbed: only PATH, HOME, LANG and a few Python variables, plus what `env` adds.
5. When bubblewrap (`bwrap`) works on the machine (probed once, then cached), the process also gets its own
   user/pid/network/IPC/UTS namespaces, a read-only view of the file system, an empty /tmp (so the
   interpreter must not live under /tmp), no capabilities and dies with its parent. Without it the program
   still runs in its own session and process group, limited, filtered and scrubbed, and a warning says once
   what is lost.
6. stdout and stderr are read together without deadlock; at most `max_output_bytes` of each is kept, the
   rest is read and dropped. After `wall_s` the whole process group (or pid namespace) is killed.

What is covered, each by a hostile program in tests/test_hostile.py: infinite loops, also ones that ignore
SIGALRM, SIGTERM and SIGXCPU (wall clock, hard CPU limit); memory bombs (address space); C-stack overflows and
segfaults (status "killed"); gigabytes of output, lines without end, invalid UTF-8; `sys.exit` and `os._exit`
with any code; fork bombs, daemons (double fork, new session) and other children (no process can be started,
where the seccomp filter works); threads left running (they die with the process); the caller's environment
variables. With bubblewrap also: network access; writing, deleting or renaming files outside the working
directory; killing the parent, the process group or every process (only the namespace's can be reached);
reading other processes' environments through /proc.

Fork bombs and RLIMIT_NPROC: without the filter, a fork bomb ran to ~6,000 processes in its first second
on a 2-core machine, and only the wall-clock kill ended it; machine-wide limits (pid_max) were within reach.
RLIMIT_NPROC does not stop that everywhere: the kernel never applies it to root, and root inside
bubblewrap's user namespace is still root; without bubblewrap it counts all processes of the user, the
trainer's own threads included, so a cap would starve the trainer. It is set only for a normal user inside
bubblewrap, where it counts the program's own processes and threads (`Limits.max_tasks`): there it also
caps threads. As root, and without bubblewrap, threads are bounded only by the address-space limit (each
needs a stack) and the wall clock.

What is not covered: the program can read every file the user can read (the root is bound read-only, not
hidden); without bubblewrap a program can open network connections, write wherever the user can, read other
processes' environments and signal the trainer itself (same user); with `child_processes=True` and no
bubblewrap, a child can escape the kill by starting its own session; a deliberate thread bomb as root; the
total written to the working directory (each file is capped at MAX_FILE_BYTES, their number is not, until the
wall clock ends the run and the directory is deleted); timing side channels. Harnesses that run the program in
their own interpreter (dense_rl.rewards.tests, dense_rl.robot.sandboxed) cannot be protected from it by the
sandbox: their docstrings say what a program can still forge. Windows is not supported (POSIX process groups
and resource limits).

Where this departs from the paper: the paper's public code runs tests through EvalPlus, whose
`reliability_guard` disables dangerous functions inside the same interpreter that runs the program; here
isolation comes from the operating system instead.
"""

from __future__ import annotations

import errno
import functools
import os
import platform
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# A program that writes this many bytes to a single file gets SIGXFSZ: keeps runaway writes off the disk.
MAX_FILE_BYTES = 64 * 1024 * 1024

# Sets the limits (soft == hard, so the program cannot raise them), installs the process filter (a seccomp
# program given as hex, see no_fork_filter) and runs prog.py as __main__.
# The interpreter starts with -S (no site module: it costs ~25 ms per start in an editable install), so
# the parent's import path comes in through PYTHONPATH and the two names `site` would add are set here.
# An uncaught MemoryError is turned into SIGKILL so that a memory bomb reads as "killed", like the
# out-of-memory killer would report it.
_BOOTSTRAP = """\
import builtins, os, resource, signal, sys, types
cpu, mem, fsize, tasks = (int(a) for a in sys.argv[1:5])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
if mem > 0:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
if tasks > 0:
    resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
if sys.argv[5]:
    import ctypes
    class Filter(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
    program = bytes.fromhex(sys.argv[5])
    libc = ctypes.CDLL(None, use_errno=True)
    no_new_privs = libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: needed to filter without privileges
    if no_new_privs or libc.prctl(22, 2, ctypes.byref(Filter(len(program) // 8, program)), 0, 0):
        sys.exit("sandbox: cannot install the process filter: " + os.strerror(ctypes.get_errno()))
    del ctypes, Filter, program, libc, no_new_privs
sys.argv = sys.argv[6:]
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

# seccomp: (AUDIT_ARCH, clone, fork-like syscalls) per machine; clone3 is 435 on both.
_SYSCALLS = {"x86_64": (0xC000003E, 56, (57, 58)), "aarch64": (0xC00000B7, 220, ())}
_CLONE3, _CLONE_THREAD = 435, 0x10000

SANDBOX_DIR = "/tmp/sandbox"  # where the working directory appears inside bubblewrap


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program.

    wall_s: wall-clock limit; the whole process group is killed after it.
    cpu_s: CPU-time limit (RLIMIT_CPU); a program over it gets SIGXCPU, then SIGKILL.
    memory_mb: address-space limit (RLIMIT_AS) in MiB; 0 means no limit.
    max_output_bytes: how much of stdout and of stderr is kept; the rest is read and dropped.
    child_processes: whether the program may start processes; when False (the default) a seccomp filter
        makes fork, vfork and clone fail with EPERM, so a fork bomb cannot start. Threads still work.
    max_tasks: RLIMIT_NPROC, processes + threads of the program; only set where it counts the program's
        own tasks and binds (bubblewrap's user namespace, not root), see the module docstring.
    """

    wall_s: float = 5.0
    cpu_s: float = 5.0
    memory_mb: int = 1024
    max_output_bytes: int = 65536
    child_processes: bool = False
    max_tasks: int = 256


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


def no_fork_filter() -> bytes:
    """A seccomp program (struct sock_filter[], native byte order) that lets threads be created but no
    processes: fork and vfork fail with EPERM, clone fails unless it makes a thread (CLONE_THREAD), clone3
    fails with ENOSYS so that the C library falls back to clone. Syscalls of another ABI (32-bit, x32) fail
    with EPERM. b"" on a machine it has no syscall numbers for."""
    if sys.platform != "linux" or platform.machine() not in _SYSCALLS:
        return b""
    arch, clone, forks = _SYSCALLS[platform.machine()]
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|K ops, BPF_RET|K
    # (op, label to jump to if true, if false, k); seccomp_data holds nr at 0, arch at 4, args[0] at 16
    steps = [(load, "", "", 4), (jeq, "", "deny", arch), (load, "", "", 0), (jge, "deny", "", 0x40000000)]
    steps += [(jeq, "nosys", "", _CLONE3), *((jeq, "deny", "", nr) for nr in forks)]
    steps += [(jeq, "", "allow", clone), (load, "", "", 16), (jset, "allow", "deny", _CLONE_THREAD)]
    results = {"allow": 0x7FFF0000, "deny": 0x50000 | errno.EPERM, "nosys": 0x50000 | errno.ENOSYS}
    labels = {label: len(steps) + i for i, label in enumerate(results)}
    steps += [(ret, "", "", value) for value in results.values()]

    def jump(label: str, at: int) -> int:  # BPF jumps count the instructions skipped
        return labels[label] - at - 1 if label else 0

    return b"".join(
        struct.pack("=HBBI", op, jump(t, i), jump(f, i), k) for i, (op, t, f, k) in enumerate(steps)
    )


# Exits 0 when fork is refused, 3 when it is not (both processes exit then).
_FORK_PROBE = "import os\ntry:\n    os.fork()\nexcept PermissionError:\n    raise SystemExit(0)\nos._exit(3)"


@functools.cache
def process_filter() -> str:
    """no_fork_filter() as hex if installing it works here (probed once per process), else ''."""
    program = no_fork_filter().hex()
    if not program:
        return ""
    with tempfile.TemporaryDirectory(prefix="dense_rl_probe_") as workdir:
        Path(workdir, "probe.py").write_text(_FORK_PROBE)
        args = ["5", "0", str(MAX_FILE_BYTES), "0", program, str(Path(workdir, "probe.py"))]
        try:
            probe = subprocess.run(
                [sys.executable, "-S", "-c", _BOOTSTRAP, *args],
                capture_output=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return program if probe.returncode == 0 else ""


@functools.cache
def _warn_no_filter() -> None:
    warnings.warn(
        "the seccomp filter that stops generated programs from starting processes cannot be installed on "
        "this machine (not Linux x86-64 / arm64, or no seccomp): a fork bomb is only stopped by the "
        "wall-clock limit.",
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
    # RLIMIT_NPROC counts per user: only inside bubblewrap's user namespace is that the program's own tasks,
    # and the kernel exempts root from it altogether
    tasks = limits.max_tasks if use_bwrap and os.geteuid() != 0 else 0
    no_fork = "" if limits.child_processes else process_filter()
    if not (limits.child_processes or no_fork):
        _warn_no_filter()
    limits_args = [str(cpu), str(mem), str(MAX_FILE_BYTES), str(tasks), no_fork]
    run = [sys.executable, "-S", "-c", _BOOTSTRAP, *limits_args, "prog.py"]
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


def _feed(fd: int, data: bytes) -> threading.Thread:
    """Write `data` into the pipe `fd` from a thread (a large stdin must not block reading the output),
    then close it; a program that exits without reading it all just ends the write."""

    def write_all() -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError:  # EPIPE: nobody reads any more
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=write_all, daemon=True)
    thread.start()
    return thread


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
        child_env = _scrubbed_env(SANDBOX_DIR if use_bwrap else workdir, env)
        # stdin is a pipe, not a file: once a harness has read it, what it held (a result nonce) is gone
        # from the program's reach, even through another process's descriptors (bubblewrap's init)
        stdin_read, stdin_write = os.pipe()
        try:
            proc = subprocess.Popen(
                _command(workdir, limits, child_env, use_bwrap),
                stdin=stdin_read,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=child_env,
                start_new_session=True,
            )
        except BaseException:
            os.close(stdin_write)
            raise
        finally:
            os.close(stdin_read)
        feeder = _feed(stdin_write, stdin.encode("utf-8"))
        try:
            out, err, timed_out = _read_capped(proc, start + limits.wall_s, limits.max_output_bytes)
        finally:
            _kill_group(proc)
            proc.wait()
            feeder.join(timeout=5)  # only a child that escaped the kill can still hold the pipe
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
