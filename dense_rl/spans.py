"""Text <-> token attribution: which characters of a response each token produced, and back.

    from dense_rl.spans import code_region, decode_with_spans, tokens_in_span
    text, spans = decode_with_spans(tokenizer, response_ids)   # spans[i] = (start, end) of token i in text
    region = code_region(text)                                 # the fenced ```python block, or the def
    tokens_in_span(spans, *region)                             # the tokens that wrote the code

Every dense reward works in characters (a Ruff diagnostic's columns, the character where the parser gave up,
the line a robot program failed on) and must land on tokens. This module is the one place that translates.

How spans are computed, in one pass over the tokens (linear in the response length):
1. Byte-level BPE tokenizers (GPT-2, Qwen, Llama 3, the kit's tiny one): each token is a run of bytes. The
   bytes go through ONE incremental UTF-8 decoder; the characters it emits while reading token i are token
   i's. A character split across tokens (an emoji over three tokens) belongs to every token holding one of
   its bytes, so spans of neighbours may share that one character; a token holding only a special marker
   (<|im_end|>) gets an empty span at its position.
2. Other fast tokenizers: re-encode the decoded text with `return_offsets_mapping` and use the offsets when
   the re-encoding gives back the same ids.
3. Otherwise: decode token by token, when the pieces add up to the decoded text; else a clear error.
Never decoding growing prefixes (decode(ids[:i]) for every i) keeps this linear; the paper's public code does
the quadratic version (benchmarks/rewards.py measures the difference).
"""

from __future__ import annotations

import bisect
import codecs
import functools
import re

# ```python / ```py / ``` opening a fenced block, at the start of a line
_FENCE_OPEN = re.compile(r"^[ \t]*```[ \t]*(?:python3?|py)?[ \t]*\r?\n", re.IGNORECASE | re.MULTILINE)
_FENCE_CLOSE = re.compile(r"^[ \t]*```", re.MULTILINE)
_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+\w", re.MULTILINE)
_TOP_LEVEL = re.compile(r"^\S", re.MULTILINE)  # a non-blank line that is not indented


def code_region(text: str) -> tuple[int, int] | None:
    """Character span of the program in a response: the first fenced python block, else the first
    top-level `def` up to the next non-indented line, else None.

    An unclosed fence (a truncated response) runs to the end of the text. A block holding only whitespace
    counts as no code.

    >>> text = "Here:\\n```python\\ndef f():\\n    return 1\\n```\\nDone."
    >>> start, end = code_region(text); text[start:end]
    'def f():\\n    return 1\\n'
    """
    fence = _FENCE_OPEN.search(text)
    if fence:
        close = _FENCE_CLOSE.search(text, fence.end())
        start, end = fence.end(), close.start() if close else len(text)
    else:
        found = _DEF.search(text)
        if not found:
            return None
        start = found.start()
        newline = text.find("\n", start)
        after = _TOP_LEVEL.search(text, newline + 1) if newline >= 0 else None
        end = after.start() if after else len(text)
    if not text[start:end].strip():
        return None
    return start, end


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's byte -> printable-character table used by every byte-level BPE.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes are shifted to code points from 256 up,
    in byte order, so every byte has a visible, whitespace-free character.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = {b: chr(b) for b in printable}
    shifted = [b for b in range(256) if b not in chars]
    chars.update({b: chr(256 + i) for i, b in enumerate(shifted)})
    return {c: b for b, c in chars.items()}


def _is_byte_level(tokenizer) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and type(backend.decoder).__name__ == "ByteLevel"


@functools.lru_cache(maxsize=8)
def _token_bytes(tokenizer) -> tuple[list[bytes | None], frozenset[int]]:
    """Per vocabulary id: its bytes (None for a special token) and the set of special ids (built once)."""
    specials = frozenset(tokenizer.all_special_ids)
    added = {i: t.content for i, t in tokenizer.added_tokens_decoder.items()}
    decoder = _byte_decoder()
    table: list[bytes | None] = []
    for i, piece in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
        if i in specials:
            table.append(None)
        elif i in added or piece is None:
            table.append((added.get(i) or "").encode("utf-8"))
        else:
            table.append(
                bytes(decoder[c] for c in piece) if all(c in decoder for c in piece) else piece.encode()
            )
    return table, specials


def _byte_level_spans(tokenizer, ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """One incremental UTF-8 decode over the tokens' bytes (see the module docstring, step 1)."""
    table, _ = _token_bytes(tokenizer)
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    for token in ids:
        if not 0 <= token < len(table):
            raise ValueError(f"token id {token} is outside the tokenizer's vocabulary of {len(table)}")
        raw = table[token]
        piece = utf8.decode(raw) if raw else ""
        pending = bool(utf8.getstate()[0])  # bytes of a character that the next token completes
        pieces.append(piece)
        spans.append((length, length + len(piece) + pending))
        length += len(piece)
    tail = utf8.decode(b"", final=True)  # an unfinished character at the very end becomes U+FFFD
    pieces.append(tail)
    return "".join(pieces), spans


def _offset_spans(tokenizer, ids: list[int]) -> tuple[str, list[tuple[int, int]]] | None:
    """Offsets from re-encoding the decoded text, when that re-encoding reproduces `ids`."""
    if not getattr(tokenizer, "is_fast", False):
        return None
    text = tokenizer.decode(ids, skip_special_tokens=True)
    specials = set(tokenizer.all_special_ids)
    plain = [t for t in ids if t not in specials]
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if encoded["input_ids"] != plain:
        return None
    offsets = iter(encoded["offset_mapping"])
    spans, position = [], 0
    for token in ids:
        if token in specials:
            spans.append((position, position))
        else:
            spans.append(tuple(next(offsets)))
            position = spans[-1][1]
    return text, spans


def _piecewise_spans(tokenizer, ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """Decode each token alone; valid only when the pieces add up to the whole decoded text."""
    text = tokenizer.decode(ids, skip_special_tokens=True)
    pieces = [tokenizer.decode([t], skip_special_tokens=True) for t in ids]
    if "".join(pieces) != text:
        raise ValueError(
            f"cannot attribute characters to tokens for {type(tokenizer).__name__}: it is not byte-level, "
            "its offsets do not reproduce the ids, and tokens do not decode independently. "
            "Use a fast tokenizer."
        )
    spans, position = [], 0
    for piece in pieces:
        spans.append((position, position + len(piece)))
        position += len(piece)
    return text, spans


def decode_with_spans(tokenizer, ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """The response text (special tokens dropped) and each token's (start, end) character span in it."""
    ids = [int(t) for t in ids]
    if _is_byte_level(tokenizer):
        return _byte_level_spans(tokenizer, ids)
    return _offset_spans(tokenizer, ids) or _piecewise_spans(tokenizer, ids)


def token_char_spans(tokenizer, ids: list[int]) -> list[tuple[int, int]]:
    """Each token's (start, end) character span in `tokenizer.decode(ids, skip_special_tokens=True)`."""
    return decode_with_spans(tokenizer, ids)[1]


def tokens_in_span(spans: list[tuple[int, int]], start: int, end: int) -> list[int]:
    """Indices of the tokens whose character span overlaps [start, end).

    An empty span (start == end, e.g. "unexpected end of input") selects the token holding character
    `start`, or the last token that wrote anything before it. Spans are sorted, so this is a binary search.

    >>> tokens_in_span([(0, 3), (3, 4), (4, 9)], 2, 5)
    [0, 1, 2]
    """
    if start == end:
        return _token_at(spans, start)
    first = bisect.bisect_right(spans, start, key=lambda span: span[1])  # spans are sorted by both ends
    found = []
    for i in range(first, len(spans)):
        s, e = spans[i]
        if s >= end:
            break
        if e > s:  # tokens that wrote nothing (special markers) overlap nothing
            found.append(i)
    return found


def _token_at(spans: list[tuple[int, int]], position: int) -> list[int]:
    writers = [i for i, (s, e) in enumerate(spans) if e > s]
    holding = [i for i in writers if spans[i][0] <= position < spans[i][1]]
    before = [i for i in writers if spans[i][1] <= position]
    return holding[:1] or before[-1:]


def line_span(text: str, region: tuple[int, int], lineno: int) -> tuple[int, int]:
    """Character span in `text` of 1-based line `lineno` of the code region (without its newline).

    >>> text = "x\\n```python\\na = 1\\nb = 2\\n```"
    >>> line_span(text, code_region(text), 2), text[18:23]
    ((18, 23), 'b = 2')
    """
    start, end = region
    if lineno < 1:
        raise ValueError(f"line_span: lineno must be >= 1 (lines are 1-based), got {lineno}")
    position = start
    for _ in range(lineno - 1):
        newline = text.find("\n", position, end)
        if newline < 0:
            raise ValueError(f"line_span: the code region has fewer than {lineno} lines")
        position = newline + 1
    newline = text.find("\n", position, end)
    return position, newline if newline >= 0 else end


def line_starts(code: str) -> list[int]:
    """Offsets at which each line of `code` starts (line 1 at index 0): row/column -> offset in one step.
    Lines end at LF, CRLF or a lone CR, as CPython and Ruff count rows (a sampled answer may hold a CR)."""
    return [0, *(m.end() for m in re.finditer("\r\n|\r|\n", code))]


def code_token_mask(spans: list[tuple[int, int]], region: tuple[int, int] | None) -> list[bool]:
    """True for the tokens that wrote part of the code region; all False when there is no code."""
    mask = [False] * len(spans)
    if region is not None:
        for i in tokens_in_span(spans, *region):
            mask[i] = True
    return mask
