"""Benchmark: the dense robot reward on a batch of 8 programs x 5 RoboSim runs (target: <= 2 s on 2 cores).

    .venv/bin/python benchmarks/robot_reward.py [--repeats 3]

The 8 responses are the kit's own generated robot tasks' reference programs, fenced as the policy writes
them, two of them broken (a place with empty hands, an undefined helper) so both the success and the
penalty paths run. Each program's 5 runs share one sandboxed process; 2 processes run at a time. Prints the
time of each repeat and, as its last line, a JSON object with the median seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import torch

from dense_rl.batch import RolloutBatch
from dense_rl.robot.reward import robot_reward
from dense_rl.tasks.robot_tasks import generate_robot_tasks


def batch_of(responses: list[str]) -> RolloutBatch:
    """Whitespace-piece 'tokens' stand in for a tokenizer: the reward's cost is the simulator, not this."""
    spans = [[m.span() for m in re.finditer(r"\S+\s*|\s+", text)] for text in responses]
    width = max(len(s) for s in spans)
    mask = torch.tensor([[i < len(s) for i in range(width)] for s in spans])
    ids = torch.zeros(mask.shape, dtype=torch.long)
    return RolloutBatch([""] * len(responses), [[]] * len(responses), ids, mask, responses, spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tasks = generate_robot_tasks(8, "train", seed=0)
    programs = [t.reference for t in tasks]
    programs[3] = programs[3].replace("pick(", "place(", 1)
    programs[5] = programs[5].replace("go_to(start_loc)", "walk_back(start_loc)", 1)
    batch = batch_of([f"Here is the program.\n```python\n{p}```" for p in programs])
    seconds = []
    for repeat in range(args.repeats):
        t0 = time.perf_counter()
        out = robot_reward(batch, tasks, n_runs=5, seed=repeat)
        seconds.append(time.perf_counter() - t0)
        print(f"repeat {repeat}: {seconds[-1]:.3f} s, success per program {out.summary['sim_success']}")
    result = {
        "benchmark": "robot_reward",
        "programs": len(programs),
        "runs_per_program": 5,
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
        "target_s": 2.0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
