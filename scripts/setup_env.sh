#!/usr/bin/env bash
# Create .venv (once) and install the project with its test tools.
# torch is installed first at 2.13.0: that is the CPU build on this machine's disk; an unpinned
# resolver could otherwise pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q torch==2.13.0
fi
python -m pip install -q -e '.[test]'
