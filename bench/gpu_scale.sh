#!/usr/bin/env bash
# The scale study on a GPU (docs/scaling.md): HuBERT base's architecture (random weights, built
# locally: nothing is downloaded) on the large synthesized corpus (8 minutes of speech),
# all four studies with configs/scale-hubert-base.yaml, device: auto (the GPU when torch sees
# one), every core for the CPU stages. Prints per-stage job-seconds, CPU-seconds, peak RSS and
# disk (bench/scale.py), and stops after 8 minutes (exit 124) with whatever finished.
#
#   bash bench/gpu_scale.sh              # on the GPU machine, after `make setup`
#   TINY=1 bash bench/gpu_scale.sh       # 2-layer models, small corpus: checks the path on a CPU
#
# Settings: SIZES (default "large"), MODELS (default "hubert-base"), LIMIT_S (default 480), CORES,
# OUT (default bench-scale-gpu, or bench-scale-tiny with TINY=1; a finished run is reused).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
LIMIT_S=${LIMIT_S:-480}
MODELS=${MODELS:-hubert-base}
if [[ -n "${TINY:-}" ]]; then
    SIZES=${SIZES:-small}
    OUT=${OUT:-bench-scale-tiny}
    EXTRA=(--tiny)
else
    SIZES=${SIZES:-large}
    OUT=${OUT:-bench-scale-gpu}
    EXTRA=()
fi
$PY - <<'PY'
import torch
print("torch", torch.__version__, "cuda:", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "(no GPU: device auto runs on the CPU)")
PY
start=$(date +%s)
# shellcheck disable=SC2086
timeout --signal=INT --kill-after=30 "$LIMIT_S" \
    $PY -m bench.scale --models $MODELS --sizes $SIZES --cores "${CORES:-$(nproc)}" --device auto --out "$OUT" "${EXTRA[@]}"
echo "gpu_scale: $(( $(date +%s) - start )) s wall in all; tables in $OUT/stages.tsv"
