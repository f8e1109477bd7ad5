"""The two environment descriptions (pip and conda) describe the same environment."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_has_the_same_pins_as_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line.strip() for line in (ROOT / "environment.yml").read_text().splitlines()]
    pip_pins = [line[2:] for line in lines if line.startswith("- ") and "==" in line]
    assert sorted(pip_pins) == sorted(deps)


def test_every_dependency_is_pinned():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in d for d in deps)


def test_torch_pin_matches_the_constraints_file():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pin = next(d for d in deps if d.startswith("torch=="))
    assert torch_pin in (ROOT / "constraints.txt").read_text().split()
