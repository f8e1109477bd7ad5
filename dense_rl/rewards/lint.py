"""Lint reward: Ruff's diagnostics on the generated code, each landing on exactly the tokens it points at.

    from dense_rl.rewards.lint import lint_reward, ruff_diagnostics
    ruff_diagnostics(["def f(x=[]):\\n    return eval(x)\\n"])[0]    # [Diagnostic('B006', ...), ...]
    out = lint_reward(batch)                                         # RewardOutput: per_token [B, T]

In numbered steps:
1. The code region of every response in the batch (dense_rl.spans) is written to its own file in one
   temporary folder, and ONE `ruff check --output-format json --isolated` process checks them all (a
   process per snippet costs ~4 ms each; one call over a batch of 64 costs about as much as a single one).
2. Each diagnostic's start and end (1-based row, 1-based character column) become a character span of the
   code, then of the response, then exactly the tokens overlapping that span: `x == None` penalises the
   tokens of `x == None`, not the whole line. A zero-width diagnostic lands on the token at that point.
3. Every covered token gets -weight of the diagnostic's category; diagnostics add up on shared tokens.
   Categories, each with its own weight (LINT_WEIGHTS):
   - syntax:   Ruff's `invalid-syntax` (weight 0 by default: the syntax reward owns syntax errors);
   - bug:      likely bugs: pyflakes F (undefined names, unused variables...), bugbear B, E71/E72
               (comparisons to None/True, type comparisons, bare except), pylint errors PLE;
   - security: bandit S (eval, exec, shell=True, pickle, hard-coded passwords...);
   - style:    the rest (pycodestyle E/W incl. multiple statements per line and lambda assignment,
               unused imports, redefinitions).
Prose tokens outside the code region get 0, and so does a response without code.

Rules: RULES is selected; IGNORED_RULES are left out because they punish what every snippet must do:
S101 (assert: tests and contracts use it), W292/W391 (a snippet's end of file is wherever the answer's code
block ended). Ruff stops reporting AST rules (F, B, S...) on a file that has a syntax error; the syntax
reward covers such files.

Names the runtime defines: a robot program calls go_to, say, ask... without importing them (the simulator
puts them in its globals), so Ruff reads each call as F821 "undefined name", a likely bug. Unfixed, the
reference program of a five-call task scored -5 from lint alone, and a PPO run learned to write no calls at
all (LOG.md). `builtins` (dense_rl.robot.api.PROGRAM_GLOBALS for robot programs) declares them to Ruff.

Where this departs from the paper: the paper maps each Ruff diagnostic to the tokens of its whole line(s) by
decoding growing prefixes; here the span is column-exact and found in linear time, and categories carry
different weights instead of one penalty for all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from dense_rl.batch import RewardOutput, RolloutBatch
from dense_rl.spans import code_region, line_starts, tokens_in_span

RULES = ("F", "E", "W", "B", "S", "PLE")
IGNORED_RULES = ("S101", "W292", "W391")
LINT_WEIGHTS = {"syntax": 0.0, "bug": 1.0, "security": 1.0, "style": 0.2}
STYLE_EXCEPTIONS = ("F401", "F811")  # pyflakes codes that are style, not bugs


@dataclass(frozen=True)
class Diagnostic:
    """One Ruff finding in a snippet: code (e.g. "F821", "invalid-syntax"), character span [start, end)."""

    code: str
    message: str
    start: int
    end: int

    @property
    def category(self) -> str:
        return category(self.code)


def category(code: str) -> str:
    """'syntax' | 'bug' | 'security' | 'style' for a Ruff rule code (see the module docstring)."""
    if code in ("invalid-syntax", "E999", "syntax-error"):
        return "syntax"
    if code in STYLE_EXCEPTIONS:
        return "style"
    if code.startswith(("F", "B", "E71", "E72", "PLE")):
        return "bug"
    if code.startswith("S"):
        return "security"
    return "style"


def ruff_binary() -> str:
    """The ruff executable of this environment (installed with the kit), else ruff's own finder, else PATH."""
    beside = Path(sys.executable).parent / "ruff"
    if beside.exists():
        return str(beside)
    try:
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise FileNotFoundError(
                "ruff is not installed: `pip install ruff` (it is a kit dependency)"
            ) from None
        return found


def ruff_diagnostics(
    snippets: Sequence[str], *, rules: Sequence[str] = RULES, builtins: Sequence[str] = ()
) -> list[list[Diagnostic]]:
    """Ruff's diagnostics for every snippet, from ONE ruff process, as character spans of each snippet.

    `builtins`: names the snippets' runtime defines (never reported as undefined)."""
    found: list[list[Diagnostic]] = [[] for _ in snippets]
    if not any(s.strip() for s in snippets):
        return found
    with tempfile.TemporaryDirectory(prefix="dense_rl_ruff_") as folder:
        for i, snippet in enumerate(snippets):
            Path(folder, f"s{i}.py").write_text(snippet, encoding="utf-8")
        command = [
            ruff_binary(),
            "check",
            "--output-format",
            "json",
            "--isolated",
            "--no-cache",
            "--exit-zero",
        ]
        if builtins:
            command += ["--config", f"builtins = {json.dumps(list(builtins))}"]
        command += ["--select", ",".join(rules), "--ignore", ",".join(IGNORED_RULES), folder]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"ruff failed (exit {done.returncode}): {done.stderr.strip()[:500]}")
    starts = [line_starts(s) for s in snippets]
    for item in json.loads(done.stdout or "[]"):
        i = int(Path(item["filename"]).stem[1:])
        start = _offset(snippets[i], starts[i], item["location"])
        end = max(start, _offset(snippets[i], starts[i], item["end_location"]))
        found[i].append(Diagnostic(item["code"] or "invalid-syntax", item["message"], start, end))
    return found


def _offset(snippet: str, starts: list[int], location: dict) -> int:
    """Ruff's 1-based (row, character column) -> character offset in the snippet, clamped to it."""
    row = min(max(location["row"], 1), len(starts))
    return min(starts[row - 1] + max(location["column"], 1) - 1, len(snippet))


def diagnostic_tokens(
    text: str,
    spans: list[tuple[int, int]],
    region: tuple[int, int],
    diagnostic: Diagnostic,
    granularity: str = "span",
) -> list[int]:
    """The response tokens a diagnostic covers: its own span ("span"), or its whole lines ("line", the
    paper's attribution), shifted from the code to the response."""
    start, end = region[0] + diagnostic.start, region[0] + diagnostic.end
    if granularity == "line":
        start = max(text.rfind("\n", region[0], start) + 1, region[0])
        line_end = text.find("\n", end, region[1])
        end = line_end if line_end >= 0 else region[1]
    return tokens_in_span(spans, start, end)


def lint_reward(
    batch: RolloutBatch,
    tasks: object = None,
    *,
    weights: dict[str, float] | None = None,
    rules: Sequence[str] = RULES,
    granularity: str = "span",
    builtins: Sequence[str] = (),
) -> RewardOutput:
    """Dense lint reward of a batch: -weight[category] on every token a diagnostic covers.

    `tasks` is unused (Ruff needs no reference); `weights` overrides LINT_WEIGHTS per category;
    granularity="line" penalises every token of the diagnostic's lines instead, as the paper does;
    `builtins` are names the code's runtime defines (the robot API for robot programs).

    >>> from transformers import AutoTokenizer
    >>> from dense_rl.tiny import tiny_policy_path
    >>> tok = AutoTokenizer.from_pretrained(tiny_policy_path())     # the kit's tiny tokenizer (built once)
    >>> ids = tok("```python\\nif x == None:\\n    pass\\n```")["input_ids"]
    >>> lint_reward(RolloutBatch.from_ids(tok, [""], [[]], [ids])).summary["lint_bug"]    # E711 and F821
    [2.0]
    """
    weights = {**LINT_WEIGHTS, **(weights or {})}
    if granularity not in ("span", "line"):
        raise ValueError(f"lint_reward: granularity={granularity!r} is not 'span' or 'line'")
    unknown = sorted(set(weights) - set(LINT_WEIGHTS))
    if unknown:
        raise ValueError(f"lint_reward: unknown categories {unknown}; use {sorted(LINT_WEIGHTS)}")
    regions = [code_region(text) for text in batch.responses]
    codes = [text[r[0] : r[1]] if r else "" for text, r in zip(batch.responses, regions, strict=True)]
    diagnostics = ruff_diagnostics(codes, rules=rules, builtins=builtins)
    per_token = torch.zeros(batch.response_ids.shape, dtype=torch.float32)
    summary: dict[str, list[float]] = {f"lint_{name}": [] for name in LINT_WEIGHTS}
    for row, (region, found) in enumerate(zip(regions, diagnostics, strict=True)):
        counts = dict.fromkeys(LINT_WEIGHTS, 0.0)
        for diagnostic in found:
            counts[diagnostic.category] += 1
            tokens = diagnostic_tokens(
                batch.responses[row], batch.token_spans[row], region, diagnostic, granularity
            )
            for token in tokens:
                per_token[row, token] -= weights[diagnostic.category]
        for name, count in counts.items():
            summary[f"lint_{name}"].append(count)
    return RewardOutput(per_token * batch.response_mask, summary)
