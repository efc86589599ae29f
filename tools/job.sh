#!/usr/bin/env bash
# The main job of README: install dp_sparse into the Python that `python3` names, then train a private
# model on an offline data set (scikit-learn's digits) and print its test accuracy and epsilon.
# Extra arguments go to `dp_sparse train`, e.g. `bash tools/job.sh --epsilon 1 --noise bsr`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch first: the pinned CPU build installs in seconds; an unpinned torch would pull a multi-GB CUDA build.
"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install --quiet torch==2.13.0
"$PY" -m pip install --quiet -e .
"$PY" -m dp_sparse.cli train "$@"
