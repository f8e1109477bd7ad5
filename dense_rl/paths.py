"""Where things are: the project root, results/<scale>/, and the benchmark data folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_path(path: str | Path) -> Path:
    """`path` as given when absolute, else relative to the project root (notebooks run from notebooks/)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


def data_dir() -> Path:
    """One folder holding all benchmark data (dense_rl.data.data_folder: $DENSE_RL_DATA, ../shared/data, the
    cache, downloads). Never copied into the repo. Prefer dense_rl.data.data_file for a single file."""
    from dense_rl.data import data_folder

    return data_folder()


def find_result(out_dir: str | Path, relpath: str | Path) -> Path:
    """An earlier stage's result file: <out_dir>/<relpath> when it exists, else the committed results/tiny/
    copy (so that a notebook run with out_dir='scratch/tiny' can read what `make reproduce` produced).

    Raises FileNotFoundError naming both places when neither has it.
    """
    own, committed = project_path(out_dir) / relpath, ROOT / "results" / "tiny" / relpath
    for path in (own, committed):
        if path.exists():
            return path
    raise FileNotFoundError(
        f"{relpath} is in neither {shown(own.parent)} nor {shown(committed.parent)}: run the notebook that "
        "writes it first (with the same out_dir), or `make reproduce`"
    )


def shown(path: str | Path) -> str:
    """A path as it may appear in outputs and result files: relative to the project root when inside it,
    '~/...' under the home folder, else '.../<last two parts>' (never an absolute path of this machine)."""
    path = Path(path).expanduser().resolve()
    for base, prefix in ((ROOT, ""), (Path.home(), "~/")):
        if path.is_relative_to(base):
            return prefix + path.relative_to(base).as_posix() if path != base else prefix or "."
    return ".../" + "/".join(path.parts[-2:])


def machine_paths_hidden(text: str) -> str:
    """`text` (a log, a tool's output) with this machine's project root and home folder written as `shown`
    writes them: relative to the project, or '~/'."""
    return text.replace(f"{ROOT}/", "").replace(f"{Path.home()}/", "~/")
