#!/usr/bin/env bash
# The one command for a lent GPU machine (issue 20, docs/gpu.md): every CUDA path and the GPU figures, in about
# 8 minutes, as JSON files under $OUT (./gpu_out when OUT is unset) plus gpu_check.log, the whole output.
#
#   bash scripts/gpu/gpu_check.sh                        # on the GPU machine
#   bash scripts/gpu/gpu_check.sh --device cpu --tiny    # dry run on a CPU-only machine (well under a minute)
#
# Arguments go to scripts/gpu/gpu_check.py (--help lists them). seqeval, which the GPU image lacks, is taken from a
# carried package folder: $GPU_CHECK_SITE, else .whl/site (scripts/gpu/gpu_prepare.sh fills it). $PYTHON picks the
# interpreter (default python3, the one that holds PyTorch on the GPU image).
set -u -o pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
export PYTHONUNBUFFERED=1
OUT="${OUT:-$root/gpu_out}"
export OUT
mkdir -p "$OUT"
site="${GPU_CHECK_SITE:-$root/.whl/site}"
case "$site" in /*) ;; *) site="$root/$site" ;; esac
if [ -d "$site" ]; then
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
python="${PYTHON:-python3}"
echo "gpu_check.sh: $("$python" --version 2>&1) at $(command -v "$python"), OUT=$OUT, PYTHONPATH=$PYTHONPATH"
"$python" scripts/gpu/gpu_check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
