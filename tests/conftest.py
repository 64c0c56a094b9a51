"""Shared fixtures: the data folder (skip when absent), isolated library homes, generated audio."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from audio_alchemy import config


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own library home so nothing touches ~/.audio-alchemy."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv(config.HOME_ENV, str(home))
    yield home


def data_or_skip(*parts: str) -> Path:
    """The shared data sub-folder, or skip the test with a message saying how to provide it."""
    p = config.data_path(*parts)
    if p is None:
        pytest.skip(f"needs $AUDIO_ALCHEMY_DATA/{'/'.join(parts)} (default ../shared/data); not present")
    return p


@pytest.fixture
def demo_dir() -> Path:
    return data_or_skip("demo")


def tone(freq: float = 440.0, seconds: float = 1.0, sr: int = 22050, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    """A sine tone as float32 ``(channels, n)``."""
    t = np.arange(int(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[np.newaxis], channels, axis=0)


def music(seconds: float = 3.0, sr: int = 22050, seed: int = 0, channels: int = 2) -> np.ndarray:
    """A few random notes with decays: distinct per seed, so fingerprints tell them apart."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n, dtype=np.float64)
    step = sr // 4
    for start in range(0, n, step):
        f = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        m = min(step * 2, n - start)
        t = np.arange(m) / sr
        out[start:start + m] += np.sin(2 * np.pi * f * t) * np.exp(-4 * t) * rng.uniform(0.2, 0.6)
    out += 0.01 * rng.standard_normal(n)
    out /= np.abs(out).max() / 0.8
    return np.repeat(out[np.newaxis].astype(np.float32), channels, axis=0)


os.environ.setdefault("OMP_NUM_THREADS", "1")
