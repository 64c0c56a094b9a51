"""Where things live: the library home, the database and the shared test/benchmark data.

Every path the toolkit uses by default comes from here, so one environment variable moves it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

HOME_ENV = "AUDIO_ALCHEMY_HOME"
DATA_ENV = "AUDIO_ALCHEMY_DATA"


def home() -> Path:
    """The library home: ``$AUDIO_ALCHEMY_HOME`` or ``~/.audio-alchemy``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".audio-alchemy").expanduser()


def default_db_path() -> Path:
    """The default SQLite database inside the library home."""
    return home() / "library.sqlite"


def data_dir() -> Path:
    """The shared data folder: ``$AUDIO_ALCHEMY_DATA`` or ``../shared/data`` (relative to the working dir).

    When the default does not exist relative to the working directory, the folder beside the
    repository checkout is tried, so tests and benches work from any directory inside the repo.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    cwd_default = Path("../shared/data")
    if cwd_default.is_dir():
        return cwd_default.resolve()
    repo_default = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
    return repo_default.resolve()


def data_path(*parts: str) -> Path | None:
    """A sub-folder of the shared data, or None when it is absent."""
    p = data_dir().joinpath(*parts)
    return p if p.exists() else None


def package_dir(name: str) -> Path | None:
    """The folder of the installed Python package ``name``, found without importing it (None if absent):
    where packages that ship model files keep them."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])
