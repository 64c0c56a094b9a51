"""WAV vs MP3 (or any two versions of a recording): how similar are their spectra, and where did the codec cut?

* ``histogram_similarity``: the study's frequency-histogram comparison — each signal's long-term
  magnitude spectrum (mean over STFT frames) normalised to a distribution over frequency bins; the
  similarity is the histogram intersection ``sum(min(p, q))`` (1 = identical, the study reported > 0.98);
* ``band_db_diff``: per octave band (31.5 Hz .. 16 kHz centres) energy of B minus A in dB (energy summed over
  all frames, so the numbers do not depend on how many frames each signal has); None where either signal has
  no energy in the band (e.g. one of them is silent);
* ``cutoff_hz``: the frequency above which B has lost energy: the lowest frequency from which on every
  smoothed bin of B is at least 20 dB below A while A still has content (within 90 dB of its peak and 25 dB above
  B's noise floor, so the loss is measurable); None when B kept everything.

Both inputs are mixed to mono, trimmed of leading and trailing silence (samples more than 60 dB below the
peak: an MP3 encoder's delay and padding would otherwise dilute the mean and shift every band of a short
clip by the same amount) and analysed at the same rate (the lower of the two, at most 48 kHz), STFT 4096 /
hop 1024 Hann.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..io.dsp import resample, to_mono

N_FFT = 4096
HOP = 1024
OCTAVE_CENTRES = (31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)


@dataclass
class Comparison:
    sr: int
    histogram_similarity: float
    cosine_similarity: float
    band_db_diff: dict[str, float | None]
    cutoff_hz: float | None
    freqs: list[float]
    spectrum_db_a: list[float]
    spectrum_db_b: list[float]

    def summary(self) -> dict:
        """The JSON-friendly result without the long spectra."""
        d = asdict(self)
        for k in ("freqs", "spectrum_db_a", "spectrum_db_b"):
            d.pop(k)
        return d


def trim_silence(y: np.ndarray, below_peak_db: float = 60.0) -> np.ndarray:
    """``y`` (n,) without its leading and trailing samples quieter than ``below_peak_db`` under its peak
    (all-quiet or empty input is returned as is)."""
    a = np.abs(y)
    if a.size == 0 or a.max() <= 0:
        return y
    loud = np.flatnonzero(a > a.max() * 10 ** (-below_peak_db / 20))
    return y[loud[0]:loud[-1] + 1]


def frame_magnitudes(y: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """``|STFT|`` ``(frames, n_fft // 2 + 1)`` over centred Hann frames."""
    import scipy.fft

    yp = np.pad(np.asarray(y, dtype=np.float32), n_fft // 2)
    if len(yp) < n_fft:
        yp = np.pad(yp, (0, n_fft - len(yp)))
    frames = np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop]
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    return np.abs(scipy.fft.rfft(frames * w, axis=1, workers=1))


def _smooth(x: np.ndarray, width: int = 9) -> np.ndarray:
    k = np.ones(width) / width
    return np.convolve(x, k, mode="same")


def compare_arrays(a: np.ndarray, sr_a: int, b: np.ndarray, sr_b: int) -> Comparison:
    """Compare two signals ``(c, n)`` or ``(n,)``; see the module docstring for each number."""
    sr = int(min(sr_a, sr_b, 48000))
    ya = resample(trim_silence(to_mono(np.asarray(a, np.float32))), sr_a, sr)
    yb = resample(trim_silence(to_mono(np.asarray(b, np.float32))), sr_b, sr)
    Ma, Mb = frame_magnitudes(ya), frame_magnitudes(yb)
    A, B = Ma.mean(axis=0), Mb.mean(axis=0)
    Pa, Pb = (Ma.astype(np.float64) ** 2).sum(axis=0), (Mb.astype(np.float64) ** 2).sum(axis=0)  # energy per bin
    quiet = 1e-12 * max(float(Pa.sum()), float(Pb.sum()))  # 120 dB below the louder signal: nothing to compare
    freqs = np.arange(len(A)) * sr / N_FFT
    pa = A / A.sum() if A.sum() > 0 else A
    pb = B / B.sum() if B.sum() > 0 else B
    hist = float(np.minimum(pa, pb).sum())
    denom = float(np.linalg.norm(A) * np.linalg.norm(B))
    cos = float(A @ B / denom) if denom > 0 else 0.0
    if A.sum() == 0 and B.sum() == 0:  # two silences are the same spectrum (one silent signal scores 0)
        hist = cos = 1.0
    eps = 1e-12
    bands: dict[str, float | None] = {}
    for fc in OCTAVE_CENTRES:
        lo, hi = fc / np.sqrt(2), fc * np.sqrt(2)
        m = (freqs >= lo) & (freqs < hi)
        if not m.any() or lo >= sr / 2:
            bands[f"{fc:g}"] = None
            continue
        ea, eb = float(Pa[m].sum()), float(Pb[m].sum())
        bands[f"{fc:g}"] = round(float(10 * np.log10(eb / ea)), 3) if ea > quiet and eb > quiet else None
    da = 20 * np.log10(_smooth(A) + eps)
    db = 20 * np.log10(_smooth(B) + eps)
    # A has content where it is within 90 dB of its peak and 25 dB above B's noise floor (B's 5th percentile): a
    # 20-dB loss must be measurable there (a low-bitrate MP3's floor sits near quiet highs, which would otherwise
    # count as "kept" and hide the cut below them)
    content = (da > da.max() - 90.0) & (da > np.percentile(db, 5) + 25.0)
    lost = (db < da - 20.0) & content
    cutoff = None
    # the lowest frequency from which on every bin where A has content is lost in B
    ok_above = np.flip(np.cumprod(np.flip(lost | ~content))).astype(bool)
    idx = np.flatnonzero(ok_above & content & (freqs > 1000))
    if idx.size and lost[idx].any():
        cutoff = float(freqs[idx[0]])
    return Comparison(sr, hist, cos, bands, cutoff, freqs.tolist(), da.round(2).tolist(), db.round(2).tolist())


def compare_files(path_a: str | Path, path_b: str | Path) -> Comparison:
    """Decode both files (audio_alchemy.io.load; at most the first 15 minutes, for bounded memory) and
    :func:`compare_arrays`."""
    from ..io import load
    from .sets import MAX_ANALYSIS_SECONDS

    a, b = load(path_a, duration=MAX_ANALYSIS_SECONDS), load(path_b, duration=MAX_ANALYSIS_SECONDS)
    return compare_arrays(a.samples, a.sr, b.samples, b.sr)


def plot(cmp: Comparison, out: str | Path, label_a: str = "A", label_b: str = "B") -> Path:
    """dB-vs-frequency curves of both signals, their difference and the cutoff, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = np.asarray(cmp.freqs)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    ax1.semilogx(f[1:], cmp.spectrum_db_a[1:], label=label_a, lw=1)
    ax1.semilogx(f[1:], cmp.spectrum_db_b[1:], label=label_b, lw=1, alpha=0.8)
    ax1.set_ylabel("level (dB)")
    ax1.set_title(f"histogram similarity {cmp.histogram_similarity:.4f}, cosine {cmp.cosine_similarity:.4f}")
    ax2.semilogx(f[1:], np.asarray(cmp.spectrum_db_b[1:]) - np.asarray(cmp.spectrum_db_a[1:]), color="k", lw=1)
    ax2.set_ylabel(f"{label_b} - {label_a} (dB)")
    ax2.set_xlabel("frequency (Hz)")
    if cmp.cutoff_hz:
        for ax in (ax1, ax2):
            ax.axvline(cmp.cutoff_hz, color="r", ls="--", lw=1)
        ax2.text(cmp.cutoff_hz, ax2.get_ylim()[0], f" cutoff {cmp.cutoff_hz:.0f} Hz", color="r", va="bottom")
    ax1.legend()
    ax1.grid(True, which="both", alpha=0.3)
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
