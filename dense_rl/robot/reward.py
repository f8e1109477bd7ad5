"""The dense robot reward: simulator feedback, attributed to the program line that failed.

    from dense_rl.robot.reward import robot_reward
    out = robot_reward(batch, tasks, n_runs=5, seed=step)   # RewardOutput(per_token [B, T], summary)

Built in four steps, per sample:
1. Cut the program from the response: from `def task_program():` to the closing fence (prompts.py).
   Tokens outside it are prose and get 0.
2. Run it in `n_runs` fresh random RoboSim worlds (robosim.py), all runs in one sandboxed process. Every
   program of the batch sees the same `n_runs` worlds (the seed), so samples are compared on equal terms.
3. success = fraction of runs without a robot error, Python error or timeout (the paper's simulator
   reward). It is spread uniformly over the program's tokens: each gets success / n_code_tokens.
4. Each failed run puts -1/n_runs on the line that raised its error (a robot error: the API call's line; a
   Python error: the line in the traceback; a syntax error: its line; a timeout: the line running when the
   budget ran out), spread uniformly over that line's tokens (from its first non-blank character to its
   end, so a token that only carries the indentation is not blamed). A failure with no line (the process died)
   is spread over all program tokens.
5. A response without a program counts as failing every run: -1 on its last token. Giving it 0 made "write
   no program" the safest answer, and a PPO run learned exactly that (LOG.md).
So a sample's rewards sum to success - (failed runs with an attributed line) / n_runs, in [-1, 1]; the
sparse mode of dense_rl.rewards.combine can put that same total on the last token.

    >>> dense_rewards(4, code=[0, 1, 2, 3], success=0.5, line_tokens={2: [1, 2]}, penalties={2: 0.5})
    [0.125, -0.125, -0.125, 0.125]

What it rewards: programs that are feasible in every sampled world (a pick is preceded by a free hand, an
ask by someone being there, places are never used as objects, no exceptions, the program ends). What it
cannot reward: doing what the instruction asked (RoboSim has no reference; RoboEval's checks are for
evaluation only). Alone, it was gamed: a tiny policy learned to answer every task with one program that never
fails (LOG.md). For generated tasks, dense_rl.robot.task_reward adds the kit's success checks (w_task, the
`tiny-robot` preset; `tiny-robot-paper` keeps this reward alone, as the paper does).
Where it departs from the paper: the paper only says failures are attributed to the failing line; the sizes
(uniform spreads, -1/n_runs per failed run) are the kit's choice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from dense_rl.robot.api import RunOutcome
from dense_rl.robot.prompts import program_region
from dense_rl.robot.robosim import success_fraction


def line_penalties(outcomes: Sequence[RunOutcome]) -> dict[int | None, float]:
    """Fraction of runs that failed at each program line (key None: failures without a line)."""
    failed = Counter(o.failure.line for o in outcomes if o.failure is not None)
    return {line: count / len(outcomes) for line, count in failed.items()}


SUMMARY_KEYS = ("sim_success", "sim_robot_errors", "sim_python_errors", "sim_timeouts", "has_program")


def run_summary(outcomes: Sequence[RunOutcome]) -> dict[str, float]:
    """Per-sample numbers for logging: success and each failure category as fractions of the runs."""
    n = max(1, len(outcomes))
    failed = Counter(o.failure.category for o in outcomes if o.failure is not None)
    return {
        "sim_success": success_fraction(outcomes),
        "sim_robot_errors": failed["robot"] / n,
        "sim_python_errors": failed["python"] / n,
        "sim_timeouts": failed["timeout"] / n,
        "has_program": float(bool(outcomes)),
    }


def dense_rewards(
    n_tokens: int,
    code: Sequence[int],
    success: float,
    line_tokens: dict[int | None, Sequence[int]],
    penalties: dict[int | None, float],
) -> list[float]:
    """Per-token rewards of one sample (steps 3 and 4 of the module docstring).

    code: indices of the program's tokens. line_tokens: program line -> indices of its tokens.
    """
    rewards = [0.0] * n_tokens
    for i in code:
        rewards[i] += success / len(code)
    for line, penalty in penalties.items():
        targets = line_tokens.get(line) or code  # no line, or a line no token wrote: the whole program
        for i in targets:
            rewards[i] -= penalty / len(targets)
    return rewards


def _line_tokens(text: str, region: tuple[int, int], spans, lines) -> dict[int | None, list[int]]:
    from dense_rl.spans import line_span, tokens_in_span

    found = {}
    for line in lines:
        if line is None:
            continue
        try:
            start, end = line_span(text, region, line)
        except ValueError:  # a line beyond the region (cannot happen for errors of the cut program)
            found[line] = []
            continue
        start += len(text[start:end]) - len(text[start:end].lstrip())  # indentation belongs to no statement
        found[line] = tokens_in_span(spans, start, max(start + 1, end))
    return found


def run_responses(responses: Sequence[str], n_runs: int = 5, seed: int = 0, workers: int = 2) -> dict:
    """Each response's program run in the `n_runs` worlds of `seed`, sandboxed: {index: [RunOutcome]} for
    the responses that hold a program. The simulator reward and the task reward share one set of runs."""
    from dense_rl.robot.sandboxed import run_robosim

    regions = [program_region(text) for text in responses]
    with_code = [i for i, r in enumerate(regions) if r is not None]
    programs = [responses[i][slice(*regions[i])] for i in with_code]
    return dict(zip(with_code, run_robosim(programs, n_runs=n_runs, seed=seed, workers=workers), strict=True))


def robot_reward(
    batch, tasks: Sequence | None = None, n_runs: int = 5, seed: int = 0, workers: int = 2, runs=None
):
    """RewardOutput for a RolloutBatch of robot responses (see the module docstring).

    `tasks` (RobotTask per sample) is only checked for length: RoboSim judges feasibility, not the task.
    `runs` (from run_responses) reuses runs made for another reward. Summary per sample: sim_success,
    sim_robot_errors, sim_python_errors, sim_timeouts (fractions of runs) and has_program (0/1).
    """
    import torch

    from dense_rl.batch import RewardOutput
    from dense_rl.spans import tokens_in_span

    if tasks is not None and len(tasks) != len(batch.responses):
        raise ValueError(
            f"robot_reward: {len(batch.responses)} responses but {len(tasks)} tasks; pass one each"
        )
    regions = [program_region(text) for text in batch.responses]
    if runs is None:
        runs = run_responses(batch.responses, n_runs, seed, workers)
    per_token = torch.zeros(batch.response_mask.shape, dtype=torch.float32)
    summary: dict[str, list[float]] = {k: [] for k in SUMMARY_KEYS}
    for i, (text, spans) in enumerate(zip(batch.responses, batch.token_spans, strict=True)):
        outcomes = runs.get(i, [])
        for key, value in run_summary(outcomes).items():
            summary[key].append(value)
        code = tokens_in_span(spans, *regions[i]) if outcomes else []
        if not code:  # no program: as bad as one that fails every run, -1 on the last response token
            last = int(batch.response_mask[i].sum()) - 1
            if last >= 0:
                per_token[i, last] = -1.0
            continue
        penalties = line_penalties(outcomes)
        lines = _line_tokens(text, regions[i], spans, penalties)
        values = dense_rewards(len(spans), code, success_fraction(outcomes), lines, penalties)
        width = min(len(values), per_token.shape[1])
        per_token[i, :width] = torch.tensor(values[:width]) * batch.response_mask[i, :width]
    return RewardOutput(per_token, summary)
