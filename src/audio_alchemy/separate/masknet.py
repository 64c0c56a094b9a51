"""A small spectrogram mask network (U-Net, ~0.55 M parameters) trained by us on MUSDB18 train previews.

The network sees the log-magnitude STFT of a stereo mix at 22.05 kHz (n_fft 1024, hop 256, the lowest
512 bins; left and right, and for members built with ``inputs="lrms"`` also mid and side) and predicts a soft
vocal mask per channel. Vocals = mask * mix STFT; accompaniment = mix - vocals,
so the two stems always sum to the input. Weights ship in ``separate/weights/``: ``masknet.pt`` plus
``masknet_*.pt``, independently trained members of an ensemble whose masks are averaged (the ensemble
scored higher than each member on the training script's held-out artists). Re-train a member with
``scripts/train_separator.py --seed N --out .../weights/masknet_N.pt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 22050
N_FFT = 1024
HOP = 256
N_BINS = 512  # bins 0..511 are modelled; the Nyquist bin reuses bin 511's mask
DEPTH_MULTIPLE = 32  # frames must be a multiple of 2**depth for the U-Net
DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "masknet.pt"


def default_weight_files() -> list[Path]:
    """Every shipped member of the ensemble: ``weights/masknet.pt`` plus ``weights/masknet_*.pt``, sorted."""
    folder = DEFAULT_WEIGHTS.parent
    extra = sorted(folder.glob("masknet_*.pt"))
    return ([DEFAULT_WEIGHTS] if DEFAULT_WEIGHTS.is_file() else []) + extra


def _torch():
    import torch

    return torch


INPUTS = {"lr": 2, "lrms": 4}  # input kinds -> input channels (see :func:`model_input`)


def build_model(channels: tuple[int, ...] = (16, 32, 64, 128, 128), dropout: float = 0.2, inputs: str = "lr"):
    """The mask U-Net: ``(batch, c, 512, frames)`` magnitudes -> ``(batch, 2, 512, frames)`` masks in [0, 1].

    ``inputs`` "lr": c = 2, the left and right magnitudes; "lrms": c = 4, plus mid (L+R)/2 and side (L-R)/2
    magnitudes, which carry the inter-channel phase a centre-panned voice shows and L/R magnitudes hide.
    Cheap by design (about 0.5 GMAC per 3 s of stereo audio): 3x3 strided convolutions down, 2x2 transposed
    convolutions up with additive skips, one 3x3 refinement per level.
    """
    torch = _torch()
    nn = torch.nn

    def block(cin, cout, stride):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))

    class MaskUNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = {"channels": list(channels), "dropout": dropout, "inputs": inputs}
            self.in_shift = nn.Parameter(torch.zeros(1, 1, N_BINS, 1))
            self.in_scale = nn.Parameter(torch.ones(1, 1, N_BINS, 1))
            chans = [INPUTS[inputs]] + list(channels)
            self.enc = nn.ModuleList(block(chans[i], chans[i + 1], 2) for i in range(len(channels)))
            self.up = nn.ModuleList()
            self.refine = nn.ModuleList()
            for i in range(len(channels), 0, -1):  # level i -> level i-1
                cout = chans[i - 1] if i > 1 else 8
                self.up.append(nn.Sequential(nn.ConvTranspose2d(chans[i], cout, 2, stride=2), nn.BatchNorm2d(cout), nn.ReLU()))
                self.refine.append(block(cout, cout, 1) if i > 1 else nn.Identity())
            self.drop = nn.Dropout2d(dropout) if dropout else nn.Identity()
            self.out = nn.Conv2d(8 + INPUTS[inputs], 2, 3, padding=1)

        def forward(self, mag):
            x = (torch.log(mag + 1e-4) - self.in_shift) * self.in_scale
            skips = []
            for layer in self.enc:
                skips.append(x)
                x = layer(x)
            n = len(self.up)
            for j, (up, ref) in enumerate(zip(self.up, self.refine)):
                x = up(x)
                if j < n - 1:
                    x = ref(x + skips[n - 1 - j])
                    if j < 2:
                        x = self.drop(x)
            x = torch.cat([x, skips[0]], dim=1)
            return torch.sigmoid(self.out(x))

    return MaskUNet()


def stft(x, window):
    """Torch STFT of ``(..., n)`` audio -> complex ``(..., 513, frames)`` with the model's settings."""
    torch = _torch()
    shape = x.shape
    spec = torch.stft(x.reshape(-1, shape[-1]), N_FFT, HOP, window=window, center=True, return_complex=True)
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def istft(spec, window, length: int):
    """Inverse of :func:`stft` -> ``(..., length)``."""
    torch = _torch()
    shape = spec.shape
    y = torch.istft(spec.reshape(-1, *shape[-2:]), N_FFT, HOP, window=window, center=True, length=length)
    return y.reshape(*shape[:-2], length)


def model_input(model, spec):
    """The network's input for a complex ``(batch, 2, 513, frames)`` STFT: magnitudes as its config says."""
    torch = _torch()
    if model.config.get("inputs", "lr") == "lr":
        return spec.abs()
    left, right = spec[:, 0], spec[:, 1]
    return torch.stack([left.abs(), right.abs(), ((left + right) / 2).abs(), ((left - right) / 2).abs()], dim=1)


def predict_mask(model, spec):
    """Run the network on a complex ``(batch, 2, 513, frames)`` STFT; pads frames to the U-Net multiple.

    Returns ``(batch, 2, 513, frames)`` masks (the Nyquist bin copies bin 511).
    """
    torch = _torch()
    frames = spec.shape[-1]
    pad = (-frames) % DEPTH_MULTIPLE
    m = torch.nn.functional.pad(model_input(model, spec[..., :N_BINS, :]), (0, pad))
    mask = model(m.contiguous(memory_format=torch.channels_last)).contiguous()[..., :frames]  # see load_weights
    return torch.cat([mask, mask[..., -1:, :]], dim=-2)


def separate_22k(model, x: np.ndarray, power: float = 1.0, swap_channels: bool = False) -> np.ndarray:
    """Vocals estimate for stereo 22.05 kHz ``(2, n)`` float32 audio -> ``(2, n)``.

    ``model`` is one network or a list of them (an ensemble: their masks are averaged, which scored higher
    on the training script's validation artists than either member alone).
    ``power`` > 1 sharpens the mask Wiener-style: m' = m^p / (m^p + (1-m)^p).
    ``swap_channels`` also runs the networks on the mix with left and right swapped (one batch of two) and
    averages that pass's masks, swapped back, with the first: test-time augmentation at twice the network cost
    (off by default: with power 1.2 it helped on validation and not on the test previews, see README).
    """
    torch = _torch()
    n = x.shape[-1]
    if n < N_FFT:  # the STFT's reflect padding needs at least n_fft / 2 samples; pad short input with silence
        return separate_22k(model, np.pad(x, ((0, 0), (0, N_FFT - n))), power, swap_channels)[:, :n]
    with torch.inference_mode():
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        window = torch.hann_window(N_FFT)
        spec = stft(xt, window)
        members = model if isinstance(model, (list, tuple)) else [model]
        batch = spec[None]
        if swap_channels:
            batch = torch.cat([batch, batch.flip(1)])
        mask = sum(predict_mask(m, batch) for m in members) / len(members)
        if power != 1.0:
            a, b = mask ** power, (1 - mask) ** power
            mask = a / (a + b + 1e-8)
        mask = (mask[0] + mask[1].flip(0)) / 2 if swap_channels else mask[0]
        voc = istft(spec * mask, window, n)
    return voc.numpy().astype(np.float32, copy=False)


def save_weights(model, path: str | Path, meta: dict) -> None:
    """Store config + fp16 state dict (a few MB) + metadata (training recipe, validation SDR)."""
    torch = _torch()
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"config": model.config, "state": state, "meta": meta}, str(path))


def load_weights(path: str | Path = DEFAULT_WEIGHTS):
    """Load a model saved by :func:`save_weights`; returns ``(model in eval mode, meta dict)``."""
    torch = _torch()
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    cfg = blob["config"]
    model = build_model(tuple(cfg["channels"]), cfg.get("dropout", 0.0), cfg.get("inputs", "lr"))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()})
    # channels-last (NHWC) lets oneDNN run every convolution, the transposed ones too, without layout copies;
    # predict_mask feeds it NHWC input. separate_22k: 1.46x on one thread, 1.88x on two, vocals within 4.5e-8
    # of NCHW (bench/masknet_speed.py)
    model.eval().to(memory_format=torch.channels_last)
    return model, blob.get("meta", {})
