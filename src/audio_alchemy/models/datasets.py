"""Labelled track sets: from a labels CSV (``path`` relative to the CSV) or from the library.

A :class:`LabeledSet` is paths + labels + optional groups (artist, song, group_id...) so the CV protocol
can keep a group on one side of every split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# Default target column per task, and group columns tried in order when none is given.
TASK_TARGETS = {"genre": "genre", "language": "language"}
GROUP_CANDIDATES = ("group_id", "artist", "speaker_or_artist", "song", "album")


@dataclass
class LabeledSet:
    """Audio files with a label each (and optionally a group each)."""

    paths: list[Path]
    labels: np.ndarray
    groups: np.ndarray | None = None
    target: str = "label"
    group_by: str | None = None
    meta: pd.DataFrame = field(default_factory=pd.DataFrame)
    track_ids: list[int] | None = None
    notes: list[str] = field(default_factory=list)  # what reading the labels changed (duplicate rows dropped...)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.tolist()))

    def subset(self, idx) -> LabeledSet:
        idx = np.asarray(idx)
        return LabeledSet([self.paths[i] for i in idx], self.labels[idx],
                          None if self.groups is None else self.groups[idx], self.target, self.group_by,
                          self.meta.iloc[idx].reset_index(drop=True) if len(self.meta) else self.meta,
                          None if self.track_ids is None else [self.track_ids[i] for i in idx])


def from_csv(csv: str | Path, target: str | None = None, group_by: str | None = None, task: str | None = None,
             where: dict[str, str] | None = None) -> LabeledSet:
    """Read a labels CSV: ``path`` (relative to the CSV's folder, or absolute), a target column, a group column.

    ``target`` defaults to the task's column (genre/language); ``group_by`` defaults to none (pass
    ``"auto"`` to take the first recurring column of :data:`GROUP_CANDIDATES`). ``where`` filters rows
    (e.g. ``{"kind": "singing"}``).
    """
    csv = Path(csv)
    try:
        df = pd.read_csv(csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{csv}: not a readable CSV ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        raise ValueError(f"{csv}: {exc.strerror or exc}") from None
    if "path" not in df.columns:
        raise ValueError(f"{csv}: needs a 'path' column (relative to the CSV)")
    target = target or TASK_TARGETS.get(task or "", None) or next(
        (c for c in ("label", "genre", "language") if c in df.columns), None)
    if target not in df.columns:
        raise ValueError(f"{csv}: target column {target!r} not found; columns: {list(df.columns)}")
    for k, v in (where or {}).items():
        if k not in df.columns:
            raise ValueError(f"{csv}: filter column {k!r} not found; columns: {list(df.columns)}")
        df = df[df[k].astype(str) == str(v)]
    df = df.dropna(subset=[target]).reset_index(drop=True)
    if group_by == "auto":
        group_by = next((c for c in GROUP_CANDIDATES if c in df.columns and df[c].duplicated().any()), None)
    if group_by and group_by not in df.columns:
        raise ValueError(f"{csv}: group column {group_by!r} not found")
    base = csv.parent
    paths = [Path(p) if Path(p).is_absolute() else base / p for p in df["path"].astype(str)]
    # one file listed twice would sit in a training fold and a test fold at once and inflate every score
    key = pd.Series([os.path.normpath(str(p)) for p in paths])
    labels = df[target].astype(str)
    conflicting = key[key.duplicated(keep=False)].groupby(key).apply(lambda k: labels[k.index].nunique() > 1)
    if conflicting.any():
        bad = conflicting[conflicting].index[0]
        raise ValueError(f"{csv}: {bad} is listed with different {target} labels "
                         f"({', '.join(sorted(labels[key == bad].unique()))}); keep one row per file")
    dup = key.duplicated().to_numpy()
    notes = [f"{csv}: {int(dup.sum())} repeated row(s) of the same file dropped (one row per file, so no file is "
             "in a training and a test fold at once)"] if dup.any() else []
    keep = ~dup
    df = df[keep].reset_index(drop=True)
    paths = [p for p, k in zip(paths, keep, strict=True) if k]
    groups = df[group_by].astype(str).to_numpy() if group_by else None
    return LabeledSet(paths, df[target].astype(str).to_numpy(), groups, target, group_by, df, notes=notes)


def from_library(lib, target: str = "genre", track_type: int = 0, group_by: str | None = "artist",
                 source: str = "tags", task: str | None = None) -> LabeledSet:
    """Tracks of the library whose ``target`` is known: from their tags (track columns such as genre,
    language, country), from stored predictions (``source="predictions"``, the latest prediction of
    ``task``), or from ratings (``source="ratings"``: "liked" when a track's mean normalised rating is
    >= 0.5, else "disliked"). Groups by artist by default.
    """
    paths, labels, groups, ids = [], [], [], []
    rated: dict[int, list[float]] = {}
    if source == "ratings":
        for r in lib.ratings():
            rated.setdefault(r["track_id"], []).append(float(r["normalized"]))
    for t in lib.tracks(track_type=track_type):
        if source == "tags":
            label = getattr(t, target, None)
        elif source == "ratings":
            vals = rated.get(t.id)
            label = None if not vals else ("liked" if np.mean(vals) >= 0.5 else "disliked")
        else:
            preds = [p for p in lib.predictions(t.id) if p.get("task") == (task or target)]
            label = preds[-1]["label"] if preds else None
        path = lib.track_path(t.id)
        if not label or not path:
            continue
        paths.append(Path(path))
        labels.append(str(label))
        groups.append(str(getattr(t, group_by, "") or f"track{t.id}") if group_by else None)
        ids.append(t.id)
    return LabeledSet(paths, np.asarray(labels, dtype=object).astype(str), np.asarray(groups) if group_by else None,
                      target, group_by, pd.DataFrame({"track_id": ids}), ids)
