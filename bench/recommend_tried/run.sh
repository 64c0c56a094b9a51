#!/usr/bin/env bash
# Session 11's recommender experiments (docs/recommend.md, "Tried in session 11"): Mult-VAE, SLIM ElasticNet,
# per-user-group blend weights and the blend of everything, each tuned on validation only and scored on test once.
# About 15 minutes on 2 cores; score caches (~2.7 GB) in $REC_TRIED_CACHE (default: the temp folder).
#   bash bench/recommend_tried/run.sh
set -euo pipefail
cd "$(dirname "$0")"
export AUDIO_ALCHEMY_THREADS=1
python base_components.py                     # the 8 components of bench/recommend.py's hybrid, as it chose them
python multvae.py
python slim.py
python blend.py --save hybrid                 # the bench's hybrid again
python blend.py --groups plays --warm         # per-tercile weights (play counts)
python blend.py --groups mainstream --warm    # per-tercile weights (popularity of the user's artists)
python blend.py --extra MultVAE SLIM --wide   # everything, one weight set
python blend.py --extra MultVAE SLIM --wide --groups mainstream --warm --save final
python paired.py final hybrid                 # paired bootstrap of the last two
