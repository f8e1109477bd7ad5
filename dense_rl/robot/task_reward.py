"""The kit's task reward for generated robot tasks: success checks, attributed densely to program lines.

    from dense_rl.robot.task_reward import task_reward
    out = task_reward(batch, tasks, n_runs=5, seed=step)   # RewardOutput(per_token [B, T], summary)

Why: the paper's simulator reward (dense_rl.robot.reward) only asks whether a program runs without error, and
a tiny policy trained on it alone answered 498 of 500 held-out tasks with `say("workshop")` (LOG.md). A user
wants the program to do what it was asked. Generated robot tasks carry success checks
(dense_rl.robot.task_checks): messages said where, questions asked with which options, objects moved where,
counts reported, coming back. This reward turns them into per-token rewards, in numbered steps per sample:

1. The program (from `def task_program():` to the closing fence) runs in `n_runs` RoboSim worlds, the same
   worlds for every sample (the runs are shared with the simulator reward: robot.reward.run_responses).
2. Each world w gives the template's K_w checks, plus a failed "runs without error" check if the run raised.
   Its score is s_w = 1 when every check passed, else HALF the share passed: partial work earns something,
   but less than finishing, and checks a program passes by doing nothing (no ask in an empty office, ends at
   the start when it never left) cannot add up to a success.
3. Credit: mean_w s_w is spread uniformly over the program's tokens.
4. Blame: each failed check of world w puts -1 / (K_w * n_runs) on the tokens of the line it names (the first
   action of the kind the check needs that went wrong; task_checks says how), from the line's first
   non-blank character. An action that never happened (END) is blamed on the response's last token, the
   decision to stop before doing it; a check with no line spreads it over the whole program.
5. A response without a program gets NO_PROGRAM = -2 on its last token: strictly below every program.
So a program's rewards sum to mean_w s_w - mean_w (failed_w / K_w), in [-1, 1]: +1 for a program that passes
everything everywhere, -1 for one that passes nothing (a lone `say(...)` on almost every template).
Why -2 and not -1: were giving up tied with the worst program, the per-token KL and lint penalties (which a
three-token answer barely pays) would break the tie toward giving up. A run whose programs all failed every
check learned to answer with an empty fence (LOG.md).

    >>> from dense_rl.robot.task_checks import Check
    >>> world_credit([[Check("a", True), Check("b", False, 3)]])   # half of one in two checks passed
    0.25
    >>> world_blame([[Check("a", True), Check("b", False, 3)]])    # -1/(2 checks * 1 world) on line 3
    {3: 0.5}

Not in the paper (a departure of the kit): the paper's robot reward is the simulator's alone. The preset
`tiny-robot` combines this reward with the simulator's and the syntax/lint terms; `tiny-robot-paper` keeps the
paper's reward, to show its hack. Robo-Instruct rows (paper-robo) have no checks, so there it scores nothing
and the preset leaves it off. The sizes (the half credit, uniform spreads) are the kit's choices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from dense_rl.robot.prompts import program_region
from dense_rl.robot.task_checks import END, Check, check_runs, task_success

PARTIAL = 0.5  # a world where some check failed earns this share of its passed checks
NO_PROGRAM = -2.0  # a response without a program: below the worst program (-1), so giving up never pays


def world_credit(per_world: Sequence[Sequence[Check]]) -> float:
    """Mean over worlds of 1 (all checks passed) or PARTIAL * share passed."""
    scores = []
    for checks in per_world:
        passed = sum(c.passed for c in checks)
        scores.append(1.0 if passed == len(checks) else PARTIAL * passed / len(checks))
    return sum(scores) / len(scores) if scores else 0.0


def world_blame(per_world: Sequence[Sequence[Check]]) -> dict[int | None, float]:
    """Program line -> summed penalty: each failed check of world w weighs 1 / (K_w * n_worlds)."""
    blame: dict[int | None, float] = defaultdict(float)
    for checks in per_world:
        for c in checks:
            if not c.passed:
                blame[c.line] += 1 / (len(checks) * len(per_world))
    return dict(blame)


def task_reward(batch, tasks: Sequence, n_runs: int = 5, seed: int = 0, workers: int = 2, runs=None):
    """RewardOutput: per token, the check credit and blame of the module docstring.

    Summary per sample: task_success (1 when every check passed in every world), task_checks (share of
    checks passed over all worlds).
    """
    import torch

    from dense_rl.batch import RewardOutput
    from dense_rl.robot.reward import _line_tokens, dense_rewards, run_responses
    from dense_rl.spans import tokens_in_span
    from dense_rl.tasks.robot_tasks import has_checks

    if len(tasks) != len(batch.responses):
        raise ValueError(
            f"task_reward: {len(batch.responses)} responses but {len(tasks)} tasks; pass one each"
        )
    if runs is None:
        runs = run_responses(batch.responses, n_runs, seed, workers)
    per_token = torch.zeros(batch.response_mask.shape, dtype=torch.float32)
    summary: dict[str, list[float]] = {"task_success": [], "task_checks": []}
    for i, (text, spans) in enumerate(zip(batch.responses, batch.token_spans, strict=True)):
        if not has_checks(tasks[i]):  # e.g. a Robo-Instruct row: no checks, so this reward has nothing to say
            summary["task_success"].append(0.0)
            summary["task_checks"].append(0.0)
            continue
        region = program_region(text)
        per_world = check_runs(tasks[i], runs[i], seed) if i in runs else []
        checks = [c for world in per_world for c in world]
        summary["task_success"].append(float(task_success(per_world)))
        summary["task_checks"].append(sum(c.passed for c in checks) / len(checks) if checks else 0.0)
        code = tokens_in_span(spans, *region) if per_world else []
        if not code:  # no program: NO_PROGRAM on the last response token
            last = int(batch.response_mask[i].sum()) - 1
            if last >= 0:
                per_token[i, last] = NO_PROGRAM
            continue
        blame = world_blame(per_world)
        lines = _line_tokens(text, region, spans, [line for line in blame if line != END])
        lines[END] = [int(batch.response_mask[i].sum()) - 1]  # an omission: on the stop (step 4)
        values = dense_rewards(len(spans), code, world_credit(per_world), lines, blame)
        width = min(len(values), per_token.shape[1])
        per_token[i, :width] = torch.tensor(values[:width]) * batch.response_mask[i, :width]
    return RewardOutput(per_token, summary)
