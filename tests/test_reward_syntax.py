"""Syntax reward: the token where Python gives up is flagged, valid code is never penalised."""

from __future__ import annotations

import pytest
import torch
from test_spans import batch_of, encode, toy_tokenizer

from dense_rl.rewards.syntax import python_verdict, syncode_first_invalid, syntax_reward
from dense_rl.spans import code_region


def fenced(code: str) -> str:
    return f"Here you go:\n```python\n{code}\n```\nHope it helps."


INVALID = [
    # the first token after which no completion of the code is valid Python is flagged:
    # a doubled operator: the second "="
    ("x = = 1", "= 1"),
    # a missing colon after the def header: the newline that came too early
    ("def f(x)\n    return x", "\n    return"),
    # two expressions without an operator or comma: the second one (Python itself points at the first)
    ("print(a b)", "b)"),
    # a keyword used as a name: `def clas` could still be a name, `def class` cannot
    ("def class(x):\n    return x", "s(x)"),
    # an unterminated single-quoted string: the newline that ends its line (the quote itself was fine)
    ("s = 'abc\ny = 1", "\ny = 1"),
    # a stray closing bracket
    ("x = 1]", "]"),
    # a dedent to a level that never existed: the word after it (more spaces could still have matched)
    ("def f(x):\n    if x:\n        return 1\n      return 2", "return 2"),
    # a line of indentation only is viable (a blank line may follow): the stray bracket after it is flagged
    ("def f(x):\n    y = 1\n   }", "}"),
    # `=` may still become `==`, and the clause then lacks only its colon: the stray `=` of `= =` is flagged
    ("def f(m):\n    if m = = 12:\n        return 1", "= 12"),
    # a header that lacks only its colon is viable; the newline that ends it is flagged
    ("def f(x)\n    return x", "\n    return"),
    # `-` may still become `->` of a return annotation: the stray `)` after it is flagged
    ("def f(x) -) int:\n    return x", ") int"),
    # `*` may still become `**`: the stray `=` after it is flagged
    ("def f(*a, *=1):\n    return a", "=1"),
    # a word that starts a keyword inside an open bracket (`i` -> `if`): the next line's error is flagged
    ("x = f(a\n      i b)", "b)"),
    # a later error of the compiler's checks (parses, does not compile): where CPython reports it
    ("def f():\n    x = 1\nreturn x", "return x"),
    # a parser error before a tokenizer error further down: the earlier one (CPython reports the later)
    ("def g():\n    x = a b\n    y = 1\n    return 'oops", "b\n    y"),
    # ending inside a word that a keyword continues (`1 i` -> `1 if`) is no error; the newline after it is
    ("x = 1 i\ny = 2", "\ny = 2"),
    # a lone carriage return ends a line for CPython, so it ends a single-quoted string as \n does
    ("s = 'abc\ry = 1", "\ry = 1"),
]


@pytest.mark.parametrize("code, at", INVALID)
def test_known_invalid_snippets_flag_the_right_token(code, at):
    batch = batch_of(fenced(code))
    out = syntax_reward(batch)
    flagged = (out.per_token[0] == -1).nonzero().flatten().tolist()
    assert len(flagged) == 1
    start, end = batch.token_spans[0][flagged[0]]
    position = batch.responses[0].index(code) + code.index(at)
    assert start <= position < end, (batch.responses[0][start:end], at)


SYNCODE_TRIPS = [
    # a raw string literal split across tokens
    'x = r"12"',
    # a docstring whose sentence ends right at the closing quotes
    'def f():\n    """Return one."""\n    return 1',
    # a triple-quoted string
    "s = '''a'''",
]


@pytest.mark.parametrize("code", SYNCODE_TRIPS)
def test_valid_code_is_never_penalised(code):
    out = syntax_reward(batch_of(fenced(code)))
    assert (out.per_token >= 0).all() and out.summary["syntax_valid"] == [1.0]


@pytest.mark.slow
@pytest.mark.parametrize("code", SYNCODE_TRIPS[:1])
def test_syncode_trips_on_valid_code_but_the_syncode_judge_still_does_not_penalise(
    code, tmp_path, monkeypatch
):
    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path))  # SynCode's mask store for the toy tokenizer
    assert syncode_first_invalid(toy_tokenizer(), encode(code, eos=False)) is not None
    out = syntax_reward(batch_of(fenced(code)), judge="syncode", tokenizer=toy_tokenizer())
    assert (out.per_token >= 0).all()


def test_signed_scheme_rewards_valid_tokens_then_flags_one_and_stops():
    batch = batch_of(fenced("y = 2\nx = = 1\nz = 3"))
    rewards = syntax_reward(batch, scheme="signed").per_token[0]
    bad = (rewards == -1).nonzero().item()
    code_tokens = [i for i, (s, e) in enumerate(batch.token_spans[0]) if e > s and i < bad]
    region_start = code_region(batch.responses[0])[0]
    before = [i for i in code_tokens if batch.token_spans[0][i][1] > region_start]
    assert rewards[before].eq(1).all()  # every code token before the error: +1
    assert rewards[bad + 1 :].eq(0).all()  # after it: nothing
    assert rewards[: before[0]].eq(0).all()  # the prose before the code: nothing


def test_penalty_scheme_only_flags():
    out = syntax_reward(batch_of(fenced("x = = 1"), fenced("x = 1")), scheme="penalty")
    assert out.per_token[0].sum().item() == -1.0 and out.per_token[1].abs().sum().item() == 0.0


BAD_INPUTS = [
    # empty response (only the end-of-turn token): -1 on it, counted as not valid
    ("", -1.0, 0.0, 0.0),
    # prose only: -1 on its last token, never better than broken code
    ("I would rather not.", -1.0, 0.0, 0.0),
    # truncated code: the last code token carries the -1
    ("```python\ndef f(x):\n    return (x +", None, 0.0, 1.0),
    # non-ASCII identifiers and strings are valid Python
    (fenced("def größe(ß):\n    return 'é✓雪' + ß"), None, 1.0, 1.0),
]


@pytest.mark.parametrize("text, total, valid, has_code", BAD_INPUTS)
def test_bad_inputs_get_defined_rewards(text, total, valid, has_code):
    out = syntax_reward(batch_of(text), scheme="penalty")
    assert out.summary["syntax_valid"] == [valid] and out.summary["has_code"] == [has_code]
    if total is not None:
        assert out.per_token.sum().item() == total


def test_truncated_code_flags_its_last_code_token():
    batch = batch_of("```python\ndef f(x):\n    return (x +")
    rewards = syntax_reward(batch).per_token[0]
    last_code = max(i for i, (s, e) in enumerate(batch.token_spans[0]) if e > s)
    assert rewards[last_code].item() == -1.0


@pytest.mark.parametrize(
    "code, incomplete",
    [
        # a bracket left open at the end
        ("x = (1 +", True),
        # a block header with no body
        ("def f(x):", True),
        # a real error in the middle
        ("x = = 1", False),
        # null bytes are rejected, not crashed on
        ("x = 1\0", False),
        # a sampled answer with a carriage return inside a string: once sent the check round in circles
        ("def f(s):\n    return w[:5] == 'it\r:\n        if x '_'(\"\",c'\n    return ' ' ']\n", False),
    ],
)
def test_python_verdict_tells_incomplete_from_invalid(code, incomplete):
    verdict = python_verdict(code)
    assert not verdict.valid and verdict.incomplete == incomplete


def test_padding_gets_no_reward():
    batch = batch_of("x", fenced("def f(x):\n    return x"))
    out = syntax_reward(batch)
    assert out.per_token[~batch.response_mask].eq(0).all()
    assert out.per_token.dtype == torch.float32


@pytest.mark.parametrize(
    "kwargs",
    [
        # unknown scheme
        {"scheme": "bonus"},
        # unknown judge
        {"judge": "lark"},
        # the syncode judge needs the tokenizer
        {"judge": "syncode"},
    ],
)
def test_bad_options_raise(kwargs):
    with pytest.raises(ValueError, match="syntax_reward"):
        syntax_reward(batch_of("x"), **kwargs)
