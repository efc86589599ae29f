#!/usr/bin/env bash
# The test command of README: install dp_sparse with its dev extra into the Python that `python3` names,
# then run every notebook with nbdev_test (cells flagged `slow` or `notest` are skipped; see settings.ini).
# Extra arguments go to nbdev_test, e.g. `bash tools/test.sh --flags slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch first: the pinned CPU build installs in seconds; an unpinned torch would pull a multi-GB CUDA build.
"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install --quiet torch==2.13.0
"$PY" -m pip install --quiet -e ".[dev]"
export MPLBACKEND=Agg PYTHONWARNINGS="ignore::DeprecationWarning"
BIN=$("$PY" -c "import sysconfig; print(sysconfig.get_path('scripts'))")
"$BIN/nbdev_test" --do_print --timing "$@"
