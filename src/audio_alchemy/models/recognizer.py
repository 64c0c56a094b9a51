"""The recogniser facade: named models (features + classifier), train, predict any-length audio, save/load.

>>> from audio_alchemy.models import Recognizer, from_csv
>>> data = from_csv("labels.csv", task="genre")
>>> rec = Recognizer.train(data, task="genre")          # default: musicnn embeddings + logistic regression
>>> rec.predict_file("song.mp3")                         # {"path":..., "label":..., "scores": {...}}
>>> rec.save("my-model"); Recognizer.load("my-model")

A model directory holds ``model.json`` (task, model name, feature settings, labels, versions, training
metrics) and ``estimator.joblib`` (the fitted estimator; a pickle: load only directories you trust).
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classical import CLASSIFIERS, ClipClassifier, make_pipeline
from .datasets import LabeledSet
from .featurize import FeatureSpec, file_inputs, load_rate, segment_inputs

log = logging.getLogger(__name__)

# language: mfcc-logreg measured above musicnn-logreg on data/language (bench/language.py: macro-F1 0.53 vs 0.44)
DEFAULT_MODELS = {"genre": "musicnn-logreg", "language": "mfcc-logreg"}
FORMAT_VERSION = 1

_FEATURES = {
    "musicnn": FeatureSpec("musicnn", params={"model": "MSD_musicnn"}),
    "mttnn": FeatureSpec("musicnn", params={"model": "MTT_musicnn"}),
    "musicnn2": FeatureSpec("musicnn", params={"models": ["MSD_musicnn", "MTT_musicnn"]}),
    "mfcc": FeatureSpec("mfcc"),
    "cnn": FeatureSpec("mel"),
    "cnngrey": FeatureSpec("grey"),
    "cnnviridis": FeatureSpec("viridis"),
}


@dataclass(frozen=True)
class ModelDef:
    """A named model: its input spec and a factory of the (unfitted) estimator."""

    name: str
    spec: FeatureSpec
    make: Callable[[int], object]
    about: str = ""


def _classical(features: str, clf: str, **params) -> ModelDef:
    def make(seed: int = 0):
        return ClipClassifier(make_pipeline(clf, seed=seed, **params), seed=seed)

    return ModelDef(f"{features}-{clf}", _FEATURES[features], make, f"{features} windows -> {clf}, mean-vote per clip")


def _cnn(features: str, image: str) -> ModelDef:
    def make(seed: int = 0):
        from .cnn import CNNClassifier

        return CNNClassifier(seed=seed)

    name = {"mel": "cnn-mel", "grey": "cnn-grey", "viridis": "cnn-viridis"}[image]
    return ModelDef(name, _FEATURES[features], make, f"small CNN on {image} windows, early stopping")


def model_registry() -> dict[str, ModelDef]:
    """Every model name `train`/`evaluate` accept."""
    reg: dict[str, ModelDef] = {}
    for feats in ("musicnn", "mttnn", "musicnn2", "mfcc"):
        for clf in CLASSIFIERS:
            d = _classical(feats, clf)
            reg[d.name] = d
    reg["cnn-mel"] = _cnn("cnn", "mel")
    reg["cnn-grey"] = _cnn("cnngrey", "grey")
    reg["cnn-viridis"] = _cnn("cnnviridis", "viridis")
    return reg


def get_model(name: str) -> ModelDef:
    reg = model_registry()
    if name not in reg:
        raise ValueError(f"unknown model {name!r}; choose from: {', '.join(sorted(reg))}")
    return reg[name]


def extract(data: LabeledSet, spec: FeatureSpec, use_cache: bool = True, on_error: Callable | None = None,
            progress: Callable[[int, int], None] | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Segment inputs for every file of ``data``; returns (inputs, kept_index). Unreadable files are skipped
    (reported through ``on_error(path, exc)``), never crash the batch.
    """
    from ..io import AudioError

    mats, keep = [], []
    for i, p in enumerate(data.paths):
        try:
            mats.append(file_inputs(p, spec, use_cache=use_cache))
            keep.append(i)
        except (AudioError, OSError, ValueError) as exc:
            log.info("skipping %s: %s", p, exc)  # on_error reports it to the user
            if on_error:
                on_error(p, exc)
        if progress:
            progress(i + 1, len(data.paths))
    return mats, np.asarray(keep, dtype=int)


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    from .. import __version__

    return {"audio_alchemy": __version__, "sklearn": sklearn.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def predict_each(predict_file: Callable[[str | Path], dict], paths: Iterable[str | Path]) -> Iterator[dict]:
    """Apply ``predict_file`` to every path; an unreadable file yields ``{"path", "error", "kind"}`` and the rest go on."""
    from ..io import AudioError

    for p in paths:
        try:
            yield predict_file(p)
        except AudioError as exc:
            yield {"path": str(p), "error": str(exc), "kind": getattr(exc, "kind", type(exc).__name__)}
        except (OSError, ValueError) as exc:
            yield {"path": str(p), "error": str(exc), "kind": type(exc).__name__}


def model_id(kind: str, meta_bytes: bytes) -> str:
    """The name predictions are stored under: the model's kind and a digest of its ``model.json`` (which records
    its training data, metrics and versions), e.g. ``mfcc-logreg@1a2b3c4d``; two trainings differ."""
    import hashlib

    return f"{kind}@{hashlib.sha256(meta_bytes).hexdigest()[:8]}"


class Recognizer:
    """A trained recogniser for one task (genre, language, ...)."""

    def __init__(self, task: str, model: str, spec: FeatureSpec, estimator, labels: list[str],
                 info: dict | None = None):
        self.task = task
        self.model = model
        self.spec = spec
        self.estimator = estimator
        self.labels = labels
        self.info = info or {}
        self.model_id = model  # set to model_id(...) when loaded from a directory

    # -- training -----------------------------------------------------------------------------------
    @classmethod
    def train(cls, data: LabeledSet, task: str = "genre", model: str | None = None, seed: int = 0,
              use_cache: bool = True, on_error: Callable | None = None, progress: Callable | None = None
              ) -> Recognizer:
        """Fit the named model (default per task) on every example of ``data`` (a :class:`LabeledSet`)."""
        if not hasattr(data, "paths") or not hasattr(data, "labels"):
            raise TypeError(f"data must be a LabeledSet (from_csv, from_library or LabeledSet(paths, labels)), not "
                            f"{type(data).__name__}")
        mdef = get_model(model or DEFAULT_MODELS.get(task, "musicnn-logreg"))
        t0 = time.perf_counter()
        mats, keep = extract(data, mdef.spec, use_cache=use_cache, on_error=on_error, progress=progress)
        y = data.labels[keep]
        if len(set(y.tolist())) < 2:
            raise ValueError("need at least two classes with readable audio to train")
        t1 = time.perf_counter()
        est = mdef.make(seed)
        est.fit(mats, y)
        t2 = time.perf_counter()
        train_pred = est.predict(mats)
        counts = {str(c): int(n) for c, n in zip(*np.unique(y, return_counts=True))}
        info = {
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "n_examples": int(len(y)), "n_skipped": int(len(data) - len(keep)), "class_counts": counts,
            "target": data.target, "group_by": data.group_by,
            "training_metrics": {"resubstitution_accuracy": float(np.mean(train_pred == y)),
                                 "feature_seconds": round(t1 - t0, 2), "fit_seconds": round(t2 - t1, 2)},
            "about": mdef.about, "seed": seed,
        }
        return cls(task, mdef.name, mdef.spec, est, [str(c) for c in est.classes_], info)

    # -- prediction ---------------------------------------------------------------------------------
    def predict_inputs(self, mats: list[np.ndarray]) -> np.ndarray:
        """(n, classes) probabilities for per-window inputs, columns in :attr:`labels` order."""
        return np.asarray(self.estimator.predict_proba(mats))

    def predict_audio(self, samples: np.ndarray, sr: int) -> tuple[str, dict[str, float]]:
        """Label and per-label probabilities for float audio ``(n,)`` or ``(channels, n)`` of any length (resampled to
        the model's rate); ValueError for integer, empty or wrongly shaped samples."""
        from ..io import check_rate, check_samples, resample, to_mono

        y, sr = to_mono(check_samples(samples).astype(np.float32, copy=False)), check_rate(sr)
        rate = load_rate(self.spec)
        if sr != rate:
            y = resample(y, sr, rate)
        proba = self.predict_inputs([segment_inputs(y, rate, self.spec)])[0]
        return self._result(proba)

    def _result(self, proba: np.ndarray) -> tuple[str, dict[str, float]]:
        scores = {lab: round(float(p), 6) for lab, p in zip(self.labels, proba)}
        return self.labels[int(np.argmax(proba))], scores

    def predict_file(self, path: str | Path) -> dict:
        """``{"path", "label", "scores"}`` for one file (raises AudioError for unreadable audio)."""
        label, scores = self._result(self.predict_inputs([file_inputs(path, self.spec, use_cache=False)])[0])
        return {"path": str(path), "label": label, "scores": scores}

    def predict_files(self, paths: Iterable[str | Path]) -> Iterator[dict]:
        """One result per path; unreadable files give ``{"path", "error", "kind"}`` instead of crashing."""
        return predict_each(self.predict_file, paths)

    # -- persistence --------------------------------------------------------------------------------
    def save(self, out: str | Path) -> Path:
        """Write a self-contained model directory (model.json + estimator.joblib)."""
        import joblib

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.estimator, out / "estimator.joblib")
        meta = {"format": FORMAT_VERSION, "task": self.task, "model": self.model, "features": self.spec.to_dict(),
                "labels": self.labels, "versions": _versions(), **self.info}
        (out / "model.json").write_text(json.dumps(meta, indent=2, default=str))
        return out

    @classmethod
    def load(cls, path: str | Path) -> Recognizer:
        """Read a directory written by :meth:`save`."""
        import joblib

        path = Path(path)
        meta_path = path / "model.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{path}: not a model directory (no model.json)")
        raw = meta_path.read_bytes()
        try:
            meta = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{meta_path}: not valid JSON ({exc}); the model directory is damaged") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{meta_path}: not a model description; the model directory is damaged")
        if "kind" in meta:  # e.g. "whisper_language": not a Recognizer directory
            raise ValueError(f"{path} is a {meta['kind']} model: load it with audio_alchemy.models.load_model")
        if meta.get("format", 0) > FORMAT_VERSION:
            raise ValueError(f"{path}: model format {meta['format']} is newer than this toolkit ({FORMAT_VERSION})")
        missing = [k for k in ("task", "model", "features", "labels") if k not in meta]
        if missing:
            raise ValueError(f"{meta_path}: lacks {', '.join(missing)}; the model directory is damaged")
        est = load_joblib(path / "estimator.joblib")
        info = {k: v for k, v in meta.items() if k not in ("format", "task", "model", "features", "labels")}
        rec = cls(meta["task"], meta["model"], FeatureSpec.from_dict(meta["features"]), est, list(meta["labels"]), info)
        rec.model_id = model_id(meta["model"], raw)
        return rec


def load_joblib(path: Path):
    """A fitted estimator saved by joblib; :class:`ValueError` naming the file when it is missing or damaged (joblib
    raises EOFError, UnpicklingError, ... which the command line would otherwise turn into a bare "Aborted")."""
    import joblib

    try:
        return joblib.load(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: missing; the model directory is incomplete") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a damaged file
        raise ValueError(f"{path}: corrupt model file ({type(exc).__name__}: {' '.join(str(exc).split())[:120]}); "
                         "train the model again or restore the file") from None


def load_model(path: str | Path, model_dir: str | Path | None = None, separate: str | None = None):
    """Any model directory `alchemy train` writes, by what its ``model.json`` says: a :class:`Recognizer`, or a
    Whisper language model (:class:`~audio_alchemy.models.whisper_language.WhisperRecognizer`, weights found through
    ``model_dir`` and the model store; ``separate`` overrides its stored input setting). Both answer
    ``predict_file(path) -> {"path", "label", "scores", ...}`` and ``predict_files(paths)``."""
    from . import whisper_language as wl

    if wl.is_language_model_dir(path):
        return wl.WhisperRecognizer.load(path, model_dir=model_dir, separate=separate)
    return Recognizer.load(path)
