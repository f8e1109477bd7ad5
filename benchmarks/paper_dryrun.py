"""Dry run of the paper presets' notebooks on random weights of the paper model's shape (no download).

    python benchmarks/paper_dryrun.py --work /tmp/dryrun --out results/gpu                # a CUDA machine
    nice python benchmarks/paper_dryrun.py --shape small --work /tmp/dryrun --out /tmp/dr  # the plumbing, CPU

What it does, per preset (paper-mbpp, paper-robo):
1. builds a randomly initialised Qwen2ForCausalLM of Qwen2.5-Coder-1.5B-Instruct's shape and the kit's own
   byte-level BPE tokenizer (2,048 tokens, chat template), and saves both where the Hugging Face cache would
   hold the hub model, so `load_policy(PAPER_MODEL)` finds them with HF_HUB_OFFLINE=1: every notebook runs
   its real code path, hub id included;
2. writes small OpenCodeInstruct-format (`input`, `output`, `unit_tests`) and Robo-Instruct-format (`text`,
   `program`) training files from the kit's generated tasks, named by DENSE_RL_OPENCODEINSTRUCT and
   DENSE_RL_ROBOINSTRUCT (dense_rl.tasks.sources);
3. runs every notebook stage of the preset through dense_rl.reproduce's own plan / run_stage with few steps
   and small evaluation subsets (--param style overrides, below), timing each stage and sampling the peak
   memory while it runs (GPU memory in use on CUDA; resident memory of the notebook kernels on a CPU);
4. projects the full paper runs from the measured PPO step time (the training run's metrics.csv), with the
   arithmetic written out: one pass over 5,000 rows, the preset's batch per GPU, 2 GPUs in data parallel.
Writes <out>/paper_dryrun.json and prints it.

Where it departs from a real run: the weights are random. The embedding rows of ids the small tokenizer lacks
are zero and the others are scaled up (std 0.5), so the tied output layer gives every unknown id a logit of 0
against logits of std ~20 for known ids: answers decode, the model still computes all 151,936 logits. A
random model rarely ends an answer, so most run to the full 256 tokens (the worst case for generation).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import threading
import time
from pathlib import Path

import torch
from gpu_ppo_step import SHAPES as STEP_SHAPES  # benchmarks/ is on sys.path when run as a script
from transformers import Qwen2Config, Qwen2ForCausalLM

from dense_rl.config import PAPER_MODEL, get_preset
from dense_rl.reproduce import NOTEBOOKS, plan, run_stage
from dense_rl.tasks.code_tasks import generate_code_tasks
from dense_rl.tasks.robot_tasks import generate_robot_tasks
from dense_rl.tiny import TinySpec, sft_corpus, train_tokenizer

# the paper model's shape, and a small one to test the plumbing on a CPU (gpu_ppo_step's "tiny")
SHAPES = {"1.5b": STEP_SHAPES["1.5b"], "small": STEP_SHAPES["tiny"]}
# notebook parameters of the dry run: few steps, small evaluation subsets, no optional side studies
OVERRIDES = dict(
    steps=2,  # 05, 07: PPO steps per training run
    eval_tasks=4,  # 05, 07: held-out tasks before and after training
    mbpp_limit=5,  # 06: MBPP+ tasks (EvalPlus)
    heldout_tasks=4,  # 06: generated held-out tasks
    n_policy_samples=1,  # 01, 02, 04: answers sampled to illustrate
    max_new_tokens=32,  # 01, 02, 03: length of those answers
    compare_syncode=False,  # 01: SynCode's mask store (minutes on a 151k vocabulary) is not part of a run
    n_constrained=0,  # 01: constrained-decoding comparison
    n_tasks=1,  # 03
    n_samples=1,  # 03
)
PAPER_ROWS, GPUS = 5000, 2


def write_model(shape: str, snapshot: Path) -> None:
    """The random model and the kit's tokenizer, saved as the hub cache's snapshot of PAPER_MODEL."""
    spec = TinySpec(n_code_tasks=2000, n_robot_tasks=200)
    tokenizer = train_tokenizer([m[-1]["content"] + "\n" + a for m, a in sft_corpus(spec)], 2048)
    torch.manual_seed(0)
    config = Qwen2Config(
        **SHAPES[shape],
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        torch_dtype="bfloat16",
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():  # unknown ids: logit 0; known ids: logits of std ~20 (see the module docstring)
        model.model.embed_tokens.weight[len(tokenizer) :] = 0
        model.model.embed_tokens.weight[: len(tokenizer)].normal_(0, 0.5)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(torch.bfloat16).save_pretrained(snapshot)
    tokenizer.save_pretrained(snapshot)


def hub_cache(work: Path, shape: str) -> Path:
    """HF_HOME with PAPER_MODEL in its hub cache (built once per shape)."""
    home = work / f"hf-{shape}"
    repo = home / "hub" / f"models--{PAPER_MODEL.replace('/', '--')}"
    if not (repo / "snapshots" / "dryrun" / "config.json").exists():
        write_model(shape, repo / "snapshots" / "dryrun")
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text("dryrun")
    return home


def write_training_files(work: Path, rows: int) -> dict[str, str]:
    """OpenCodeInstruct- and Robo-Instruct-format .jsonl files of the kit's generated tasks."""
    code = [
        {
            "id": i,
            "input": t.instruction,
            "output": f"```python\n{t.reference}```",
            "unit_tests": json.dumps(t.tests),
        }
        for i, t in enumerate(generate_code_tasks(rows, "train", 7))
    ]
    robot = [
        {"text": f"# Instruction: {t.instruction}\ndef task_program():", "program": t.reference}
        for t in generate_robot_tasks(rows, "train", 7)
    ]
    paths = {
        "DENSE_RL_OPENCODEINSTRUCT": work / "opencodeinstruct.jsonl",
        "DENSE_RL_ROBOINSTRUCT": work / "robo.jsonl",
    }
    for (_, path), records in zip(paths.items(), (code, robot), strict=True):
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return {k: str(v) for k, v in paths.items()}


class PeakMemory:
    """Samples memory in use every 0.2 s while active: the GPU's (CUDA) or this process tree's RSS (CPU)."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._base = self._used() if torch.cuda.is_available() else 0

    def _used(self) -> int:
        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info()
            return total - free
        import psutil

        me = psutil.Process()
        return sum(p.memory_info().rss for p in [me, *me.children(recursive=True)] if p.is_running())

    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self._used() - self._base)
            except Exception:  # a child that exits between listing and reading
                pass

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def gib(self) -> float:
        return round(self.peak / 2**30, 2)


def projection(preset: str, step_seconds: float) -> dict:
    """GPU-hours of the full paper run: one pass over 5,000 rows, batch per GPU x 2 GPUs in parallel."""
    batch = get_preset(preset).batch_size
    steps = math.ceil(PAPER_ROWS / (batch * GPUS))
    hours = steps * step_seconds / 3600
    return {
        "step_seconds_measured": round(step_seconds, 2),
        "ppo_steps": steps,
        "wall_hours": round(hours, 2),
        "gpu_hours": round(hours * GPUS, 2),
        "arithmetic": (
            f"steps = ceil({PAPER_ROWS} rows / ({batch} per GPU x {GPUS} GPUs)) = {steps}; "
            f"wall = {steps} x {step_seconds:.1f} s = {hours:.2f} h; GPU-hours = {hours:.2f} x {GPUS} = "
            f"{hours * GPUS:.2f} (each GPU steps its own batch in the same time; gradient all-reduce of the "
            "LoRA weights and evaluation not included)"
        ),
    }


def step_seconds(run_root: Path, preset: str) -> float | None:
    """Seconds of the last PPO step of the preset's dense run (metrics.csv "seconds" is cumulative)."""
    import csv

    for config in sorted(run_root.glob("*/config.json")):
        cfg = json.loads(config.read_text())
        metrics = config.parent / "metrics.csv"
        if cfg.get("preset") == preset and cfg.get("reward_mode") == "dense" and metrics.exists():
            seconds = [float(r["seconds"]) for r in csv.DictReader(open(metrics))]
            return seconds[-1] - seconds[-2] if len(seconds) > 1 else seconds[-1]
    return None


def dry_run(preset: str, work: Path, overrides: dict) -> dict:
    """Run every stage of `preset`; per stage seconds and peak memory, and the projection."""
    out = work / "results" / preset
    overrides = overrides | {"out_dir": str(out)}
    stages = plan((preset,), NOTEBOOKS, work / "executed" / preset, overrides)
    record: dict = {"stages": {}}
    for name, _, notebook, executed, params in stages:
        with PeakMemory() as memory:
            seconds = run_stage(notebook, executed, params)
        record["stages"][name] = {"seconds": round(seconds, 1), "peak_memory_gib": memory.gib}
        print(json.dumps({preset: {name: record["stages"][name]}}), flush=True)
    measured = step_seconds(out, preset)
    record["projection"] = projection(preset, measured) if measured else "no training run found"
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1.5b")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (model, data, runs)")
    parser.add_argument("--out", type=Path, default=Path("results/gpu"), help="where paper_dryrun.json goes")
    parser.add_argument("--presets", default="paper-mbpp,paper-robo")
    parser.add_argument("--rows", type=int, default=64, help="rows in each generated training file")
    parser.add_argument("--steps", type=int, default=OVERRIDES["steps"], help="PPO steps per training run")
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="build the model and the training files, print the environment that names them, and stop",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    home = hub_cache(args.work.resolve(), args.shape)
    report = {
        "what": "paper presets' notebooks on random weights (benchmarks/paper_dryrun.py)",
        "shape": args.shape,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "model_build_seconds": round(time.time() - t0, 1),
        "overrides": OVERRIDES | {"steps": args.steps},
        "presets": {},
    }
    # the notebook kernels inherit this environment: the hub id resolves to the saved model, offline
    os.environ |= {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    files = write_training_files(args.work.resolve(), args.rows)
    os.environ |= files
    if args.prepare_only:  # for a shell: eval "$(python benchmarks/paper_dryrun.py --prepare-only ...)"
        model = home / "hub" / f"models--{PAPER_MODEL.replace('/', '--')}" / "snapshots" / "dryrun"
        print("\n".join(f"export {k}={v}" for k, v in {**files, "DRYRUN_MODEL": str(model)}.items()))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for preset in args.presets.split(","):
        report["presets"][preset] = dry_run(preset, args.work.resolve(), report["overrides"])
        (args.out / "paper_dryrun.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
