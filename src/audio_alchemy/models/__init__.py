"""Recognition and evaluation: genre and sung-language models, honestly measured.

>>> from audio_alchemy.models import from_csv, Recognizer, evaluate_models
>>> data = from_csv("labels.csv", task="genre")
>>> rec = Recognizer.train(data, task="genre")            # musicnn embeddings + logistic regression
>>> rec.predict_file("song.ogg")                           # {"path", "label", "scores"}
>>> load_model("lang-model").predict_file("song.mp3")      # any `alchemy train` directory, Whisper ones too
>>> res = evaluate_models(data, ["musicnn-logreg", "mfcc-svm-rbf"], n_splits=5, repeats=3)

Layout: ``datasets`` (labels CSV / library), ``featurize`` (per-window inputs), ``embeddings.musicnn``
(pretrained musicnn ported to PyTorch), ``classical`` (sklearn Pipelines, clip voting), ``cnn`` (small
PyTorch CNN), ``cv`` (grouped/nested folds), ``metrics`` (CIs, baseline, ROC), ``guards`` (leakage),
``evaluate`` + ``report`` (CV protocol, HTML/JSON), ``study`` (the original study re-run),
``recognizer`` (train/predict/save/load facade).
"""

from .cv import folds, groups_recur, nested_cv
from .datasets import LabeledSet, from_csv, from_library
from .evaluate import evaluate_models, learning_curve
from .featurize import FeatureSpec, file_inputs, segment_inputs
from .guards import LeakageError, check_feature_columns, check_group_folds
from .metrics import bootstrap_ci, majority_baseline, scores, summary
from .recognizer import DEFAULT_MODELS, Recognizer, get_model, load_model, model_registry
from .report import write_report

__all__ = [
    "DEFAULT_MODELS", "FeatureSpec", "LabeledSet", "LeakageError", "Recognizer", "bootstrap_ci",
    "check_feature_columns", "check_group_folds", "evaluate_models", "file_inputs", "folds", "from_csv",
    "from_library", "get_model", "groups_recur", "learning_curve", "load_model", "majority_baseline", "model_registry",
    "nested_cv", "scores", "segment_inputs", "summary", "write_report",
]
