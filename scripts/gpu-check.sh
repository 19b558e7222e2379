#!/usr/bin/env bash
# The GPU check (scripts/GPU-CHECK.md): on a machine with an NVIDIA GPU, a Python with PyTorch 2.x and transformers,
# Node.js (from `source .device/setup.sh`) and no network, in one command and within 8 minutes:
#   env     the machine, PyTorch, transformers, CUDA (bench/gpu_reference.py info)
#   build   the addon against the machine's PyTorch (npx cmake-js compile, every core); tsc beside it
#   addon   bert-trainer's versions ({ bertTrainer, libtorch, cuda, cudnn, nccl }) and the CUDA it sees
#   parity  test/cuda-parity.test.ts on the GPU: fp32 logits (TF32 off) within 1e-4 of transformers, a 50-step bf16
#           loss curve within 2% of transformers' own bf16 run, fp16 with loss scaling finite and within 2%; RoBERTa,
#           DistilBERT and ELECTRA classifiers of the same size: logits within 1e-4, bf16 curve within 2%; then
#           resume exactness on the GPU (fp32 and fp16, dropout on: the device generator's state in rng_state.bin,
#           the loss scaler's in scaler.json): a resumed run against the uninterrupted one, held to the run-to-run
#           distance of two uninterrupted runs
#   bench   scripts/bench/gpu.js: bert-base, 128 tokens, batch 32 — samples/s and peak memory of ours (fp32, bf16)
#           against transformers eager fp32, bf16 SDPA and torch.compile bf16; the bf16 matmul rate; MFU
# Each stage has its own time budget inside one deadline (GPU_CHECK_DEADLINE_S, default 450 s), and OUTDIR gets
# gpu-check.json (every stage's results and the targets) and gpu-check.log after every stage: a stage that fails or
# runs out of time leaves the others' results.
#
# Usage:
#   bash scripts/gpu-check.sh OUTDIR                        the GPU run
#   bash scripts/gpu-check.sh --dry-run [--skip-build] OUTDIR
#       every stage on the CPU with tiny sizes (test/gpu-check.test.ts); --skip-build keeps an existing
#       build/Release/bert_trainer.node instead of building (the build takes minutes on a small machine)
# Environment: BERT_TRAINER_PYTHON (default .venv/bin/python when present, else python3), GPU_CHECK_DEVICE
# (default cuda, cpu in a dry run), GPU_CHECK_DEADLINE_S, GPU_CHECK_JOBS (build jobs, default nproc),
# GPU_CHECK_COMMIT (recorded when the tree has no .git).
# Exit status: 0 when every stage ran and succeeded (the targets are measurements: read them in gpu-check.json),
# 1 when a stage failed, timed out or had no time left, 2 on bad usage.
set -uo pipefail

SELF="${BASH_SOURCE[0]}"
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
SELF="$ROOT/scripts/$(basename "$SELF")"

usage() {
  sed -n '/^# Usage:/,/^set -uo/p' "$SELF" | grep '^#' | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------------------------------------------
# Stages. Each runs as `bash scripts/gpu-check.sh __stage NAME` under `timeout`, with the settings exported below.

stage_env() {
  local commit
  commit=${GPU_CHECK_COMMIT:-$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)}
  "$PY" bench/gpu_reference.py info --commit "$commit" --node "$(node --version 2>/dev/null || echo none)" \
    > "$OUT/env.json.tmp" && mv "$OUT/env.json.tmp" "$OUT/env.json" && cat "$OUT/env.json"
}

stage_build() {
  echo "LibTorch: $(node scripts/find-libtorch.js --version 2>&1) ($(node scripts/find-libtorch.js --cmake-dir 2>&1))"
  export CMAKE_BUILD_PARALLEL_LEVEL=$JOBS MAKEFLAGS="-j$JOBS"
  npx cmake-js compile --parallel "$JOBS" && test -f build/Release/bert_trainer.node
}

stage_tsc() {
  npx tsc -p tsconfig.json
}

stage_addon() {
  node -e '
    const fs = require("fs");
    const out = { versions: null, torchVersion: null, cuda: null };
    const { native } = require("./dist/engine/native");
    const addon = native();
    out.torchVersion = addon.torchVersion;
    out.cudaAvailable = addon.cudaAvailable;
    try { out.cuda = typeof addon.cudaInfo === "function" ? addon.cudaInfo() : null; } catch (e) { out.cuda = { error: e.message }; }
    try { const v = require("./dist").versions; out.versions = v ? { ...v } : null; } catch (e) { out.versions = { error: e.message }; }
    fs.writeFileSync(process.argv[1] + ".tmp", JSON.stringify(out, null, 2));
    fs.renameSync(process.argv[1] + ".tmp", process.argv[1]);
    console.log(JSON.stringify(out));
  ' "$OUT/versions.json"
}

stage_parity() {
  # A dry run trains 10 steps instead of 50 (bf16 on a CPU without bf16 instructions is slow).
  [ "$DRY_RUN" = 1 ] && export BERT_TRAINER_PARITY_STEPS=${BERT_TRAINER_PARITY_STEPS:-10}
  # The rest of the BERT family beside BERT: each one's logits and bf16 curve.
  BERT_TRAINER_PARITY_FAMILY=${BERT_TRAINER_PARITY_FAMILY-roberta,distilbert,electra} \
    BERT_TRAINER_TEST_DEVICE=$DEVICE BERT_TRAINER_PARITY_OUT="$OUT/parity.json" \
    npx jest --runInBand --ci --globalSetup "$ROOT/test/helpers/no-global-setup.js" test/cuda-parity.test.ts
}

stage_bench() {
  local args=(--device "$DEVICE" --out "$OUT/bench.json" --budget-s "$STAGE_BUDGET" --python "$PY")
  if [ "$DRY_RUN" = 1 ]; then
    # Tiny sizes; torch.compile through aot_eager (dynamo and AOTAutograd, not inductor's C++ codegen: minutes on a CPU).
    args+=(--size tiny --batch 4 --seq 32 --warmup 1 --steps 2 --windows 2 --matmul-size 256 --compile-backend aot_eager)
  else
    args+=(--size base --batch 32 --seq 128 --warmup 10 --steps 50 --windows 3 --matmul-size 8192 --compile-backend inductor)
  fi
  node scripts/bench/gpu.js "${args[@]}"
}

if [ "${1:-}" = "__stage" ]; then
  cd "$ROOT" || exit 1
  "stage_$2"
  exit $?
fi

# ---------------------------------------------------------------------------------------------------------------
# The run

DRY_RUN=0
SKIP_BUILD=0
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "gpu-check: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      if [ -n "$OUT" ]; then echo "gpu-check: one output folder, got $OUT and $1" >&2; usage >&2; exit 2; fi
      OUT=$1 ;;
  esac
  shift
done
if [ -z "$OUT" ]; then echo "gpu-check: no output folder given" >&2; usage >&2; exit 2; fi

cd "$ROOT" || exit 2
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/{env,versions,parity,bench,gpu-check}.json "$OUT"/{stages.jsonl,gpu-check.log,tsc.out,tsc.rc}
LOG="$OUT/gpu-check.log"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!

START=$(date +%s)
if [ "$DRY_RUN" = 1 ]; then DEFAULT_DEADLINE=1200; DEFAULT_DEVICE=cpu; else DEFAULT_DEADLINE=450; DEFAULT_DEVICE=cuda; fi
DEADLINE=$((START + ${GPU_CHECK_DEADLINE_S:-$DEFAULT_DEADLINE}))
DEVICE=${GPU_CHECK_DEVICE:-$DEFAULT_DEVICE}
JOBS=${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 4)}
if [ -n "${BERT_TRAINER_PYTHON:-}" ]; then PY=$BERT_TRAINER_PYTHON
elif [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"
else PY=python3; fi
# Everything below (find-libtorch, the parity test, the benchmark) uses this one interpreter.
export BERT_TRAINER_PYTHON=$PY OUT DEVICE JOBS PY DRY_RUN
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_TELEMETRY=1
FAILED=0

elapsed() { echo $(($(date +%s) - START)); }

summarize() {
  local flags=(--out "$OUT" --started "$START")
  [ "$DRY_RUN" = 1 ] && flags+=(--dry-run)
  "$PY" bench/gpu_reference.py summarize "${flags[@]}" "$@" || echo "gpu-check: the summary could not be written"
}

record() { # stage status rc seconds note
  printf '{"stage":"%s","status":"%s","rc":%s,"seconds":%s,"note":"%s"}\n' "$1" "$2" "$3" "$4" "$5" >> "$OUT/stages.jsonl"
}

# run_stage NAME BUDGET_S RESERVE_S: at most BUDGET_S, and never into the RESERVE_S the later stages need.
run_stage() {
  local name=$1 budget=$2 reserve=$3
  local left=$((DEADLINE - $(date +%s) - reserve))
  local t=$budget
  [ "$left" -lt "$t" ] && t=$left
  if [ "$t" -lt 10 ]; then
    echo "=== [$(elapsed) s] $name: skipped, no time left ($((DEADLINE - $(date +%s))) s before the deadline)"
    record "$name" skipped-no-time null 0 "no time left"
    FAILED=1
    summarize
    return 1
  fi
  echo "=== [$(elapsed) s] $name (up to $t s)"
  local s0
  s0=$(date +%s)
  STAGE_BUDGET=$((t - 10)) timeout -k 10 "$t" bash "$SELF" __stage "$name" < /dev/null
  local rc=$?
  local secs=$(($(date +%s) - s0)) status=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=timeout; elif [ $rc -ne 0 ]; then status=failed; fi
  [ $status = ok ] || FAILED=1
  echo "=== [$(elapsed) s] $name: $status (exit $rc, $secs s)"
  record "$name" "$status" "$rc" "$secs" ""
  summarize
  return $rc
}

on_signal() {
  echo "=== [$(elapsed) s] interrupted"
  record interrupted failed null "$(elapsed)" "signal"
  summarize --print
  exit 143
}
trap on_signal TERM INT

echo "gpu-check: $(date -u +%FT%TZ), output $OUT, device $DEVICE, python $PY, $JOBS build jobs, deadline $((DEADLINE - START)) s$([ "$DRY_RUN" = 1 ] && echo ', dry run')"
# Budgets (seconds): env, build, parity, bench. A stage's reserve is what the stages after it need at least.
run_stage env 60 330

# The addon and, at the same time, the TypeScript (tsc is one core; the build all of them).
TSC_T0=$(date +%s)
TSC_T=$((DEADLINE - TSC_T0 - 200))
[ "$TSC_T" -gt 120 ] && TSC_T=120
TSC_PID=
if [ "$TSC_T" -ge 10 ]; then
  echo "=== [$(elapsed) s] tsc (up to $TSC_T s, beside the build)"
  ( STAGE_BUDGET=$TSC_T timeout -k 5 "$TSC_T" bash "$SELF" __stage tsc < /dev/null > "$OUT/tsc.out" 2>&1; echo $? > "$OUT/tsc.rc" ) &
  TSC_PID=$!
fi
if [ "$SKIP_BUILD" = 1 ] && [ -f build/Release/bert_trainer.node ]; then
  echo "=== [$(elapsed) s] build: skipped (--skip-build; build/Release/bert_trainer.node is there)"
  record build skipped-by-flag null 0 "--skip-build with build/Release/bert_trainer.node present"
  summarize
else
  run_stage build 300 210
fi
if [ -n "$TSC_PID" ]; then
  wait "$TSC_PID"
  TSC_RC=$(cat "$OUT/tsc.rc" 2>/dev/null || echo 1)
  cat "$OUT/tsc.out"
  if [ "$TSC_RC" = 0 ]; then TSC_STATUS=ok; elif [ "$TSC_RC" = 124 ] || [ "$TSC_RC" = 137 ]; then TSC_STATUS=timeout; else TSC_STATUS=failed; fi
  [ "$TSC_STATUS" = ok ] || FAILED=1
  echo "=== [$(elapsed) s] tsc: $TSC_STATUS (exit $TSC_RC)"
  record tsc "$TSC_STATUS" "$TSC_RC" $(($(date +%s) - TSC_T0)) ""
  rm -f "$OUT/tsc.out" "$OUT/tsc.rc"
else
  echo "=== [$(elapsed) s] tsc: skipped, no time left"
  record tsc skipped-no-time null 0 "no time left"
  FAILED=1
fi
summarize

run_stage addon 60 200
run_stage parity 180 130
run_stage bench 400 5

echo "=== [$(elapsed) s] done"
summarize --print
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit $FAILED
