"""User-item feedback as one sparse matrix: implicit counts (CSV/TSV, Last.fm HetRec 2011), Likert ratings, plays.

Everything ends in :class:`Interactions`: a ``scipy.sparse.csr_matrix`` of shape (n_users, n_items), float32,
plus the external user and item ids for each row and column. Duplicate (user, item) rows are summed.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

LIKERT_SCALES = (2, 3, 5)


class InteractionError(ValueError):
    """Bad feedback input; ``str(err)`` names the file and line (or the offending value)."""

    def __init__(self, reason: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = " ".join(str(reason).split())
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + self.reason)


class UnknownItem(KeyError):
    """An item id that the fitted data has never seen."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "unknown item"


@dataclass
class Interactions:
    """Sparse feedback: ``matrix[u, i]`` is the summed weight of user ``user_ids[u]`` on item ``item_ids[i]``."""

    matrix: sp.csr_matrix
    user_ids: list
    item_ids: list
    _user_index: dict = field(default_factory=dict, repr=False)
    _item_index: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.matrix = sp.csr_matrix(self.matrix, dtype=np.float32)
        self.matrix.sum_duplicates()
        self.matrix.sort_indices()
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise InteractionError(f"matrix shape {self.matrix.shape} does not match {len(self.user_ids)} users x {len(self.item_ids)} items")
        self._user_index = {u: k for k, u in enumerate(self.user_ids)}
        self._item_index = {i: k for k, i in enumerate(self.item_ids)}

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def user_index(self, user) -> int | None:
        """Row of an external user id, or None when the user is unknown (ids compared as given, then as str)."""
        k = self._user_index.get(user)
        if k is None:
            k = self._user_index.get(_coerce(user, self.user_ids))
        return k

    def item_index(self, item) -> int | None:
        """Column of an external item id, or None when the item is unknown."""
        k = self._item_index.get(item)
        if k is None:
            k = self._item_index.get(_coerce(item, self.item_ids))
        return k

    def require_item(self, item) -> int:
        """Column of an item id; raises :class:`UnknownItem` naming it when absent."""
        k = self.item_index(item)
        if k is None:
            raise UnknownItem(f"unknown item {item!r}: not among the {len(self.item_ids)} items with feedback")
        return k


def _coerce(value, ids: Sequence):
    """Try the id type of the collection (int ids looked up with a str and vice versa)."""
    if not ids:
        return value
    t = type(ids[0])
    try:
        return t(value)
    except (TypeError, ValueError):
        return value


def from_triples(users: Iterable, items: Iterable, values: Iterable[float] | None = None) -> Interactions:
    """Build :class:`Interactions` from parallel sequences; duplicates summed; ids sorted (ints numerically)."""
    users = list(users)
    items = list(items)
    vals = np.ones(len(users), dtype=np.float64) if values is None else np.asarray(list(values), dtype=np.float64)
    if not (len(users) == len(items) == len(vals)):
        raise InteractionError("users, items and values differ in length")
    if len(users) == 0:
        raise InteractionError("no interactions: the data is empty")
    if not np.all(np.isfinite(vals)) or np.any(vals < 0):
        bad = int(np.flatnonzero(~np.isfinite(vals) | (vals < 0))[0])
        raise InteractionError(f"row {bad}: value {vals[bad]!r} is negative or not finite")
    uids = sorted(set(users), key=_sort_key)
    iids = sorted(set(items), key=_sort_key)
    uix = {u: k for k, u in enumerate(uids)}
    iix = {i: k for k, i in enumerate(iids)}
    rows = np.fromiter((uix[u] for u in users), dtype=np.int64, count=len(users))
    cols = np.fromiter((iix[i] for i in items), dtype=np.int64, count=len(items))
    m = sp.coo_matrix((vals, (rows, cols)), shape=(len(uids), len(iids))).tocsr()  # sums duplicates
    return Interactions(m, uids, iids)


def _sort_key(x):
    return (0, x, "") if isinstance(x, (int, np.integer)) else (1, 0, str(x))


def _parse_id(text: str):
    """Ids that look like integers become ints (so '0042' and '42' agree); everything else stays a str."""
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        return t


def read_interactions(
    path: str | Path,
    user_col: str | int = 0,
    item_col: str | int = 1,
    count_col: str | int | None = 2,
    sep: str | None = None,
    header: bool | None = None,
    encoding: str = "utf-8",
) -> Interactions:
    """Read implicit feedback (user, item, count) from CSV/TSV; duplicate rows summed.

    ``sep`` defaults to tab for .tsv/.dat and to the sniffed delimiter otherwise; ``header`` is detected when
    None (first row whose count column is not a number). Columns are names (with a header) or 0-based
    positions. ``count_col=None`` counts each row once. Negative or non-numeric counts raise
    :class:`InteractionError` naming the file and the 1-based line.
    """
    path = Path(path)
    if not path.is_file():
        raise InteractionError("no such file", path)
    with open(path, newline="", encoding=encoding) as fh:
        text = fh.read()
    lines = text.splitlines()
    if not any(ln.strip() for ln in lines):
        raise InteractionError("no interactions: the file is empty", path)
    if sep is None:
        if path.suffix.lower() in (".tsv", ".dat", ".tab"):
            sep = "\t"
        else:
            sample = "\n".join(lines[:20])
            try:
                sep = csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
            except csv.Error:
                sep = ","
    rows = list(csv.reader(lines, delimiter=sep))
    first = next(k for k, r in enumerate(rows) if any(c.strip() for c in r))
    names = [c.strip() for c in rows[first]]

    def _pos(col, what):
        if col is None or isinstance(col, int):
            return col
        if col in names:
            return names.index(col)
        raise InteractionError(f"no {what} column named {col!r} (columns: {', '.join(names)})", path)

    if header is None:
        header = any(isinstance(c, str) for c in (user_col, item_col, count_col))
        if not header and count_col is not None and len(names) > count_col:
            header = not _is_number(names[count_col])
    uc, ic, cc = _pos(user_col, "user"), _pos(item_col, "item"), _pos(count_col, "count")
    start = first + 1 if header else first
    fast = _fast_numeric(rows[start:], uc, ic, cc)
    if fast is not None:
        return from_triples(*fast)
    users, items, vals = [], [], []
    need = max(c for c in (uc, ic, cc) if c is not None)
    for k in range(start, len(rows)):
        r = rows[k]
        if not any(c.strip() for c in r):
            continue
        lineno = k + 1
        if len(r) <= need:
            raise InteractionError(f"expected at least {need + 1} columns, found {len(r)}: {sep.join(r)!r}", path, lineno)
        u, i = r[uc].strip(), r[ic].strip()
        if not u or not i:
            raise InteractionError("empty user or item id", path, lineno)
        if cc is None:
            v = 1.0
        else:
            raw = r[cc].strip()
            try:
                v = float(raw)
            except ValueError:
                raise InteractionError(f"count {raw!r} is not a number", path, lineno) from None
            if not math.isfinite(v):
                raise InteractionError(f"count {raw!r} is not finite", path, lineno)
            if v < 0:
                raise InteractionError(f"count {raw!r} is negative", path, lineno)
        users.append(_parse_id(u))
        items.append(_parse_id(i))
        vals.append(v)
    if not users:
        raise InteractionError("no interactions: only a header", path)
    return from_triples(users, items, vals)


def _fast_numeric(rows: list[list[str]], uc: int, ic: int, cc: int | None):
    """Vectorised parse when every row is well formed with integer ids and valid counts; else None (slow path)."""
    try:
        need = max(c for c in (uc, ic, cc) if c is not None)
        rows = [r for r in rows if any(c.strip() for c in r)]
        if not rows or any(len(r) <= need for r in rows):
            return None
        u = np.array([r[uc] for r in rows], dtype=np.int64)
        i = np.array([r[ic] for r in rows], dtype=np.int64)
        v = np.ones(len(rows)) if cc is None else np.array([r[cc] for r in rows], dtype=np.float64)
    except (ValueError, OverflowError):
        return None
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        return None
    return u.tolist(), i.tolist(), v


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- HetRec 2011 (Last.fm)


@dataclass
class HetRec:
    """The Last.fm HetRec 2011 files: listens plus artist names, tag names, tag assignments and friendships."""

    listens: Interactions                       # users x artists, weight = listening count
    artist_names: dict[int, str]
    tag_names: dict[int, str]
    tag_assignments: np.ndarray | None          # (n, 3) int64: userID, artistID, tagID
    friends: np.ndarray | None                  # (n, 2) int64: userID, friendID (both directions)


def _read_int_table(path: Path, ncols: int) -> np.ndarray:
    """Integer TSV with a header (CRLF tolerated); raises InteractionError naming the bad line."""
    try:  # fast path; the loop below only runs to name the bad line
        arr = np.loadtxt(path, delimiter="\t", skiprows=1, dtype=np.int64, usecols=range(ncols), encoding="latin-1", ndmin=2)
        return arr.reshape(-1, ncols)
    except ValueError:
        pass
    out = []
    with open(path, encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1 or not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            try:
                out.append([int(p) for p in parts[:ncols]])
            except ValueError:
                raise InteractionError(f"expected {ncols} integers, found {line.strip()!r}", path, lineno) from None
    return np.asarray(out, dtype=np.int64).reshape(-1, ncols)


def _read_names(path: Path, encoding: str) -> dict[int, str]:
    names: dict[int, str] = {}
    with open(path, encoding=encoding, errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1 or not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            try:
                names[int(parts[0])] = parts[1] if len(parts) > 1 else ""
            except ValueError:
                raise InteractionError(f"bad id {parts[0]!r}", path, lineno) from None
    return names


def read_hetrec(folder: str | Path) -> HetRec:
    """Read the HetRec 2011 Last.fm layout (user_artists.dat required; the rest optional)."""
    folder = Path(folder)
    ua = folder / "user_artists.dat"
    if not ua.is_file():
        raise InteractionError("not a HetRec folder: user_artists.dat missing", folder)
    listens = read_interactions(ua, "userID", "artistID", "weight", sep="\t", header=True)
    artists = _read_names(folder / "artists.dat", "utf-8") if (folder / "artists.dat").is_file() else {}
    tags = _read_names(folder / "tags.dat", "latin-1") if (folder / "tags.dat").is_file() else {}
    uta = folder / "user_taggedartists.dat"
    assignments = _read_int_table(uta, 3) if uta.is_file() else None
    uf = folder / "user_friends.dat"
    friends = _read_int_table(uf, 2) if uf.is_file() else None
    return HetRec(listens, artists, tags, assignments, friends)


def item_tag_matrix(het: HetRec, exclude_pairs: sp.spmatrix | None = None) -> sp.csr_matrix:
    """Artists x tags counts from the tag assignments, aligned with ``het.listens.item_ids``.

    ``exclude_pairs`` (users x items, same indexing as ``het.listens``) drops assignments whose (user, artist)
    pair is held out, so tags cannot leak a held-out listen into an evaluation.
    """
    lis = het.listens
    tag_ids = sorted(het.tag_names) if het.tag_names else sorted(set(het.tag_assignments[:, 2].tolist()))
    tix = {t: k for k, t in enumerate(tag_ids)}
    a = het.tag_assignments
    if a is None or len(a) == 0:
        return sp.csr_matrix((len(lis.item_ids), len(tag_ids)), dtype=np.float32)
    ii = np.fromiter((lis._item_index.get(int(x), -1) for x in a[:, 1]), dtype=np.int64, count=len(a))
    kk = np.fromiter((tix.get(int(x), -1) for x in a[:, 2]), dtype=np.int64, count=len(a))
    uu = np.fromiter((lis._user_index.get(int(x), -1) for x in a[:, 0]), dtype=np.int64, count=len(a))
    ok = (ii >= 0) & (kk >= 0)
    rows, cols, keep_u = ii[ok], kk[ok], uu[ok]
    if exclude_pairs is not None:
        ex = sp.csr_matrix(exclude_pairs)
        known = keep_u >= 0
        held = np.zeros(len(rows), dtype=bool)
        held[known] = np.asarray(ex[keep_u[known], rows[known]]).ravel() != 0
        rows, cols = rows[~held], cols[~held]
    m = sp.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(lis.item_ids), len(tag_ids)))
    return m.tocsr()


# --------------------------------------------------------------------------- Likert ratings and plays


def normalize_rating(scale: int, score: float) -> float:
    """Map a Likert score 1..scale (scale 2, 3 or 5) to [0, 1] as (score - 1) / (scale - 1); refuse others."""
    if scale not in LIKERT_SCALES:
        raise InteractionError(f"scale {scale!r} is not one of {LIKERT_SCALES}")
    if isinstance(score, bool) or not float(score).is_integer() or not 1 <= score <= scale:
        raise InteractionError(f"score {score!r} is outside the {scale}-point scale (1..{scale})")
    return (float(score) - 1.0) / (scale - 1.0)


def from_ratings(rows: Iterable, like_threshold: float = 0.5) -> tuple[Interactions | None, dict]:
    """Explicit ratings -> implicit positives plus dislikes.

    ``rows`` are (user, item, scale, score) tuples or objects/dicts with those fields (``user_id``/``track_id``
    accepted). A normalised rating above ``like_threshold`` becomes a positive of weight 1 + normalised (so a
    5/5 counts 2, a 4/5 counts 1.75); the rest are returned as ``{user: set(items)}`` dislikes, never recommended.
    """
    users, items, vals = [], [], []
    dislikes: dict = {}
    for r in rows:
        u, i, scale, score = _rating_fields(r)
        x = normalize_rating(int(scale), score)
        if x > like_threshold:
            users.append(u)
            items.append(i)
            vals.append(1.0 + x)
        else:
            dislikes.setdefault(u, set()).add(i)
    return (from_triples(users, items, vals) if users else None), dislikes


def _rating_fields(r):
    if isinstance(r, dict):
        g = r.get
    elif isinstance(r, (tuple, list)):
        return r[0], r[1], r[2], r[3]
    else:
        def g(k, d=None):
            return getattr(r, k, d)
    u = g("user_id", g("user"))
    i = g("track_id", g("item"))
    return u, i, g("scale"), g("score")


def from_plays(rows: Iterable, min_seconds: float = 0.0) -> Interactions | None:
    """Play events (user, item[, seconds]) -> implicit counts; plays shorter than ``min_seconds`` are skips."""
    users, items = [], []
    for r in rows:
        if isinstance(r, dict):
            u, i, s = r.get("user_id", r.get("user")), r.get("track_id", r.get("item")), r.get("seconds")
        elif isinstance(r, (tuple, list)):
            u, i, s = r[0], r[1], (r[2] if len(r) > 2 else None)
        else:
            u, i, s = getattr(r, "user_id", None), getattr(r, "track_id", None), getattr(r, "seconds", None)
        if s is not None and min_seconds and float(s) < min_seconds:
            continue
        users.append(u)
        items.append(i)
    return from_triples(users, items) if users else None


def combine(*parts: Interactions | None, weights: Sequence[float] | None = None) -> Interactions:
    """Sum several feedback sources (e.g. plays and ratings) over the union of their users and items."""
    parts_w = [(p, 1.0 if weights is None else w) for p, w in zip(parts, weights or [1.0] * len(parts)) if p is not None]
    if not parts_w:
        raise InteractionError("no interactions: the data is empty")
    users, items, vals = [], [], []
    for p, w in parts_w:
        coo = p.matrix.tocoo()
        users += [p.user_ids[r] for r in coo.row]
        items += [p.item_ids[c] for c in coo.col]
        vals += (coo.data * w).tolist()
    return from_triples(users, items, vals)
