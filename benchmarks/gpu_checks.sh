#!/usr/bin/env bash
# Every GPU check of the kit, or the same steps on a CPU with small shapes to prove the script works before
# GPU time is spent on it. A device command may run 10 minutes, so the GPU run is two commands, back to back:
#
#   bash benchmarks/gpu_checks.sh            # CUDA: steps 1-4, at most 7 minutes; output to $OUT or results/gpu
#   bash benchmarks/gpu_checks.sh --dryrun   # CUDA: step 5, at most 9 minutes
#   bash benchmarks/gpu_checks.sh --cpu      # CPU: steps 1-5 with small shapes, 1-2 steps; output to $OUT or /tmp
#
# Writes gpu_checks.log / gpu_dryrun.log (every step's output), gpu_*_summary.txt (status, seconds per step),
# sdpa_nan.json, ppo_step_paths.json, deepspeed_metrics.csv and paper_dryrun.json.
#
# Steps, in order of importance (each has its own time limit; a failing step is recorded, the next runs):
#   1. tests/test_gpu.py: finite bf16 logits, loss and gradients on a left-padded batch with the training
#      attention; merged-copy logits; compiled static-cache greedy tokens without recompiling
#   2. benchmarks/sdpa_nan.py: which SDPA kernel gives NaN with transformers' mask and with the kit's
#   3. benchmarks/gpu_ppo_step.py: the paper-mbpp step with the old (adapter) and new rollout paths
#   4. DeepSpeed ZeRO-2 through `accelerate launch`, one process, two PPO steps of paper-mbpp
#   5. benchmarks/paper_dryrun.py: paper-mbpp and paper-robo notebooks end to end, and the GPU-hour projection
# Environment: PY (python with the kit importable; default .venv/bin/python if present, else python3),
# WORK (scratch folder; default a new temporary one), OUT (where results and logs go).
# Departs from a real run: random weights (see each script's docstring); no hub, no downloads.
#
# The GPU machine is bare and offline, with transformers 5.x: carry the kit's pins as Python 3.12 x86-64
# wheels in scratch/gpu_carry/wheels/ and the benchmark data (../shared/data does not travel) in
# scratch/gpu_carry/data/ (scratch/ is git-ignored; name scratch/gpu_carry in the device call's carry). The
# script installs those wheels (--no-deps) and points DENSE_RL_DATA at the data before anything else.
set -u -o pipefail
MODE=gpu
ONLY="1 2 3 4"
[ "${1:-}" = "--cpu" ] && MODE=cpu && ONLY="1 2 3 4 5"
[ "${1:-}" = "--dryrun" ] && ONLY=5
CARRY=scratch/gpu_carry
if [ "$MODE" = gpu ] && [ -d "$CARRY/wheels" ]; then  # the bare GPU machine: the kit's pins, offline
  python3 -m pip install -q --no-index --no-deps --no-build-isolation "$CARRY"/wheels/* \
    || echo "installing the carried wheels failed"
  export DENSE_RL_DATA=$PWD/$CARRY/data PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
WORK=${WORK:-$(mktemp -d /tmp/dense_rl_gpu_checks.XXXX)}
if [ "$MODE" = gpu ]; then OUT_DIR=${OUT:-results/gpu}; else OUT_DIR=${OUT:-$WORK/out}; fi
mkdir -p "$OUT_DIR" "$WORK"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
TAG=$([ "$ONLY" = 5 ] && echo dryrun || echo checks)
SUMMARY="$OUT_DIR/gpu_${TAG}_summary.txt"
: >"$SUMMARY"

if [ "$MODE" = gpu ]; then  # shapes, steps and time limits (seconds) per step
  SHAPE_STEP=1.5b; SHAPE_NAN=1.5b; SHAPE_DRY=1.5b; STEPS=2; T1=100; T2=40; T3=200; T4=90; T5=540
  PATHS=adapter,merged,merged+static+compile
else
  SHAPE_STEP=tiny; SHAPE_NAN=tiny; SHAPE_DRY=small; STEPS=1; T1=900; T2=300; T3=900; T4=900; T5=3000
  PATHS=adapter,merged,merged+static
fi

LOG="$OUT_DIR/gpu_${TAG}.log"  # one log for all steps: the device call returns at most 8 files
: >"$LOG"
step() {  # step NAME LIMIT COMMAND...: run with a time limit, append to $LOG, record the outcome
  local name=$1 limit=$2
  shift 2
  [[ " $ONLY " == *" ${name%%_*} "* ]] || return 0
  local t0=$SECONDS
  echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
  timeout "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "$name rc=$rc seconds=$((SECONDS - t0))" | tee -a "$SUMMARY" "$LOG"
}

step 1_test_gpu "$T1" "$PY" -m pytest tests/test_gpu.py -q -rs -p no:cacheprovider
step 2_sdpa_nan "$T2" "$PY" benchmarks/sdpa_nan.py --shape "$SHAPE_NAN" --out "$OUT_DIR"
step 3_ppo_step "$T3" "$PY" benchmarks/gpu_ppo_step.py --shape "$SHAPE_STEP" --steps "$STEPS" \
  --paths "$PATHS" --out "$OUT_DIR"

# 4. DeepSpeed: the model and training file the dry run builds, two PPO steps, no held-out evaluation
[[ " $ONLY " == *" 4 "* ]] && eval "$("$PY" benchmarks/paper_dryrun.py --shape "$SHAPE_DRY" --work "$WORK" --prepare-only)"
ACCELERATE=("$PY" -m accelerate.commands.launch --config_file configs/deepspeed_zero2_1proc.yaml)
[ "$MODE" = cpu ] && ACCELERATE+=(--cpu)
step 4_deepspeed "$T4" "${ACCELERATE[@]}" -m dense_rl.train --preset paper-mbpp --model "${DRYRUN_MODEL:-}" \
  --steps 2 --eval-tasks 0 --run-name "deepspeed-check-$MODE"
for run in results/paper-mbpp/deepspeed-check-"$MODE"*; do  # keep its metrics, not the run in results/
  [ -d "$run" ] && cp "$run/metrics.csv" "$OUT_DIR/deepspeed_metrics.csv" 2>/dev/null; rm -rf "$run"
done

step 5_paper_dryrun "$T5" "$PY" benchmarks/paper_dryrun.py --shape "$SHAPE_DRY" --work "$WORK" --out "$OUT_DIR"

echo "== summary ($SUMMARY)"
cat "$SUMMARY"
! grep -v " rc=0 " "$SUMMARY"  # the exit status says whether every step passed
