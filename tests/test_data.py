"""Benchmark data: lookup order, download -> check -> cache -> reuse over a loopback HTTP server, failures
that leave nothing behind, the offline error, the reproduce pre-check, and the RoboEval converter (ast only)
on task files written in the upstream layout (tests/fixtures/upstream/).

    .venv/bin/python -m pytest tests/test_data.py -q
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dense_rl import data
from dense_rl.data import (
    MBPP,
    MBPP_PLUS,
    ROBOEVAL_PROGRAMS,
    ROBOEVAL_TASKS,
    SOURCES,
    ChecksumError,
    DataMissing,
    Source,
    check_ready,
    ensure,
    fetch,
)
from dense_rl.paths import ROOT
from dense_rl.robot.roboeval_convert import (
    contain_words,
    convert_reference_csv,
    convert_task_source,
    convert_tasks_dir,
)

UPSTREAM = Path(__file__).parent / "fixtures" / "upstream"
TASKS_DIR = UPSTREAM / "roboeval" / "benchmark" / "tasks"
CSV = UPSTREAM / "robo_instruct" / "generate_data" / "roboeval_data.csv"
SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data beside the checkout")


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """No DENSE_RL_DATA, no shared folder, an empty cache, no network (a closed loopback port)."""
    monkeypatch.delenv("DENSE_RL_DATA", raising=False)
    monkeypatch.setenv("DENSE_RL_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DENSE_RL_DATA_URL", closed_port_url())
    return tmp_path / "xdg" / "dense-rl" / "data"


class Mirror:
    """A loopback HTTP server over a folder laid out like the upstream repositories; counts requests."""

    def __init__(self, folder: Path, handler=None):
        self.folder, self.requests = folder, []
        mirror = self

        class Handler(handler or http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(tmp_path, isolated, monkeypatch):
    """The fixture files served over loopback (MbppPlus gzipped as upstream ships it); DENSE_RL_DATA_URL
    points at it."""
    folder = tmp_path / "mirror"
    shutil.copytree(UPSTREAM, folder)
    plain = folder / "MbppPlus.jsonl"
    (folder / "MbppPlus.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    server = Mirror(folder)
    monkeypatch.setenv("DENSE_RL_DATA_URL", server.url)
    yield server
    server.close()


def fixture_sources() -> dict[str, Source]:
    """The kit's four data files, pinned to the fixture files instead of the real upstream ones."""
    real = SOURCES
    md5 = hashlib.md5((UPSTREAM / "MbppPlus.jsonl").read_bytes()).hexdigest()
    mbpp_sha = hashlib.sha256((UPSTREAM / "mbpp" / "mbpp.jsonl").read_bytes()).hexdigest()
    tasks_sha = hashlib.sha256(convert_tasks_dir(TASKS_DIR).encode()).hexdigest()
    return {
        MBPP_PLUS: Source(MBPP_PLUS, "unused", real[MBPP_PLUS].paths, data.gunzip_md5_is(md5)),
        MBPP: Source(MBPP, "unused", real[MBPP].paths, data.sha256_is(mbpp_sha)),
        ROBOEVAL_TASKS: Source(
            ROBOEVAL_TASKS,
            "unused",
            ("roboeval/benchmark/tasks/CopyPaper.py", "roboeval/benchmark/tasks/Trapdoor.py"),
            data.sha256_is(tasks_sha),
            data.roboeval_tasks_from,
        ),
        ROBOEVAL_PROGRAMS: Source(
            ROBOEVAL_PROGRAMS,
            "unused",
            real[ROBOEVAL_PROGRAMS].paths,
            lambda b: None,
            data.roboeval_programs_from,
        ),
    }


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# ------------------------------------------------------------------------------------ lookup and download


@pytest.mark.parametrize(
    "holders, expected",
    [
        (("explicit", "shared", "cache"), "explicit"),  # DENSE_RL_DATA first
        (("shared", "cache"), "shared"),  # then ../shared/data
        (("cache",), "cache"),  # then the user's cache
    ],
)
def test_lookup_order(tmp_path, isolated, monkeypatch, holders, expected):
    folders = {"explicit": tmp_path / "explicit", "shared": tmp_path / "no-shared", "cache": isolated}
    for holder in holders:
        (folders[holder] / MBPP).parent.mkdir(parents=True, exist_ok=True)
        (folders[holder] / MBPP).write_text(holder)
    if "explicit" in holders:
        monkeypatch.setenv("DENSE_RL_DATA", str(folders["explicit"]))
    assert data.data_file(MBPP).read_text() == expected


def test_download_is_checked_cached_and_reused_offline(mirror, isolated, monkeypatch):
    sources = fixture_sources()
    paths = ensure(list(sources), sources)
    assert {name: p.parent.parent for name, p in paths.items()} == dict.fromkeys(sources, isolated)
    assert gzip.decompress(paths[MBPP_PLUS].read_bytes()) == (UPSTREAM / "MbppPlus.jsonl").read_bytes()
    served = len(mirror.requests)
    assert served == 1 + 1 + 2 + 1  # MbppPlus, mbpp, two task files, the csv
    monkeypatch.setenv("DENSE_RL_DATA_URL", closed_port_url())  # the network is gone: the cache answers
    assert ensure(list(sources), sources) == paths and len(mirror.requests) == served


def test_downloaded_roboeval_equals_the_local_conversion(mirror, isolated):
    path = ensure([ROBOEVAL_TASKS], fixture_sources())[ROBOEVAL_TASKS]
    assert path.read_text() == convert_tasks_dir(TASKS_DIR)


def test_corrupted_file_fails_its_check_and_nothing_is_cached(mirror, isolated):
    sources = fixture_sources()
    served = mirror.folder / "mbpp" / "mbpp.jsonl"
    served.write_text(served.read_text().replace("add(1, 2) == 3", "add(1, 2) == 4"))  # one character off
    with pytest.raises(ChecksumError, match="mbpp/mbpp.jsonl .* failed its check: sha256"):
        fetch(sources[MBPP], isolated)
    assert leftovers(isolated) == []


class CutOff(http.server.BaseHTTPRequestHandler):
    """Promises 1000 bytes, sends 10, closes the connection."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.close_connection = True


def test_interrupted_download_leaves_no_file(tmp_path, isolated, monkeypatch):
    server = Mirror(tmp_path, handler=CutOff)
    monkeypatch.setenv("DENSE_RL_DATA_URL", server.url)
    try:
        with pytest.raises(data.DOWNLOAD_ERRORS):
            fetch(fixture_sources()[MBPP], isolated)
    finally:
        server.close()
    assert leftovers(isolated) == []


def test_offline_without_cache_names_each_file_its_url_and_destination(isolated):
    t0 = time.time()
    with pytest.raises(DataMissing) as err:
        ensure(list(SOURCES))
    message = str(err.value)
    for name, source in SOURCES.items():
        assert f"{name}: not found, download failed" in message
        assert source.urls()[0] in message
        assert str(isolated / name) in message
    assert leftovers(isolated) == [] and time.time() - t0 < 10


def test_explicit_folder_is_used_as_is_and_never_downloaded_into(tmp_path, mirror, monkeypatch):
    monkeypatch.setenv("DENSE_RL_DATA", str(tmp_path / "mine"))
    with pytest.raises(DataMissing, match="not in the folder DENSE_RL_DATA="):
        ensure([MBPP], fixture_sources())
    assert mirror.requests == []


@needs_shared
@pytest.mark.parametrize("name", list(SOURCES))  # each pinned check accepts the staged copy
def test_pinned_checks_accept_the_staged_files(name):
    assert SOURCES[name].check((SHARED / name).read_bytes()) is None


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"task_id": 1}\n', "1 rows; expected the 974 tasks"),  # far too few rows
        ("not json\n", "not a JSON-lines file"),  # garbage
        (
            "".join(json.dumps({"task_id": i, "text": "t"}) + "\n" for i in range(1, 975)),
            "rows lack the field(s) ['challenge_test_list', 'code'",
        ),  # right ids, fields missing
    ],
)
def test_mbpp_structure_check_names_the_problem(text, problem):
    assert problem in data.mbpp_rows_ok(text.encode())


def test_gzip_check_rejects_a_cut_file():
    whole = gzip.compress(b'{"task_id": "Mbpp/2"}\n' * 100)
    assert "not a complete gzip file" in data.gunzip_md5_is("0" * 32)(whole[: len(whole) // 2])


# ------------------------------------------------------------------------------ the reproduce pre-check


def test_precheck_offline_names_what_each_stage_needs(isolated):
    stages = [  # rows as dense_rl.reproduce.plan builds them: (stage, preset, notebook, executed, params)
        ("04_simulator_reward", "tiny-robot", None, None, {}),
        ("06_evaluation", "tiny-code", None, None, {}),
    ]
    with pytest.raises(DataMissing) as err:
        check_ready(stages)
    assert [p.split(":")[0].strip() for p in err.value.problems] == [
        ROBOEVAL_TASKS,
        ROBOEVAL_PROGRAMS,
        MBPP_PLUS,
    ]


def test_precheck_asks_for_the_hub_model_of_a_paper_preset(tmp_path, isolated, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "ENDPOINT", closed_port_url())
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(DataMissing) as err:
        check_ready([("05_dense_ppo", "paper-mbpp", None, None, {})])
    message = str(err.value)
    assert "Qwen/Qwen2.5-Coder-1.5B-Instruct (model)" in message and "the hub is unreachable" in message
    assert "nvidia/OpenCodeInstruct (dataset)" in message and f"{MBPP}: not found" in message


@pytest.mark.parametrize(
    "where, ok",
    [
        ("local", True),  # an existing local folder needs no hub
        ("cache", True),  # a snapshot in the Hugging Face cache
        ("nowhere", False),  # neither, and the hub unreachable
    ],
)
def test_hub_model_found_locally_or_in_cache(tmp_path, monkeypatch, where, ok):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "ENDPOINT", closed_port_url())
    repo_id = "org/model" if where != "local" else str(tmp_path)
    if where == "cache":
        (tmp_path / "hf" / "models--org--model" / "snapshots" / "abc").mkdir(parents=True)
    assert (data.hub_problem(repo_id) is None) == ok


def test_reproduce_stops_before_stage_00_within_60_seconds(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DENSE_RL_DATA"}
    env |= {
        "DENSE_RL_SHARED_DATA": str(tmp_path / "no-shared"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "DENSE_RL_DATA_URL": closed_port_url(),
        # matplotlib keeps its font cache under XDG_CACHE_HOME too: keep the one already built
        "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR")
        or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib"),
    }
    t0, cpu0 = time.time(), os.times()
    # --force: every stage counts as one to run, whatever this machine ran before
    proc = subprocess.run(
        [sys.executable, "-m", "dense_rl.reproduce", "--preset", "tiny", "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # the child's CPU seconds (~16, mostly importing torch & co.): on a shared machine the wall clock
    # measures everyone else's work too (4 min at load 14 on 2 cores for the same 16 CPU seconds)
    cpu = sum(os.times()[2:4]) - sum(cpu0[2:4])
    seconds = time.time() - t0
    assert proc.returncode == 1 and cpu < 60, (proc.returncode, cpu, seconds, proc.stderr[-2000:])
    assert "[reproduce] stopped: benchmark data or models missing" in proc.stderr
    assert f"{MBPP_PLUS}: not found, download failed" in proc.stderr
    assert "00_tiny_policy" not in proc.stdout + proc.stderr


# --------------------------------------------------------------------------------- the RoboEval converter


def test_converter_never_runs_the_task_file():
    source = (TASKS_DIR / "Trapdoor.py").read_text()
    with pytest.raises(RuntimeError, match="executed"):  # the file really does raise when run
        exec(compile(source, "Trapdoor.py", "exec"), {})
    assert convert_task_source(source, "Trapdoor.py") == [
        {
            "task": "Trapdoor",
            "variant_id": 0,
            "instance_id": "Trapdoor_0",
            "prompt": "Wait in the hall until someone asks for help.",
            "world_states": [
                {
                    "state_idx": 0,
                    "state_var": "state0",
                    "timeout_expected": True,
                    "upstream_check_fn": "test_wait",
                    "locations": ["hall"],
                    "objects": [],
                    "agents": [{"name": "visitor", "location": "hall", "answers": []}],
                    "robot_location": "hall",
                }
            ],
        }
    ]


def test_converter_reads_chains_objects_agents_and_contain_words():
    records = convert_task_source((TASKS_DIR / "CopyPaper.py").read_text(), "CopyPaper.py")
    # the second `prompts` wins, as it would at run time
    assert [r["instance_id"] for r in records] == ["CopyPaper_0", "CopyPaper_1"]
    state0, state1 = records[1]["world_states"]
    assert state0["objects"] == [{"label": "paper", "location": "storage room"}]
    assert state1["agents"] == [
        {"name": ".*", "location": "copy room", "answers": ["^(?=.*paper)(?=.*thanks).*$", "no"]}
    ]
    assert state1["timeout_expected"] is False  # no "timeout" key: False
    assert records[0]["world_states"] == records[1]["world_states"]  # every variant shares the states


@pytest.mark.parametrize(
    "text, answer, matches",
    [
        ("^(?=.*6)(?=.*pm).*$", "6 PM please", True),  # both words, any case
        ("^(?=.*6)(?=.*pm).*$", "pm at 6", True),  # any order
        ("^(?=.*6)(?=.*pm).*$", "5pm", False),  # one word missing
    ],
)
def test_contain_words_regex(text, answer, matches):
    assert contain_words(["6", "pm"]) == text
    assert bool(re.search(text, answer, re.IGNORECASE)) == matches


GOOD = (
    'name = "T"\nprompts = ["p"]\nstate0 = State().addLocation("a")\ntests = [{"state": state0, "test": t}]\n'
)


@pytest.mark.parametrize(
    "source, message",
    [
        (GOOD.replace('"a"', "room()"), "line 3: argument 'room()' is neither a literal"),  # a call
        (GOOD.replace("addLocation", "addDoor"), "line 3: unexpected call .addDoor"),  # unknown method
        (GOOD.replace("State()", "Other()"), "state0 is not built by a State()"),  # not a State chain
        (GOOD.replace("tests = ", "checks = "), "no top-level tests"),  # not a task file
        (GOOD.replace('"state": state0', '"state": state9'), "names state9, which is never assigned"),
    ],
)
def test_converter_rejects_what_it_cannot_read_without_running(source, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        convert_task_source(source, "T.py")


def test_reference_csv_splits_prompt_and_program():
    records = convert_reference_csv(CSV.read_text())
    assert [(r["instance_id"], r["task"], r["variant_id"]) for r in records] == [
        ("CopyPaper_0", "CopyPaper", 0),
        ("Trapdoor_0", "Trapdoor", 0),
    ]
    assert records[0]["prompt"] == "Bring a pack of paper from the storage room to the copy room."
    assert records[0]["reference_program"].startswith('def task_program():\n    go_to("storage room")\n')
    assert records[1]["reference_program"].endswith("break\n\n")  # the field's text, kept to the last byte


@pytest.mark.parametrize(
    "drop, problem",
    [
        (1, "79 records; expected one for each of the 80 instances"),  # a program missing
        (0, None),  # all 80: accepted
    ],
)
def test_reference_programs_check_counts_instances(drop, problem):
    rows = [
        {"instance_id": f"{t}_{v}", "reference_program": "def task_program():\n    pass\n"}
        for t in data.ROBOEVAL_TASK_NAMES
        for v in range(5)
    ][drop:]
    got = data.roboeval_programs_ok("".join(json.dumps(r) + "\n" for r in rows).encode())
    assert got == problem if problem is None else problem in got
