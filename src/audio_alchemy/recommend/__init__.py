"""Recommendation: feedback import, models behind one interface, filters and explanations, offline evaluation.

>>> from audio_alchemy.config import data_path
>>> from audio_alchemy.recommend import read_hetrec, EASE, Recommender
>>> het = read_hetrec(data_path("listening"))
>>> Recommender(EASE(), het.listens).fit().recommend(2, n=10)
>>> from audio_alchemy.recommend import recommend_for_user, sound_alikes   # over a Library's ratings and features
"""

from .evaluate import EvalResult, bootstrap_ci, evaluate, format_table, ranking_metrics, split
from .interactions import (
    HetRec,
    InteractionError,
    Interactions,
    UnknownItem,
    combine,
    from_plays,
    from_ratings,
    from_triples,
    normalize_rating,
    read_hetrec,
    read_interactions,
)
from .library_api import recommend_for_user, sound_alikes
from .models import ALS, BPR, EASE, ContentKNN, Hybrid, ItemKNN, Model, Popularity, RP3beta, UserKNN
from .recommender import Filters, Recommendation, Recommendations, Recommender

__all__ = [
    "ALS", "BPR", "EASE", "ContentKNN", "EvalResult", "Filters", "HetRec", "Hybrid", "InteractionError",
    "Interactions", "ItemKNN", "Model", "Popularity", "RP3beta", "Recommendation", "Recommendations",
    "Recommender", "UnknownItem", "UserKNN", "bootstrap_ci", "combine", "evaluate", "format_table",
    "from_plays", "from_ratings", "from_triples", "normalize_rating", "ranking_metrics", "read_hetrec",
    "read_interactions", "recommend_for_user", "sound_alikes", "split",
]
