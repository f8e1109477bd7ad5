"""Data-flow reward: how much of the reference solution's data flow the generated code reproduces.

    from dense_rl.rewards.dfg import dataflow_match, dfg_reward
    dataflow_match("def f(x):\\n    t = x + 1\\n    return t", "def f(a):\\n    s = a + 1\\n    return s")
    # 1.0: the same flow under other names
    out = dfg_reward(batch, tasks)          # the match spread over each response's code tokens

CodeBLEU's data-flow match (codebleu 0.7.0, tree-sitter-python 0.21.0), in steps:
1. Comments and docstrings are removed; tree-sitter parses both programs (it tolerates syntax errors).
2. Each program becomes its data-flow graph: for every variable occurrence, where its value comes from
   ("s computedFrom a, b"; "a comesFrom a").
3. Variable names are replaced by their order of first appearance (var_0, var_1...), so renaming does not
   matter.
4. Score = reference edges also found in the candidate (each used once) / reference edges.
The reward spreads that score uniformly over the response's code tokens (prose gets 0; no code gets 0).

Where this departs from CodeBLEU: CodeBLEU merges the parents of repeated nodes through a Python set, so
their order (and thus the var_i names) can change with the interpreter's hash seed; here merged parents
are ordered by where they occur in the code, which makes the score the same in every run. A reference
without any data flow (e.g. `return 1`) scores 1 for a candidate that compiles and has none either, and 0
otherwise (CodeBLEU returns 0 with a warning).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

from codebleu.dataflow_match import get_data_flow, normalize_dataflow
from codebleu.parser import DFG_python, remove_comments_and_docstrings
from codebleu.utils import get_tree_sitter_language
from tree_sitter import Parser

from dense_rl.batch import RewardOutput, RolloutBatch, spread_over_code
from dense_rl.rewards.syntax import python_verdict
from dense_rl.rewards.tests import extract_program
from dense_rl.tasks.types import CodeTask


@functools.cache
def _parser() -> list:
    parser = Parser()
    parser.language = get_tree_sitter_language("python")
    return [parser, DFG_python]


def data_flow(code: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """The normalised data-flow edges of `code`: (variable, relation, parent variables), names -> var_i."""
    try:
        code = remove_comments_and_docstrings(code, "python")
    except Exception:  # its tokenize-based stripper fails on broken code: keep the code as it is
        pass
    graph = get_data_flow(code, _parser())
    name_at = {node[1]: node[0] for node in graph}
    ordered = []
    for name, position, relation, parents, parent_positions in graph:
        by_position = [name_at[p] for p in sorted(parent_positions) if p in name_at]
        if sorted(set(by_position)) != sorted(set(parents)):
            by_position = sorted(parents)  # positions not all known: fall back to a fixed (name) order
        ordered.append((name, position, relation, list(dict.fromkeys(by_position)), parent_positions))
    return [(var, relation, tuple(parents)) for var, relation, parents in normalize_dataflow(ordered)]


def dataflow_match(candidate: str, reference: str) -> float:
    """Share of the reference's data-flow edges that the candidate reproduces (0..1).

    >>> dataflow_match("def f(a):\\n    b = a * 2\\n    return b", "def f(a):\\n    b = a * 2\\n    return b")
    1.0
    """
    reference_edges = Counter(data_flow(reference))
    candidate_edges = Counter(data_flow(candidate))
    if not reference_edges:
        return float(not candidate_edges and bool(candidate.strip()) and python_verdict(candidate).valid)
    matched = sum((reference_edges & candidate_edges).values())
    return matched / sum(reference_edges.values())


def dfg_reward(batch: RolloutBatch, tasks: Sequence[CodeTask]) -> RewardOutput:
    """Data-flow match of each response's code against tasks[i].reference, spread over its code tokens.


    >>> from transformers import AutoTokenizer
    >>> from dense_rl.tiny import tiny_policy_path
    >>> tok = AutoTokenizer.from_pretrained(tiny_policy_path())     # the kit's tiny tokenizer (built once)
    >>> reference = "def f(a):\\n    b = a * 2\\n    return b\\n"
    >>> task = CodeTask("t", "double a", "f", reference, ("assert f(1) == 2",))
    >>> ids = tok("```python\\ndef f(x):\\n    y = x * 2\\n    return y\\n```")["input_ids"]
    >>> dfg_reward(RolloutBatch.from_ids(tok, [""], [[]], [ids]), [task]).summary
    {'dfg_match': [1.0]}
    """
    if len(tasks) != len(batch):
        raise ValueError(f"dfg_reward: {len(tasks)} tasks for a batch of {len(batch)}; pass one per sample")
    programs = [extract_program(text) for text in batch.responses]
    scores = [
        dataflow_match(program, task.reference) if program else 0.0
        for program, task in zip(programs, tasks, strict=True)
    ]
    return RewardOutput(spread_over_code(batch, scores) * batch.response_mask, {"dfg_match": scores})
