"""Load benchmark: a training step's code rewards over many generated programs, good, broken and hostile.

    .venv/bin/python benchmarks/load.py              # 1,000 programs: a few minutes on 2 cores
    .venv/bin/python benchmarks/load.py --n 200      # a quicker look

The programs, shuffled with a fixed seed:
- good (60 %): reference solutions of generated held-out tasks (dense_rl.tasks.code_tasks);
- broken (30 %): the same with a syntax error (the colon of the `def` line dropped) or a wrong answer (a
  body that returns None);
- hostile (10 %): the code programs of tests/hostile_programs.py, in turn, judged on that corpus's task
  (the ones that need bubblewrap or the seccomp filter only where those work: elsewhere they are real
  attacks on this machine).
They are scored in batches of the tiny-code preset's batch_size, each by dense_rl.train.reward_components
and combine, as a training step scores its rollout (syntax, lint, DFG, unit tests in the sandbox).

Reported (progress on stderr; the last line on stdout is one JSON object):
- programs, seconds, programs_per_second; unit-test status counts per kind; good_pass_rate (should be 1),
  broken_pass_rate (should be 0), hostile_with_credit (hostile programs with any assert passed, known holes
  of the corpus excepted: should be 0) and hostile_known_gaps_with_credit;
- peak_tree_rss_mb: the largest resident memory of this process plus all its descendants together, and
  peak_child_rss_mb of one descendant (a sandboxed program), sampled every 50 ms; self_max_rss_mb from
  getrusage;
- leaked_processes: processes left when the run is over (children of this process, or carrying the run's
  marker), after 3 s of grace for killed namespaces to go;
- leaked_temp: entries of the temporary directory that the sandbox names (dense_rl_*) and that appeared
  during the run and are still there; other_new_temp_entries counts the rest (another job's, if any);
- canaries_intact, connections_received: whether files outside the sandbox kept their content, and how many
  connections reached a port this process listened on.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import resource
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the hostile corpus is shared with the tests

from hostile_programs import CODE, CODE_REFERENCE, CODE_TESTS, render  # noqa: E402

from dense_rl.batch import RolloutBatch  # noqa: E402
from dense_rl.config import get_preset  # noqa: E402
from dense_rl.rewards.combine import combine, config_weights  # noqa: E402
from dense_rl.sandbox import bwrap_available, process_filter  # noqa: E402
from dense_rl.tasks.code_tasks import generate_code_tasks  # noqa: E402
from dense_rl.tasks.types import CodeTask  # noqa: E402
from dense_rl.tiny import TinySpec, cache_dir, train_tokenizer  # noqa: E402
from dense_rl.train import reward_components  # noqa: E402

SHARES = (("good", 0.6), ("broken", 0.3), ("hostile", 0.1))
HOSTILE_TASK = CodeTask("hostile/0", "Write f(x) that returns x + 1.", "f", CODE_REFERENCE, CODE_TESTS)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_tokenizer():
    """The kit's tiny tokenizer when the tiny policy is built, else the same recipe on a small corpus."""
    built = cache_dir() / TinySpec().folder_name()
    if built.exists():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(built)
    corpus = [t.reference for t in generate_code_tasks(2000, "train")]
    return train_tokenizer(corpus + [c.source for c in CODE.values()], 1024)


def broken(task: CodeTask, rng: random.Random) -> str:
    """A syntax error or a wrong answer."""
    if rng.random() < 0.5:
        return task.reference.replace(":", "", 1)  # the def line's colon
    return task.reference.split("\n", 1)[0] + "\n    return None\n"


def usable_hostile() -> list[str]:
    """Corpus programs that are safe to run here (see the module docstring)."""
    missing = {"bwrap": not bwrap_available(), "filter": not process_filter()}
    return [name for name, case in CODE.items() if not missing.get(case.needs, False)]


def programs(n: int, values: dict[str, str]) -> list[tuple[str, str, CodeTask, str]]:
    """n (kind, hostile name or '', task, program) tuples, shuffled."""
    rng = random.Random(0)
    tasks = generate_code_tasks(n, "heldout", seed=0)
    hostile = usable_hostile()
    counts = {kind: round(share * n) for kind, share in SHARES}
    counts["good"] = n - counts["broken"] - counts["hostile"]
    items = [("good", "", t, t.reference) for t in tasks[: counts["good"]]]
    items += [("broken", "", t, broken(t, rng)) for t in tasks[counts["good"] : n - counts["hostile"]]]
    for i in range(counts["hostile"]):
        name = hostile[i % len(hostile)]
        items.append(("hostile", name, HOSTILE_TASK, render(CODE[name].source, **values)))
    rng.shuffle(items)
    return items


class TreeMemory:
    """Peak resident memory of this process and all its descendants together (`peak`), and of the largest
    single descendant (`peak_child`), sampled in a thread."""

    def __init__(self, every_s: float = 0.05):
        self.peak, self.peak_child, self.every_s, self._stop = 0, 0, every_s, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            sizes = []
            for proc in [me, *me.children(recursive=True)]:
                try:
                    sizes.append(proc.memory_info().rss)
                except psutil.Error:  # ended while we looked
                    sizes.append(0)
            self.peak = max(self.peak, sum(sizes))
            self.peak_child = max(self.peak_child, *sizes[1:], 0)
            self._stop.wait(self.every_s)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def leftovers(marker: str, grace_s: float = 3.0) -> list[str]:
    """Processes still alive that this run started (children, or carrying the marker)."""
    me, deadline = psutil.Process(), time.monotonic() + grace_s
    while True:
        found = set()
        for proc in [*me.children(recursive=True), *psutil.process_iter()]:
            try:
                mine = proc.ppid() == me.pid or marker in " ".join(proc.cmdline())
                if mine and proc.pid != me.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    found.add(f"{proc.pid} {' '.join(proc.cmdline())[:80]}")
            except psutil.Error:  # ended while we looked
                pass
        if not found or time.monotonic() > deadline:
            return sorted(found)
        time.sleep(0.1)


def _status(summary: dict, i: int) -> str:
    """The unit-test status of sample i, from the tests reward's summary."""
    for status in ("timeout", "error"):
        if summary[f"tests_{status}"][i]:
            return status
    return "pass" if summary["pass_at_1"][i] else "fail"


def score(items, tokenizer, batch_size: int) -> list[dict]:
    """Run the reward components of a training step over the items, batch by batch."""
    cfg = get_preset("tiny-code")
    rows = []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        texts = [f"Here it is.\n```python\n{program}```" for _, _, _, program in chunk]
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
        batch = RolloutBatch.from_ids(tokenizer, [""] * len(chunk), [[]] * len(chunk), ids)
        tasks = [task for _, _, task, _ in chunk]
        parts = reward_components(cfg, batch, tasks)
        weights = {k: v for k, v in config_weights(cfg).items() if k in parts}
        total = combine(parts, weights, mask=batch.response_mask, kl_coef=cfg.kl_coef, mode=cfg.reward_mode)
        summary = parts["tests"].summary
        for i, (kind, name, _, _) in enumerate(chunk):
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "status": _status(summary, i),
                    "fraction": summary["tests_pass_fraction"][i],
                    "total": total.summary["reward_total"][i],
                }
            )
        log(f"  {min(start + batch_size, len(items))}/{len(items)} scored")
    return rows


def summarise(rows: list[dict]) -> dict:
    by_kind = collections.defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    result = {f"{k}_status": dict(collections.Counter(r["status"] for r in v)) for k, v in by_kind.items()}
    for kind in ("good", "broken"):
        result[f"{kind}_pass_rate"] = sum(r["status"] == "pass" for r in by_kind[kind]) / max(
            1, len(by_kind[kind])
        )
    credited = {r["name"] for r in by_kind["hostile"] if r["fraction"] > 0}
    result["hostile_with_credit"] = sorted(n for n in credited if not CODE[n].gap)
    result["hostile_known_gaps_with_credit"] = sorted(n for n in credited if CODE[n].gap)
    result["all_rewards_finite"] = all(math.isfinite(r["total"]) for r in rows)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of programs")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    tag = uuid.uuid4().hex
    temp = Path(tempfile.gettempdir())
    canary_dir = Path(tempfile.mkdtemp(prefix="load_canary_"))
    canaries = [canary_dir / "tmp.txt", canary_dir / "repo.txt"]
    for canary in canaries:
        canary.write_text("canary")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    os.environ["DENSE_RL_FAKE_SECRET"] = f"s3cret-{tag}"
    values = {
        "marker": f"dense_rl_load_{tag}",
        "canary_tmp": str(canaries[0]),
        "canary_repo": str(canaries[1]),
        "secret_name": "DENSE_RL_FAKE_SECRET",
        "secret": f"s3cret-{tag}",
        "port": str(listener.getsockname()[1]),
    }

    tokenizer = load_tokenizer()
    items = programs(args.n, values)
    batch_size = get_preset("tiny-code").batch_size
    log(f"{len(items)} programs in batches of {batch_size}; bubblewrap: {bwrap_available()}")
    temp_before = set(os.listdir(temp))
    start = time.monotonic()
    with TreeMemory() as memory:
        rows = score(items, tokenizer, batch_size)
    seconds = time.monotonic() - start

    left = leftovers(values["marker"])
    new_temp = set(os.listdir(temp)) - temp_before
    connections = 0
    while True:
        try:
            listener.accept()[0].close()
            connections += 1
        except BlockingIOError:
            break
    intact = all(c.exists() and c.read_text() == "canary" for c in canaries)
    intact = intact and sorted(canary_dir.iterdir()) == sorted(canaries)
    for path in canary_dir.iterdir():
        path.unlink()
    canary_dir.rmdir()

    result = {
        "programs": len(rows),
        "seconds": round(seconds, 1),
        "programs_per_second": round(len(rows) / seconds, 2),
        "bubblewrap": bwrap_available(),
        "process_filter": bool(process_filter()),
        **summarise(rows),
        "peak_tree_rss_mb": round(memory.peak / 2**20, 1),
        "self_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_child_rss_mb": round(memory.peak_child / 2**20, 1),
        "leaked_processes": left,
        "leaked_temp": sorted(n for n in new_temp if n.startswith("dense_rl_")),
        "other_new_temp_entries": sum(not n.startswith("dense_rl_") for n in new_temp),
        "canaries_intact": intact,
        "connections_received": connections,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
