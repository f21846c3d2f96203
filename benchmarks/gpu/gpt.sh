#!/usr/bin/env bash
# nanoGPT's Shakespeare-character GPT (gradschool/configs/gpt_shakespeare_gpu.toml: 6 layers,
# 6 heads, 384 dims, context 256, batch 64, dropout 0.2) on one GPU, timed to a validation loss
# <= 1.47 (nanoGPT reports about 1.47 after about 3 minutes on one A100). It trains through
# `gradschool.train.fit` (benchmarks/gpt.py train) and stops at the first evaluation (every
# 250 iterations, 200 fixed validation batches) that reaches the target.
#
#   benchmarks/gpu/gpt.sh                                   # on a GPU machine
#   DEVICE=cpu PRECISION=fp32 COMPILE=false benchmarks/gpu/gpt.sh --quick --target 4.2
#                                                           # the script itself, on a CPU
# Settings (environment): DATA_DIR (holds tinyshakespeare/input.txt; default ../shared/data),
# DEVICE (cuda), PRECISION (bf16: autocast, as nanoGPT), COMPILE (true: torch.compile),
# TARGET (1.47), PYTHON. Extra arguments go to benchmarks/gpt.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
"$PY" -c "import torch" 2>/dev/null || { echo "gpt.sh needs torch" >&2; exit 1; }
exec "$PY" benchmarks/gpt.py train \
    --config gpt_shakespeare_gpu --engine torch \
    --device "${DEVICE:-cuda}" \
    --data-dir "${DATA_DIR:-../shared/data}" \
    --target "${TARGET:-1.47}" \
    --set "precision=${PRECISION:-bf16}" \
    --set "compile=${COMPILE:-true}" \
    "$@"
