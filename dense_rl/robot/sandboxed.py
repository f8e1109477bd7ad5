"""Running robot programs in the sandbox: one isolated process per program, all its runs inside it.

    from dense_rl.robot.sandboxed import run_robosim, run_roboeval
    run_robosim(['def task_program():\\n    say("hi")\\n'], n_runs=5, seed=0)    # -> [[RunOutcome x5]]

Programs are untrusted, so they never run in the caller's process. Each program gets one sandboxed Python
process (dense_rl.sandbox.run_program: resource limits, scrubbed environment, bubblewrap namespaces where
available) that runs HARNESS_SOURCE. The harness imports the simulators from dense_rl (the sandbox keeps the
kit's interpreter, so the editable install is importable), reads one JSON request from stdin, runs the
program once per world (a fresh simulator each time) and writes one result line per run, then a final
"done" line. Every line the harness writes starts with a random nonce the parent chose for this process,
and the program's output goes to /dev/null, so a program that prints JSON cannot pass for a result.

Requests: {"nonce", "mode": "robosim", "program", "seeds", "max_steps", "cpu_s"} or
{"nonce", "mode": "roboeval", "program", "states", "max_steps", "cpu_s"}. In roboeval mode the harness
stops after the first state that crashes or times out unexpectedly, since that state already decides the
program's class.

What is covered (each tried in tests/test_hostile.py): a program that prints, or writes lines that look like
results to any descriptor; reads the request back to learn the nonce (stdin was a pipe, already read, and
descriptor 0 now points at /dev/null); replaces `json.dumps` or `os.write` (bound before it runs); exits or
kills its own process (the states it never finished are reported as a Python error "the program ended its
process"); leaves a thread running (the harness ends with os._exit); runs out of CPU or memory (the
sandbox's limits end it). What is not (strict xfails there): the program runs in the harness's interpreter,
so it can reach the simulator through the robot functions (they are its bound methods: `place.__self__`)
and reset the error it recorded, patch the kit's classes (RunOutcome), or walk the frames to the nonce. The
sandbox bounds what such code does to the machine, not to the score.
"""

from __future__ import annotations

import json
import os
import secrets
import sys

from dense_rl.robot.api import RunOutcome, run_in_simulator
from dense_rl.robot.trace import Failure

HARNESS_SOURCE = "from dense_rl.robot.sandboxed import main\nmain()\n"
MAX_OUTPUT_BYTES = 16 * 1024 * 1024  # a timed-out run can leave a trace of a thousand events


def run_request(request: dict):
    """Yield one RunOutcome per world of the request, IN THIS PROCESS (the sandbox, or trusted code)."""
    from dense_rl.robot.evalsim import EvalSim
    from dense_rl.robot.robosim import RoboSim

    program, max_steps, cpu_s = request["program"], request["max_steps"], request["cpu_s"]
    if request["mode"] == "robosim":
        for seed in request["seeds"]:
            yield run_in_simulator(RoboSim(seed, max_steps), program, cpu_s=cpu_s)
        return
    for state in request["states"]:
        outcome = run_in_simulator(EvalSim(state, max_steps), program, cpu_s=cpu_s)
        yield outcome
        failure = outcome.failure
        if failure and (failure.category != "timeout" or not state.get("timeout_expected", False)):
            return


def main() -> None:
    """The sandboxed process: read the request, write `nonce JSON` lines on a private copy of stdout.

    Before any program runs, descriptor 0 (the request, nonce included, came through a pipe that is now
    empty) and descriptor 1 are pointed at /dev/null, so the program can neither read the nonce back nor
    reach the parent with anything it writes to stdout (print, sys.__stdout__, os.write(1, ...)). stderr
    stays: it is only shown when the process dies. `os.write` and `json.dumps` are bound first, so a
    program that replaces them changes nothing here. The process ends with os._exit, so threads a program
    left running cannot hold it open.
    """
    request = json.loads(sys.stdin.read())
    nonce = request.pop("nonce")
    results = os.dup(1)
    sink = os.open(os.devnull, os.O_RDWR)
    os.dup2(sink, 0)
    os.dup2(sink, 1)
    write, dumps, leave = os.write, json.dumps, os._exit

    def report(record: dict) -> None:
        data = f"{nonce} {dumps(record)}\n".encode()
        while data:
            data = data[write(results, data) :]

    for outcome in run_request(request):
        report(outcome.to_dict())
    report({"done": True})
    leave(0)


def parse_output(stdout: str, nonce: str) -> tuple[list[RunOutcome], bool]:
    """The run outcomes in the harness's tagged lines, and whether the harness got to its "done" line.

    Anything malformed among the tagged lines (not JSON, not an object, fields of the wrong type, a line
    after "done") counts as a process that never reported: ([], False), so every run fails.
    """
    outcomes, done = [], False
    for line in stdout.splitlines():
        if not line.startswith(nonce + " "):
            continue
        try:
            record = json.loads(line[len(nonce) + 1 :])
        except (ValueError, RecursionError):  # also a line cut off by the sandbox's output cap
            return [], False
        if done:
            return [], False
        if record == {"done": True}:
            done = True
            continue
        outcome = _outcome(record)
        if outcome is None:
            return [], False
        outcomes.append(outcome)
    return outcomes, done


_FAILURE_TYPES = {"category": str, "error_type": str, "message": str, "line": (int, type(None))}
_EVENT_TYPES = {
    "kind": str,
    "location": str,
    "arg": str,
    "person": str,
    "options": list,
    "result": (str, bool, type(None)),
    "line": (int, type(None)),
}


def _fields_ok(record: object, types: dict, required: int) -> bool:
    """`record` is a dict whose keys are among `types` (the first `required` of them present), each value of
    its type."""
    if type(record) is not dict or not set(list(types)[:required]) <= set(record) <= set(types):
        return False
    return all(isinstance(value, types[key]) for key, value in record.items())


def _outcome(record: object) -> RunOutcome | None:
    """A RunOutcome from one reported record, or None when the record is not one the harness writes."""
    if type(record) is not dict or set(record) != {"failure", "trace", "steps"}:
        return None
    failure, trace, steps = record["failure"], record["trace"], record["steps"]
    if failure is not None and not _fields_ok(failure, _FAILURE_TYPES, 3):
        return None
    if (
        type(steps) is not int
        or type(trace) is not list
        or not all(_fields_ok(e, _EVENT_TYPES, 3) for e in trace)
    ):
        return None
    if not all(isinstance(o, str) for e in trace for o in e.get("options", [])):
        return None
    return RunOutcome.from_dict(record)


def _died(status: str, stderr: str) -> RunOutcome:
    tail = stderr.strip().splitlines()[-1:] or [""]
    message = f"the program ended its process (sandbox status {status}) {tail[0]}"[:300]
    return RunOutcome(Failure("python", "ProcessDied", message, None))


def run_requests(requests: list[dict], *, cpu_s: float, workers: int = 2) -> list[list[RunOutcome]]:
    """Run each request in its own sandboxed process; a process that died gets one ProcessDied outcome."""
    from dense_rl.sandbox import Limits, run_programs

    nonces = [secrets.token_hex(16) for _ in requests]
    stdins = [json.dumps({**r, "nonce": n}) for r, n in zip(requests, nonces, strict=True)]
    most_runs = max((len(r.get("seeds", r.get("states", []))) for r in requests), default=1)
    budget = most_runs * cpu_s + 3.0  # the harness's own CPU limits fire first; this is the backstop
    limits = Limits(wall_s=2 * budget + 5, cpu_s=budget, memory_mb=1024, max_output_bytes=MAX_OUTPUT_BYTES)
    results = run_programs([HARNESS_SOURCE] * len(requests), stdins=stdins, limits=limits, workers=workers)
    runs = []
    for result, nonce in zip(results, nonces, strict=True):
        outcomes, done = parse_output(result.stdout, nonce)
        runs.append(outcomes if done else [*outcomes, _died(result.status, result.stderr)])
    return runs


def run_robosim(
    programs: list[str],
    *,
    n_runs: int = 5,
    seed: int = 0,
    max_steps: int = 500,
    cpu_s: float = 0.5,
    workers: int = 2,
) -> list[list[RunOutcome]]:
    """Each program in `n_runs` fresh RoboSim worlds (seeds from robosim.run_seeds), sandboxed."""
    from dense_rl.robot.robosim import run_seeds

    seeds = run_seeds(seed, n_runs)
    requests = [
        {"mode": "robosim", "program": p, "seeds": seeds, "max_steps": max_steps, "cpu_s": cpu_s}
        for p in programs
    ]
    runs = run_requests(requests, cpu_s=cpu_s, workers=workers)
    return [r[:n_runs] + [r[-1]] * (n_runs - len(r)) for r in runs]  # a dead process fails its remaining runs


def run_roboeval(
    programs: list[str],
    states: list[list[dict]],
    *,
    max_steps: int = 1000,
    cpu_s: float = 1.0,
    workers: int = 2,
) -> list[list[RunOutcome]]:
    """Each program in its own list of RoboEval world states, in order, sandboxed (may stop early)."""
    requests = [
        {"mode": "roboeval", "program": p, "states": s, "max_steps": max_steps, "cpu_s": cpu_s}
        for p, s in zip(programs, states, strict=True)
    ]
    return run_requests(requests, cpu_s=cpu_s, workers=workers)
