"""Predictions for the tracks of a library: one loop for ``alchemy predict`` and ``alchemy demo``.

Works with any model that has ``task``, ``model`` and ``predict_files(paths) -> iterator of dicts``
(``Recognizer``, the Whisper language model). Each prediction is committed as it comes, so Ctrl-C loses nothing
and a re-run skips the tracks this model already did; a file that is gone or fails gets its error row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STAGE = "predict"


@dataclass
class PredictSummary:
    """What a library prediction run did."""

    done: int = 0
    failed: int = 0
    skipped: int = 0  # tracks this model had already predicted
    instrumental: int = 0  # language predictions for songs whose vocal stem says nobody sings


def predict_library(lib, rec: Any, track_type: int = 0, force: bool = False, progress: bool = True,
                    on_result: Callable[[Any, dict], None] | None = None) -> PredictSummary:
    """Predict every ``track_type`` track of ``lib`` not yet predicted by ``rec`` (all of them with ``force``).

    ``on_result(track, result)`` sees every stored prediction. KeyboardInterrupt propagates; what was stored stays.
    A language prediction for a song whose separation found no singing (task ``voice`` says ``instrumental``) is
    stored all the same, and its result carries a ``note`` saying so.
    """
    from ..jobs.progress import progress_bar

    name = getattr(rec, "model_id", None) or rec.model  # one trained model: two trainings of a kind differ
    have = set() if force else lib.tracks_with_prediction(rec.task, name)
    candidates = lib.tracks(track_type=track_type)
    tracks = [t for t in candidates if t.id not in have]
    summary = PredictSummary(skipped=len(candidates) - len(tracks))
    with progress_bar(f"predict {rec.task}", len(tracks), enabled=progress) as advance:
        for t in tracks:
            advance(1)
            path = lib.track_path(t.id)
            if not path:
                summary.failed += 1
                lib.record_missing_file(STAGE, t.id)
                continue
            r = next(rec.predict_files([path]))
            if "error" in r:
                summary.failed += 1
                lib.record_error(STAGE, str(path), r.get("kind", "error"), r["error"])
                continue
            with lib.transaction():
                lib.put_prediction(t.id, rec.task, name, r["label"], r["scores"])
                lib.clear_error(STAGE, str(path))
            summary.done += 1
            if rec.task == "language" and (note := _no_singing_note(lib, t.id)):
                r = {**r, "note": note}
                summary.instrumental += 1
            if on_result is not None:
                on_result(t, r)
    return summary


def _no_singing_note(lib, track_id: int) -> str | None:
    """A note when the song's ``voice`` prediction (from its vocal stem at separation time) says instrumental."""
    from ..library import no_singing

    p = no_singing(lib.predictions(track_id))
    if p is None:
        return None
    return (f"no singing found (P(vocals) {p['scores'].get('vocals', 0.0):.2f} from the vocal stem, {p['model']}): "
            "the language label means little")
