"""The music library: an embedded SQLite database of tracks, their files, stems, features and more.

>>> from audio_alchemy.library import Library, import_paths
>>> with Library.open("lib.sqlite") as lib:
...     import_paths(lib, ["~/Music"])
"""

from .db import LIKERT_SCALES, TRACK_TYPES, FileRow, Library, Track, display_path, no_singing
from .importer import ImportSummary, import_paths, scan
from .run_lock import RunInProgress, RunLockError

__all__ = ["LIKERT_SCALES", "TRACK_TYPES", "FileRow", "ImportSummary", "Library", "Track", "display_path", "import_paths",
           "no_singing", "RunInProgress", "RunLockError", "scan"]
