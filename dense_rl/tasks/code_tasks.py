"""Generated Python function tasks: the tiny policy's training corpus, RL prompts and held-out benchmark.

    from dense_rl.tasks.code_tasks import generate_code_tasks
    tasks = generate_code_tasks(500, split="heldout", seed=0)
    print(tasks[0].instruction); print(tasks[0].reference); print(tasks[0].tests)

Each task is a natural-language instruction that names a function, a reference solution and assert-based
unit tests. ~40 templates cover arithmetic, conditionals, strings, lists, dicts and loops. Variety is
deliberate, because RL can only reinforce answers the policy sometimes finds:
- function names are random 1-3 word snake_case names (dense_rl.tasks.words): the policy has to copy the name
  from the prompt rather than recall it. Instructions put a space before the name, as the code does
  (`def name`): byte-level BPE gives `` `name`` and `` name`` different tokens, and a 4.7M-parameter model
  copies badly across that gap (with backticked names, held-out pass@1 was 0.228 instead of 0.328);
- constants are drawn from wide ranges (and the tokenizer splits digits), so they must be copied too;
- every template has several phrasings and two or three solution styles, one of which may carry a lint smell
  (e.g. `== True`, an unused variable) that the Ruff reward can later teach away;
- the pre-training answers are noisy on purpose, like code scraped from the web: each template has a typical
  slip (an off-by-one, `>` for `>=`, `min` for `max`, ...) that a share of its answers carry (BUG_RATES). Where
  the slip is the majority, the pre-trained policy's most likely answer is wrong while its samples are
  sometimes right: exactly the situation in which unit-test rewards can teach it something. Only the
  pre-training answers carry slips; every task's reference solution and tests are correct.

Train and held-out tasks never share a function name (names are split by a stable hash) and use different
random streams, so every held-out task is unseen. The expected outputs in the tests come from running the
reference solution, which the kit wrote itself (trusted code, never model output), in this process.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from dense_rl.tasks.types import CodeTask
from dense_rl.tasks.words import WORDS

ARG_NAMES = {
    "int": ("x", "n", "num", "value"),
    "list": ("xs", "nums", "items", "values"),
    "str": ("s", "text", "word"),
    "dict": ("d", "counts", "table"),
}
SECOND_ARG = {"int": ("y", "m", "other"), "str": ("t", "other", "suffix"), "list": ("ys", "others")}

WRAPPERS = (
    "Write a function {sig} that {desc}.",
    "Write a Python function {f}({args}) which {desc}.",
    "Implement {f}({args}): it {desc}.",
    "Create a function named {f} that takes {args} and {desc}.",
    "Define {sig}. The function {desc}.",
)
PREFACES = ("", "", "Here is the function.\n", "Here is {f}:\n")


@dataclass(frozen=True)
class Template:
    """One family of tasks. Strings are formatted with the argument names ({a}, {b}) and constants."""

    name: str
    kinds: tuple[str, ...]  # argument kinds, keys of ARG_NAMES
    descs: tuple[str, ...]  # what the function does, third person ("returns {a} plus {k}")
    bodies: tuple[str, ...]  # solution bodies, 4-space indented, one per style
    consts: Callable[[random.Random], dict]
    inputs: Callable[[random.Random, dict], tuple]


def _ints(lo: int, hi: int, n_lo: int = 0, n_hi: int = 7) -> Callable[[random.Random, dict], tuple]:
    return lambda r, c: ([r.randint(lo, hi) for _ in range(r.randint(n_lo, n_hi))],)


def _word(r: random.Random) -> str:
    return r.choice(WORDS)


def _text(r: random.Random) -> str:
    return " ".join(r.choice(WORDS) for _ in range(r.randint(1, 3)))


NO_CONSTS: Callable[[random.Random], dict] = lambda r: {}  # noqa: E731
INT = lambda r, c: (r.randint(-60, 120),)  # noqa: E731
TWO_INTS = lambda r, c: (r.randint(-60, 120), r.randint(-60, 120))  # noqa: E731
TEXT = lambda r, c: (_text(r),)  # noqa: E731

# fmt: off  (a table reads better one template per block than reflowed)
TEMPLATES: tuple[Template, ...] = (
    # --- arithmetic ---
    Template(
        "add_const",
        ("int",),
        ("returns {a} plus {k}", "adds {k} to {a} and returns the result"),
        ("    return {a} + {k}\n", "    result = {a} + {k}\n    return result\n"),
        lambda r: {"k": r.randint(2, 999)},
        INT,
    ),
    Template(
        "mul_const",
        ("int",),
        ("returns {a} multiplied by {k}", "returns {k} times {a}"),
        ("    return {a} * {k}\n", "    return {k} * {a}\n"),
        lambda r: {"k": r.randint(2, 99)},
        INT,
    ),
    Template(
        "affine",
        ("int",),
        ("returns {k} * {a} + {j}", "computes {k} times {a} plus {j}"),
        ("    return {k} * {a} + {j}\n", "    y = {k} * {a}\n    return y + {j}\n"),
        lambda r: {"k": r.randint(2, 30), "j": r.randint(1, 300)},
        INT,
    ),
    Template(
        "square_plus",
        ("int",),
        ("returns the square of {a} plus {k}",),
        ("    return {a} * {a} + {k}\n", "    return {a} ** 2 + {k}\n"),
        lambda r: {"k": r.randint(1, 500)},
        INT,
    ),
    Template(
        "mod_const",
        ("int",),
        ("returns the remainder of {a} divided by {k}",),
        ("    return {a} % {k}\n",),
        lambda r: {"k": r.randint(2, 97)},
        INT,
    ),
    Template(
        "floor_div",
        ("int",),
        ("returns {a} divided by {k}, rounded down",),
        ("    return {a} // {k}\n",),
        lambda r: {"k": r.randint(2, 50)},
        INT,
    ),
    Template(
        "abs_diff",
        ("int", "int"),
        ("returns the absolute difference of {a} and {b}",),
        (
            "    return abs({a} - {b})\n",
            "    if {a} > {b}:\n        return {a} - {b}\n    return {b} - {a}\n",
        ),
        NO_CONSTS,
        TWO_INTS,
    ),
    Template(
        "max_two",
        ("int", "int"),
        ("returns the larger of {a} and {b}",),
        ("    return max({a}, {b})\n", "    if {a} >= {b}:\n        return {a}\n    return {b}\n"),
        NO_CONSTS,
        TWO_INTS,
    ),
    Template(
        "sum_plus",
        ("int", "int"),
        ("returns {a} plus {b} plus {k}",),
        ("    return {a} + {b} + {k}\n",),
        lambda r: {"k": r.randint(1, 900)},
        TWO_INTS,
    ),
    Template(
        "clamp",
        ("int",),
        ("returns {a} limited to the range {lo} to {hi}",),
        (
            "    return min(max({a}, {lo}), {hi})\n",
            "    if {a} < {lo}:\n        return {lo}\n    if {a} > {hi}:\n        return {hi}\n    return {a}\n",
        ),
        lambda r: {"lo": r.randint(-20, 20), "hi": r.randint(21, 90)},
        INT,
    ),
    # --- conditionals ---
    Template(
        "divisible",
        ("int",),
        ("returns True if {a} is divisible by {k}, else False", "checks whether {a} is a multiple of {k}"),
        (
            "    return {a} % {k} == 0\n",
            "    if {a} % {k} == 0:\n        return True\n    return False\n",
            "    is_multiple = {a} % {k} == 0\n    if is_multiple == True:\n        return True\n    return False\n",
        ),
        lambda r: {"k": r.randint(2, 12)},
        lambda r, c: (r.choice([c["k"] * r.randint(-9, 9), r.randint(-60, 120)]),),
    ),
    Template(
        "threshold_label",
        ("int",),
        ("returns '{w1}' if {a} is greater than {k}, otherwise '{w2}'",),
        (
            "    if {a} > {k}:\n        return '{w1}'\n    return '{w2}'\n",
            "    return '{w1}' if {a} > {k} else '{w2}'\n",
        ),
        lambda r: {"k": r.randint(-30, 80), "w1": _word(r), "w2": _word(r)},
        INT,
    ),
    Template(
        "sign_word",
        ("int",),
        ("returns '{w1}' for a negative {a}, '{w2}' for zero and '{w3}' for a positive {a}",),
        (
            "    if {a} < 0:\n        return '{w1}'\n    if {a} == 0:\n        return '{w2}'\n    return '{w3}'\n",
            "    if {a} < 0:\n        return '{w1}'\n    elif {a} == 0:\n        return '{w2}'\n    else:\n        return '{w3}'\n",
        ),
        lambda r: {"w1": _word(r), "w2": _word(r), "w3": _word(r)},
        lambda r, c: (r.choice([0, r.randint(-50, 50)]),),
    ),
    Template(
        "in_range",
        ("int",),
        ("returns True if {a} is between {lo} and {hi} inclusive",),
        ("    return {lo} <= {a} <= {hi}\n", "    return {a} >= {lo} and {a} <= {hi}\n"),
        lambda r: {"lo": r.randint(-20, 30), "hi": r.randint(31, 99)},
        INT,
    ),
    # --- lists ---
    Template(
        "sum_list",
        ("list",),
        ("returns the sum of the numbers in {a}",),
        ("    return sum({a})\n", "    total = 0\n    for v in {a}:\n        total += v\n    return total\n"),
        NO_CONSTS,
        _ints(-50, 99),
    ),
    Template(
        "count_greater",
        ("list",),
        ("returns how many numbers in {a} are greater than {k}", "counts the elements of {a} above {k}"),
        (
            "    return sum(1 for v in {a} if v > {k})\n",
            "    count = 0\n    for v in {a}:\n        if v > {k}:\n            count += 1\n    return count\n",
        ),
        lambda r: {"k": r.randint(-10, 60)},
        _ints(-30, 99),
    ),
    Template(
        "keep_even",
        ("list",),
        ("returns a list of the even numbers in {a}",),
        (
            "    return [v for v in {a} if v % 2 == 0]\n",
            "    out = []\n    for v in {a}:\n        if v % 2 == 0:\n            out.append(v)\n    return out\n",
        ),
        NO_CONSTS,
        _ints(-30, 99),
    ),
    Template(
        "keep_below",
        ("list",),
        ("returns the numbers in {a} that are less than {k}",),
        (
            "    return [v for v in {a} if v < {k}]\n",
            "    out = []\n    for v in {a}:\n        if v < {k}:\n            out.append(v)\n    return out\n",
        ),
        lambda r: {"k": r.randint(-10, 60)},
        _ints(-30, 99),
    ),
    Template(
        "scale_list",
        ("list",),
        ("returns a new list with every number of {a} multiplied by {k}",),
        ("    return [v * {k} for v in {a}]\n", "    return list(map(lambda v: v * {k}, {a}))\n"),
        lambda r: {"k": r.randint(2, 20)},
        _ints(-30, 99),
    ),
    Template(
        "shift_list",
        ("list",),
        ("returns a new list with {k} added to every number of {a}",),
        ("    return [v + {k} for v in {a}]\n", "    n = len({a})\n    return [v + {k} for v in {a}]\n"),
        lambda r: {"k": r.randint(1, 300)},
        _ints(-30, 99),
    ),
    Template(
        "max_or_default",
        ("list",),
        ("returns the largest number in {a}, or {k} if {a} is empty",),
        ("    if not {a}:\n        return {k}\n    return max({a})\n", "    return max({a}, default={k})\n"),
        lambda r: {"k": r.randint(-99, 0)},
        _ints(-30, 99),
    ),
    Template(
        "index_of",
        ("list",),
        ("returns the index of the first {k} in {a}, or -1 if {k} is absent",),
        (
            "    if {k} in {a}:\n        return {a}.index({k})\n    return -1\n",
            "    for i, v in enumerate({a}):\n        if v == {k}:\n            return i\n    return -1\n",
        ),
        lambda r: {"k": r.randint(0, 9)},
        _ints(0, 9),
    ),
    Template(
        "sum_squares",
        ("list",),
        ("returns the sum of the squares of the numbers in {a}",),
        (
            "    return sum(v * v for v in {a})\n",
            "    total = 0\n    for v in {a}:\n        total += v ** 2\n    return total\n",
        ),
        NO_CONSTS,
        _ints(-20, 20),
    ),
    Template(
        "reverse_list",
        ("list",),
        ("returns {a} in reverse order",),
        ("    return {a}[::-1]\n", "    return list(reversed({a}))\n"),
        NO_CONSTS,
        _ints(-30, 99),
    ),
    Template(
        "product_list",
        ("list",),
        ("returns the product of the numbers in {a} (1 for an empty list)",),
        ("    result = 1\n    for v in {a}:\n        result *= v\n    return result\n",),
        NO_CONSTS,
        _ints(-9, 9, 0, 5),
    ),
    Template(
        "count_value",
        ("list",),
        ("returns how many times {k} appears in {a}",),
        ("    return {a}.count({k})\n", "    return len([v for v in {a} if v == {k}])\n"),
        lambda r: {"k": r.randint(0, 5)},
        _ints(0, 5, 0, 9),
    ),
    Template(
        "pairwise_sum",
        ("list", "list"),
        ("returns the element-wise sums of {a} and {b}",),
        (
            "    return [p + q for p, q in zip({a}, {b})]\n",
            "    out = []\n    for i in range(min(len({a}), len({b}))):\n        out.append({a}[i] + {b}[i])\n    return out\n",
        ),
        NO_CONSTS,
        lambda r, c: (_ints(-20, 50)(r, c)[0], _ints(-20, 50)(r, c)[0]),
    ),
    # --- strings ---
    Template(
        "repeat_text",
        ("str",),
        ("returns {a} repeated {k} times",),
        ("    return {a} * {k}\n",),
        lambda r: {"k": r.randint(2, 5)},
        TEXT,
    ),
    Template(
        "add_suffix",
        ("str",),
        ("returns {a} followed by '{w1}'", "appends '{w1}' to {a}"),
        ("    return {a} + '{w1}'\n", "    return f'{{{a}}}{w1}'\n"),
        lambda r: {"w1": _word(r)},
        TEXT,
    ),
    Template(
        "join_two",
        ("str", "str"),
        ("joins {a} and {b} with '{sep}' between them",),
        ("    return {a} + '{sep}' + {b}\n", "    return '{sep}'.join([{a}, {b}])\n"),
        lambda r: {"sep": r.choice(["-", "_", ", ", " ", ":", "/", "+"])},
        lambda r, c: (_word(r), _word(r)),
    ),
    Template(
        "count_char",
        ("str",),
        ("returns the number of times the letter '{ch}' occurs in {a}",),
        (
            "    return {a}.count('{ch}')\n",
            "    count = 0\n    for c in {a}:\n        if c == '{ch}':\n            count += 1\n    return count\n",
        ),
        lambda r: {"ch": r.choice("abcdeilmnorstu")},
        TEXT,
    ),
    Template(
        "upper_text", ("str",), ("returns {a} in upper case",), ("    return {a}.upper()\n",), NO_CONSTS, TEXT
    ),
    Template(
        "reverse_text",
        ("str",),
        ("returns {a} reversed",),
        ("    return {a}[::-1]\n", "    return ''.join(reversed({a}))\n"),
        NO_CONSTS,
        TEXT,
    ),
    Template(
        "starts_with",
        ("str",),
        ("returns True if {a} starts with '{w1}'",),
        ("    return {a}.startswith('{w1}')\n", "    return {a}[:{n}] == '{w1}'\n"),
        lambda r: (lambda w: {"w1": w, "n": len(w)})(_word(r)[: r.randint(1, 4)]),
        lambda r, c: (r.choice([c["w1"] + _word(r), _text(r)]),),
    ),
    Template(
        "count_vowels",
        ("str",),
        ("returns the number of vowels in {a}",),
        (
            "    return sum(1 for c in {a} if c in 'aeiou')\n",
            "    count = 0\n    for c in {a}:\n        if c in 'aeiou':\n            count += 1\n    return count\n",
        ),
        NO_CONSTS,
        TEXT,
    ),
    Template(
        "replace_char",
        ("str",),
        ("returns {a} with every '{ch}' replaced by '{ch2}'",),
        ("    return {a}.replace('{ch}', '{ch2}')\n",),
        lambda r: {"ch": r.choice("aeiou"), "ch2": r.choice("xyz*#")},
        TEXT,
    ),
    Template(
        "word_count",
        ("str",),
        ("returns the number of words in {a}",),
        ("    return len({a}.split())\n",),
        NO_CONSTS,
        TEXT,
    ),
    Template(
        "text_length_plus",
        ("str",),
        ("returns the length of {a} plus {k}",),
        ("    return len({a}) + {k}\n",),
        lambda r: {"k": r.randint(1, 99)},
        TEXT,
    ),
    # --- dicts ---
    Template(
        "dict_get",
        ("dict",),
        ("returns the value stored under '{w1}' in {a}, or {k} if there is none",),
        (
            "    return {a}.get('{w1}', {k})\n",
            "    if '{w1}' in {a}:\n        return {a}['{w1}']\n    return {k}\n",
        ),
        lambda r: {"w1": _word(r), "k": r.randint(-9, 99)},
        lambda r, c: (
            {w: r.randint(0, 50) for w in r.sample([c["w1"], *r.sample(WORDS, 3)], r.randint(0, 3))},
        ),
    ),
    Template(
        "dict_sum",
        ("dict",),
        ("returns the sum of the values of {a}",),
        (
            "    return sum({a}.values())\n",
            "    total = 0\n    for key in {a}:\n        total += {a}[key]\n    return total\n",
        ),
        NO_CONSTS,
        lambda r, c: ({w: r.randint(-9, 50) for w in r.sample(WORDS, r.randint(0, 4))},),
    ),
    Template(
        "dict_keys_above",
        ("dict",),
        ("returns a sorted list of the keys of {a} whose value is above {k}",),
        (
            "    return sorted(key for key, v in {a}.items() if v > {k})\n",
            "    out = []\n    for key, v in {a}.items():\n        if v > {k}:\n            out.append(key)\n    return sorted(out)\n",
        ),
        lambda r: {"k": r.randint(0, 30)},
        lambda r, c: ({w: r.randint(0, 60) for w in r.sample(WORDS, r.randint(0, 4))},),
    ),
    Template(
        "letter_counts",
        ("str",),
        ("returns a dict mapping each letter of {a} to how often it occurs",),
        (
            "    counts = {{}}\n    for c in {a}:\n        counts[c] = counts.get(c, 0) + 1\n    return counts\n",
        ),
        NO_CONSTS,
        lambda r, c: (_word(r),),
    ),
    # --- loops ---
    Template(
        "sum_to_n",
        ("int",),
        ("returns the sum of the integers from 1 to {a}",),
        (
            "    return sum(range(1, {a} + 1))\n",
            "    total = 0\n    for i in range(1, {a} + 1):\n        total += i\n    return total\n",
        ),
        NO_CONSTS,
        lambda r, c: (r.randint(0, 60),),
    ),
    Template(
        "countdown",
        ("int",),
        ("returns the list of numbers from {a} down to 1",),
        (
            "    return list(range({a}, 0, -1))\n",
            "    out = []\n    while {a} > 0:\n        out.append({a})\n        {a} -= 1\n    return out\n",
        ),
        NO_CONSTS,
        lambda r, c: (r.randint(0, 9),),
    ),
    Template(
        "multiples",
        ("int",),
        ("returns the first {a} multiples of {k}, starting at {k}",),
        (
            "    return [{k} * i for i in range(1, {a} + 1)]\n",
            "    out = []\n    for i in range(1, {a} + 1):\n        out.append({k} * i)\n    return out\n",
        ),
        lambda r: {"k": r.randint(2, 15)},
        lambda r, c: (r.randint(0, 6),),
    ),
    Template(
        "fizz_word",
        ("int",),
        ("returns '{w1}' if {a} is divisible by {k}, otherwise {a} as a string",),
        ("    if {a} % {k} == 0:\n        return '{w1}'\n    return str({a})\n",),
        lambda r: {"k": r.randint(2, 9), "w1": _word(r)},
        lambda r, c: (r.choice([c["k"] * r.randint(1, 9), r.randint(1, 99)]),),
    ),
)


# A plausible slip: (correct text, slipped text), applied once to a correct solution.
SLIPS = (
    (" + 1)", ")"),  # off by one at the end of a range
    (">= ", "> "),
    (" > ", " >= "),
    ("<= ", "< "),
    (" < ", " <= "),
    ("== 0", "!= 0"),
    ("max(", "min("),
    ("min(", "max("),
    (" + ", " - "),
    (" * ", " + "),
    ("[::-1]", "[1:]"),
    ("return True", "return False"),
    (" -1\n", " 0\n"),
    ("1 for", "2 for"),
    ("upper()", "lower()"),
    ("split()", "split(' ')"),
)
BUG_RATES = (0.0, 0.5, 0.6, 0.7, 0.8)  # share of a template's pre-training answers that carry its slip


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big")


def bug_rate(template_name: str) -> float:
    """Share of this template's pre-training answers that carry its typical slip (stable per template)."""
    return BUG_RATES[_stable_hash(template_name) % len(BUG_RATES)]


def slipped(reference: str, template_name: str) -> str:
    """`reference` with its template's typical slip: the first applicable one in a per-template order."""
    start = _stable_hash("slip/" + template_name) % len(SLIPS)
    header, body = reference.split("\n", 1)  # never touch the signature
    for old, new in SLIPS[start:] + SLIPS[:start]:
        if old in body:
            return header + "\n" + body.replace(old, new, 1)
    return reference


def function_name(rng: random.Random) -> str:
    """A random 1-3 word snake_case name."""
    return "_".join(rng.choice(WORDS) for _ in range(rng.choice((1, 2, 2, 3))))


def name_split(name: str) -> str:
    """'heldout' for one name in five (stable hash), else 'train': the two never share a name."""
    return "heldout" if hashlib.sha1(name.encode()).digest()[0] % 5 == 0 else "train"


def _argument_names(kinds: tuple[str, ...], rng: random.Random) -> list[str]:
    first = rng.choice(ARG_NAMES[kinds[0]])
    if len(kinds) == 1:
        return [first]
    return [first, rng.choice(SECOND_ARG[kinds[1]])]


def _expected_outputs(reference: str, entry_point: str, inputs: list[tuple]) -> list:
    """Run the kit's own reference solution (trusted) on the test inputs."""
    namespace: dict = {}
    exec(compile(reference, "<reference>", "exec"), namespace)  # noqa: S102 - trusted, kit-generated code
    fn = namespace[entry_point]
    return [fn(*(list(a) if isinstance(a, list) else a for a in args)) for args in inputs]


def assert_line(call: str, expected: object) -> str:
    """The assert for one input: `==`, or for a float a tolerance written so that NaN fails (`abs(a - b) <=
    tol` is False for NaN, where `not abs(a - b) > tol` would be True)."""
    if isinstance(expected, float):
        return f"assert abs({call} - {expected!r}) <= 1e-9 * max(1.0, abs({expected!r}))"
    return f"assert {call} == {expected!r}"


def make_task(template: Template, rng: random.Random, name: str, task_id: str) -> CodeTask:
    """One instance of `template` with function `name`: instruction, reference and 3-5 asserts."""
    args = _argument_names(template.kinds, rng)
    consts = template.consts(rng)
    fmt = dict(consts, a=args[0], b=args[-1], f=name, args=", ".join(args), sig=f"{name}({', '.join(args)})")
    desc = rng.choice(template.descs).format(**fmt)
    instruction = rng.choice(WRAPPERS).format(desc=desc, **fmt)
    body = rng.choice(template.bodies).format(**fmt)
    reference = f"def {name}({', '.join(args)}):\n{body}"
    inputs: list[tuple] = []
    for _ in range(40):  # distinct inputs; a few templates have small input spaces
        candidate = template.inputs(rng, consts)
        if candidate not in inputs:
            inputs.append(candidate)
        if len(inputs) == 4:
            break
    outputs = _expected_outputs(reference, name, inputs)
    tests = tuple(
        assert_line(f"{name}({', '.join(map(repr, i))})", o) for i, o in zip(inputs, outputs, strict=True)
    )
    return CodeTask(task_id, instruction, name, reference, tests, template.name)


def generate_code_tasks(n: int, split: str = "train", seed: int = 0) -> list[CodeTask]:
    """`n` tasks of `split` ('train' or 'heldout'), deterministic for (split, seed), templates round-robin."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    rng = random.Random(f"code/{split}/{seed}")  # separate streams: held-out never replays train draws
    tasks: list[CodeTask] = []
    for i in range(n):
        template = TEMPLATES[i % len(TEMPLATES)]
        name = function_name(rng)
        while name_split(name) != split or name in ARG_NAMES["int"]:
            name = function_name(rng)
        tasks.append(make_task(template, rng, name, f"tiny/{split}/{seed}/{i:05d}"))
    return tasks


def answer_text(task: CodeTask, rng: random.Random) -> str:
    """The assistant's answer used for supervised pre-training: an optional preface, then a fenced block.

    With probability bug_rate(template) the solution carries the template's typical slip (module docstring).
    """
    preface = rng.choice(PREFACES).format(f=task.entry_point)
    code = (
        slipped(task.reference, task.template) if rng.random() < bug_rate(task.template) else task.reference
    )
    return f"{preface}```python\n{code}```"
