"""Text <-> token attribution: code regions, character spans of tokens, span -> tokens, line -> span.

`toy_tokenizer()` (a byte-level BPE trained in a fraction of a second on a few stdlib modules) is shared
with the reward tests, which import it from here.
"""

from __future__ import annotations

import functools
import inspect
import json.decoder
import random
import string
import textwrap

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from dense_rl.batch import RolloutBatch, spread_over_code
from dense_rl.heatmap import token_heatmap_html
from dense_rl.spans import (
    code_region,
    code_token_mask,
    decode_with_spans,
    line_span,
    line_starts,
    token_char_spans,
    tokens_in_span,
)

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _corpus() -> list[str]:
    sources = [inspect.getsource(module) for module in (textwrap, string, json.decoder, functools)]
    return (
        sources
        + ["Here is the function:\n```python\ndef add(a, b):\n    return a + b\n```\nDone. é ✓ 😀"] * 20
    )


@functools.cache
def toy_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2 / Qwen style), 600 tokens, Qwen-like special tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False,
    )


@functools.cache
def metaspace_tokenizer() -> PreTrainedTokenizerFast:
    """A SentencePiece-like (Metaspace) BPE: not byte-level, so spans come from offsets."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "</s>"], show_progress=False)
    tok.train_from_iterator(_corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<unk>"
    )


def encode(text: str, tokenizer=None, eos: bool = True) -> list[int]:
    tokenizer = tokenizer or toy_tokenizer()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids + [tokenizer.eos_token_id] if eos else ids


def batch_of(*texts: str) -> RolloutBatch:
    """A RolloutBatch of the toy tokenizer's encodings of `texts`, each ending with <|im_end|>."""
    ids = [encode(t) for t in texts]
    return RolloutBatch.from_ids(toy_tokenizer(), ["prompt"] * len(texts), [[1, 2]] * len(texts), ids)


FENCED = "Sure.\n```python\ndef f(x):\n    return x\n```\nDone."
REGIONS = [
    # a fenced python block: the code between the fences
    (FENCED, "def f(x):\n    return x\n"),
    # ```py and a bare ``` also open a block
    ("```py\nx = 1\n```", "x = 1\n"),
    ("```\nx = 1\n```", "x = 1\n"),
    # an unclosed fence (truncated answer) runs to the end
    ("```python\ndef f(x):\n    return (x +", "def f(x):\n    return (x +"),
    # no fence: the first top-level def up to the next non-indented line
    ("Use this:\ndef f(x):\n    return x\n\nIt works.", "def f(x):\n    return x\n\n"),
    # no fence, def on the last line without a newline
    ("def f(): return 1", "def f(): return 1"),
    # no code at all
    ("I cannot help with that.", None),
    # an empty fenced block is no code
    ("```python\n\n```", None),
    # empty response
    ("", None),
]


@pytest.mark.parametrize("text, code", REGIONS)
def test_code_region(text, code):
    region = code_region(text)
    assert (text[region[0] : region[1]] if region else None) == code


SPAN_TEXTS = [
    # plain code
    "def f(x):\n    return x + 1\n",
    # non-ASCII: 2-, 3- and 4-byte characters, some split across byte-level tokens
    "émoji 😀 ✓ 雪 done",
    # a fenced block with prose
    FENCED,
    # only whitespace
    "   \n\t",
]


@pytest.mark.parametrize("text", SPAN_TEXTS)
def test_spans_rebuild_the_decoded_text(text):
    ids = encode(text)
    decoded, spans = decode_with_spans(toy_tokenizer(), ids)
    assert decoded == text == toy_tokenizer().decode(ids, skip_special_tokens=True)
    # every character is written by at least one token, and spans never go backwards
    covered = set().union(*(range(s, e) for s, e in spans))
    assert covered == set(range(len(text)))
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.parametrize(
    "code, starts",
    [
        ("a\nb", [0, 2]),  # LF
        ("a\r\nb", [0, 3]),  # CRLF: one line break, not two
        ("a\rb\rc", [0, 2, 4]),  # a lone CR breaks a line too, as CPython and Ruff count rows
        ("a\n", [0, 2]),  # a final newline starts an empty last line
    ],
)
def test_line_starts(code, starts):
    assert line_starts(code) == starts


def test_a_character_split_across_tokens_belongs_to_each_of_them():
    tok = toy_tokenizer()
    ids = encode("😀", eos=False)
    assert len(ids) > 1  # the toy vocabulary has no merge for these 4 bytes
    assert token_char_spans(tok, ids) == [(0, 1)] * len(ids)


def test_invalid_utf8_is_replaced_not_raised():
    tok = toy_tokenizer()
    lone_lead_byte = tok.convert_tokens_to_ids("Ã")  # 0xC3 alone: the start of a 2-byte character
    text, spans = decode_with_spans(tok, [lone_lead_byte, *encode("x", eos=False)])
    # the lone byte's replacement character also belongs to the token that showed it was incomplete
    assert text == "\ufffdx" and spans == [(0, 1), (0, 2)]


def test_special_tokens_get_empty_spans():
    _, spans = decode_with_spans(toy_tokenizer(), encode("x = 1"))
    assert spans[-1][0] == spans[-1][1] == 5


def test_matches_the_quadratic_prefix_decode():
    # reference: the span of token i is what decoding ids[:i+1] adds to decoding ids[:i]
    tok = toy_tokenizer()
    rng = random.Random(0)
    source = inspect.getsource(textwrap)
    for _ in range(5):
        start = rng.randrange(len(source) - 400)
        ids = encode(source[start : start + 400], eos=False)
        lengths = [len(tok.decode(ids[:i])) for i in range(len(ids) + 1)]
        assert token_char_spans(tok, ids) == list(zip(lengths, lengths[1:], strict=False))


def test_non_byte_level_tokenizer_uses_offsets():
    tok = metaspace_tokenizer()
    text = "def f(x):\n    return x"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    decoded, spans = decode_with_spans(tok, ids)
    assert decoded == tok.decode(ids, skip_special_tokens=True)
    assert "".join(decoded[s:e] for s, e in spans).replace(" ", "") == decoded.replace(" ", "")


def test_token_id_outside_the_vocabulary_raises():
    with pytest.raises(ValueError, match="outside the tokenizer's vocabulary"):
        decode_with_spans(toy_tokenizer(), [10**6])


SPANS = [(0, 3), (3, 4), (4, 4), (4, 9)]
SPAN_QUERIES = [
    # a span inside one token
    (1, 2, [0]),
    # a span across three tokens; the empty (special) token in between is never selected
    (2, 5, [0, 1, 3]),
    # exact token boundaries: [3, 4) is token 1 only
    (3, 4, [1]),
    # an empty span selects the token holding that character
    (5, 5, [3]),
    # an empty span at the very end selects the last token that wrote something
    (9, 9, [3]),
    # beyond the text: nothing
    (20, 25, []),
]


@pytest.mark.parametrize("start, end, tokens", SPAN_QUERIES)
def test_tokens_in_span(start, end, tokens):
    assert tokens_in_span(SPANS, start, end) == tokens


LINES = [
    # the first line of the code region
    (1, "def f(x):"),
    # an indented line
    (2, "    return x"),
    # the empty line after the last newline of the region
    (3, ""),
]


@pytest.mark.parametrize("lineno, line", LINES)
def test_line_span(lineno, line):
    start, end = line_span(FENCED, code_region(FENCED), lineno)
    assert FENCED[start:end] == line


@pytest.mark.parametrize(
    "lineno",
    [
        # lines are 1-based
        0,
        # the region has 3 lines
        4,
    ],
)
def test_line_span_out_of_range_raises(lineno):
    with pytest.raises(ValueError, match="line_span"):
        line_span(FENCED, code_region(FENCED), lineno)


def test_code_token_mask_marks_only_code_tokens():
    batch = batch_of(FENCED)
    mask = code_token_mask(batch.token_spans[0], code_region(FENCED))
    code = "".join(FENCED[s:e] for (s, e), m in zip(batch.token_spans[0], mask, strict=True) if m)
    assert code.strip() == "def f(x):\n    return x"


def test_rollout_batch_pads_right_and_masks():
    batch = batch_of("x = 1", "def f(x):\n    return x\n")
    lengths = batch.response_mask.sum(dim=1).tolist()
    assert lengths == [len(encode("x = 1")), len(encode("def f(x):\n    return x\n"))]
    assert batch.response_ids.shape == (2, max(lengths))
    assert (batch.response_ids[0, lengths[0] :] == toy_tokenizer().pad_token_id).all()


def test_rollout_batch_of_an_empty_response():
    batch = RolloutBatch.from_ids(toy_tokenizer(), ["p"], [[1]], [[]])
    assert batch.responses == [""] and batch.response_ids.shape == (1, 0) and batch.token_spans == [[]]


def test_spread_over_code_keeps_the_total_on_code_tokens():
    batch = batch_of(FENCED, "no code")
    spread = spread_over_code(batch, [0.5, 1.0])
    mask = torch.tensor(code_token_mask(batch.token_spans[0], code_region(FENCED)))
    assert spread[0].sum().item() == pytest.approx(0.5)
    assert (spread[0, : len(mask)][~mask] == 0).all()
    assert spread[1].abs().sum().item() == 0.0  # no code, nothing to spread over


def test_heatmap_html_shows_every_token_in_order():
    batch = batch_of("```python\nx = 1\n```")
    values = torch.arange(batch.response_ids.shape[1], dtype=torch.float32)
    page = token_heatmap_html(batch.responses[0], batch.token_spans[0], values, title="demo")
    shown = [piece.split(">", 1)[1] for piece in page.split("</span>")[:-1]]
    assert len(shown) == len(batch.token_spans[0]) and shown[-1] == "∅"  # the end-of-turn token wrote nothing
    assert f"#{len(shown) - 1}: +{len(shown) - 1:.3f}" in page
