#!/usr/bin/env bash
# Every GPU measurement of docs/benchmarks.md ("GPU" section) in one command, about 5 minutes
# on one H200. Each step has its own time limit, and all of them together stay within BUDGET
# seconds (default 560, under a 10-minute limit on one remote command).
#
#   bash benchmarks/gpu/run_all.sh [DATA_DIR]
#
# DATA_DIR holds mnist/ (the four IDX .gz files). Default: $GRADSCHOOL_DATA, else
# .device-data/ in the checkout, else ../shared/data. On a GPU machine that only receives the
# checkout, copy the data in first (from the checkout's root):
#
#   mkdir -p .device-data && cp -r ../shared/data/mnist .device-data/
#   echo /.device-data/ >> .git/info/exclude         # keep it out of git
#
# Needs python3 with torch (CUDA), numpy, tqdm, matplotlib and pytest; gradschool itself is
# used from the checkout (PYTHONPATH), not installed. Everything is printed, and also written to
# $OUT/gpu_results.log when OUT is set (else /tmp/gpu_results.log).
#
# QUICK=1 bash benchmarks/gpu/run_all.sh DATA_DIR: a smoke test of this script on a CPU-only
# machine (tiny runs, --device cpu; its figures mean nothing).
set -uo pipefail
cd "$(dirname "$0")/../.."

DATA=${1:-${GRADSCHOOL_DATA:-}}
if [ -z "$DATA" ]; then
    for d in .device-data ../shared/data; do
        if [ -d "$d/mnist" ]; then DATA=$d; break; fi
    done
fi
if [ ! -d "$DATA/mnist" ]; then
    echo "run_all.sh: no MNIST found (looked in '${DATA:-.device-data, ../shared/data}')." >&2
    echo "Give a data directory holding mnist/*.gz: bash benchmarks/gpu/run_all.sh DATA_DIR" >&2
    exit 2
fi
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
LOG=${OUT:-/tmp}/gpu_results.log
RUNS=$(mktemp -d)
GPU=cuda SPEED=() SEED=() DDP=()
if [ "${QUICK:-0}" = 1 ]; then
    GPU=cpu SPEED=(--quick) SEED=(--max-steps 20 --epochs 1) DDP=(--quick)
fi

section() { printf '\n==== %s ====\n' "$1"; }
BUDGET=${BUDGET:-560}  # seconds for everything: a remote command may be cut off at 600
step() {  # step SECONDS COMMAND...: run it within its own limit and what is left of BUDGET
    local limit=$1 left=$((BUDGET - SECONDS)); shift
    if [ "$left" -le 10 ]; then echo "-- skipped, the time budget is spent: $*"; return; fi
    [ "$limit" -gt "$left" ] && limit=$left
    local t0=$SECONDS
    timeout "$limit" "$@"
    echo "-- exit $? after $((SECONDS - t0)) s (limit ${limit} s): $*"
}

# The most wanted figures first: if time runs short, the last steps are the ones skipped.
{
    section "machine"
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
    step 60 "$PY" -c 'import torch, sys; print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda, "| cudnn", torch.backends.cudnn.version(), "| GPU", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "| CPU cores", __import__("os").cpu_count())'
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(git status --porcelain 2>/dev/null | grep -q . && echo '(with local changes)')"

    section "1. speedrun, the recipe as configured (bf16 + channels-last), both loops, 5 seeds"
    step 120 "$PY" benchmarks/gpu/speedrun_mnist.py --data-dir "$DATA" --seeds 5 "${SPEED[@]}"

    section "2. the seed recipe (MLP, SGD, batch 64, 10 epochs) on the GPU"
    step 120 "$PY" -m gradschool train --engine torch --device "$GPU" --dataset mnist \
        --data-dir "$DATA" --progress off --out-dir "$RUNS" --run-name seed-gpu "${SEED[@]}"
    grep -h "training time" "$RUNS"/seed-gpu/report.md 2>/dev/null || echo "(no report)"

    section "3. the device tests, on the GPU (tests/test_devices.py: CUDA, bf16, no sync per batch)"
    step 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_devices.py

    section "4. speedrun, lean loop, fp32 without channels-last (what bf16/NHWC buy)"
    step 60 "$PY" benchmarks/gpu/speedrun_mnist.py --data-dir "$DATA" --seeds 5 --loop lean \
        --precision fp32 --no-channels-last "${SPEED[@]}"

    section "5. speedrun, lean loop, batch 512 with a doubled peak rate (fewer, larger steps)"
    step 60 "$PY" benchmarks/gpu/speedrun_mnist.py --data-dir "$DATA" --seeds 5 --loop lean \
        --batch-size 512 --lr 0.02 "${SPEED[@]}"

    section "6. speedrun, lean loop + torch.compile (compilation in the warm-up run)"
    step 150 "$PY" benchmarks/gpu/speedrun_mnist.py --data-dir "$DATA" --seeds 5 --loop lean \
        --compile "${SPEED[@]}"

    section "7. the seed recipe on this machine's CPU, for the ratio to step 2"
    step 90 "$PY" -m gradschool train --engine torch --device cpu --dataset mnist \
        --data-dir "$DATA" --progress off --out-dir "$RUNS" --run-name seed-cpu "${SEED[@]}"
    grep -h "training time" "$RUNS"/seed-cpu/report.md 2>/dev/null || echo "(no report)"

    section "8. DDP on the CPU: 2 processes vs 1 (gloo), on a quiet many-core machine"
    step 120 "$PY" benchmarks/ddp_overhead.py "${DDP[@]}"

    section "done in $SECONDS s"
} 2>&1 | tee "$LOG"
rm -rf "$RUNS"
