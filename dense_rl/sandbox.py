"""Run untrusted generated Python programs in separate, limited, throw-away processes.

Every reward that executes policy output (unit tests, the robot simulators) goes through `run_program` or
`run_programs`; generated code never runs in the trainer's own process.

    from dense_rl.sandbox import Limits, run_program
    run_program("print(input()[::-1])", stdin="abc").stdout   # 'cba\\n'
    DENSE_RL_SANDBOX=rlimits python ...      # force the fallback mode (what a machine without bwrap gets)

How one program runs:
1. Its source is written to `prog.py` in a fresh temporary directory on the host, deleted afterwards (by a
   removal that never recurses or raises, whatever the program left there). stdin comes through a pipe,
   not a file, so what a harness reads from it cannot be read again by the program.
2. The interpreter of the current environment starts isolated (`-s -S -P -B`: no site module, no user
   site, not even the current directory on its import path, no PYTHONPATH), so its import path is the
   standard library only while a small bootstrap, importing only from the standard library, sets:
   hard resource limits (CPU seconds, address space, size of each file, open files, no core dumps, and the
   task count where it counts); with the fallback mode also the capability drop (as root) and Landlock;
   then the seccomp filter. Only then does it append the kit's import path (the folder holding dense_rl,
   then this process's sys.path) after the standard library, and run prog.py as `__main__`.
3. The seccomp filter (Linux x86-64 and arm64, probed once; a warning says where it cannot be installed)
   refuses with EPERM: new processes (fork, vfork, clone without CLONE_THREAD; threads still work);
   signals to any process but the program's own (kill only to itself or its own group, tgkill only to
   itself, no tkill, sigqueue or pidfd signals); sockets of every family (socket(); socketpair works);
   pipes (pipe, pipe2: buffers that no limit counts); memfd_create, memfd_secret and SysV shared memory
   (memory no address-space limit counts); ptrace, process_vm_readv/writev, kcmp, pidfd_getfd;
   io_uring (it would bypass the filter), userfaultfd, perf_event_open, bpf; namespaces, mounts, chroot,
   kernel keyrings, file handles (open_by_handle_at), modules, kexec, reboot, swap. `Limits(
   child_processes=True)` leaves processes, pipes and signals allowed (the program must manage children).
4. The environment is scrubbed: only PATH, HOME, TMPDIR, LANG and a few Python variables, plus `env`.

The two modes, chosen once per process (DENSE_RL_SANDBOX=rlimits forces the second; =bwrap fails loudly
where bubblewrap does not work):
- bubblewrap (`bwrap` works here: a user namespace can be created): the program also gets its own
  user/pid/network/IPC/UTS namespaces, no capabilities, and dies with its parent. The root is bound
  read-only; /tmp is a private tmpfs of `Limits.scratch_mb` (the working directory /tmp/sandbox lives
  there, so what the program writes is bounded in total and never reaches the disk), /dev is read-only but
  for its device nodes, /dev/shm is a 1 MiB tmpfs. The interpreter's prefixes, the kit and its import path
  are bound read-only again on top where /tmp would hide them, so a checkout (and its .venv) under /tmp
  works. Other processes, their /proc entries and the network are out of reach.
- fallback (no bubblewrap: no root to install it, no user namespaces): the program runs in its own
  session and process group, limited, filtered and scrubbed as above. As root it first drops every
  capability (bounding set included), so it is root without privileges. Where the kernel has Landlock
  (5.13+), writing, creating, deleting and renaming are confined to the working directory (and /dev/null),
  reading to the system folders (/usr, /lib*, /bin, /sbin, /etc, /opt, /sys), the interpreter's prefixes,
  the kit, the import path, the working directory and the program's own /proc entry, so the trainer's
  /proc entries (environment, memory) and the user's files are unreadable; on ABI 4+ TCP, on ABI 6+
  signals and abstract Unix sockets are scoped to the program as well. What the fallback cannot do: bound
  the total written to the working directory (each file is capped at MAX_FILE_BYTES, their number is not,
  until the wall clock ends the run), and without Landlock (older kernels) it cannot confine files at all:
  the program then writes and reads wherever the user can. A warning says once which of these apply.

What is covered, each by a hostile program in tests/test_hostile.py, in both modes: infinite loops, also
ones that ignore SIGALRM, SIGTERM and SIGXCPU (wall clock, hard CPU limit); memory bombs (address space),
memory in memfd, shared memory, pipes or (bubblewrap) tmpfs files; C-stack overflows and segfaults (status
"killed"); gigabytes of output, lines without end, invalid UTF-8; `sys.exit` and `os._exit` with any code;
fork bombs, daemons and other children; threads left running; the caller's environment variables, and
other processes' environments or memory through /proc; killing the parent, the process group or every
process; network access (TCP and Unix sockets); writing, deleting or renaming files outside the working
directory; planting a module on the import path; deep directory chains and unreadable folders left behind.

What is not covered: the program can read the system folders (as root, that includes /etc/shadow); a
deliberate thread bomb as root (threads are bounded by the address-space limit and the wall clock; the
task cap binds only for a normal user inside bubblewrap, see Limits.max_tasks); the number of (empty)
files in the bubblewrap tmpfs (bubblewrap cannot set nr_inodes; the wall clock ends it); timing side
channels. Harnesses that run the program in their own interpreter (dense_rl.robot.sandboxed) cannot be
protected from it by the sandbox: their docstrings say what a program can still forge. Windows is not
supported (POSIX process groups and resource limits).

Where this departs from the paper: the paper's public code runs tests through EvalPlus, whose
`reliability_guard` disables dangerous functions inside the same interpreter that runs the program; here
isolation comes from the operating system instead.
"""

from __future__ import annotations

import ctypes
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
MAX_OPEN_FILES = 256  # RLIMIT_NOFILE
MODE_ENV = "DENSE_RL_SANDBOX"  # "auto" (default), "rlimits" (force the fallback) or "bwrap" (require it)
SANDBOX_DIR = "/tmp/sandbox"  # where the working directory appears inside bubblewrap
PID_SLOT = 0x0D15EA5E  # in the seccomp program: replaced by the program's own pid at start (see _BOOTSTRAP)

# Runs with the standard library alone on sys.path. Arguments: cpu memory fsize nofile tasks filter
# (hex, with PID_SLOT to fill in) writable readable (os.pathsep-joined, Landlock; "" for none) drop_caps
# import_path prog.py [program arguments]. Limits use soft == hard, so the program cannot raise them. An
# uncaught MemoryError is turned into SIGKILL, so a memory bomb reads as "killed" like the OOM killer.
_BOOTSTRAP = """\
import os, resource, sys
cpu, mem, fsize, nofile, tasks = (int(a) for a in sys.argv[1:6])
program, writable, readable, drop_caps, path = sys.argv[6:11]
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
if mem > 0:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if tasks > 0:
    resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
if program or writable or drop_caps == "1":
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    def fail(what):
        sys.exit("sandbox: cannot " + what + ": " + os.strerror(ctypes.get_errno()))
    if drop_caps == "1":
        for cap in range(64):
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (EINVAL past the last capability)
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        if libc.capset(header, (ctypes.c_uint32 * 6)()):
            fail("drop capabilities")
    if libc.prctl(38, 1, 0, 0, 0):  # PR_SET_NO_NEW_PRIVS: needed to filter without privileges
        fail("set no_new_privs")
    if writable:
        abi = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, ..._VERSION)
        handled = (1 << (13 if abi < 2 else 14 if abi < 3 else 15 if abi < 5 else 16)) - 1
        file_rights = handled & (1 | 2 | 4 | 1 << 14 | 1 << 15)  # execute, write, read, truncate, ioctl
        attr = (ctypes.c_uint64 * 3)(handled, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
        ruleset = libc.syscall(444, attr, 24 if abi >= 6 else 16 if abi >= 4 else 8, 0)
        if ruleset < 0:
            fail("create the Landlock ruleset")
        rule = (ctypes.c_uint8 * 12)()
        for rights, paths in ((handled, writable), (1 | 4 | 8, readable + os.pathsep + "/proc/self")):
            for where in paths.split(os.pathsep):
                try:
                    fd = os.open(where, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                allowed = rights if os.path.isdir(where) else rights & file_rights
                rule[:] = allowed.to_bytes(8, sys.byteorder) + fd.to_bytes(4, sys.byteorder)
                if libc.syscall(445, ruleset, 1, rule, 0):
                    fail("add a Landlock rule for " + where)
                os.close(fd)
        if libc.syscall(446, ruleset, 0):
            fail("enforce Landlock")
        os.close(ruleset)
    if program:
        code = bytes.fromhex(program)
        code = code.replace(0x0D15EA5E.to_bytes(4, sys.byteorder), os.getpid().to_bytes(4, sys.byteorder))
        buffer = ctypes.create_string_buffer(code, len(code))
        fprog = (ctypes.c_uint64 * 2)(len(code) // 8, ctypes.addressof(buffer))
        if libc.prctl(22, 2, fprog, 0, 0):  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            fail("install the process filter")
    del ctypes, libc, fail
sys.path += [p for p in path.split(os.pathsep) if p]
import builtins, signal, types
sys.argv = sys.argv[11:]
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

# Syscall numbers per machine: audit arch, then the calls the filter treats specially, then those it refuses.
_SYSCALLS = {
    "x86_64": {
        "arch": 0xC000003E,
        "clone": 56,
        "forks": (57, 58),
        "pipes": (22, 293),
        "kill": 62,
        "tgkill": 234,
        "signals": (200, 129, 297, 424),  # tkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal
        # ptrace, process_vm_readv/writev, kcmp, pidfd_open/getfd, socket, memfd_create, memfd_secret,
        # shmget, io_uring x3, userfaultfd, perf_event_open, bpf, unshare, setns, mount, umount2,
        # pivot_root, chroot, add_key, request_key, keyctl, name_to_handle_at, open_by_handle_at,
        # init_module, finit_module, delete_module, kexec_load, kexec_file_load, reboot, swapon, swapoff,
        # open_tree, move_mount, fsopen, fsmount, fspick, mount_setattr
        "refused": (101, 310, 311, 312, 434, 438, 41, 319, 447, 29, 425, 426, 427, 323, 298, 321, 272,
                    308, 165, 166, 155, 161, 248, 249, 250, 303, 304, 175, 313, 176, 246, 320, 169, 167,
                    168, 428, 429, 430, 432, 433, 442),
    },
    "aarch64": {
        "arch": 0xC00000B7,
        "clone": 220,
        "forks": (),
        "pipes": (59,),
        "kill": 129,
        "tgkill": 131,
        "signals": (130, 138, 240, 424),
        "refused": (117, 270, 271, 272, 434, 438, 198, 279, 447, 194, 425, 426, 427, 282, 241, 280, 97,
                    268, 40, 39, 41, 51, 217, 218, 219, 264, 265, 105, 273, 106, 104, 294, 142, 224, 225,
                    428, 429, 430, 432, 433, 442),
    },
}  # fmt: skip
_CLONE3, _CLONE_THREAD = 435, 0x10000


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program.

    wall_s: wall-clock limit; the whole process group is killed after it.
    cpu_s: CPU-time limit (RLIMIT_CPU); a program over it gets SIGXCPU, then SIGKILL.
    memory_mb: address-space limit (RLIMIT_AS) in MiB; 0 means no limit.
    max_output_bytes: how much of stdout and of stderr is kept; the rest is read and dropped.
    child_processes: whether the program may start processes; when False (the default) the seccomp filter
        makes fork, vfork and clone fail with EPERM (threads still work) and refuses pipes and signals to
        other processes. When True those are allowed (a harness that runs commands must manage them).
    max_tasks: RLIMIT_NPROC, processes + threads of the program; only set where it counts the program's
        own tasks and binds (bubblewrap's user namespace, not root), see the module docstring.
    scratch_mb: size of the private /tmp (the working directory included) with bubblewrap.
    """

    wall_s: float = 5.0
    cpu_s: float = 5.0
    memory_mb: int = 1024
    max_output_bytes: int = 65536
    child_processes: bool = False
    max_tasks: int = 256
    scratch_mb: int = 64


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


def _interpreter_flags() -> list[str]:
    """No site module (~25 ms per start in an editable install), no user site, no script folder or current
    directory on the import path, no bytecode written; PYTHONPATH is not set at all (see _scrubbed_env)."""
    return [sys.executable, "-s", "-S", "-P", "-B"]


def forced_mode() -> str:
    """DENSE_RL_SANDBOX: "auto" (unset), "rlimits" or "bwrap"; anything else is an error naming it."""
    mode = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "rlimits", "bwrap"):
        raise ValueError(f"{MODE_ENV}={mode!r}: use 'auto' (default), 'rlimits' or 'bwrap'")
    return mode


def bwrap_available() -> bool:
    """Whether programs run inside bubblewrap: it works here (probed once) and is not switched off."""
    mode = forced_mode()
    if mode == "rlimits":
        return False
    works = _bwrap_works()
    if mode == "bwrap" and not works:
        raise RuntimeError(f"{MODE_ENV}=bwrap but bubblewrap does not work here: run `make sandbox-tools`")
    return works


@functools.cache
def _bwrap_works() -> bool:
    if sys.platform != "linux" or shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="dense_rl_probe_") as workdir:
        Path(workdir, "prog.py").write_text("import dense_rl")  # the kit must be visible inside
        command = _bwrap_prefix(workdir, {"PATH": "/usr/bin:/bin"}, Limits())
        args = ["5", "0", str(MAX_FILE_BYTES), "64", "0", "", "", "", "0", import_path(), "prog.py"]
        command += [*_interpreter_flags(), "-c", _BOOTSTRAP, *args]
        try:
            probe = subprocess.run(command, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0 where it has none); asking changes nothing."""
    if sys.platform != "linux":
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return max(0, libc.syscall(444, None, 0, 1))
    except (OSError, AttributeError):
        return 0


@functools.cache
def _warn_fallback(landlock: bool) -> None:
    files = (
        "Landlock confines its files to the working directory and the system folders, but the total it "
        "writes there is bounded by the wall clock only"
        if landlock
        else "it can read and write wherever this user can (no Landlock in this kernel)"
    )
    warnings.warn(
        "bubblewrap (bwrap) is not available or cannot create namespaces here (or DENSE_RL_SANDBOX=rlimits):"
        " generated programs run in the fallback mode: resource limits, a process filter (no processes, "
        f"signals to others, sockets, memfd, ptrace), no capabilities and a scrubbed environment; {files}. "
        "Install bubblewrap (`make sandbox-tools`) for namespaces and a bounded private /tmp.",
        RuntimeWarning,
        stacklevel=3,
    )


def seccomp_filter(child_processes: bool = False) -> bytes:
    """The seccomp program (struct sock_filter[], native byte order) of the module docstring, step 3, with
    PID_SLOT where the program's own pid goes; b"" on a machine it has no syscall numbers for. Syscalls of
    another ABI (32-bit, x32) fail with EPERM, clone3 with ENOSYS so that the C library falls back to clone
    (whose flags the filter can read)."""
    if sys.platform != "linux" or platform.machine() not in _SYSCALLS:
        return b""
    n = _SYSCALLS[platform.machine()]
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|K ops, BPF_RET|K
    # (op, label to jump to if true, if false, k); seccomp_data holds nr at 0, arch at 4, args[0] at 16
    steps = [(load, "", "", 4), (jeq, "", "deny", n["arch"]), (load, "", "", 0)]
    steps += [(jge, "deny", "", 0x40000000), (jeq, "nosys", "", _CLONE3)]
    refused = list(n["refused"])
    if not child_processes:
        refused += [*n["forks"], *n["pipes"], *n["signals"]]
        steps += [
            (jeq, "clone", "", n["clone"]),
            (jeq, "kill", "", n["kill"]),
            (jeq, "tgkill", "", n["tgkill"]),
        ]
    steps += [*((jeq, "deny", "", nr) for nr in refused), (ret, "", "", 0x7FFF0000)]
    blocks = {
        "clone": [(load, "", "", 16), (jset, "allow", "deny", _CLONE_THREAD)],
        "kill": [(load, "", "", 16), (jeq, "allow", "", PID_SLOT), (jeq, "allow", "deny", 0)],
        "tgkill": [(load, "", "", 16), (jeq, "allow", "deny", PID_SLOT)],
        "allow": [(ret, "", "", 0x7FFF0000)],
        "deny": [(ret, "", "", 0x50000 | errno.EPERM)],
        "nosys": [(ret, "", "", 0x50000 | errno.ENOSYS)],
    }
    labels = {}
    for label, block in blocks.items():
        labels[label] = len(steps)
        steps += block

    def jump(label: str, at: int) -> int:  # BPF jumps count the instructions skipped
        return labels[label] - at - 1 if label else 0

    return b"".join(
        struct.pack("=HBBI", op, jump(t, i), jump(f, i), k) for i, (op, t, f, k) in enumerate(steps)
    )


# Exits 0 when fork is refused, 3 when it is not (both processes exit then).
_FORK_PROBE = "import os\ntry:\n    os.fork()\nexcept PermissionError:\n    raise SystemExit(0)\nos._exit(3)"


@functools.cache
def process_filter(child_processes: bool = False) -> str:
    """seccomp_filter() as hex if installing it works here (probed once per process), else ''."""
    program = seccomp_filter(child_processes).hex()
    if not program:
        return ""
    with tempfile.TemporaryDirectory(prefix="dense_rl_probe_") as workdir:
        Path(workdir, "probe.py").write_text("" if child_processes else _FORK_PROBE)
        args = ["5", "0", str(MAX_FILE_BYTES), "64", "0", program, "", "", "0", "", "probe.py"]
        try:
            probe = subprocess.run(
                [*_interpreter_flags(), "-c", _BOOTSTRAP, *args],
                capture_output=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return program if probe.returncode == 0 else ""


@functools.cache
def _warn_no_filter() -> None:
    warnings.warn(
        "the seccomp filter that stops generated programs from starting processes, signalling others and "
        "opening sockets cannot be installed on this machine (not Linux x86-64 / arm64, or no seccomp): a "
        "fork bomb is only stopped by the wall-clock limit.",
        RuntimeWarning,
        stacklevel=3,
    )


@functools.cache
def kit_paths() -> tuple[str, ...]:
    """What programs must be able to read: the interpreter's prefixes, the kit, the import path (real
    paths, nested ones left out)."""
    kit = Path(__file__).resolve().parents[1]
    candidates = [sys.prefix, sys.base_prefix, Path(sys.executable).resolve().parent, kit, *sys.path]
    found = sorted({str(Path(p).resolve()) for p in candidates if p and Path(p).is_dir()})
    return tuple(p for p in found if not any(p.startswith(q.rstrip("/") + "/") for q in found if q != p))


@functools.cache
def import_path() -> str:
    """The import path programs get after the standard library: the folder holding dense_rl (an editable
    install finds it through a hook that -S skips), then this process's sys.path."""
    kit = str(Path(__file__).resolve().parents[1])
    entries = [kit, *(p for p in sys.path if p and Path(p).is_dir())]
    return os.pathsep.join(dict.fromkeys(entries))


_SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/sys")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full")


def _landlock_paths(workdir: str) -> tuple[str, str]:
    """(writable, readable) for the bootstrap's Landlock rules: the working directory and /dev/null, and
    the system folders, devices, the kit's paths and the import path."""
    readable = [*_SYSTEM_READABLE, *_DEVICES, *kit_paths(), *import_path().split(os.pathsep)]
    return os.pathsep.join([workdir, "/dev/null"]), os.pathsep.join(dict.fromkeys(readable))


def _hidden_by_tmpfs(path: str) -> bool:
    return any(path == top or path.startswith(top + "/") for top in ("/tmp", "/dev"))


def _bwrap_prefix(workdir: str, env: dict[str, str], limits: Limits) -> list[str]:
    """bwrap arguments: read-only root, read-only /dev with a small /dev/shm, a private /tmp of
    scratch_mb holding the working directory, the kit's paths bound again where /tmp hides them."""
    scratch = str(limits.scratch_mb * 1024 * 1024)
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--size", str(1024 * 1024), "--tmpfs"]
    args += ["/dev/shm", "--remount-ro", "/dev", "--proc", "/proc", "--size", scratch, "--tmpfs", "/tmp"]
    for path in kit_paths():
        if _hidden_by_tmpfs(path):
            args += ["--ro-bind", path, path]
    args += ["--ro-bind", str(Path(workdir, "prog.py")), f"{SANDBOX_DIR}/prog.py", "--chdir", SANDBOX_DIR]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


def _scrubbed_env(home: str, extra: dict[str, str] | None) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
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
    program = process_filter(limits.child_processes)
    if not program:
        _warn_no_filter()
    writable = readable = ""
    if not use_bwrap and landlock_abi() > 0:
        writable, readable = _landlock_paths(workdir)
    drop_caps = "1" if not use_bwrap and os.geteuid() == 0 else "0"
    args = [str(cpu), str(mem), str(MAX_FILE_BYTES), str(MAX_OPEN_FILES), str(tasks), program]
    args += [writable, readable, drop_caps, import_path(), "prog.py"]
    run = [*_interpreter_flags(), "-c", _BOOTSTRAP, *args]
    return _bwrap_prefix(workdir, env, limits) + run if use_bwrap else run


def remove_tree(path: str) -> bool:
    """Delete `path` and everything in it without recursing in Python and without raising, whatever a
    program left there (a chain of directories thousands deep, folders without permissions, names that
    are not UTF-8). Returns whether it is gone."""
    try:
        shutil.rmtree(path)
    except (OSError, RecursionError):
        for command in (["chmod", "-R", "u+rwx", "--", path], ["rm", "-rf", "--", path]):
            try:
                subprocess.run(command, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                pass
    return not os.path.lexists(path)


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


def _execute(
    workdir: str, limits: Limits, env: dict[str, str], use_bwrap: bool, stdin: str
) -> tuple[bytes, bytes, bool, int]:
    """Start the program, feed stdin, read its output until it ends or the wall clock runs out, kill what is
    left; (stdout, stderr, timed_out, returncode)."""
    start = time.monotonic()
    # stdin is a pipe, not a file: once a harness has read it, what it held (a result nonce) is gone
    # from the program's reach, even through another process's descriptors (bubblewrap's init)
    stdin_read, stdin_write = os.pipe()
    try:
        proc = subprocess.Popen(
            _command(workdir, limits, env, use_bwrap),
            stdin=stdin_read,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=env,
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
    return out, err, timed_out, proc.returncode


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
        _warn_fallback(landlock_abi() > 0)
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="dense_rl_run_")
    try:
        Path(workdir, "prog.py").write_text(source, encoding="utf-8")
        child_env = _scrubbed_env(SANDBOX_DIR if use_bwrap else workdir, env)
        out, err, timed_out, returncode = _execute(workdir, limits, child_env, use_bwrap, stdin)
    finally:
        if not remove_tree(workdir):
            warnings.warn(f"sandbox: could not delete {workdir}", RuntimeWarning, stacklevel=2)
    if timed_out:
        status, returncode = "timeout", None
    else:
        status, returncode = _status(returncode, use_bwrap)
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
