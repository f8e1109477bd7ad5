"""Syntax reward attribution: on single-character mutants of real functions, is the flagged token the first
token after which no completion of the code can be valid Python?

    .venv/bin/python benchmarks/syntax_attribution.py            # 1,200 mutants, about a minute
    .venv/bin/python benchmarks/syntax_attribution.py --n 300    # quicker

Functions: every top-level function of 500 characters or less in a fixed list of pure-Python standard-library
modules of the running interpreter. Mutants: one character deleted, inserted or replaced (from brackets,
quotes, operators, a space, a newline, a letter, a digit) at a seeded random position; only mutants that
compile() rejects are kept. Tokens: a stand-in for a model's tokens, each word, number, run of whitespace or
single other character (the reward maps characters to whatever tokens wrote them).

The reference (first impossible token): scanning token prefixes from the start, the first token whose
prefix has no valid completion. A prefix counts as completable when CPython's parser (compile with
PYCF_ALLOW_INCOMPLETE_INPUT, nothing runs) accepts it or says only "incomplete input", after appending
nothing, one of a few short endings (an operand, a colon, a closing bracket), the brackets still open in the
prefix closed in order followed by a newline and `pass`, or, inside a string, its closing quote
(dense_rl.rewards.syntax.viable_prefix plus the bracket closings). This is a per-token linear scan, not the
reward's binary search, and it tries more completions, so the two can disagree.

Last line (JSON): mutants, first_impossible_token_rate (flagged == reference; target >= 0.90),
before_change_rate (flagged before the mutated token), after_reference_rate (flagged after the reference),
false_positive_rate (unmutated functions flagged; target 0), ms_per_token (reward time / tokens).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import random
import re
import sys
import textwrap
import time

from dense_rl.rewards.syntax import _INCOMPLETE, _compile_error, python_verdict, viable_prefix

MODULES = ("textwrap", "shlex", "difflib", "string", "statistics", "fractions", "heapq", "bisect",
           "calendar", "csv", "json.decoder", "json.encoder", "argparse", "ipaddress", "pprint", "glob",
           "fnmatch", "posixpath", "ntpath", "colorsys", "base64", "quopri", "locale", "gettext",
           "configparser")  # fmt: skip
ALPHABET = "()[]{}:,.=+-*'\" \nax0"
TOKEN = re.compile(r"\s+|\w+|.", re.S)
PAIRS = {"(": ")", "[": "]", "{": "}"}


def functions() -> list[str]:
    found = []
    for name in MODULES:
        source = inspect.getsource(importlib.import_module(name))
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef):
                text = textwrap.dedent(ast.get_source_segment(source, node) or "")
                if 40 < len(text) <= 500:
                    found.append(text)
    return found


def mutate(code: str, rng: random.Random) -> tuple[str, int] | None:
    at = rng.randrange(len(code))
    op, char = rng.choice("dir"), rng.choice(ALPHABET)
    mutant = {
        "d": code[:at] + code[at + 1 :],
        "i": code[:at] + char + code[at:],
        "r": code[:at] + char + code[at + 1 :],
    }[op]
    if mutant == code or _compile_error(mutant, 0) is None:
        return None
    return mutant, at


def _closings(prefix: str) -> str:
    stack = []
    for char in prefix:
        if char in PAIRS:
            stack.append(PAIRS[char])
        elif stack and char == stack[-1]:
            stack.pop()
    return "".join(reversed(stack))


def reference_viable(prefix: str) -> bool:
    if viable_prefix(prefix):
        return True
    error = _compile_error(prefix + _closings(prefix) + "\n    pass\n", _INCOMPLETE)
    return error is None or (isinstance(error, SyntaxError) and error.msg == "incomplete input")


def token_of(starts: list[int], offset: int) -> int:
    index = 0
    for i, start in enumerate(starts):
        if start <= offset:
            index = i
    return index


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1200, help="mutants")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    pool = functions()
    false_positives = sum(not python_verdict(code).valid for code in pool)
    equal = before = after = tokens_total = 0
    seconds, mutants = 0.0, 0
    while mutants < args.n:
        made = mutate(rng.choice(pool), rng)
        if made is None:
            continue
        mutant, at = made
        starts = [m.start() for m in TOKEN.finditer(mutant)]
        ends = [*starts[1:], len(mutant)]
        reference = next(
            (i for i, end in enumerate(ends) if not reference_viable(mutant[:end])), len(starts) - 1
        )
        start = time.perf_counter()
        verdict = python_verdict(mutant)
        seconds += time.perf_counter() - start
        flagged = token_of(starts, min(verdict.error_offset, len(mutant) - 1))
        equal += flagged == reference
        before += flagged < token_of(starts, min(at, len(mutant) - 1))
        after += flagged > reference
        tokens_total += len(starts)
        mutants += 1
        if mutants % 200 == 0:
            print(f"{mutants} mutants: {equal / mutants:.3f} first impossible", file=sys.stderr)
    summary = {
        "mutants": mutants,
        "functions": len(pool),
        "first_impossible_token_rate": round(equal / mutants, 4),
        "before_change_rate": round(before / mutants, 4),
        "after_reference_rate": round(after / mutants, 4),
        "false_positive_rate": round(false_positives / len(pool), 4),
        "ms_per_token": round(1000 * seconds / tokens_total, 4),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
