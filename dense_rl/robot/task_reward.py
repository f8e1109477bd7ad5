"""A task signal for generated robot tasks: how closely the program's actions follow its reference program's.

    from dense_rl.robot.task_reward import trace_match_reward
    out = trace_match_reward(batch, tasks, n_runs=5, seed=step)   # RewardOutput(per_token [B, T], summary)

Why: the simulator reward (dense_rl.robot.reward, the paper's) only asks whether a program runs without error.
A tiny policy trained on it alone learned to answer every instruction with `say("workshop")`, which never
fails (LOG.md). Generated robot tasks come with a reference program, so the kit can also ask whether the
program does what the reference does: both run in the same `n_runs` RoboSim worlds, and each run's match is
the similarity of their action sequences (difflib's ratio over (kind, location, argument) of every go_to,
pick, place, say, ask, ...; 1 for the same actions in the same order). The sample's match, the mean over the
runs, is spread uniformly over the program's tokens, like the simulator's success; an answer without a
program gets 0.

What it did: in a 40-step tiny-robot run with w_trace 0.8 (LOG.md) it did not stop the collapse onto a
trivial program. The tiny policy's programs matched their references in 3% of the actions at the start (most
of its programs fail to run, and a failed run's actions match little), too weak a signal against the
simulator's; the presets leave it off (w_trace 0) until it is shown to help.

This component is not in the paper (a departure of the kit). RoboEval's checks are never used: they are for
evaluation only. Robo-Instruct rows (paper-robo) carry a program too, so the same signal is available there.

    >>> go, say = ("go_to", "hall", "kitchen"), ("say", "kitchen", "hi")
    >>> action_match([go], [go, say])  # one of the reference's two actions: 2 * 1 / (1 + 2)
    0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from dense_rl.robot.api import RunOutcome
from dense_rl.robot.prompts import program_region


def actions(outcome: RunOutcome) -> list[tuple[str, str, str]]:
    """The run's robot actions as comparable tuples (kind, location, argument)."""
    return [(e.kind, e.location, e.arg) for e in outcome.trace]


def action_match(a: Sequence[tuple], b: Sequence[tuple]) -> float:
    """Similarity of two action sequences in [0, 1]; two empty sequences match."""
    return SequenceMatcher(None, list(a), list(b), autojunk=False).ratio() if a or b else 1.0


def trace_match_reward(batch, tasks: Sequence, n_runs: int = 5, seed: int = 0, workers: int = 2):
    """RewardOutput: per sample, mean action match with its task's reference over `n_runs` worlds."""
    import torch

    from dense_rl.batch import RewardOutput
    from dense_rl.robot.sandboxed import run_robosim
    from dense_rl.spans import tokens_in_span

    if len(tasks) != len(batch.responses):
        raise ValueError(
            f"trace_match_reward: {len(batch.responses)} responses but {len(tasks)} tasks; pass one each"
        )
    regions = [program_region(text) for text in batch.responses]
    with_code = [i for i, r in enumerate(regions) if r is not None]
    programs = [batch.responses[i][slice(*regions[i])] for i in with_code]
    references = [tasks[i].reference for i in with_code]
    both = run_robosim(programs + references, n_runs=n_runs, seed=seed, workers=workers)
    ran, ref_runs = both[: len(programs)], both[len(programs) :]
    per_token = torch.zeros(batch.response_mask.shape, dtype=torch.float32)
    match = [0.0] * len(batch.responses)
    for i, outcomes, ref_outcomes in zip(with_code, ran, ref_runs, strict=True):
        runs = [action_match(actions(o), actions(r)) for o, r in zip(outcomes, ref_outcomes, strict=True)]
        match[i] = sum(runs) / len(runs)
        code = [t for t in tokens_in_span(batch.token_spans[i], *regions[i]) if t < per_token.shape[1]]
        if code:
            per_token[i, code] = match[i] / len(code)
    return RewardOutput(per_token * batch.response_mask, {"trace_match": match})
