"""The facade the CLI, the demo and the web player use: external ids in, explained recommendations out.

>>> rec = Recommender(EASE(), interactions, item_meta).fit()
>>> rec.recommend("alice", n=10, filters=Filters(genre="jazz"))
[Recommendation(item=42, score=3.1, reason='because you like Miles Davis – So What; same genre (jazz)'), ...]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .interactions import Interactions, UnknownItem
from .models import Hybrid, Model, Popularity

TRACK_TYPE_NAMES = {"full": 0, "song": 0, "mix": 0, "vocals": 1, "accompaniment": 2, "instrumental": 2}


@dataclass
class Recommendation:
    """One recommended item: its external id, the model's score, and why it was recommended."""

    item: Any
    score: float
    reason: str
    label: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Recommendations(list):
    """A list of :class:`Recommendation` with an optional ``note`` (e.g. the unknown-user fallback)."""

    def __init__(self, items=(), note: str | None = None):
        super().__init__(items)
        self.note = note


@dataclass
class Filters:
    """Restrict (``mode='restrict'``) or boost (``mode='boost'``) items by genre, language and track type.

    Matching is case-insensitive on the item metadata (tags, or predictions when tags are absent).
    In boost mode matching items gain ``boost`` standard deviations of the user's score spread.
    ``exclude`` lists external item ids never to recommend (e.g. disliked tracks).
    """

    genre: str | None = None
    language: str | None = None
    track_type: int | str | None = None
    mode: str = "restrict"
    boost: float = 1.0
    exclude: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.track_type_code()  # an unknown track type is refused at once, not only when there are items to filter
        if self.mode not in ("restrict", "boost"):
            raise ValueError(f"unknown filter mode {self.mode!r}; use restrict or boost")

    def active(self) -> bool:
        return any(v is not None for v in (self.genre, self.language, self.track_type))

    def track_type_code(self) -> int | None:
        t = self.track_type
        if t is None:
            return None
        text = str(t).strip().lower()
        code = int(text) if text.isdigit() and len(text) < 3 else TRACK_TYPE_NAMES.get(text)
        if code not in (0, 1, 2):
            raise ValueError(f"unknown track type {t!r}; use 0, 1, 2 or one of {sorted(TRACK_TYPE_NAMES)}")
        return code

    def matches(self, meta: dict | None) -> tuple[bool, list[str]]:
        """Whether an item's metadata satisfies every active filter, and the matched facets for explanations."""
        meta = meta or {}
        ok, why = True, []
        for key, want in (("genre", self.genre), ("language", self.language)):
            if want is None:
                continue
            have = meta.get(key)
            if have is not None and str(have).lower() == str(want).lower():
                why.append(f"{key} {have}")
            else:
                ok = False
        code = self.track_type_code()
        if code is not None and meta.get("track_type", 0) != code:
            ok = False
        return ok, why


class Recommender:
    """A fitted model plus id mapping, item metadata, filters, explanations and a popularity fallback."""

    def __init__(self, model: Model, interactions: Interactions, item_meta: dict | None = None,
                 dislikes: dict | None = None):
        if interactions is None or interactions.nnz == 0:
            raise ValueError("no interactions: rate or play some tracks first (e.g. `alchemy rate TRACK --scale 5 --score 4`)")
        self.model = model
        self.data = interactions
        self.item_meta = item_meta or {}
        self.dislikes = dislikes or {}
        self.popularity = Popularity()

    def fit(self) -> "Recommender":
        """Fit the model and the popularity fallback on the interactions."""
        self.model.fit(self.data.matrix)
        self.popularity.fit(self.data.matrix)
        return self

    # ------------------------------------------------------------------ helpers
    def label(self, item) -> str:
        m = self.item_meta.get(item) or {}
        return m.get("label") or str(item)

    def _mask(self, filters: Filters | None, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        """(allowed, boosted) boolean masks over columns."""
        allowed = np.ones(n_items, dtype=bool)
        boosted = np.zeros(n_items, dtype=bool)
        if filters is None or not filters.active():
            return allowed, boosted
        ok = np.array([filters.matches(self.item_meta.get(i))[0] for i in self.data.item_ids], dtype=bool)
        if filters.mode == "boost":
            boosted = ok
            code = filters.track_type_code()
            if code is not None:  # track type is always a restriction: nobody wants a stem by accident
                allowed = np.array([(self.item_meta.get(i) or {}).get("track_type", 0) == code for i in self.data.item_ids])
        else:
            allowed = ok
        return allowed, boosted

    def _explain(self, u: int | None, j: int, base: str, history: sp.csr_matrix | None, filters: Filters | None,
                 model_score: float | None = None) -> str:
        """Why item ``j`` is recommended; ``model_score`` is the model's own score for it (before filters)."""
        parts = []
        model = self.model
        if u is not None and isinstance(model, Hybrid):
            base = model.main_reason(u, j)
        elif u is not None and history is not None and model_score is not None and model_score <= 0:
            base = Hybrid.WEAK_REASON  # the model has no evidence for it: it only fills the list
        if history is not None and history.nnz and model.item_based and base != Hybrid.WEAK_REASON:
            try:
                S = model.item_similarity()
                seen = history.indices
                col = np.asarray(S[seen][:, j].todense()).ravel() if sp.issparse(S) else np.asarray(S[np.ix_(seen, [j])]).ravel()
                contrib = col * history.data
                if contrib.size and contrib.max() > 0:
                    k = seen[int(np.argmax(contrib))]
                    parts.append(f"{base}: like {self.label(self.data.item_ids[k])}")
            except NotImplementedError:
                pass
        if not parts:
            parts.append(base)
        item = self.data.item_ids[j]
        meta = self.item_meta.get(item) or {}
        if filters is not None:
            _, why = filters.matches(meta)
            parts += [f"same {w}" for w in why]
        elif history is not None and meta.get("genre"):
            seen_genres = [(self.item_meta.get(self.data.item_ids[k]) or {}).get("genre") for k in history.indices]
            if meta["genre"] in seen_genres:
                parts.append(f"same genre ({meta['genre']})")
        return "; ".join(parts)

    # ------------------------------------------------------------------ public API
    def recommend(self, user, n: int = 10, filters: Filters | None = None, exclude_seen: bool = True) -> Recommendations:
        """Top-``n`` items for an external user id, explained. Unknown users get the most popular items, with a note."""
        if n <= 0:
            return Recommendations()
        u = self.data.user_index(user)
        note = None
        n_items = self.data.matrix.shape[1]
        history = None
        model_scores = None  # the model's own scores, kept for the explanations
        if u is None:
            scores = self.popularity.score([0])[0].astype(np.float64)
            note = (f"user {user!r} has liked nothing yet (every rating at or below the middle of its scale): showing "
                    "the most popular items they have not disliked" if self.dislikes.get(user) else
                    f"unknown user {user!r}: showing the most popular items instead (no listening history yet)")
            base = self.popularity.reason
        else:
            history = self.data.matrix[u]
            if history.nnz == 0:
                scores = self.popularity.score([0])[0].astype(np.float64)
                note = f"user {user!r} has no positive feedback yet: showing the most popular items"
                base = self.popularity.reason
                history = None
            else:
                model_scores = np.asarray(self.model.score([u]), dtype=np.float64)[0]
                scores = model_scores
                base = self.model.reason
        allowed, boosted = self._mask(filters, n_items)
        if boosted.any():
            sd = scores[np.isfinite(scores)].std() or 1.0
            scores = scores + filters.boost * sd * boosted
        scores = np.where(allowed, scores, -np.inf)
        if exclude_seen and u is not None:
            scores[self.data.matrix[u].indices] = -np.inf
        banned = set(filters.exclude) if filters else set()
        banned |= set(self.dislikes.get(user, ()))
        for it in banned:
            k = self.data.item_index(it)
            if k is not None:
                scores[k] = -np.inf
        order = np.argsort(-scores, kind="stable")[:n]
        out = Recommendations(note=note)
        for j in order:
            if not np.isfinite(scores[j]):
                break
            item = self.data.item_ids[j]
            if history is None and self.popularity.pop[j] <= 0:
                reason = "not played by anyone yet"
            else:
                reason = self._explain(u, int(j), base, history, filters,
                                       None if model_scores is None else float(model_scores[j]))
            out.append(Recommendation(item, float(scores[j]), reason, self.label(item)))
        if not out and out.note is None and filters is not None and filters.active():
            out.note = "no item matches the filters"
        return out

    def similar(self, item, n: int = 10) -> Recommendations:
        """Items most similar to ``item`` under the model's item similarity; unknown items raise UnknownItem."""
        j = self.data.require_item(item)
        out = Recommendations()
        for k, s in self.model.similar(j, n):
            it = self.data.item_ids[k]
            out.append(Recommendation(it, s, self.model.reason if self.model.reason != "recommended" else "similar", self.label(it)))
        return out
