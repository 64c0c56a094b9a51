"""How the reliability tests drive the features job (issue C's ``run_features`` / ``alchemy features``)."""

from __future__ import annotations

FEATURE_SET = "seed"
STAGE = f"features:{FEATURE_SET}"  # the errors.stage the features job records


def run_default_features(lib, workers: int = 2, scheduler: str | None = None) -> str:
    """Run the features job over the library; returns the feature set it computed."""
    from audio_alchemy.features.batch import run_features

    run_features(lib, feature_set=FEATURE_SET, workers=workers, scheduler=scheduler, progress=False)
    return FEATURE_SET


def features_cli_args(db) -> list[str]:
    return ["features", "--db", str(db), "--set", FEATURE_SET]
