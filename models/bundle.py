"""The model bundle: a folder per version holding data only (JSON, model text, HTML), verified when loaded."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lightgbm as lgb
import msgspec

from models.errors import BundleError
from models.metrics import Metrics
from models.pipeline import PipelineSpec
from models.schema import Base, FeatureDef, TrainConfig
from models.scorer import Scorer
from models.split import Periods

MANIFEST = "manifest.json"
MODEL = "model.txt"
PIPELINE = "pipeline.json"
REPORT = "report.html"
BUNDLE_FORMAT: Literal[1] = 1


class RowCounts(Base, frozen=True):
    """Rows of each slice of the training frame."""

    total: int
    """Rows handed to training."""
    train: int
    """Rows the booster (and truncation, encoding, imputation) were fitted on."""
    calibration: int
    """Rows calibration and the ECDF reference were fitted on."""
    gap: int
    """Rows dropped between training and test."""
    test: int
    """Rows the metrics were measured on."""


class Manifest(Base, frozen=True):
    """``manifest.json``: what the bundle is, how it was made, and the sha256 of every other file."""

    format: Literal[1]
    """Version of the bundle layout."""
    name: str
    """Model name, e.g. ``card_payment``."""
    version: str
    """Folder name of this bundle."""
    created: str
    """UTC creation time, ISO 8601."""
    features: list[FeatureDef]
    """Features in booster column order."""
    label: str
    """Training label column."""
    time_col: str | None
    """Column the split followed; None when it followed row order."""
    data_digest: str
    """sha256 of the training frame (features, label, time column) rendered as CSV."""
    rows: RowCounts
    """Rows per slice."""
    metrics: Metrics
    """Raw-score metrics on the test slice."""
    calibration_slice: str
    """Which rows calibration and the ECDF were fitted on, in words."""
    config: TrainConfig
    """Training configuration."""
    packages: dict[str, str]
    """Versions of Python and the packages used in training."""
    periods: Periods | None = None
    """Explicit split boundaries when training was given them; None when the shares of ``config`` applied."""
    files: dict[str, str] = msgspec.field(default_factory=dict)
    """File name to sha256 hex digest, for every file of the bundle but the manifest."""


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    path: Path
    """Folder it was loaded from."""
    manifest: Manifest
    """Its manifest."""
    scorer: Scorer
    """Scorer built from its model text and pipeline spec."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(folder: Path, manifest: Manifest, files: dict[str, bytes]) -> Path:
    """Write ``files`` and the manifest (with their digests) to ``folder``, atomically; refuses to overwrite."""
    if folder.exists():
        msg = f"bundle folder {folder} already exists; pass another version"
        raise BundleError(msg)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    signed = msgspec.structs.replace(manifest, files={name: _sha256(data) for name, data in sorted(files.items())})
    (tmp / MANIFEST).write_bytes(msgspec.json.format(msgspec.json.encode(signed)) + b"\n")
    tmp.rename(folder)
    return folder


def _read_verified(path: Path, manifest: Manifest, name: str) -> bytes:
    expected = manifest.files.get(name)
    if expected is None:
        msg = f"{name} is not listed in {path / MANIFEST}"
        raise BundleError(msg)
    if "/" in name or "\\" in name or name.startswith("."):
        msg = f"{name} in {path / MANIFEST} is not a plain file name"
        raise BundleError(msg)
    try:
        data = (path / name).read_bytes()
    except OSError as exc:
        msg = f"{name} is listed in {MANIFEST} but cannot be read from {path}: {exc.strerror}"
        raise BundleError(msg) from exc
    actual = _sha256(data)
    if actual != expected:
        msg = f"{name} in {path} does not match its sha256 in {MANIFEST} (expected {expected}, got {actual})"
        raise BundleError(msg)
    return data


def load_bundle(path: Path) -> Bundle:
    """Load and verify a bundle folder; raises :class:`BundleError` naming the file that is missing or altered."""
    path = Path(path)
    try:
        raw = (path / MANIFEST).read_bytes()
    except OSError as exc:
        msg = f"{MANIFEST} cannot be read from {path}: {exc.strerror}"
        raise BundleError(msg) from exc
    try:
        manifest = msgspec.json.decode(raw, type=Manifest)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        msg = f"{MANIFEST} in {path} is not a valid manifest: {exc}"
        raise BundleError(msg) from exc
    contents = {name: _read_verified(path, manifest, name) for name in sorted({*manifest.files, MODEL, PIPELINE})}
    try:
        spec = msgspec.json.decode(contents[PIPELINE], type=PipelineSpec)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        msg = f"{PIPELINE} in {path} is not a valid pipeline spec: {exc}"
        raise BundleError(msg) from exc
    try:
        scorer = Scorer(spec, contents[MODEL].decode())
    except (lgb.basic.LightGBMError, UnicodeDecodeError, KeyError) as exc:
        msg = f"{MODEL} in {path} cannot be loaded with its {PIPELINE}: {exc}"
        raise BundleError(msg) from exc
    return Bundle(path=path, manifest=manifest, scorer=scorer)
