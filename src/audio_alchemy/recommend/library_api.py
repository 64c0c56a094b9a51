"""Recommendations over an Audio Alchemy library: ratings and plays as feedback, stored audio features as
content, genre/language tags or predictions as filters. Used by ``alchemy recommend``/``similar``, the demo
and the web player.

Default library hybrid (documented weighting, not tuned: a personal library has too little feedback to
hold any out): z-scored content similarity from the user's liked tracks (weight 1.0) plus item-kNN cosine
collaborative filtering (weight 1.0) when at least two users have feedback, else content alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .interactions import Interactions, InteractionError, UnknownItem, combine, from_plays, from_ratings, from_triples
from .models import ContentKNN, Hybrid, ItemKNN, standardized
from .recommender import Filters, Recommendation, Recommendations, Recommender

#: feature sets tried first when none is named (embeddings beat hand-made summaries for similarity).
PREFERRED_FEATURE_SETS = ("musicnn", "embedding", "embeddings", "vggish", "full", "seed", "summary", "features", "mfcc")

#: keys that say nothing about the sound (ids, lengths, bookkeeping) or vary in length (beat_times)
NON_SOUND_KEYS = {"track_type", "feature_version", "version", "duration", "duration_ms", "length", "beat_times",
                  "sample_rate", "sr", "channels", "filename", "label", "key_index", "mode_index"}

CONTENT_WEIGHT = 1.0
CF_WEIGHT = 1.0


def library_interactions(lib, play_weight: float = 1.0, rating_weight: float = 1.0) -> tuple[Interactions | None, dict]:
    """Ratings (likes above the scale midpoint, weight 1 + normalised) plus plays (1 each); and dislikes per user."""
    ratings, dislikes = from_ratings(lib.ratings())
    plays = from_plays(lib.plays())
    parts = [p for p in (plays, ratings) if p is not None]
    if not parts:
        return None, dislikes
    ws = [play_weight if p is plays else rating_weight for p in parts]
    return combine(*parts, weights=ws), dislikes


def _predicted(lib, track_id: int, task: str) -> str | None:
    try:
        preds = [p for p in lib.predictions(track_id) if p["task"] == task and p.get("label")]
    except Exception:  # noqa: BLE001 - predictions are optional
        return None
    return preds[0]["label"] if preds else None


def track_meta(lib) -> dict[int, dict[str, Any]]:
    """Per track: label, genre and language (the tag, else the newest prediction), track type."""
    meta = {}
    for t in lib.tracks():
        genre = t.genre or _predicted(lib, t.id, "genre")
        language = t.language or _predicted(lib, t.id, "language")
        meta[t.id] = {"label": t.label, "genre": genre, "language": language, "track_type": t.track_type,
                      "genre_source": "tag" if t.genre else ("predicted" if genre else None),
                      "language_source": "tag" if t.language else ("predicted" if language else None)}
    return meta


def flatten_features(data: dict) -> dict[str, float]:
    """Numeric leaves of a feature-set JSON object as name -> value (lists become name[0], name[1], ...)."""
    out: dict[str, float] = {}

    def walk(prefix, v):
        if isinstance(v, bool) or str(prefix).rsplit(".", 1)[-1] in NON_SOUND_KEYS:
            return
        if isinstance(v, (int, float)):
            out[prefix] = float(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        elif isinstance(v, (list, tuple)):
            for k, x in enumerate(v):
                walk(f"{prefix}[{k}]", x)

    walk("", data)
    return out


def pick_feature_set(lib, track_ids: list[int]) -> str | None:
    """The feature set stored for most of these tracks, preferring embeddings (PREFERRED_FEATURE_SETS order)."""
    counts: dict[str, int] = {}
    for tid in track_ids:
        for name in lib.feature_sets(tid):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    good = [n for n, c in counts.items() if c >= 0.8 * best]
    for pref in PREFERRED_FEATURE_SETS:
        for n in good:
            if pref in n.lower():
                return n
    return max(good, key=lambda n: counts[n])


def feature_matrix(lib, track_ids: list[int] | None = None, feature_set: str | None = None) -> tuple[list[int], np.ndarray, str | None]:
    """(track ids, features (n, d) with NaN where missing, feature set name) from stored feature JSON.

    Columns are the numeric leaves present in at least half of the tracks that have the set.
    """
    if track_ids is None:
        track_ids = [t.id for t in lib.tracks()]
    if feature_set is None:
        feature_set = pick_feature_set(lib, track_ids)
    if feature_set is None:
        return track_ids, np.full((len(track_ids), 0), np.nan), None
    rows = []
    for tid in track_ids:
        d = lib.get_features(tid, feature_set)
        rows.append(flatten_features(d) if d else None)
    have = [r for r in rows if r]
    names: dict[str, int] = {}
    for r in have:
        for k in r:
            names[k] = names.get(k, 0) + 1
    cols = sorted(k for k, c in names.items() if c >= 0.5 * len(have))
    F = np.full((len(track_ids), len(cols)), np.nan)
    for i, r in enumerate(rows):
        if r:
            F[i] = [r.get(c, np.nan) for c in cols]
    return track_ids, F, feature_set


def sound_alikes(lib, track: int | str, n: int = 10, feature_set: str | None = None,
                 same_type: bool = True) -> Recommendations:
    """Tracks that sound most like ``track`` (an id, a path or part of a title, as ``Library.resolve``).

    Cosine similarity of standardised stored audio features. Only tracks of the same type
    (song/vocals/accompaniment) by default; an unknown track or one without features raises KeyError naming
    it. Audio alone: no tags, no listening data.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if isinstance(track, int):
        me = lib.track(track)
        if me is None:
            raise UnknownItem(f"no track {track} in the library")
    else:
        me = lib.resolve(track)
    track_id = me.id
    tracks = [t for t in lib.tracks() if not same_type or t.track_type == me.track_type]
    ids = [t.id for t in tracks]
    ids, F, fs = feature_matrix(lib, ids, feature_set)
    if fs is None or F.shape[1] == 0:
        if feature_set is None:
            raise KeyError("no audio features stored yet: run feature extraction first (alchemy features ...)")
        raise KeyError(f"no track has '{feature_set}' features: compute them (alchemy features --set {feature_set}) "
                       "or leave out --set to use the best stored set")
    has = ~np.all(np.isnan(F), axis=1)
    k = ids.index(me.id)
    if not has[k]:
        raise KeyError(f"track {track_id} has no '{fs}' features yet: extract them first")
    keep = np.flatnonzero(has)
    Z = standardized(F[keep])
    me_row = Z[int(np.flatnonzero(keep == k)[0])]
    row = Z @ me_row / np.maximum(np.linalg.norm(Z, axis=1) * np.linalg.norm(me_row), 1e-12)
    order = [j for j in np.argsort(-row, kind="stable") if keep[j] != k][:n]
    labels = {t.id: t.label for t in tracks}
    out = Recommendations(note=None if len(keep) > 1 else "only one track has features")
    for j in order:
        tid = ids[keep[j]]
        out.append(Recommendation(tid, float(row[j]), f"similar sound ({fs} features, cosine {row[j]:.2f})", labels.get(tid)))
    return out


def library_recommender(lib, feature_set: str | None = None) -> Recommender:
    """A fitted recommender over every library track: content (stored audio features) + item-kNN CF.

    Columns are all tracks, so tracks nobody has played yet are recommendable by their sound (cold start).
    Raises InteractionError when the library has no ratings or plays at all.
    """
    inter, dislikes = library_interactions(lib)
    if inter is None:
        raise InteractionError("no ratings or plays in the library yet: rate a track first (alchemy rate TRACK --scale 5 --score 4)")
    tracks = lib.tracks()
    all_ids = [t.id for t in tracks]
    # widen the columns to the whole catalogue
    coo = inter.matrix.tocoo()
    users = [inter.user_ids[r] for r in coo.row] + [inter.user_ids[0]] * len(all_ids)
    items = [inter.item_ids[c] for c in coo.col] + all_ids
    vals = coo.data.tolist() + [0.0] * len(all_ids)
    full = from_triples(users, items, vals)
    full.matrix.eliminate_zeros()
    meta = track_meta(lib)
    ids, F, fs = feature_matrix(lib, list(full.item_ids), feature_set)
    comps, weights = [], []
    if fs is not None and F.shape[1] > 0:
        comps.append(ContentKNN(F, K=50))
        weights.append(CONTENT_WEIGHT)
    n_active = int((np.diff(full.matrix.indptr) > 0).sum())
    if n_active >= 2 or not comps:
        comps.append(ItemKNN("cosine", K=50))
        weights.append(CF_WEIGHT)
    model = comps[0] if len(comps) == 1 else Hybrid(comps, weights, name="library hybrid")
    return Recommender(model, full, meta, dislikes).fit()


def feedback_users(lib) -> dict[str, int]:
    """Users with ratings or plays in the library, with how many feedback rows each has (most active first)."""
    counts: dict[str, int] = {}
    for r in list(lib.ratings()) + list(lib.plays()):
        u = str(r["user_id"])
        counts[u] = counts.get(u, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def recommend_for_user(lib, user_id: str = "local", n: int = 10, filters: Filters | None = None,
                       feature_set: str | None = None) -> Recommendations:
    """Top-``n`` explained recommendations for ``user_id`` from the library's own ratings and plays.

    The model is :func:`library_recommender` (stored audio features + item-kNN CF). Fallbacks, always with a
    ``note`` and never with invented feedback: no ratings or plays in the library at all -> an empty list that
    says how to give some; a user without feedback -> the most played/liked tracks of the other users.
    Without ``filters`` only full songs are recommended (no separated stems).
    """
    filters = Filters(track_type="full") if filters is None else filters
    if n <= 0:
        return Recommendations()
    try:
        rec = library_recommender(lib, feature_set=feature_set)
    except InteractionError:
        return Recommendations(note="no ratings or plays in the library yet, so nothing to personalise: rate a track "
                                    "(alchemy rate TRACK --scale 5 --score 4) or play some in the player")
    return rec.recommend(str(user_id), n=n, filters=filters)
