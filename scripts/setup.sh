#!/usr/bin/env bash
# Set up a fresh machine: system packages (when root), a .venv with the CPU build of PyTorch and the package.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)          # voices for the synthetic demo songs
[ -x /usr/bin/chromium ] || need+=(chromium)                        # the player's browser tests
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)            # permission tests when run as root
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)                 # MP3 encoding 2-3x faster than PyAV's LAME
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing system packages: ${need[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: optional system packages missing (install them for the full experience): ${need[*]}" >&2
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# CPU build of PyTorch first, so nothing pulls a multi-GB CUDA build later.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[ml,web,scale,collect,whisper,spleeter,dev]"
echo "setup: done ($(python --version), audio-alchemy $(python -c 'import audio_alchemy; print(audio_alchemy.__version__)'))"
