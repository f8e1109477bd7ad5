"""Benchmark: the dense code rewards, measured side by side with the slower ways of doing the same thing.

    .venv/bin/python benchmarks/rewards.py --quick     # about a minute (plus a one-time SynCode build)
    .venv/bin/python benchmarks/rewards.py             # larger corpora, a few minutes

Measures, in one run, on 2 cores (prints progress; the last line is one JSON object):
- attribution_speedup_vs_prefix_decode: character -> token attribution on 256-token responses (locate the
  code block, then the first token of every code line). Ours: one incremental decode with spans
  (dense_rl.spans). Peer: what the paper's public code does, decoding growing prefixes: one scan with
  whitespace normalisation to find the code block, one to find line starts. Target >= 20.
- syntax_ms_per_token: the syntax reward (one CPython parse per answer) per response token. Target <= 1.0.
  syncode_is_valid_ms_per_token: SynCode's per-token `is_valid`, the paper's judge, on the same tokens.
- ruff_batch64_seconds: the lint reward on a batch of 64 responses (one Ruff process). Target <= 0.3.
- sandbox_programs_per_second: trivial programs through run_programs with 2 workers. Target >= 20.
  unit_test_programs_per_second: the same through run_unit_tests (harness + 3 asserts each).
  evalplus_programs_per_second: EvalPlus's `untrusted_check` on the same function, 2 threads, as the peer.
- syncode_python_disagreement_rate: share of programs where SynCode and CPython disagree on whether the
  code contains a token after which it can no longer be valid Python. Corpus: standard-library functions
  (real code), the kit's generated task references and broken variants of them (a character dropped,
  an operator doubled, a line cut short). Both false alarms (SynCode flags valid code) and misses count.
The tokenizer is the kit's tiny one when it is built, else the same byte-level BPE recipe trained here on
standard-library source (vocabulary 2048); the JSON says which.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import random
import statistics
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

from dense_rl.batch import RolloutBatch
from dense_rl.rewards.lint import lint_reward
from dense_rl.rewards.syntax import python_verdict, syncode_first_invalid, syncode_processor, syntax_reward
from dense_rl.rewards.tests import run_unit_tests
from dense_rl.sandbox import bwrap_available, run_programs
from dense_rl.spans import code_region, decode_with_spans, line_span, tokens_in_span
from dense_rl.tasks.code_tasks import generate_code_tasks
from dense_rl.tiny import TinySpec, cache_dir, train_tokenizer

STDLIB = ("textwrap", "string", "json.decoder", "functools", "heapq", "bisect", "fractions", "statistics")
STDLIB += ("shlex", "difflib", "calendar", "colorsys", "ipaddress", "glob", "fnmatch", "base64")
RESPONSE_TOKENS = 256


def stdlib_functions(limit: int) -> list[str]:
    """Top-level functions and methods of a few standard-library modules, dedented, that compile alone."""
    found = []
    for name in STDLIB:
        source = inspect.getsource(importlib.import_module(name))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                code = textwrap.dedent(ast.get_source_segment(source, node) or "")
                if code and python_verdict(code).valid and len(code) < 3000:
                    found.append(code)
    return random.Random(0).sample(found, min(limit, len(found)))


def load_tokenizer() -> tuple[object, str]:
    built = cache_dir() / TinySpec().folder_name()
    if built.exists():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(built), "tiny policy tokenizer"
    corpus = [inspect.getsource(importlib.import_module(name)) for name in STDLIB]
    return train_tokenizer(corpus, 2048), "byte-level BPE trained on stdlib source (tiny recipe)"


def responses_of(tokenizer, functions: list[str], n: int) -> list[list[int]]:
    """n responses of exactly RESPONSE_TOKENS tokens: prose, then a fenced block of functions (cut off)."""
    rng = random.Random(1)
    out = []
    while len(out) < n:
        body = "\n\n".join(rng.sample(functions, 4))
        text = f"Here is a solution.\n```python\n{body}\n```\nIt handles every case."
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) >= RESPONSE_TOKENS:
            out.append(ids[:RESPONSE_TOKENS])
    return out


def attribution_ours(tokenizer, ids: list[int]) -> list[int]:
    """First token of every code line: one decode with spans, then binary searches."""
    text, spans = decode_with_spans(tokenizer, ids)
    region = code_region(text)
    if region is None:
        return []
    firsts = []
    for lineno in range(1, text.count("\n", *region) + 2):
        start, end = line_span(text, region, lineno)
        found = tokens_in_span(spans, start, max(end, start + 1))
        firsts.append(found[0] if found else -1)
    return firsts


def attribution_prefix_decode(tokenizer, ids: list[int]) -> list[int]:
    """The same by decoding growing prefixes (quadratic): a scan for the fence, a scan for line starts."""
    start = None
    for i in range(1, len(ids) + 1):
        prefix = " ".join(tokenizer.decode(ids[:i]).split())  # whitespace-normalised, as the paper's code
        if "```python" in prefix:
            start = i + 1  # the token after the fence's newline
            break
    if start is None:
        return []
    firsts, seen = [start], 0
    for j in range(start + 1, len(ids) + 1):
        lines = tokenizer.decode(ids[start:j]).count("\n")
        if lines > seen:
            firsts.append(j)
            seen = lines
    return firsts


def timed(fn, *args, repeats: int = 1) -> float:
    """Median wall seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def broken_variants(code: str, rng: random.Random) -> list[str]:
    """Three ways generated code goes wrong: a dropped character, a doubled operator, a cut-off line."""
    i = rng.randrange(len(code))
    cut = code.rstrip().rsplit("\n", 1)[0] + "\n    return (" if "\n" in code.strip() else code + " +"
    return [code[:i] + code[i + 1 :], code.replace(" = ", " = = ", 1), cut]


def disagreement(tokenizer, programs: list[str]) -> dict:
    """SynCode (per-token prefix check) against CPython on every program; counts by kind."""
    counts = dict.fromkeys(
        ("programs", "agree", "syncode_flags_valid", "syncode_flags_incomplete", "syncode_misses"), 0
    )
    for code in programs:
        verdict = python_verdict(code)
        python_flags = not verdict.valid and not verdict.incomplete  # incomplete code is still a valid prefix
        ids = tokenizer(code, add_special_tokens=False)["input_ids"]
        syncode_flags = syncode_first_invalid(tokenizer, ids) is not None
        counts["programs"] += 1
        if syncode_flags == python_flags:
            counts["agree"] += 1
        elif syncode_flags:
            counts["syncode_flags_valid" if verdict.valid else "syncode_flags_incomplete"] += 1
        else:
            counts["syncode_misses"] += 1
    return counts


def throughput(run, n: int) -> float:
    t0 = time.perf_counter()
    run(n)
    return n / (time.perf_counter() - t0)


def evalplus_throughput(n: int) -> float:
    from evalplus.eval import untrusted_check

    def one(_):
        return untrusted_check(
            "humaneval", "def f(x):\n    return x\n", [[1]], "f", [1], 0, [0.001], fast_check=True
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        t0 = time.perf_counter()
        statuses = list(pool.map(one, range(n)))
        seconds = time.perf_counter() - t0
    assert all(status == "pass" for status, _ in statuses), statuses[:3]
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpora: about a minute")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # EvalPlus forks after the tokenizer ran
    size = dict(responses=8, syncode_responses=2, real=10, generated=8, programs=40, evalplus=20)
    if not args.quick:
        size = dict(responses=32, syncode_responses=6, real=60, generated=40, programs=100, evalplus=60)
    result: dict = {
        "benchmark": "rewards",
        "quick": args.quick,
        "sandbox": "bwrap" if bwrap_available() else "rlimits",
    }

    tokenizer, result["tokenizer"] = load_tokenizer()
    functions = stdlib_functions(200)
    responses = responses_of(tokenizer, functions, size["responses"])
    print(
        f"tokenizer: {result['tokenizer']} ({len(tokenizer)} tokens); "
        f"{len(responses)} responses of {RESPONSE_TOKENS} tokens"
    )

    # 1. attribution: ours vs decoding growing prefixes, on the same responses
    ours = sum(timed(attribution_ours, tokenizer, r, repeats=3) for r in responses)
    peer = sum(timed(attribution_prefix_decode, tokenizer, r) for r in responses)
    result["attribution_ms_per_response"] = round(1000 * ours / len(responses), 3)
    result["prefix_decode_ms_per_response"] = round(1000 * peer / len(responses), 3)
    result["attribution_speedup_vs_prefix_decode"] = round(peer / ours, 1)
    print(
        f"attribution: ours {result['attribution_ms_per_response']} ms, prefix decode "
        f"{result['prefix_decode_ms_per_response']} ms per response"
    )

    # 2. syntax: one CPython parse per answer vs SynCode's per-token check
    broken = [r[:-40] for r in responses[: len(responses) // 2]]  # cut mid-code: the incomplete path too
    batch = RolloutBatch.from_ids(
        tokenizer, [""] * len(responses + broken), [[]] * len(responses + broken), responses + broken
    )
    n_tokens = int(batch.response_mask.sum())
    result["syntax_ms_per_token"] = round(1000 * timed(syntax_reward, batch, repeats=3) / n_tokens, 4)
    t0 = time.perf_counter()
    syncode_processor(tokenizer)  # one-time mask store build (cached on disk), not part of the per-token cost
    result["syncode_setup_seconds"] = round(time.perf_counter() - t0, 1)
    syncode_tokens, syncode_seconds = 0, 0.0
    for text, spans, ids in list(zip(batch.responses, batch.token_spans, responses, strict=False))[
        : size["syncode_responses"]
    ]:
        code_tokens = tokens_in_span(spans, *code_region(text))
        syncode_seconds += timed(syncode_first_invalid, tokenizer, [ids[i] for i in code_tokens])
        syncode_tokens += len(code_tokens)
    result["syncode_is_valid_ms_per_token"] = round(1000 * syncode_seconds / syncode_tokens, 3)
    print(
        f"syntax: {result['syntax_ms_per_token']} ms/token; SynCode is_valid "
        f"{result['syncode_is_valid_ms_per_token']} ms/token"
    )

    # 3. ruff: one process for a batch of 64 answers
    lint_batch = RolloutBatch.from_ids(tokenizer, [""] * 64, [[]] * 64, (responses * 64)[:64])
    lint_reward(lint_batch)  # warm the file system cache and the binary
    result["ruff_batch64_seconds"] = round(timed(lint_reward, lint_batch, repeats=3), 3)
    print(f"ruff: {result['ruff_batch64_seconds']} s per batch of 64")

    # 4. sandbox throughput, ours and EvalPlus's
    run_programs(["pass"] * 4)  # the bubblewrap probe happens once, before timing
    result["sandbox_programs_per_second"] = round(
        throughput(lambda n: run_programs(["print(1)"] * n), size["programs"]), 1
    )
    tests = ["assert f(1) == 1", "assert f(2) == 2", "assert f('a') == 'a'"]
    result["unit_test_programs_per_second"] = round(
        throughput(
            lambda n: run_unit_tests(["def f(x):\n    return x\n"] * n, [tests] * n), size["programs"]
        ),
        1,
    )
    result["evalplus_programs_per_second"] = round(evalplus_throughput(size["evalplus"]), 1)
    print(
        f"sandbox: {result['sandbox_programs_per_second']} programs/s; unit tests "
        f"{result['unit_test_programs_per_second']}/s; "
        f"EvalPlus untrusted_check {result['evalplus_programs_per_second']}/s"
    )

    # 5. where SynCode and CPython disagree
    rng = random.Random(2)
    real = stdlib_functions(size["real"])
    generated = [t.reference for t in generate_code_tasks(size["generated"], "train", seed=0)]
    mutated = [variant for code in generated for variant in broken_variants(code, rng)]
    counts = {
        name: disagreement(tokenizer, corpus)
        for name, corpus in (("stdlib", real), ("generated", generated), ("generated_broken", mutated))
    }
    total = sum(c["programs"] for c in counts.values())
    result["syncode_python_disagreement_rate"] = round(
        1 - sum(c["agree"] for c in counts.values()) / total, 3
    )
    result["disagreement_corpus_size"] = total
    result["disagreement_by_corpus"] = counts
    print(f"disagreement: {result['syncode_python_disagreement_rate']} over {total} programs: {counts}")
    result["targets"] = {
        "attribution_speedup_vs_prefix_decode": ">= 20",
        "syntax_ms_per_token": "<= 1.0",
        "ruff_batch64_seconds": "<= 0.3",
        "sandbox_programs_per_second": ">= 20",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
