"""Shared setup for the experiments: the bench's protocol (split seeds 0/1, Judge) and a cache of the existing
blend components' row-standardised scores on validation (fit on tr_v) and test (fit on train)."""
import json
import os
import tempfile
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads its BLAS
    os.environ.setdefault(_v, "1")
import numpy as np  # noqa: E402
from audio_alchemy import config  # noqa: E402
from audio_alchemy.recommend.benchmark import Judge, friends_graph, tune, tune_weights  # noqa: E402,F401
from audio_alchemy.recommend.evaluate import split  # noqa: E402
from audio_alchemy.recommend.interactions import item_tag_matrix, read_hetrec  # noqa: E402
from audio_alchemy.recommend.models import (ALS, DLAE, EASE, ContentKNN, ItemKNN, RP3beta, UserKNN,  # noqa: E402
                                            standardize_rows)

CACHE = Path(os.environ.get("REC_TRIED_CACHE", Path(tempfile.gettempdir()) / "audio-alchemy-rec-tried"))  # ~2.7 GB
CACHE.mkdir(parents=True, exist_ok=True)


def setup():
    het = read_hetrec(config.data_path("listening"))
    X = het.listens.matrix
    train, test = split(X, seed=0)
    tr_v, val = split(train, seed=1)
    return het, X, train, test, tr_v, val, Judge(tr_v, val), Judge(train, test)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def save(name, S_val, S_test, meta):
    np.save(CACHE / f"{name}.val.npy", standardize_rows(S_val))
    np.save(CACHE / f"{name}.test.npy", standardize_rows(S_test))
    (CACHE / f"{name}.meta").write_text(json.dumps(meta, default=float))


def load(name):
    return (np.load(CACHE / f"{name}.val.npy", mmap_mode="r"), np.load(CACHE / f"{name}.test.npy", mmap_mode="r"),
            json.loads((CACHE / f"{name}.meta").read_text()))


BASE = ["DLAE", "ALS", "EASE", "RP3beta", "user-kNN", "friends", "tags", "item-kNN"]
