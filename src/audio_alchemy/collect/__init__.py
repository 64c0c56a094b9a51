"""Collection: artists -> MusicBrainz metadata -> top songs -> audio (WAV + MP3) -> the library, politely and resumably.

>>> from audio_alchemy.collect import collect, enrich
>>> with Library.open() as lib:                              # doctest: +SKIP
...     collect(lib, ["Queen", "Björk"], top=5)              # downloads; see docs/collect.md
...     enrich(lib)                                          # genre/country for tracks already there

Downloading may be restricted by a site's terms of service and is the user's responsibility.
"""

from .download import DownloadError, DurationMismatch, FetchedAudio, fetch_audio, safe_filename
from .enrich import EnrichSummary, enrich
from .http import HttpError, PoliteClient, user_agent
from .musicbrainz import Artist, ArtistMatch, ArtistNotFound, MusicBrainz, Recording, pick_artist
from .pipeline import ArtistPlan, CollectResult, PlannedSong, Sources, collect, plan
from .toplists import LastFm, ListenBrainz, TopTrack, base_title, dedupe, title_key, top_tracks

__all__ = [
    "Artist", "ArtistMatch", "ArtistNotFound", "ArtistPlan", "CollectResult", "DownloadError", "DurationMismatch",
    "EnrichSummary", "FetchedAudio", "HttpError", "LastFm", "ListenBrainz", "MusicBrainz", "PlannedSong", "PoliteClient",
    "Recording", "Sources", "TopTrack", "base_title", "collect", "dedupe", "enrich", "fetch_audio", "pick_artist", "plan",
    "safe_filename", "title_key", "top_tracks", "user_agent",
]
