"""fraudgate models: train a pipeline ("table in, table out"), write a data-only bundle, score rows fast.

The engine depends on exactly the names exported here.
"""

from models.bundle import Bundle, Manifest, RowCounts, load_bundle
from models.errors import BundleError, ModelsError, ScoringError
from models.metrics import Metrics
from models.schema import FeatureDef, Reason, Score, TrainConfig
from models.scorer import Scorer
from models.train import train_bundle

__all__ = [
    "Bundle",
    "BundleError",
    "FeatureDef",
    "Manifest",
    "Metrics",
    "ModelsError",
    "Reason",
    "RowCounts",
    "Score",
    "Scorer",
    "ScoringError",
    "TrainConfig",
    "load_bundle",
    "train_bundle",
]
