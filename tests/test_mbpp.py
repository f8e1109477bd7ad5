"""MBPP / MBPP+ through EvalPlus: verdicts on known solutions, both protocols' prompts and extraction, the
published-numbers table, and clear errors for missing data. EvalPlus itself runs once (about 30 s): it
costs at least 20 s a call, so its verdicts are checked on one subset mixing good and broken solutions."""

import hashlib
import json
import re

import pytest

from dense_rl import mbpp
from dense_rl.policy import load_policy

# ------------------------------------------------------------------------------- one EvalPlus call

BROKEN = {
    # right on the base inputs (1, 2, 10, 35, 37), wrong on 7921 = 89 * 89 among the plus inputs
    "Mbpp/3": "def is_not_prime(n):\n    return n == 1 or any(n % p == 0 and n != p for p in (2, 3, 5, 7))\n",
    # ascending instead of descending
    "Mbpp/4": "def heap_queue_largest(nums, n):\n    return sorted(nums)[:n]\n",
    # does not parse
    "Mbpp/6": "def differ_At_One_Bit_Pos(a, b):\n    return (a ^ b\n",
    # raises on every input
    "Mbpp/8": "def square_nums(nums):\n    return [i**2 for i in nums] + None\n",
}
VERDICTS = [
    # (task, expected (MBPP base, MBPP+ base and plus))
    ("Mbpp/255", (True, True)),  # canonical; fails under EvalPlus's default 4 GiB memory cap
    ("Mbpp/630", (True, True)),  # canonical; fails under EvalPlus's default 1 s time floor
    ("Mbpp/2", (True, True)),  # canonical, submitted the paper's way: a completion after the prompt
    ("Mbpp/3", (True, False)),  # passes the base tests only: MBPP+ is stricter than MBPP
    ("Mbpp/4", (False, False)),  # wrong answer
    ("Mbpp/6", (False, False)),  # syntax error
    ("Mbpp/7", (False, False)),  # the paper's empty code (no ```python fence): the prompt alone
    ("Mbpp/8", (False, False)),  # runtime error
]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Score the table's solutions once, into a temporary cache and output folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DENSE_RL_CACHE", str(tmp_path_factory.mktemp("cache")))
    tasks = mbpp.load_mbpp_plus(task_ids=[task_id for task_id, _ in VERDICTS])
    solutions = {}
    for task in tasks:
        canonical = task["canonical_solution"]
        solutions[task["task_id"]] = {
            "Mbpp/2": mbpp.solution_for("paper", canonical, task),
            "Mbpp/7": mbpp.solution_for("paper", "", task),
        }.get(task["task_id"], BROKEN.get(task["task_id"], mbpp.solution_for("maker", canonical, task)))
    out = tmp_path_factory.mktemp("mbpp")
    # a stale results file claiming every task passed: EvalPlus would reuse it if it were left in place
    stale = {"eval": {t: [{"base_status": "pass", "plus_status": "pass"}] for t in solutions}}
    (out / "samples_eval_results.json").write_text(json.dumps(stale))
    try:
        summary, records = mbpp.score(tasks, solutions, out)
    finally:
        mp.undo()
    return summary, {r["task_id"]: r for r in records}, out


@pytest.mark.slow
@pytest.mark.parametrize("task_id, expected", VERDICTS)
def test_evalplus_verdict(scored, task_id, expected):
    _, records, _ = scored
    assert (records[task_id]["base"], records[task_id]["plus"]) == expected


@pytest.mark.slow
def test_pass_at_1_is_the_share_of_solved_tasks(scored):
    summary, _, _ = scored
    assert summary["mbpp_pass_at_1"] == pytest.approx(4 / 8)
    assert summary["mbpp_plus_pass_at_1"] == pytest.approx(3 / 8)


@pytest.mark.slow
def test_outputs_can_be_rechecked_with_evalplus(scored):
    summary, _, out = scored
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted(s["task_id"] for s in samples) == sorted(t for t, _ in VERDICTS)
    assert all(set(s) == {"task_id", "solution"} for s in samples)
    results = json.loads((out / "samples_eval_results.json").read_text())
    assert "hash" in results  # written by this run, not the stale file planted before it
    for needed in ("MBPP_OVERRIDE_PATH=", "EVALPLUS_MAX_MEMORY_BYTES=-1", "--min-time-limit 4", "rm -f"):
        assert needed in summary["recheck"]


# --------------------------------------------------------------------------------------- the data


def test_full_dataset_file_is_evalplus_own(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path))
    path = mbpp.dataset_file(mbpp.load_mbpp_plus())
    assert path.name == "MbppPlus-v0.2.0.jsonl"  # where EvalPlus itself would look
    assert hashlib.md5(path.read_bytes()).hexdigest() == "ee43ecabebf20deef4bb776a405ac5b1"


def test_subset_dataset_file_holds_exactly_the_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path))
    tasks = mbpp.load_mbpp_plus(limit=3)
    rows = [json.loads(line) for line in mbpp.dataset_file(tasks).read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["Mbpp/2", "Mbpp/3", "Mbpp/4"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(limit=0), "limit=0"),  # nothing to evaluate
        (dict(limit=379), "between 1 and 378"),  # more than MBPP+ has
        (dict(task_ids=["Mbpp/1"]), "unknown MBPP+ task ids ['Mbpp/1']"),  # MBPP+ dropped task 1
    ],
)
def test_bad_task_selection_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        mbpp.load_mbpp_plus(**kwargs)


@pytest.mark.parametrize(
    "data",
    [
        "empty",  # the folder exists but has no mbpp/MbppPlus.jsonl.gz
        "missing",  # DENSE_RL_DATA points nowhere
    ],
)
def test_missing_data_file_says_where_to_put_it(tmp_path, monkeypatch, data):
    monkeypatch.setenv("DENSE_RL_DATA", str(tmp_path if data == "empty" else tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as err:
        mbpp.load_mbpp_plus()
    assert "../shared/data/mbpp/" in str(err.value) and "DENSE_RL_DATA" in str(err.value)


def test_solutions_must_cover_every_task(tmp_path):
    tasks = mbpp.load_mbpp_plus(limit=2)
    with pytest.raises(ValueError, match=r"missing \['Mbpp/3'\]"):
        mbpp.score(tasks, {"Mbpp/2": "pass"}, tmp_path)


# ------------------------------------------------------------------------------------ the protocols

FENCED = "Here it is:\n```python\ndef f(x):\n    return x + 1\n```\nDone."

PAPER_EXTRACTION = [
    # (raw answer, code the paper's extraction keeps)
    (FENCED, "\ndef f(x):\n    return x + 1\n"),  # a ```python block: its text, newlines included
    ("def f(x):\n    return x + 1\n", ""),  # no fence: empty code
    (
        "```python\ndef f(x):\n    return 1\n```\n```python\nprint(f(2))\n```",
        "\ndef f(x):\n    return 1\n",
    ),  # first
    ("```py\ndef f(x):\n    return x\n```", ""),  # ```py is not ```python
    ("```\ndef f(x):\n    return x\n```", ""),  # a bare fence neither
    ("I cannot write this function.", ""),  # prose only
    ("```python\ndef f(x):\n    return x +", "\ndef f(x):\n    return x +"),  # truncated: to the end
]


@pytest.mark.parametrize("answer, code", PAPER_EXTRACTION)
def test_paper_extraction(answer, code):
    assert mbpp.paper_code(answer) == code


MAKER_EXTRACTION = [
    # (raw answer, code the maker's extraction keeps)
    (FENCED, "def f(x):\n    return x + 1"),  # a ```python block
    ("Sure.\ndef f(x):\n    return x + 1\nThat is all.", "def f(x):\n    return x + 1"),  # unfenced
    ("```python\ndef f(x):\n    return 1\n```\nUse:\n```python\nprint(f(2))\n```", "def f(x):\n    return 1"),
    ("```py\ndef f(x):\n    return x\n```", "def f(x):\n    return x"),  # any language tag
    ("I cannot write this function.", ""),  # prose only: no function, no code
    (
        "```python\ndef f(x):\n    return x\n\ndef g(y):\n    return y +",
        "def f(x):\n    return x",
    ),  # truncated
    (  # helpers the entry point calls and the imports stay; a demo call and a main guard go
        "```python\nimport math\ndef h(x):\n    return math.sqrt(x)\ndef f(x):\n    return h(x)\n"
        "if __name__ == '__main__':\n    print(f(4))\n```",
        "import math\ndef h(x):\n    return math.sqrt(x)\ndef f(x):\n    return h(x)",
    ),
]


@pytest.mark.parametrize("answer, code", MAKER_EXTRACTION)
def test_maker_extraction(answer, code):
    assert mbpp.maker_code(answer, "f") == code


TASK = {"task_id": "Mbpp/0", "prompt": '"""\nWrite f.\nassert f(1) == 2\n"""\n', "entry_point": "f"}


def test_paper_messages_are_the_papers():
    assert mbpp.paper_messages(TASK) == [
        {
            "role": "system",
            "content": "You are a helpful Python assistant.\n        you follow the instruction exactly.",
        },
        {
            "role": "user",
            "content": "Create a python Program with following instructions. Only create the asked function "
            'with no other output.\n                   # Instruction:"""\nWrite f.\nassert f(1) == 2\n"""\n',
        },
    ]


def test_paper_messages_read_as_the_paper_states_them():
    """With whitespace collapsed, the messages are the sentences the paper quotes."""
    system, user = (" ".join(m["content"].split()) for m in mbpp.paper_messages(TASK))
    assert system == "You are a helpful Python assistant. you follow the instruction exactly."
    assert user.startswith(
        "Create a python Program with following instructions. Only create the asked function with no other "
        "output. # Instruction:"
    )


def test_maker_messages_are_evalplus_instruction_with_the_prompt_in_a_block():
    (message,) = mbpp.maker_messages(TASK)
    assert message["role"] == "user"
    assert message["content"] == (
        "Please provide a self-contained Python script that solves the following problem in a markdown code "
        'block:\n```\n"""\nWrite f.\nassert f(1) == 2\n"""\n```\n'
    )


@pytest.mark.parametrize(
    "protocol, solution",
    [
        ("paper", TASK["prompt"] + "def f(x): ..."),  # a completion: EvalPlus's prompt + completion
        ("maker", "def f(x): ..."),  # a full solution
    ],
)
def test_solution_submitted(protocol, solution):
    assert mbpp.solution_for(protocol, "def f(x): ...", TASK) == solution


def test_paper_decoding_is_the_papers():
    # temperature 0.01 and top-p 0.95, from the paper's public evaluation code
    assert mbpp.decoding("paper") == {"temperature": 0.01, "top_p": 0.95, "repetition_penalty": 1.0}


def test_maker_decoding_is_greedy():
    assert mbpp.decoding("maker") == {"temperature": 0, "repetition_penalty": 1.0}


def test_unknown_protocol_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        mbpp.messages_for("humaneval", TASK)


@pytest.mark.parametrize("protocol", mbpp.PROTOCOLS)
def test_policy_answers_every_task(tiny_path, protocol):
    """Generation runs the protocol's decoding on a real (shrunken) policy: one answer per task."""
    tokenizer, model = load_policy(str(tiny_path))
    tasks = mbpp.load_mbpp_plus(limit=2)
    answers = mbpp.generate_answers(tokenizer, model, tasks, protocol, max_new_tokens=8)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)


# ---------------------------------------------------------------------------------------- the table


def test_table_puts_published_numbers_beside_ours():
    base = {"model": "m", "mbpp_pass_at_1": 0.5, "mbpp_plus_pass_at_1": 0.25}
    results = {"base": {"paper": {**base, "maker_extraction": {"mbpp_pass_at_1": 0.75}}, "maker": base}}
    rows = {
        tuple(c.strip() for c in line.split("|")[1:3]): line for line in mbpp.mbpp_table(results).splitlines()
    }
    assert "| 0.500 | 0.460 | 0.750 | 0.500 | 0.692 |" in rows[("MBPP", "base")]
    assert "| 0.250 | 0.413 | - | 0.250 | 0.594 |" in rows[("MBPP+", "base")]  # ablation MBPP+ missing
    assert "| - | 0.653 | - | - | - |" in rows[("MBPP", "fine-tuned")]  # no runs yet; Qwen published none
    assert "| - | 0.556 | - | - | - |" in rows[("MBPP+", "fine-tuned")]
    assert "paper's reported" in mbpp.mbpp_table(results)


@pytest.mark.parametrize(
    "model, shown",
    [
        ("Qwen/Qwen2.5-Coder-1.5B-Instruct", "Qwen/Qwen2.5-Coder-1.5B-Instruct"),  # a hub name, as it is
        ("/home/someone/dense-rl/cache/tiny-policy-seed0", "tiny-policy-seed0"),  # a local folder, by name
    ],
)
def test_table_names_the_model_not_the_machine(model, shown):
    results = {"base": {"paper": {"model": model, "mbpp_pass_at_1": 0.5}}}
    assert mbpp.mbpp_table(results).rstrip().endswith(f"Ours: {shown}.")


def test_the_evalplus_log_holds_no_machine_path():
    from pathlib import Path

    from dense_rl.paths import ROOT, machine_paths_hidden

    text = f"Load from {ROOT}/cache/x.pkl\r30it\n{Path.home()}/.cache/y\n"
    # project paths become relative, home paths '~/', and the progress bars' carriage returns stay
    assert machine_paths_hidden(text) == "Load from cache/x.pkl\r30it\n~/.cache/y\n"
