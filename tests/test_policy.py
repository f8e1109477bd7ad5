"""The tiny policy and the one loading path: tokenizer, chat template, generation, clear load errors."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from dense_rl.policy import PolicyLoadError, load_policy, sample
from dense_rl.tiny import answer_loss, build_info


@pytest.fixture(scope="module")
def policy(tiny_path):
    return load_policy(str(tiny_path))


@pytest.mark.parametrize(
    "text",
    [
        "def f(x):\n    return x + 249\n",  # code with digits (split into single tokens)
        "```python\nprint('héllo ✓')\n```",  # non-ASCII survives byte-level BPE
        "    \t  trailing spaces   \n\n",  # whitespace runs
    ],
)
def test_tokenizer_round_trips(policy, text):
    tokenizer, _ = policy
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_digits_are_single_tokens(policy):
    tokenizer, _ = policy
    assert tokenizer.tokenize("12345")[-5:] == list("12345")


def test_chat_template_is_qwen_style(policy):
    tokenizer, _ = policy
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>"


def test_generation_returns_responses_that_stop_at_end_of_turn(policy):
    tokenizer, model = policy
    messages = [[{"role": "user", "content": "Write a function `f(x)` that returns x plus 1."}]]
    out = sample(tokenizer, model, messages, n=3, temperature=1.0, max_new_tokens=12)
    assert len(out.texts) == len(out.response_ids) == 3
    for ids in out.response_ids:
        assert 0 < len(ids) <= 12
        assert tokenizer.eos_token_id not in ids[:-1]


def test_greedy_generation_is_deterministic(policy):
    tokenizer, model = policy
    messages = [[{"role": "user", "content": "hello"}]]
    a = sample(tokenizer, model, messages, temperature=0, max_new_tokens=8).response_ids
    b = sample(tokenizer, model, messages, temperature=0, max_new_tokens=8).response_ids
    assert a == b


def test_a_folder_built_from_another_spec_is_rebuilt(tiny_path, tmp_path, monkeypatch):
    # a cache folder keeps its name when the default spec changes: its build record decides, not its name
    from conftest import SHRUNKEN

    from dense_rl.tiny import tiny_policy_path

    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path))
    stale = tmp_path / SHRUNKEN.folder_name()
    shutil.copytree(tiny_path, stale)
    info = build_info(stale) | {"spec": build_info(stale)["spec"] | {"steps": 1}, "losses": []}
    (stale / "build_info.json").write_text(json.dumps(info))
    assert build_info(tiny_policy_path(spec=SHRUNKEN))["losses"] == build_info(tiny_path)["losses"]


def test_build_is_deterministic_for_a_seed(tiny_path, tmp_path, monkeypatch):
    from conftest import SHRUNKEN

    from dense_rl.tiny import tiny_policy_path

    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path))
    again = tiny_policy_path(spec=SHRUNKEN)
    assert build_info(again)["losses"] == build_info(tiny_path)["losses"]
    w1 = load_policy(str(tiny_path))[1].state_dict()
    w2 = load_policy(str(again))[1].state_dict()
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_answer_loss_equals_the_models_own_loss(policy):
    """The pre-training loss skips the vocabulary projection on prompt tokens; the value must not change."""
    tokenizer, model = policy
    ids = torch.tensor([tokenizer("def f(x):\n    return x + 1\n")["input_ids"]] * 2)
    labels = ids.clone()
    labels[0, :4] = -100  # a prompt: no loss there
    labels[1, :2] = -100
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, -1] = False  # a padded position, ignored like any other unlabelled one
    labels[1, -1] = -100
    expected = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert torch.allclose(answer_loss(model, ids, labels, mask), expected, atol=1e-5)


def test_build_info_records_size_and_time(tiny_path):
    info = json.loads((tiny_path / "build_info.json").read_text())
    assert info["params"] > 0 and info["build_seconds"] > 0


def test_unreachable_hub_id_gives_a_clear_error(tmp_path):
    # a fresh process: the hub client reads HF_HUB_OFFLINE / HF_HOME once, at import time
    code = (
        "from dense_rl.policy import PolicyLoadError, load_policy\n"
        "try:\n    load_policy('Qwen/Qwen2.5-Coder-1.5B-Instruct')\n"
        "except PolicyLoadError as e:\n    print('CLEAR:', e)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path))  # empty cache: the id is not there
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "CLEAR:" in out.stdout and "Use the tiny preset" in out.stdout, out.stderr[-2000:]


def test_local_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(PolicyLoadError, match="no config.json"):
        load_policy(str(tmp_path))


def test_generate_kwargs_override_the_sampling_defaults(policy):
    tokenizer, model = policy
    messages = [[{"role": "user", "content": "hello"}]]
    # top_p close to 0 keeps only the most likely token: sampling becomes greedy
    narrow = sample(tokenizer, model, messages, n=3, temperature=1.0, top_p=1e-6, max_new_tokens=8)
    greedy = sample(tokenizer, model, messages, temperature=0, max_new_tokens=8)
    assert all(ids == greedy.response_ids[0] for ids in narrow.response_ids)


def _stage():
    from dataclasses import replace

    from conftest import SHRUNKEN

    return replace(SHRUNKEN, seed=1000, n_code_tasks=40, n_robot_tasks=40, steps=3, warmup_steps=1)


def test_the_robot_stage_trains_on_from_its_base(tiny_path, tmp_path, monkeypatch):
    import hashlib

    from dense_rl.tiny import tiny_robot_policy_path

    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path))
    path = tiny_robot_policy_path(stage=_stage(), base=tiny_path)
    info = build_info(path)
    assert info["base"] == hashlib.sha1((tiny_path / "build_info.json").read_bytes()).hexdigest()
    assert len(info["losses"]) == 3
    before, after = load_policy(str(tiny_path))[1].state_dict(), load_policy(str(path))[1].state_dict()
    assert before.keys() == after.keys()  # the same architecture ...
    assert any(not torch.equal(before[k], after[k]) for k in before)  # ... trained on
    assert load_policy(str(path))[0].get_vocab() == load_policy(str(tiny_path))[0].get_vocab()


def test_the_robot_stage_is_rebuilt_when_its_base_is(tiny_path, tmp_path, monkeypatch):
    # a rebuilt tiny policy (another build record) must not be paired with a stage trained on the old one
    from dense_rl.tiny import tiny_robot_policy_path

    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path / "cache"))
    base = tmp_path / "base"
    shutil.copytree(tiny_path, base)
    folder = tiny_robot_policy_path(stage=_stage(), base=base)
    first = build_info(folder)
    (folder / "marker").touch()  # a rebuild replaces the folder, and the marker with it
    assert (tiny_robot_policy_path(stage=_stage(), base=base) / "marker").exists()  # found, not rebuilt
    (base / "build_info.json").write_text(json.dumps(build_info(base) | {"final_loss": 0.0}))
    again = build_info(tiny_robot_policy_path(stage=_stage(), base=base))
    assert again["base"] != first["base"]  # rebuilt on the new base record


@pytest.mark.parametrize(
    "name, ok",
    [
        ("tiny", True),  # the tiny policy
        ("tiny-robot", True),  # the tiny policy trained on by the robot stage
        ("tiny-code", False),  # a preset's name, not a model's
    ],
)
def test_tiny_model_names(name, ok, tiny_path, tmp_path, monkeypatch):
    from dense_rl.tiny import tiny_model_path

    monkeypatch.setenv("DENSE_RL_CACHE", str(tmp_path))
    for folder in ("tiny-policy-seed0", "tiny-robot-policy-seed0"):
        (tmp_path / folder).symlink_to(tiny_path)
    if ok:
        assert tiny_model_path(name, 0) == tmp_path / (
            "tiny-policy-seed0" if name == "tiny" else f"{name}-policy-seed0"
        )
    else:
        with pytest.raises(ValueError, match="not a tiny model name"):
            tiny_model_path(name, 0)
