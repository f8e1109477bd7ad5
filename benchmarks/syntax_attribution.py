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
prefix has no valid completion (`reference_viable`). A prefix counts as completable when CPython's parser
(compile with PYCF_ALLOW_INCOMPLETE_INPUT and PyCF_ONLY_AST, nothing runs) accepts it or says only
"incomplete input" after some completion from a fixed product of about 20 x 14 x 6 endings (finish the last
word into a keyword, an operator, number or string; then an operand or clause; then a closing bracket, all
open brackets closed, or a newline; then a colon where the parser asks for one). This is independent code
from the reward's `viable_prefix` (a short list of endings, special cases, binary search over characters),
exhaustive over its product and linear over tokens, so it is slower and the two can disagree.

Last line (JSON): mutants, first_impossible_token_rate (flagged == reference; target >= 0.90),
before_change_rate (flagged before the mutated token), after_reference_rate (flagged after the reference),
false_positive_rate (unmutated functions flagged; target 0), ms_per_token (reward wall time / tokens) and
cpu_ms_per_token (process CPU time / tokens: robust to other load on the machine; target <= 1).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import itertools
import json
import keyword
import random
import re
import sys
import textwrap
import time
import warnings

from dense_rl.rewards.syntax import (
    PYCF_ALLOW_INCOMPLETE_INPUT,
    PYCF_DONT_IMPLY_DEDENT,
    _compile_error,
    python_verdict,
)

MODULES = ("textwrap", "shlex", "difflib", "string", "statistics", "fractions", "heapq", "bisect",
           "calendar", "csv", "json.decoder", "json.encoder", "argparse", "ipaddress", "pprint", "glob",
           "fnmatch", "posixpath", "ntpath", "colorsys", "base64", "quopri", "locale", "gettext",
           "configparser")  # fmt: skip
ALPHABET = "()[]{}:,.=+-*'\" \nax0"
TOKEN = re.compile(r"\s+|\w+|.", re.S)
PAIRS = {"(": ")", "[": "]", "{": "}"}
KEYWORDS = keyword.kwlist + keyword.softkwlist


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


# The reference's completions: finish the last token, add an operand or clause, close, then maybe a colon.
FINISH = ("", "=", ">", "*", "/", "<", "1", "x1", "j", "'", '"', "'''", '"""', "}'", '}"', "a}'", 'a}"')
OPERAND = ("", " a", "a", " 0", "()", " a(", " a else a", " else a", " in a", " a in a", " import a",
           " a import a", " for a in a", " a for a in a")  # fmt: skip
CLOSE = ("", ")", "]", "}", "\n")
PARSE = PYCF_DONT_IMPLY_DEDENT | PYCF_ALLOW_INCOMPLETE_INPUT | ast.PyCF_ONLY_AST


def _parses(text: str) -> bool:
    """CPython's parser accepts `text` as a program or as unfinished input, after a colon if it asks one."""
    for candidate in (text, text + ":"):
        try:
            compile(candidate, "<reference>", "exec", flags=PARSE, dont_inherit=True)
            return True
        except SyntaxError as error:
            if error.msg == "incomplete input":
                return True
            if error.msg != "expected ':'":
                return False
        except (ValueError, RecursionError, MemoryError):
            return False
    return False


def reference_viable(prefix: str) -> bool:
    """Some completion from a fixed product (finish the last word into each keyword it starts, or the last
    operator, number or string; an operand or clause; a closing bracket, the naive closing of every open
    bracket, or a newline; a colon where asked) parses. Independent of the reward's viable_prefix."""
    word = re.search(r"[A-Za-z_]\w*$", prefix)
    rests = [kw[len(word.group()) :] + " " for kw in KEYWORDS if word and kw.startswith(word.group())]
    closes = (*CLOSE, _closings(prefix))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for finish, operand, close in itertools.product((*FINISH, *rests), OPERAND, closes):
            if _parses(prefix + finish + operand + close):
                return True
    return False


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
    seconds, cpu_seconds, mutants = 0.0, 0.0, 0
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
        start, start_cpu = time.perf_counter(), time.process_time()
        verdict = python_verdict(mutant)
        seconds += time.perf_counter() - start
        cpu_seconds += time.process_time() - start_cpu
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
        "cpu_ms_per_token": round(1000 * cpu_seconds / tokens_total, 4),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
