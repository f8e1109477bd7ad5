"""Syntax reward: find the token at which the generated program stops being valid Python, and flag it.

    from dense_rl.rewards.syntax import syntax_reward
    out = syntax_reward(batch)                       # RewardOutput: per_token [B, T], summary
    out = syntax_reward(batch, scheme="penalty")     # only the offending token, -1

The paper runs SynCode's incremental Python grammar over the generated tokens: each token that keeps the
program a valid prefix earns +1, the token that breaks it earns -1. Here, in numbered steps:
1. Take the code region of the response (the fenced block, else the function; dense_rl.spans).
2. Ask Python itself: `compile()` the code once (it parses; nothing runs). Accepted code is never penalised.
3. Rejected code: the flagged character is the last one of the shortest prefix that no completion can make
   valid Python (`first_impossible_offset`: a binary search over prefixes with `viable_prefix`, which asks
   CPython's parser in its "incomplete input" mode, after short endings (an operand, a clause, a closing
   bracket, a colon the clause lacks), closing an open string, finishing a word into a keyword; a line of
   indentation only is as viable as the lines before it). So an early parser error is found even where
   CPython reports a tokenizer error further down, and an opening quote or bracket is not blamed for
   what breaks later.
   When every prefix is viable (an open bracket, block or string at the end: a truncated answer), the
   last code token is flagged. benchmarks/syntax_attribution.py measures how often this is the reference.
4. That character maps to the token that wrote it (the emitted token, not a re-tokenisation).
5. Scheme "signed" (the paper): +1 on every code token before the offending one, -1 on it. Scheme "penalty":
   only the -1. Tokens after the offending token get 0 in both: once the program is broken, a parser has
   nothing reliable to say about what follows. Prose tokens outside the code region always get 0.
A response with no code at all gets -1 on its last token: an answer without a program must never score
better than a broken one, or PPO learns to stop writing code (it did, on tiny-robot: LOG.md).

Where this departs from the paper, and why:
- The judge is CPython's parser, one full-program parse per answer, not SynCode's per-token check.
  SynCode re-lexes the whole prefix at every token (milliseconds per token; benchmarks/rewards.py) and
  flags some valid Python: string literals split across tokens (`r"12"`), docstrings whose last sentence
  ends right at the closing quotes. It also misses some errors (an unterminated single-quoted string
  followed by a newline). `syncode_first_invalid` is kept as the slow reference, and
  `syntax_reward(..., judge="syncode")` uses it, still never penalising code that compile() accepts;
  benchmarks/rewards.py measures how often the two judges disagree.
- A truncated answer is flagged on its last code token (SynCode, judging prefixes, would let it pass):
  the answer ended where the program could not.
- A dedent to an indentation level that never existed is flagged on the first token after the
  indentation (more spaces could still have matched); an error of the compiler's checks (the code parses)
  is flagged where CPython reports it.
- Viability is judged by CPython's parser plus a fixed set of completions, not a grammar: a prefix that
  needs an unusual completion (an f-string open at a brace) can be flagged early.

What this covers: anything CPython's parser rejects, including errors its grammar checks after parsing
(`1 = x`, `return` outside a function). What it does not: names, types, runtime errors (lint and tests).

SynCode's grammar-constrained decoding is available as a generation option: `constrained_sample` (one
answer) or `syncode_logits_processor` (to pass to `model.generate`). Parser crashes on pathological input
(RecursionError, MemoryError) count as an error at the end of the code.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import keyword
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from dense_rl.batch import RewardOutput, RolloutBatch
from dense_rl.spans import code_region, code_token_mask, line_starts, tokens_in_span

SCHEMES = ("signed", "penalty")
JUDGES = ("python", "syncode")
# Flags of codeop: report "incomplete input" instead of an error when the code merely ends too early.
PYCF_DONT_IMPLY_DEDENT = 0x200
PYCF_ALLOW_INCOMPLETE_INPUT = 0x4000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntaxVerdict:
    """Python's verdict on one program.

    valid: compile() accepts it.
    error_offset: character offset in the code where Python gave up (None when valid); len(code) when the
        code is merely incomplete.
    incomplete: the code ends inside an unfinished statement, bracket or string.
    message: the SyntaxError's message ("" when valid).
    """

    valid: bool
    error_offset: int | None = None
    incomplete: bool = False
    message: str = ""


def python_verdict(code: str) -> SyntaxVerdict:
    """Parse `code` with CPython (compile(), which never executes it) and locate the first error.

    >>> python_verdict("x = = 1")
    SyntaxVerdict(valid=False, error_offset=4, incomplete=False, message='invalid syntax')
    >>> python_verdict("def f(x):\\n    return (x +").incomplete
    True
    """
    error = _compile_error(code, 0)
    if error is None:
        return SyntaxVerdict(True)
    if isinstance(error, SyntaxError):
        if _compile_error(code, ast.PyCF_ONLY_AST) is None:  # it parses: a compiler check (`return` at top)
            return SyntaxVerdict(False, _char_offset(code, error), False, error.msg)
        incomplete = viable_prefix(code)
        offset = len(code) if incomplete else first_impossible_offset(code)
        return SyntaxVerdict(False, offset, incomplete, error.msg)
    if isinstance(error, ValueError):  # "source code string cannot contain null bytes"
        return SyntaxVerdict(False, code.index("\0") if "\0" in code else 0, False, str(error))
    return SyntaxVerdict(False, len(code), False, f"{type(error).__name__}: the parser gave up")


_INCOMPLETE = PYCF_DONT_IMPLY_DEDENT | PYCF_ALLOW_INCOMPLETE_INPUT
_PARSE_ONLY = _INCOMPLETE | ast.PyCF_ONLY_AST  # viability is the parser's question: no bytecode (2x faster)
_UNFINISHED_STRING = (
    "unterminated string literal",
    "unterminated triple-quoted string",
    "unterminated f-string",
)
_KEYWORDS = tuple(keyword.kwlist + keyword.softkwlist)
# What may follow a prefix that CPython calls an error only because it ends too early (`x =`, `x.`, `f(a,`,
# `lambda`, `from a`, `-` of `->`, `*` of `**`): a head that finishes the current token or operand, then a
# tail that finishes the clause; a clause that then lacks only its colon (`if x ==0`) gets one.
_HEADS = ("", "0", " 0", "a", " a", "=0", ">a", "*a", "()", " a(")
_TAILS = ("", ")", "]", "}", " in a", " else a", " import a", " a in a", " a import a", " for a in a")
_ENDINGS = tuple(dict.fromkeys(head + tail for head in _HEADS for tail in _TAILS))[1:]
# Errors that an ending appended on a later line cannot repair (reported before the prefix's last line).
_FINAL_ERRORS = (
    "invalid syntax",
    "expected ':'",
    "invalid syntax. Maybe you meant '==' or ':=' instead of '='?",
)
_WORD_END = re.compile(r"[A-Za-z_][A-Za-z_0-9]*$|[0-9][0-9A-Za-z_.]*$")
_BLANK_TAIL = re.compile(r"\n[ \t\f]+$")


MAX_CLOSINGS = 4  # strings closed in a row while deciding one prefix (f-strings nest a few deep at most)


@functools.lru_cache(maxsize=4096)
def viable_prefix(prefix: str, closings: int = 0) -> bool:
    """Whether some completion of `prefix` could still be valid Python (CPython's parser decides):
    it parses, or parsing it as unfinished input says only "incomplete input" (also after one of the short
    _ENDINGS, a colon added where the clause asks for one), or it ends inside a string that closing leaves
    viable, or inside a word or number that some continuation makes viable (`1 i` -> `1 if`, `0x` -> `0x1`),
    or on a line of indentation only (a blank line may follow: viable when the prefix before it is).
    `closings` counts the strings already closed on the way here: past MAX_CLOSINGS the prefix counts as
    viable (no blame where the check cannot decide) rather than recursing without end."""
    blank = _BLANK_TAIL.search(prefix)
    if blank:
        return viable_prefix(prefix[: blank.start() + 1], closings)
    error = _compile_error(prefix, _PARSE_ONLY)
    if error is None or _incomplete(error):
        return True
    if not isinstance(error, SyntaxError):
        return False
    if error.msg == "expected ':'" and _viable_simple(prefix + ":"):
        return True
    last_line = len(line_starts(prefix))
    if error.msg.startswith(_UNFINISHED_STRING):
        return closings >= MAX_CLOSINGS or _viable_closed(prefix, error, last_line, closings)
    if error.msg in _FINAL_ERRORS and (error.lineno or 0) < last_line:
        return False  # the parser stopped before the last line: nothing appended reaches back
    if any(_viable_simple(prefix + ending) for ending in _ENDINGS):
        return True
    word = _WORD_END.search(prefix)
    if word is None:
        return False
    text = word.group()
    rests = [kw[len(text) :] + " " for kw in _KEYWORDS if kw.startswith(text) and kw != text]
    endings = [rest + operand for rest in rests for operand in ("", "a", "a else a", "a import a")]
    endings += ["1", "0", "x1", "j"] if text[0].isdigit() else []
    return any(_viable_simple(prefix + ending) for ending in endings)


def _incomplete(error: Exception) -> bool:
    return isinstance(error, SyntaxError) and error.msg == "incomplete input"


def _viable_closed(prefix: str, error: SyntaxError, last_line: int, closings: int) -> bool:
    """A prefix that ends inside a string: viable if closing the string there leaves a viable prefix (a
    single-quoted one must still be on its last line; an f-string may need its open brace closed first)."""
    triple = "triple" in error.msg
    if not triple and (error.lineno or 0) != last_line:
        return False
    starts = line_starts(prefix)
    position = starts[min(error.lineno or 1, len(starts)) - 1] + max((error.offset or 1) - 1, 0)
    while position < len(prefix) and prefix[position].isalpha():  # f"", rb''
        position += 1
    quote = prefix[position : position + (3 if triple else 1)]
    if not quote or quote[0] not in "'\"":
        return False
    body = prefix[position + len(quote) :]
    closed = prefix + ("x" if body.endswith("\\") else "")
    return any(viable_prefix(closed + brace + quote, closings + 1) for brace in ("", "a}", "}"))


def _viable_simple(prefix: str) -> bool:
    """Parses as (unfinished) input, also after a colon where the clause lacks only that."""
    error = _compile_error(prefix, _PARSE_ONLY)
    if error is None or _incomplete(error):
        return True
    if isinstance(error, SyntaxError) and error.msg == "expected ':'":
        return _incomplete(_compile_error(prefix + ":", _PARSE_ONLY) or SyntaxError("incomplete input"))
    return False


def first_impossible_offset(code: str) -> int:
    """Offset of the character after which no completion of the code can be valid Python: the last
    character of the shortest prefix that is not viable_prefix (binary search, O(log n) prefixes: a prefix
    that cannot be completed stays so when it grows). len(code) when every prefix is viable."""
    low, high = 0, len(code)  # code[:low] is viable; code[:high] is not (or high == len(code))
    if viable_prefix(code):
        return len(code)
    while high - low > 1:
        middle = (low + high) // 2
        if viable_prefix(code[:middle]):
            low = middle
        else:
            high = middle
    return high - 1


def _compile_error(code: str, flags: int) -> Exception | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarning for "\d" and friends: not our business here
        try:
            compile(code, "<answer>", "exec", flags=flags, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            return error
    return None


def _char_offset(code: str, error: SyntaxError) -> int:
    """SyntaxError (1-based line, 1-based character column) -> offset in `code`, clamped to the code."""
    starts = line_starts(code)
    if not error.lineno:
        return len(code)
    line = min(error.lineno, len(starts)) - 1
    # a dedent to no known level is reported at the end of its line; the culprit is the indentation
    column = 0 if error.msg.startswith("unindent does not match") else max((error.offset or 1) - 1, 0)
    return min(starts[line] + column, len(code))


def offending_token(
    spans: list[tuple[int, int]], region: tuple[int, int], error_offset: int | None
) -> int | None:
    """Index of the token that wrote the character at `error_offset` of the code (the region-relative
    offset); an offset at the end of the code means the last code token."""
    if error_offset is None:
        return None
    start, end = region
    position = start + error_offset
    found = tokens_in_span(spans, position, position + 1) if position < end else []
    if not found:
        code_tokens = tokens_in_span(spans, start, end)
        found = code_tokens[-1:]
    return found[0] if found else None


def token_rewards(code_mask: list[bool], offending: int | None, scheme: str) -> list[float]:
    """Per-token syntax rewards of one response (step 5 of the module docstring)."""
    rewards = [0.0] * len(code_mask)
    for i, is_code in enumerate(code_mask):
        if offending is not None and i >= offending:
            break
        if is_code and scheme == "signed":
            rewards[i] = 1.0
    if offending is not None:
        rewards[offending] = -1.0
    return rewards


def syntax_reward(
    batch: RolloutBatch,
    tasks: object = None,
    *,
    scheme: str = "signed",
    judge: str = "python",
    tokenizer=None,
) -> RewardOutput:
    """Dense syntax reward of a batch: +1 per valid code token / -1 on the offending one (module docstring).

    `tasks` is unused (syntax needs no reference) and accepted so that every component has one signature.
    judge="syncode" needs the `tokenizer` of the batch and builds SynCode's mask store on first use.

    >>> from transformers import AutoTokenizer
    >>> from dense_rl.tiny import tiny_policy_path
    >>> tok = AutoTokenizer.from_pretrained(tiny_policy_path())     # the kit's tiny tokenizer (built once)
    >>> ids = [tok(t)["input_ids"] for t in ("```python\\nx = 1\\n```", "```python\\nx = = 1\\n```")]
    >>> out = syntax_reward(RolloutBatch.from_ids(tok, ["", ""], [[], []], ids))
    >>> out.summary["syntax_valid"], out.per_token.min(dim=1).values.tolist()
    ([1.0, 0.0], [0.0, -1.0])
    """
    if scheme not in SCHEMES:
        raise ValueError(f"syntax_reward: scheme={scheme!r} is not one of {SCHEMES}")
    if judge not in JUDGES:
        raise ValueError(f"syntax_reward: judge={judge!r} is not one of {JUDGES}")
    if judge == "syncode" and tokenizer is None:
        raise ValueError("syntax_reward: judge='syncode' needs tokenizer= (the batch's tokenizer)")
    per_token = torch.zeros(batch.response_ids.shape, dtype=torch.float32)
    summary: dict[str, list[float]] = {"syntax_valid": [], "has_code": [], "syntax_error_token": []}
    for row, (text, spans) in enumerate(zip(batch.responses, batch.token_spans, strict=True)):
        region = code_region(text)
        if region is None:
            last = int(batch.response_mask[row].sum()) - 1
            if last >= 0:  # no code: the answer as a whole is not a program
                per_token[row, last] = -1.0
            summary["syntax_valid"].append(0.0)
            summary["has_code"].append(0.0)
            summary["syntax_error_token"].append(-1.0)
            continue
        verdict = python_verdict(text[region[0] : region[1]])
        offending = offending_token(spans, region, verdict.error_offset)
        if judge == "syncode" and verdict.valid is False:
            offending = _syncode_offending(tokenizer, batch.response_ids[row].tolist(), spans, region)
        rewards = token_rewards(code_token_mask(spans, region), offending, scheme)
        per_token[row, : len(rewards)] = torch.tensor(rewards)
        summary["syntax_valid"].append(float(verdict.valid))
        summary["has_code"].append(1.0)
        summary["syntax_error_token"].append(float(offending) if offending is not None else -1.0)
    return RewardOutput(per_token * batch.response_mask, summary)


# --- SynCode: the slow reference judge and constrained decoding ------------------------------------------


def _import_syncode():
    """Import SynCode without letting it reconfigure the root logger (it installs a stdout handler)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import syncode
        import syncode.mask_store.mask_store as mask_store
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return syncode, mask_store


def syncode_cache_dir(tokenizer) -> Path:
    """One SynCode cache folder per tokenizer (its vocabulary's hash): SynCode's own cache key is the
    tokenizer class name plus vocabulary size, so two different tokenizers would otherwise collide."""
    from dense_rl.tiny import cache_dir

    vocab = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    digest = hashlib.sha1(vocab.encode("utf-8")).hexdigest()[:12]
    return cache_dir() / "syncode" / f"{type(tokenizer).__name__}-{len(tokenizer)}-{digest}"


@functools.lru_cache(maxsize=4)
def syncode_processor(tokenizer, num_samples: int = 1):
    """A SynCode Python-grammar logits processor for `tokenizer` (builds and caches its mask store once:
    about 16 s for a 2k vocabulary, minutes for 32k+)."""
    syncode, mask_store = _import_syncode()
    folder = syncode_cache_dir(tokenizer)
    folder.mkdir(parents=True, exist_ok=True)
    syncode.common.SYNCODE_CACHE = str(folder) + "/"  # SynCode concatenates paths: it must end with "/"
    log.info("SynCode mask store for %s (one-time, cached under %s)", type(tokenizer).__name__, folder)
    quiet_tqdm = functools.partial(mask_store.tqdm, disable=True)
    original, mask_store.tqdm = mask_store.tqdm, quiet_tqdm  # no progress bar in notebooks and logs
    try:
        return syncode.SyncodeLogitsProcessor(
            syncode.Grammar("python"),
            tokenizer,
            parse_output_only=True,
            num_samples=num_samples,
            mode="grammar_mask",
        )
    finally:
        mask_store.tqdm = original


def syncode_logits_processor(tokenizer, num_samples: int = 1):
    """Grammar-constrained decoding: pass as `logits_processor=[...]` to `model.generate` (one prompt,
    `num_samples` sequences; call `.reset()` before each new prompt)."""
    processor = syncode_processor(tokenizer, num_samples)
    processor.reset()
    return processor


@torch.no_grad()
def constrained_sample(
    tokenizer, model, messages: list[dict[str, str]], *, max_new_tokens: int = 64, temperature: float = 1.0
) -> str:
    """One answer to a chat, decoded under SynCode's Python grammar (grammar_mask mode).

    The answer is started with an opened ```python fence (the grammar only knows Python, so the prose and
    the fence a chat model writes around its code would be masked away), and the returned text carries
    that fence. SynCode's mask is an over-approximation: where it cannot decide (it gives up right after
    some newline-and-indentation tokens) it masks nothing, so constrained output can still be invalid.
    """
    processor = syncode_logits_processor(tokenizer)
    prompt = (
        tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + "```python\n"
    )
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False, return_token_type_ids=False)
    sampling = (
        dict(do_sample=True, temperature=temperature, top_k=0) if temperature > 0 else dict(do_sample=False)
    )
    out = model.generate(
        **encoded.to(model.device),
        max_new_tokens=max_new_tokens,
        logits_processor=[processor],
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **sampling,
    )
    return "```python\n" + tokenizer.decode(out[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True)


def syncode_first_invalid(tokenizer, ids: list[int]) -> int | None:
    """The slow reference: index of the first token of `ids` that SynCode's incremental Python parser
    rejects (each token re-parses the prefix), or None when every token keeps a valid prefix."""
    processor = syncode_processor(tokenizer)
    processor.reset()
    prefix = torch.tensor([[tokenizer.pad_token_id or 0]])  # parse_output_only: parsing starts after this
    for i, token in enumerate(ids):
        if not processor.is_valid(prefix, torch.tensor([token])):
            return i
        prefix = torch.cat([prefix, torch.tensor([[token]])], dim=1)
    return None


def _syncode_offending(tokenizer, ids: list[int], spans, region) -> int | None:
    code_tokens = tokens_in_span(spans, *region)
    if not code_tokens:
        return None
    first = syncode_first_invalid(tokenizer, [ids[i] for i in code_tokens])
    return code_tokens[first] if first is not None else None
