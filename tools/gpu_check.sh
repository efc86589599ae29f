#!/usr/bin/env bash
# Every CUDA path of dp_sparse in one run (< 8 minutes on one GPU); all figures go to ONE JSON file.
#   tools/gpu_check.sh [out.json] [extra gpu_check.py flags, e.g. --only zoo,bf16]
# Default file: $OUT/gpu_check.json (the device runner's output folder), else ./gpu_check.json.
# Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or no CUDA device, 124 over the 8-minute limit.
# On a CPU machine: python3 tools/gpu_check.py --cpu-smoke --out /tmp/gpu_check.json (the same checks, small).
set -u
cd "$(dirname "$0")/.."
out="${1:-${OUT:-.}/gpu_check.json}"
[ $# -gt 0 ] && shift
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "gpu_check.sh: nvidia-smi not found" >&2
timeout 480 python3 tools/gpu_check.py --out "$out" "$@"
rc=$?
[ $rc -eq 124 ] && echo "gpu_check.sh: over 8 minutes; partial results in $out" >&2
exit $rc
