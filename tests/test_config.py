"""Presets: valid, documented, and clear errors for unknown names, fields and bad values."""

import math
from dataclasses import asdict, fields

import pytest

from dense_rl.config import PRESETS, Config, get_preset, preset_names


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid(name):
    cfg = get_preset(name)
    assert cfg.preset == name
    assert asdict(cfg)  # serialisable as config.json


def test_every_field_is_documented():
    assert all(f.metadata.get("help") for f in fields(Config))


@pytest.mark.parametrize(
    "preset, field, value",
    [
        ("paper-mbpp", "learning_rate", 3e-6),  # the paper's code run
        ("paper-mbpp", "kl_coef", 0.1),
        ("paper-mbpp", "w_tests", 0.7),
        ("paper-robo", "learning_rate", 1e-6),  # the paper's robot run
        ("paper-robo", "kl_coef", 0.9),
        ("paper-robo", "w_sim", 0.8),
        ("paper-robo", "batch_size", 4),
        ("paper-mbpp", "lora_r", 16),  # LoRA r16 alpha 32 dropout .05 on all projections
        ("paper-mbpp", "lora_alpha", 32),
        ("paper-mbpp", "cliprange_value", 0.3),
    ],
)
def test_paper_hyperparameters(preset, field, value):
    assert getattr(get_preset(preset), field) == value


def test_tiny_alias_means_every_tiny_preset():
    assert preset_names("tiny") == ("tiny-code", "tiny-robot", "tiny-robot-paper")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: get_preset("tiny-cod"), "valid presets: tiny-code"),  # typo in the preset name
        (lambda: preset_names("gpt"), "valid presets"),  # unknown alias
        (lambda: get_preset("tiny-code", learning_rat=1.0), "valid fields"),  # typo in a field name
        (lambda: get_preset("tiny-code", w_lint=-1.0), "w_lint"),  # negative weight
        (lambda: get_preset("tiny-code", w_tests=math.nan), "w_tests"),  # NaN weight
        (lambda: get_preset("tiny-code", w_dfg=math.inf), "w_dfg=inf"),  # infinite weight
        (lambda: get_preset("tiny-code", kl_coef=-0.1), "kl_coef"),  # negative KL coefficient
        (lambda: get_preset("tiny-code", w_syntax="0.1"), "w_syntax='0.1'"),  # a string (from a CLI)
        (lambda: get_preset("tiny-code", w_sim=True), "w_sim=True"),  # a flag where a weight belongs
        (lambda: get_preset("tiny-code", w_lint=-1.0), "set it to 0 to switch that term off"),  # says the fix
        (lambda: get_preset("tiny-code", reward_mode="medium"), "reward_mode"),  # unknown mode
        (lambda: get_preset("tiny-code", batch_size=16, mini_batch_size=5), "divide"),  # uneven minibatches
        (lambda: get_preset("tiny-robot", robot_templates=("teleport",)), "go_say"),  # names the templates
        (lambda: get_preset("tiny-code", robot_templates=("go_say",)), "robot tasks"),  # not a robot preset
    ],
)
def test_bad_values_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "items, expected",
    [
        (["group_baseline=true"], {"group_baseline": True}),  # JSON booleans
        (["learning_rate=1e-4", "lam=1"], {"learning_rate": 1e-4, "lam": 1}),  # numbers
        (["reward_mode=sparse"], {"reward_mode": "sparse"}),  # not JSON: kept as text
        (["model=org/name=x"], {"model": "org/name=x"}),  # only the first '=' splits
        (['lora_targets=["q_proj"]'], {"lora_targets": ("q_proj",)}),  # a list: a tuple, as in presets
        (['robot_templates=["go_say"]'], {"robot_templates": ("go_say",)}),  # one robot template
    ],
)
def test_set_reads_field_value_pairs(items, expected):
    from dense_rl.train import parse_sets

    assert parse_sets(items) == expected


@pytest.mark.parametrize("item", ["lam", "=1.0"])  # no '=', no field name
def test_set_without_a_field_or_value_says_how_to_write_it(item):
    from dense_rl.train import parse_sets

    with pytest.raises(SystemExit, match="FIELD=VALUE"):
        parse_sets([item])
