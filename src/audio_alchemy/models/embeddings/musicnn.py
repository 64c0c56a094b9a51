"""musicnn (Pons & Serra 2019) ported to PyTorch: pretrained music-tagging embeddings with no TensorFlow.

The weights come from the TensorFlow checkpoints shipped in the ``musicnn==0.1.0`` wheel (ISC licence),
converted once by ``scripts/convert_musicnn.py`` into ``weights/<model>.npz`` (package data). The port
reproduces the TF graph of ``musicnn/models.py`` layer by layer (tests compare it with recorded TF
outputs). It is lighter (torch only) and faster than the TF extractor, and fixes its two known bugs:
the float16 overflow of the log-mel step under NumPy 2 and the first-patch ``penultimate`` repeated for
every later batch.

Shapes: audio (n,) float at any rate -> log-mel (frames, 96) at 16 kHz -> patches (p, 187, 96) ->
embeddings (p, 200) "penultimate" / (p, 50) tag probabilities.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s, as the models were trained
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default
WEIGHTS_DIR = Path(__file__).with_name("weights")
MODELS = ("MSD_musicnn", "MTT_musicnn")

MTT_LABELS = ['guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast', 'piano', 'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male', 'singing', 'vocals', 'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman', 'male vocal', 'no vocal', 'pop', 'soft', 'sitar', 'solo', 'man', 'classic', 'choir', 'voice', 'new age', 'dance', 'male voice', 'female vocal', 'beats', 'harp', 'cello', 'no voice', 'weird', 'country', 'metal', 'female voice', 'choral']  # noqa: E501
MSD_LABELS = ['rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s', 'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists', 'classic rock', 'soul', 'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill', 'instrumental', 'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic', 'experimental', 'female vocalist', 'guitar', 'Hip-Hop', '70s', 'party', 'country', 'easy listening', 'sexy', 'catchy', 'funk', 'electro', 'heavy metal', 'Progressive rock', '60s', 'rnb', 'indie pop', 'sad', 'House', 'happy']  # noqa: E501


def log_mel(samples: np.ndarray, sr: int) -> np.ndarray:
    """musicnn's input: (frames, 96) log10(1 + 10000 * mel power) of mono audio resampled to 16 kHz.

    Same librosa call as musicnn's ``batch_data``, but without its float16 cast (which overflows under
    NumPy 2 and only loses precision otherwise).
    """
    import librosa

    from audio_alchemy.io import resample

    y = np.asarray(samples, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if sr != SR:
        y = resample(y, sr, SR)
    mel = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0).astype(np.float32)


def patches(mel: np.ndarray, n_frames: int = PATCH_FRAMES, hop: int | None = None) -> np.ndarray:
    """Cut a (frames, 96) log-mel into (p, n_frames, 96) patches; short input is repeat-padded.

    musicnn was trained with repeat-padding of short clips ("pad_short": "repeat-pad"); NOTES.md measured
    that repeat-padding beats zero-padding for 2-s excerpts. The tail shorter than a patch is dropped
    unless it is the only patch, as musicnn's own batching does.
    """
    hop = hop or n_frames
    if mel.shape[0] == 0:
        raise ValueError("empty spectrogram")
    if mel.shape[0] < n_frames:
        reps = int(np.ceil(n_frames / mel.shape[0]))
        mel = np.tile(mel, (reps, 1))[:n_frames]
    starts = range(0, mel.shape[0] - n_frames + 1, hop)
    return np.stack([mel[s:s + n_frames] for s in starts]).astype(np.float32)


class _BN(nn.BatchNorm1d):
    """Inference batch norm with TF's epsilon, over axis 1 of any-rank input."""

    def __init__(self, n: int):
        super().__init__(n, eps=BN_EPS)


def _same_pad_time(x: torch.Tensor, k: int) -> torch.Tensor:
    """TF 'same' padding along the time axis (dim 2 of NCHW) for kernel length k."""
    total = k - 1
    return F.pad(x, (0, 0, total // 2, total - total // 2))


class Musicnn(nn.Module):
    """The musicnn graph (front-end 7774timbraltemporal, dense mid-end, global-pool back-end)."""

    def __init__(self, num_classes: int = 50, mid: int = 64, units: int = 200, n_mels: int = N_MELS):
        super().__init__()
        nf = 1.6
        self.bn_in = _BN(1)
        self.t74 = nn.Conv2d(1, int(nf * 128), (7, int(0.4 * n_mels)))
        self.bn74 = _BN(int(nf * 128))
        self.t77 = nn.Conv2d(1, int(nf * 128), (7, int(0.7 * n_mels)))
        self.bn77 = _BN(int(nf * 128))
        self.temporal = nn.ModuleList(nn.Conv2d(1, int(nf * 32), (k, 1)) for k in (128, 64, 32))
        self.bn_temporal = nn.ModuleList(_BN(int(nf * 32)) for _ in range(3))
        front = 2 * int(nf * 128) + 3 * int(nf * 32)
        self.mid = nn.ModuleList([nn.Conv1d(front, mid, 7), nn.Conv1d(mid, mid, 7), nn.Conv1d(mid, mid, 7)])
        self.bn_mid = nn.ModuleList(_BN(mid) for _ in range(3))
        feat = front + 3 * mid
        self.bn_pool = _BN(2 * feat)
        self.dense = nn.Linear(2 * feat, units)
        self.bn_dense = _BN(units)
        self.out = nn.Linear(units, num_classes)

    @staticmethod
    def _bn2d(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        b, c, t, f = x.shape
        return bn(x.reshape(b, c, t * f)).reshape(b, c, t, f)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (batch, 187, 96) log-mel -> dict of penultimate (b, 200), taggram (b, 50), pools (b, 753)."""
        h = self._bn2d(self.bn_in, x.unsqueeze(1))  # (b, 1, t, f)
        padded = F.pad(h, (0, 0, 3, 3))
        fronts = []
        for conv, bn in ((self.t74, self.bn74), (self.t77, self.bn77)):
            fronts.append(self._bn2d(bn, F.relu(conv(padded))).amax(dim=3))
        for conv, bn in zip(self.temporal, self.bn_temporal):
            y = F.relu(conv(_same_pad_time(h, conv.kernel_size[0])))
            fronts.append(self._bn2d(bn, y).amax(dim=3))
        front = torch.cat(fronts, dim=1)  # (b, 561, t)
        m1 = self.bn_mid[0](F.relu(self.mid[0](F.pad(front, (3, 3)))))
        m2 = self.bn_mid[1](F.relu(self.mid[1](F.pad(m1, (3, 3))))) + m1
        m3 = self.bn_mid[2](F.relu(self.mid[2](F.pad(m2, (3, 3))))) + m2
        feats = torch.cat([front, m1, m2, m3], dim=1)  # (b, 753, t)
        max_pool = feats.amax(dim=2)
        mean_pool = feats.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF flattens (753, 2) row-major
        pen = self.bn_dense(F.relu(self.dense(self.bn_pool(flat))))
        return {"penultimate": pen, "taggram": torch.sigmoid(self.out(pen)),
                "mean_pool": mean_pool, "max_pool": max_pool}


class WeightsMissing(FileNotFoundError):
    """The converted weights of a musicnn model are not in the package (see scripts/convert_musicnn.py)."""


@lru_cache(maxsize=4)
def load_model(name: str = "MSD_musicnn") -> Musicnn:
    """The pretrained port, in eval mode, from the packaged ``weights/<name>.npz`` (cached per process)."""
    path = WEIGHTS_DIR / f"{name}.npz"
    if not path.exists():
        raise WeightsMissing(f"{path} missing: run scripts/convert_musicnn.py (needs the musicnn wheel)")
    with np.load(path) as z:
        sd = {k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files}
    model = Musicnn()
    sd.update({k: v for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")})
    model.load_state_dict(sd)
    return model.eval()


def embed_patches(batch: np.ndarray, model: str = "MSD_musicnn", chunk: int = 32) -> dict[str, np.ndarray]:
    """Run (p, 187, 96) log-mel patches through the model: dict of arrays with first axis p."""
    net = load_model(model)
    outs: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode():
        for i in range(0, len(batch), chunk):
            res = net(torch.from_numpy(np.ascontiguousarray(batch[i:i + chunk])))
            for k, t in res.items():
                outs.setdefault(k, []).append(t.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def embed(samples: np.ndarray, sr: int, model: str = "MSD_musicnn", hop_seconds: float = 3.0,
          output: str = "penultimate") -> np.ndarray:
    """Audio (n,) or (channels, n) at ``sr`` -> (patches, dim) embeddings, one per 3-s patch.

    ``hop_seconds`` < 3 overlaps patches. Any length works: clips under 3 s are repeat-padded.
    """
    mel = log_mel(samples, sr)
    hop = max(1, int(round(hop_seconds * SR / HOP)))
    return embed_patches(patches(mel, hop=hop), model)[output]
