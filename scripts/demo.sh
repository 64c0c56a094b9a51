#!/usr/bin/env bash
# Set up (if needed) and run the demo: the whole pipeline on the embedded demo library, then the player.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec alchemy demo "$@"
