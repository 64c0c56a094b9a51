#!/usr/bin/env bash
# Set up (if needed) and run the default test suite (slow tests are excluded: add `-m slow` to run those).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
python -m pytest -m "not slow" -q --timeout 900 --durations=25 -p no:cacheprovider "$@"
code=$?
if [ "$code" = 5 ]; then echo "no tests were collected"; exit 1; fi
exit "$code"
