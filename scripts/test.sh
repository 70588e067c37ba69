#!/usr/bin/env bash
# The full test suite, from a fresh clone: set-up included. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
ruff check gaitprep gaitmodels tests benchmarks
python -m pytest -p no:cacheprovider "$@"
# The reader and builder tests again under the lowest declared numpy (1.x), opencv and zarr (a few minutes;
# GAITPREP_MIN_VERSIONS=0 skips it).
if [ "${GAITPREP_MIN_VERSIONS:-1}" = 1 ]; then
  bash scripts/test_min_versions.sh
fi
