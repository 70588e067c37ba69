#!/usr/bin/env bash
# The full test suite, from a fresh clone: set-up included. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
ruff check gaitprep gaitmodels tests benchmarks
python -m pytest -p no:cacheprovider "$@"
