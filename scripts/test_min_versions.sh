#!/usr/bin/env bash
# The reader and builder tests under the lowest declared versions (scripts/min-versions.txt: numpy 1.26,
# opencv 4.8, zarr 3.1.0, torch 2.13), in a second environment .venv-min. A pickle written by the main
# environment's numpy 2 is loaded there (tests/test_pickle_compat.py, $GAITPREP_OTHER_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv-min/bin/python ]; then
  "$PY" -m venv .venv-min
fi
MIN=.venv-min/bin/python
if ! "$MIN" -c "import torch" 2>/dev/null; then
  "$MIN" -m pip install -q torch==2.13.0
fi
"$MIN" -m pip install -q -c scripts/min-versions.txt -e '.[test]'
"$MIN" - <<'PY'
import cv2, numpy, torch, zarr
print(f"minimum versions: numpy {numpy.__version__}, opencv {cv2.__version__}, zarr {zarr.__version__}, "
      f"torch {torch.__version__}")
PY
OTHER=$(pwd)/.venv/bin/python
if [ ! -x "$OTHER" ]; then OTHER=""; fi
GAITPREP_OTHER_PYTHON="$OTHER" "$MIN" -m pytest -p no:cacheprovider \
  tests/test_pickle_compat.py tests/test_api.py tests/test_zarr_store.py tests/test_zarr_writer.py tests/test_build.py \
  tests/test_manifest.py tests/test_verify.py tests/test_silhouette_pretreat.py "$@"
