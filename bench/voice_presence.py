"""Voice presence from a separator's vocal stem vs Whisper's no-speech probability, on the same clips.

    python bench/voice_presence.py [--separators spleeter,masknet] [--no-whisper]

Clips: the 39 MUSDB18 test previews of $AUDIO_ALCHEMY_DATA/stems, each as its mixture (voice) and its
accompaniment (no voice); then, held out, the 9 songs of $AUDIO_ALCHEMY_DATA/demo (2 with vocals, per its
SOURCE.md). Cue per separator: the vocal-to-mix energy ratio in dB (audio_alchemy.separate.voice). Baseline in
the same run: Whisper base's no-speech probability on the mix (the probability of its <|nospeech|> token after
<|startoftranscript|>, weighted over the most vocal 30-s windows), as 1 - p.

Prints per cue: ROC AUC on MUSDB, accuracy of a logistic curve fitted with 5-fold GroupKFold by track (the
mixture and accompaniment of a track never straddle folds), accuracy on the demo songs with the curve fitted on
all of MUSDB, and that curve (slope, midpoint dB) for ``audio_alchemy.separate.voice.CALIBRATION``. Last line:
``voice_auc_vs_whisper_no_speech: <first separator's AUC / Whisper's AUC>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402


def demo_labels(demo: Path) -> dict[str, int]:
    """{file name: 1 if its SOURCE.md row says vocals "yes"} from the demo folder's table."""
    out = {}
    for line in (demo / "SOURCE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 4 and (demo / cells[0]).is_file():
            out[cells[0]] = int(cells[4].lower().startswith("yes"))
    return out


def whisper_voice_score(samples: np.ndarray, sr: int) -> float:
    """1 - Whisper base's no-speech probability on the mix (mono 16 kHz, up to 3 most vocal 30-s windows)."""
    import ctranslate2

    from audio_alchemy.io import resample
    from audio_alchemy.models.whisper_language import N_FRAMES, SR, load_whisper, pad_window, vocal_windows

    x = np.asarray(samples, np.float32)
    x = x.mean(axis=0) if x.ndim == 2 else x
    x = resample(x, sr, SR) if sr != SR else x
    model = load_whisper("base")
    windows, weights = vocal_windows(x, SR, max_windows=3, compact=False)
    feats = []
    for w in windows:
        f = model.feature_extractor(pad_window(w, "zeros"))[:, :N_FRAMES]
        feats.append(np.pad(f, ((0, 0), (0, N_FRAMES - f.shape[1]))))
    enc = model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(feats), np.float32)),
                             to_cpu=True)
    prompt = ["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
    res = model.model.generate(enc, [prompt] * len(windows), max_length=1, beam_size=1, return_no_speech_prob=True)
    return 1.0 - float(np.average([r.no_speech_prob for r in res], weights=weights))


def evaluate(name: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, demo_x: np.ndarray, demo_y: np.ndarray):
    """AUC, grouped-CV accuracy, demo accuracy and the all-data logistic curve of one cue."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    auc = roc_auc_score(y, x)
    correct = 0
    for tr, te in GroupKFold(5).split(x, y, groups):
        m = LogisticRegression(C=10.0).fit(x[tr, None], y[tr])
        correct += int((m.predict(x[te, None]) == y[te]).sum())
    m = LogisticRegression(C=10.0).fit(x[:, None], y)
    slope, mid = float(m.coef_[0, 0]), float(-m.intercept_[0] / m.coef_[0, 0])
    demo_acc = float((m.predict(demo_x[:, None]) == demo_y).mean()) if len(demo_y) else float("nan")
    print(f"{name:<34} {auc:6.3f} {correct / len(y):9.3f} {demo_acc:9.3f}   slope {slope:.3f}/dB, midpoint {mid:.1f}")
    return auc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--separators", default="spleeter,masknet", help="comma-separated separator names")
    ap.add_argument("--no-whisper", action="store_true", help="skip the Whisper baseline")
    args = ap.parse_args(argv)

    from audio_alchemy.config import data_path
    from audio_alchemy.io import load
    from audio_alchemy.separate import get_separator
    from audio_alchemy.separate.evaluate import track_folders
    from audio_alchemy.separate.voice import vocal_to_mix_db

    stems, demo = data_path() / "stems", data_path() / "demo"
    if not stems.is_dir():
        print(f"no stems folder at {stems}: set AUDIO_ALCHEMY_DATA", file=sys.stderr)
        return 2
    clips, y, groups = [], [], []
    for i, t in enumerate(track_folders(stems)):
        for kind, label in (("mixture", 1), ("accompaniment", 0)):
            clips.append(next(t.glob(f"{kind}.*")))
            y.append(label)
            groups.append(i)
    labels = demo_labels(demo) if demo.is_dir() else {}
    demo_files = [demo / n for n in sorted(labels)]
    y, groups, demo_y = np.array(y), np.array(groups), np.array([labels[p.name] for p in demo_files])
    print(f"clips: {len(clips)} MUSDB ({int(y.sum())} with voice), held out: {len(demo_files)} demo songs "
          f"({int(demo_y.sum())} with voice)")
    audio = {p: load(p) for p in clips + demo_files}

    print(f"\n{'cue':<34} {'AUC':>6} {'CV acc':>9} {'demo acc':>9}   logistic curve (all MUSDB)")
    aucs = {}
    for name in [s.strip() for s in args.separators.split(",") if s.strip()]:
        try:
            sep = get_separator(name)
        except Exception as exc:  # noqa: BLE001 - a separator that cannot load is reported, not fatal
            print(f"{name:<34} unavailable: {exc}")
            continue
        t0 = time.perf_counter()
        db = {p: vocal_to_mix_db(sep.separate(a.samples, a.sr)["vocals"], a.samples) for p, a in audio.items()}
        aucs[name] = evaluate(f"{sep.id} vocal/mix dB", np.array([db[p] for p in clips]), y, groups,
                              np.array([db[p] for p in demo_files]), demo_y)
        print(f"{'':<34} ({time.perf_counter() - t0:.1f} s; demo dB: "
              + ", ".join(f"{p.name[:12]} {db[p]:.1f}" for p in demo_files) + ")")
    if not args.no_whisper:
        try:
            t0 = time.perf_counter()
            ws = {p: whisper_voice_score(a.samples, a.sr) for p, a in audio.items()}
            aucs["whisper"] = evaluate("whisper-base 1 - no_speech_prob", np.array([ws[p] for p in clips]), y,
                                       groups, np.array([ws[p] for p in demo_files]), demo_y)
            print(f"{'':<34} ({time.perf_counter() - t0:.1f} s)")
        except Exception as exc:  # noqa: BLE001 - faster-whisper or its weights missing
            print(f"whisper baseline unavailable: {exc}")
    first = next((n for n in aucs if n != "whisper"), None)
    if first and "whisper" in aucs:
        print(f"voice_auc_vs_whisper_no_speech: {aucs[first] / aucs['whisper']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
