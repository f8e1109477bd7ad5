"""Unit-test reward: run each generated function in the sandbox, compare its results with the task's asserts
in the trainer's process, by value.

    from dense_rl.rewards.tests import run_unit_tests, unit_test_reward
    run_unit_tests(["def inc(x):\\n    return x + 1"], [["assert inc(1) == 2", "assert inc(2) == 4"]])
    # [TestOutcome(passed=1, total=2, status='fail')]
    out = unit_test_reward(batch, tasks)      # pass fraction spread over each response's code tokens

The reward: sample i's pass fraction (asserts passed / asserts) divided evenly over its code tokens, so its
tokens sum to the pass fraction; prose tokens get 0, and a response without code gets 0 (its "program" is
empty, status "error"). The summary holds the pass fraction and pass@1 (1 when every assert passed).

How one program is judged, so that no program can forge its score:
1. Each test (one or more statements, MBPP style) is split by `split_test` in the trainer's process. A
   "probe" is an expression of an assert that reaches the program: a name the test neither binds nor finds
   among the builtins (the function under test, a class of the program), with the calls, attributes and
   subscripts applied to it (`f(1)`, `Solution().f(2)[0]`, `f(g(3))`). The sandbox gets only the probes
   and the test's other statements (imports, setup such as `root = Node(1)`); the asserts themselves, with
   their expected values, never leave the trainer.
2. ONE sandboxed process per program (dense_rl.sandbox) runs a small harness that defines the program (its
   own namespace, `__name__ == "solution"`), then for each test runs its setup and evaluates its probes,
   each test under its own time budget (SIGALRM), and reports each probe's value BY VALUE: plain data
   (None, bool, int, float, complex, str, bytes, list, tuple, set, frozenset, dict, range; an iterator is
   drained into its items), exact types only, as JSON on a private copy of stdout, each line stamped with
   a nonce read from stdin. The program's own stdout/stderr go to /dev/null at the file-descriptor level.
3. The trainer decodes those values into fresh plain objects and runs each assert with its probes replaced
   by them, in its own interpreter (fresh builtins, its own modules). No code of the program runs there:
   what crosses is data, so an `__eq__` that always says True, a patched `math.isclose` or builtin, a
   shadowed name, ctypes changes to the interpreter's small integers, the harness's objects found through
   `gc` or the frames: all of these only change the values the program reports, and a program that reports
   the right values has computed them (it never sees what they should be).
4. Anything malformed that comes back (a line that is not JSON, not an object, wrong types, a test reported
   twice, a wrong number of values) makes the whole program "error" with no assert passed.

Status of an outcome: "pass" (all asserts pass), "fail" (some fail), "error" (no code, syntax error, the
program crashed while being defined, the process died before reporting, or it reported nonsense),
"timeout" (a test or the whole process ran out of time; the tests that finished before still count).

Where this departs from the paper, and from Python's own semantics of a test:
- The paper scores tests through EvalPlus with base + plus inputs; here a task's tests are plain assert
  statements (MBPP style), which is what the tiny tasks and MBPP's test_list give.
- Every probe of an assert is evaluated, left to right, before the assert is judged (no short-circuit:
  `f(1) == 2 or g(0)` calls g too), and a probe that raises fails its test. A value that is not plain
  data (an instance of the program's own class, a NumPy array) cannot cross and fails its test. The
  setup runs in the sandbox only, so a test that checks a mutation of its own variable (`f(x); assert x
  == ...`) is judged on the trainer's unchanged copy. Asserts inside loops or other blocks, and probes
  inside lambdas or comprehensions, are refused when the tests are given (ValueError naming the test).
"""

from __future__ import annotations

import ast
import builtins
import json
import secrets
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from types import CodeType

import torch

from dense_rl.batch import RewardOutput, RolloutBatch, spread_over_code
from dense_rl.sandbox import Limits, RunResult, run_programs
from dense_rl.spans import code_region
from dense_rl.tasks.types import CodeTask

TEST_LIMITS = Limits(wall_s=5, cpu_s=5, max_output_bytes=4 * 1024 * 1024)  # per program, all its tests
MAX_ITEMS = 100_000  # items of one reported value (an iterator is drained up to this many)
MAX_DEPTH = 100  # nesting of one reported value

# The harness source; {program} and {tests} are Python literals ({tests}: per test, its setup source and its
# probe sources), {budget} seconds per test. What the harness uses after the program has run is bound
# before it runs (default arguments), so a program that replaces builtins changes nothing here; and
# whatever it changes, it can only change the values it reports, never what they are compared with.
_HARNESS = """\
import builtins, json, os, signal, sys


def encode(value, depth=0, type=type, len=len, repr=repr, isinstance=isinstance, hasattr=hasattr):
    if depth > {max_depth}:
        raise ValueError("too deep")
    kind = type(value)
    plain = (bool, int, float, complex, str, bytes, dict, list, tuple, set, frozenset)
    for base in () if kind in plain else plain:  # a bool stays a bool (it is an int too)
        if isinstance(value, base):  # Counter, namedtuple, IntEnum: their plain value
            value, kind = base(dict.items(value) if base is dict else value), base
            break
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return ["f", repr(value)]
    if kind is complex:
        return ["c", repr(value.real), repr(value.imag)]
    if kind is bytes:
        return ["b", value.hex()]
    if kind is range:
        return ["r", value.start, value.stop, value.step]
    if kind is dict:
        return ["d", *([encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items())]
    tags = {{list: "l", tuple: "t", set: "s", frozenset: "F"}}
    if kind in tags:
        items = value
    elif hasattr(kind, "__next__") and hasattr(kind, "__iter__"):
        items, tags = [], {{kind: "x"}}
        for item in value:
            if len(items) >= {max_items}:
                raise ValueError("too many items")
            items.append(item)
    else:
        raise TypeError(kind.__name__ + " is not plain data")
    if len(items) > {max_items}:
        raise ValueError("too many items")
    return [tags[kind], *(encode(item, depth + 1) for item in items)]


def harness(
    program, tests, budget, run=exec, evaluate=eval, build=compile, dict=dict, enumerate=enumerate,
    Base=BaseException, dumps=json.dumps, encode=encode
):
    nonce = sys.stdin.readline().strip()
    results = os.dup(1)
    sink = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(sink, fd)  # stdin, which held the nonce, is gone; the program's output goes nowhere
    write, leave, arm, clock = os.write, os._exit, signal.setitimer, signal.ITIMER_REAL
    start = dict(vars(builtins))

    def report(record):
        data = (nonce + " " + dumps(record) + "\\n").encode()
        while data:
            data = data[write(results, data):]

    class Budget(Base):
        pass

    def on_alarm(signum, frame):
        raise Budget()

    signal.signal(signal.SIGALRM, on_alarm)
    namespace = {{"__name__": "solution", "__builtins__": dict(start)}}
    try:
        arm(clock, budget)
        run(build(program, "solution.py", "exec"), namespace)
        arm(clock, 0)
    except Budget:
        report({{"defined": "timeout"}})
        leave(0)
    except Base:
        arm(clock, 0)
        report({{"defined": "error"}})
        leave(0)
    report({{"defined": "ok"}})
    for index, (setup, probes) in enumerate(tests):
        namespace["__builtins__"] = dict(start)
        try:
            arm(clock, budget)
            run(build(setup, "test.py", "exec"), namespace)
            values = [encode(evaluate(build(probe, "test.py", "eval"), namespace)) for probe in probes]
            arm(clock, 0)
            dumps(values)  # a value JSON cannot write (an int of 5,000 digits) fails here
            report({{"test": index, "status": "ok", "values": values}})
        except Budget:
            report({{"test": index, "status": "timeout"}})
        except Base:
            arm(clock, 0)
            report({{"test": index, "status": "error"}})
    report({{"done": True}})
    leave(0)


harness({program}, {tests}, {budget})
"""

_PLAIN = {"l": list, "t": tuple, "s": set, "F": frozenset, "x": iter}
_VALUES = "__values__"


@dataclass(frozen=True)
class TestOutcome:
    """How one program did on its asserts (see the module docstring for the statuses)."""

    __test__ = False  # not a pytest test class despite its name

    passed: int
    total: int
    status: str

    @property
    def pass_fraction(self) -> float:
        """passed / total, 0.0 when there are no tests."""
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class SplitTest:
    """One test split by `split_test`: what the sandbox runs (setup, probes) and what the trainer runs."""

    source: str
    setup: str  # the test's statements other than asserts, run in the sandbox before the probes
    probes: tuple[str, ...]  # expressions evaluated in the sandbox, reported by value
    judge: CodeType  # the asserts with probe k replaced by __values__[k], and the statements without probes


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the test binds itself (assignments, imports, loop and comprehension variables, arguments)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


class _Probes(ast.NodeTransformer):
    """Replaces each probe (a chain of calls/attributes/subscripts on a program name) by __values__[k]."""

    def __init__(self, program_names: set[str], shadowed: frozenset[str]):
        self.program_names, self.shadowed, self.found = program_names, shadowed, []
        self.scoped = 0  # inside a lambda or comprehension: a probe there would lose its variables

    def reaches_program(self, node: ast.AST) -> bool:
        """`node` is a chain on a program name. A builtin the program redefines counts only where no other
        program name is inside the chain: in `abs(f(-5))` the test means the builtin abs, applied to f."""
        root = node
        while isinstance(root, ast.Call | ast.Attribute | ast.Subscript):
            root = root.func if isinstance(root, ast.Call) else root.value
        if not (isinstance(root, ast.Name) and root.id in self.program_names):
            return False
        if root.id not in self.shadowed:
            return True
        if node is root:  # the bare name: the callee of a chain that was not a probe
            return False
        inner = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & self.program_names
        return not (inner - self.shadowed)

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr) and self.reaches_program(node):
            if self.scoped:
                raise ValueError(f"probe {ast.unparse(node)!r} is inside a lambda or comprehension")
            self.found.append(ast.unparse(node))
            index = ast.Constant(len(self.found) - 1)
            return ast.copy_location(ast.Subscript(ast.Name(_VALUES, ast.Load()), index, ast.Load()), node)
        scoped = isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp)
        self.scoped += scoped
        try:
            return super().visit(node)
        finally:
            self.scoped -= scoped


def split_test(source: str, shadowed: frozenset[str] = frozenset()) -> SplitTest:
    """Split one test into what the sandbox evaluates and what the trainer compares (module docstring).
    `shadowed`: builtin names the program binds at its top level (a function called `filter`): those are
    the program's too, unless applied to another name of the program (see _Probes.reaches_program).

    >>> split = split_test("import math; assert math.floor(f(0.5)) == 1")
    >>> split.setup, split.probes
    ('import math', ('f(0.5)',))
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"test {source!r} is not Python: {error.msg}") from None
    if any(
        isinstance(n, ast.Assert) for s in tree.body for n in ast.walk(s) if not isinstance(s, ast.Assert)
    ):
        raise ValueError(f"test {source!r}: asserts must be top-level statements, not inside a block")
    program_names = (
        {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        - _bound_names(tree)
        - (set(dir(builtins)) - shadowed)
    )
    finder = _Probes(program_names, shadowed & program_names)
    setup, judge = [], []
    for statement in tree.body:
        if isinstance(statement, ast.Assert):
            try:
                judge.append(ast.Assert(finder.visit(statement.test), None))
            except ValueError as error:
                raise ValueError(f"test {source!r}: {error}") from None
            continue
        setup.append(statement)
        if not any(isinstance(n, ast.expr) and finder.reaches_program(n) for n in ast.walk(statement)):
            judge.append(statement)
    module = ast.fix_missing_locations(ast.Module(judge, []))
    setup_source = "\n".join(ast.unparse(s) for s in setup)
    return SplitTest(source, setup_source, tuple(finder.found), compile(module, "<test>", "exec"))


def harness_source(program: str, tests: Sequence[SplitTest], budget_s: float) -> str:
    """The Python source that defines `program` and reports each test's probe values, with a nonce."""
    plan = [(t.setup, list(t.probes)) for t in tests]
    return _HARNESS.format(
        program=repr(program),
        tests=repr(plan),
        budget=repr(budget_s),
        max_items=MAX_ITEMS,
        max_depth=MAX_DEPTH,
    )


def decode(data: object, depth: int = 0) -> object:
    """A value reported by the harness -> fresh plain Python objects; ValueError on anything else."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deep")
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is not list or not data or type(data[0]) is not str:
        raise ValueError(f"not a reported value: {type(data).__name__}")
    tag, items = data[0], data[1:]
    if tag == "f" and len(items) == 1 and type(items[0]) is str:
        return float(items[0])
    if tag == "c" and len(items) == 2 and all(type(i) is str for i in items):
        return complex(float(items[0]), float(items[1]))
    if tag == "b" and len(items) == 1 and type(items[0]) is str:
        return bytes.fromhex(items[0])
    if tag == "r" and len(items) == 3 and all(type(i) is int for i in items):
        return range(*items)
    if tag == "d":
        pairs = [(decode(p[0], depth + 1), decode(p[1], depth + 1)) for p in items if _is_pair(p)]
        if len(pairs) != len(items):
            raise ValueError("malformed dict")
        return dict(pairs)
    if tag in _PLAIN and len(items) <= MAX_ITEMS:
        decoded = [decode(item, depth + 1) for item in items]
        return _PLAIN[tag](decoded) if tag != "l" else decoded
    raise ValueError(f"unknown tag {tag!r}")


def _is_pair(item: object) -> bool:
    return type(item) is list and len(item) == 2


class _Malformed(Exception):
    """The harness's output cannot be read: the program is judged as failed."""


def _records(run: RunResult, nonce: str) -> list[dict]:
    records = []
    for line in run.stdout.splitlines():
        if not line.startswith(nonce + " "):
            continue
        try:
            record = json.loads(line[len(nonce) + 1 :])
        except (ValueError, RecursionError):
            raise _Malformed from None
        if type(record) is not dict:
            raise _Malformed
        records.append(record)
    return records


def judge_test(test: SplitTest, values: list) -> bool:
    """Run the asserts of `test` in this process, on the decoded probe values (plain data only)."""
    namespace = {"__builtins__": dict(vars(builtins)), _VALUES: values}
    try:
        exec(test.judge, namespace)  # noqa: S102 - the task's own asserts, on plain data from the sandbox
    except Exception:  # noqa: BLE001 - an assert that fails or raises on the values fails the test
        return False
    return True


def parse_outcome(run: RunResult, nonce: str, tests: Sequence[SplitTest]) -> TestOutcome:
    """Read the nonce-stamped lines of one harness run and judge each test here; unstamped lines are
    ignored, and anything malformed among the stamped ones makes the program "error" with nothing passed."""
    total = len(tests)
    try:
        return _judge(_records(run, nonce), tests, _ran_out_of_time(run))
    except (_Malformed, ValueError, TypeError, KeyError, IndexError, RecursionError, OverflowError):
        return TestOutcome(0, total, "error")


def _judge(records: list[dict], tests: Sequence[SplitTest], out_of_time: bool) -> TestOutcome:
    total = len(tests)
    defined = [r for r in records if "defined" in r]
    if (
        len(defined) != 1
        or defined[0] != records[0]
        or defined[0]["defined"] not in ("ok", "timeout", "error")
    ):
        if not records:
            return TestOutcome(0, total, "timeout" if out_of_time else "error")
        raise _Malformed
    if defined[0]["defined"] != "ok":
        return TestOutcome(0, total, "timeout" if defined[0]["defined"] == "timeout" else "error")
    done = records[-1] == {"done": True}
    verdicts: dict[int, str] = {}
    for record in records[1 : len(records) - done]:
        index, status = record.get("test"), record.get("status")
        if type(index) is not int or not 0 <= index < total or index in verdicts:
            raise _Malformed
        if status == "ok":
            values = record["values"]
            if type(values) is not list or len(values) != len(tests[index].probes):
                raise _Malformed
            verdicts[index] = "pass" if judge_test(tests[index], [decode(v) for v in values]) else "fail"
        elif status in ("timeout", "error") and set(record) == {"test", "status"}:
            verdicts[index] = "timeout" if status == "timeout" else "fail"
        else:
            raise _Malformed
    passed = list(verdicts.values()).count("pass")
    if not done:
        status = "timeout" if out_of_time else "error"
    elif len(verdicts) != total:
        raise _Malformed
    elif "timeout" in verdicts.values():
        status = "timeout"
    else:
        status = "pass" if passed == total else "fail"
    return TestOutcome(passed, total, status)


def _ran_out_of_time(run: RunResult) -> bool:
    return run.status == "timeout" or run.returncode == -signal.SIGXCPU


def run_unit_tests(
    programs: Sequence[str],
    tests: Sequence[Sequence[str]],
    *,
    limits: Limits = TEST_LIMITS,
    workers: int = 2,
) -> list[TestOutcome]:
    """Run programs[i] against the asserts tests[i], one sandboxed process per program.

    Each test gets an equal share of the time limit, so a hanging test costs at most its share.

    >>> outcomes = run_unit_tests(["def f():\\n    return 1", ""], [["assert f() == 1"], ["assert 1"]])
    >>> [o.status for o in outcomes]
    ['pass', 'error']
    """
    if len(programs) != len(tests):
        raise ValueError(
            f"run_unit_tests: {len(programs)} programs but {len(tests)} test lists; pass one each"
        )
    for index, task_tests in enumerate(tests):
        if isinstance(task_tests, str) or not task_tests:
            raise ValueError(
                f"run_unit_tests: tests[{index}] must be a non-empty list of assert statements, got "
                f"{task_tests!r}"
            )
        try:
            [_split_cached(t, frozenset()) for t in task_tests]
        except ValueError as error:
            raise ValueError(f"run_unit_tests: tests[{index}]: {error}") from None
    outcomes: list[TestOutcome | None] = [None] * len(programs)
    sources, stdins, nonces, slots, splits = [], [], [], [], {}
    for index, (program, task_tests) in enumerate(zip(programs, tests, strict=True)):
        if not program.strip():
            outcomes[index] = TestOutcome(0, len(task_tests), "error")
            continue
        shadowed = _shadowed_builtins(program)
        splits[index] = [_split_cached(t, shadowed) for t in task_tests]
        budget = max(0.05, 0.8 * min(limits.wall_s, limits.cpu_s) / (len(task_tests) + 1))
        nonce = secrets.token_hex(16)
        sources.append(harness_source(program, splits[index], budget))
        stdins.append(nonce + "\n")
        nonces.append(nonce)
        slots.append(index)
    runs = run_programs(sources, stdins=stdins, limits=limits, workers=workers)
    for index, run, nonce in zip(slots, runs, nonces, strict=True):
        outcomes[index] = parse_outcome(run, nonce, splits[index])
    return outcomes


_SPLITS: dict[tuple[str, frozenset[str]], SplitTest] = {}


def _split_cached(source: str, shadowed: frozenset[str]) -> SplitTest:
    """split_test, remembered (a training run judges the same tests many times)."""
    if not isinstance(source, str):
        raise ValueError(f"a test must be a str of Python, got {type(source).__name__}")
    key = (source, shadowed)
    if key not in _SPLITS:
        _SPLITS[key] = split_test(source, shadowed)
    return _SPLITS[key]


def _shadowed_builtins(program: str) -> frozenset[str]:
    """Builtin names the program binds at module level (outside functions and classes); none when it does
    not parse (it then fails in the sandbox while being defined)."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        todo.extend(ast.iter_child_nodes(node))
    return frozenset(names & set(dir(builtins)))


def extract_program(text: str) -> str:
    """The code region of a response ('' when there is none): what the tests run."""
    region = code_region(text)
    return text[region[0] : region[1]] if region else ""


def unit_test_reward(
    batch: RolloutBatch,
    tasks: Sequence[CodeTask],
    *,
    limits: Limits = TEST_LIMITS,
    workers: int = 2,
) -> RewardOutput:
    """Pass fraction of each response's code on tasks[i].tests, spread uniformly over its code tokens.


    >>> from transformers import AutoTokenizer
    >>> from dense_rl.tiny import tiny_policy_path
    >>> tok = AutoTokenizer.from_pretrained(tiny_policy_path())     # the kit's tiny tokenizer (built once)
    >>> task = CodeTask("t", "add one", "inc", "def inc(x):\\n    return x + 1\\n", ("assert inc(1) == 2",))
    >>> ids = tok("```python\\ndef inc(x):\\n    return x + 1\\n```")["input_ids"]
    >>> unit_test_reward(RolloutBatch.from_ids(tok, [""], [[]], [ids]), [task]).summary["pass_at_1"]
    [1.0]
    """
    if len(tasks) != len(batch):
        raise ValueError(
            f"unit_test_reward: {len(tasks)} tasks for a batch of {len(batch)}; pass one per sample"
        )
    programs = [extract_program(text) for text in batch.responses]
    outcomes = run_unit_tests(programs, [task.tests for task in tasks], limits=limits, workers=workers)
    fractions = [outcome.pass_fraction for outcome in outcomes]
    per_token = spread_over_code(batch, fractions)
    summary = {
        "tests_pass_fraction": fractions,
        "pass_at_1": [float(outcome.status == "pass") for outcome in outcomes],
        "tests_timeout": [float(outcome.status == "timeout") for outcome in outcomes],
        "tests_error": [float(outcome.status == "error") for outcome in outcomes],
    }
    return RewardOutput(per_token * batch.response_mask.to(torch.float32), summary)
