"""Where things are: the project root, results/<scale>/, and the benchmark data folder."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_path(path: str | Path) -> Path:
    """`path` as given when absolute, else relative to the project root (notebooks run from notebooks/)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


def data_dir() -> Path:
    """Benchmark data: $DENSE_RL_DATA, else ../shared/data beside the checkout. Never copied into the repo."""
    path = Path(os.environ.get("DENSE_RL_DATA", ROOT.parent / "shared" / "data"))
    if not path.exists():
        raise FileNotFoundError(
            f"benchmark data folder {path} does not exist: set DENSE_RL_DATA to the folder that holds "
            "mbpp/ and roboeval/ (see README.md, 'Data')"
        )
    return path
