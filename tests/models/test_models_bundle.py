"""Training end to end: bundle contents, verification on load, determinism, learnt signal."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import polars as pl
import pytest
from models_synth import FEATURES, SMALL, make_frame

from models import Bundle, BundleError, ModelsError, load_bundle, train_bundle
from models.bundle import write_bundle
from models.metrics import auc
from models.split import time_split


def test_learns_the_signal(bundle: Bundle) -> None:
    assert bundle.manifest.metrics.auc > 0.8
    assert bundle.manifest.metrics.rows == bundle.manifest.rows.test


def test_loaded_bundle_scores_as_in_training(bundle: Bundle, frame: pl.DataFrame) -> None:
    # the manifest's AUC was measured on the in-memory pipeline; the loaded scorer must reproduce it exactly
    test = time_split(frame, "occurred_at", SMALL).test
    scored = bundle.scorer.score_frame(test)
    assert auc(scored["fraud"].to_numpy(), scored["score"].to_numpy()) == bundle.manifest.metrics.auc


def test_copied_bundle_scores_the_same(bundle: Bundle, frame: pl.DataFrame, tmp_path: Path) -> None:
    copy = load_bundle(Path(shutil.copytree(bundle.path, tmp_path / "copy")))
    assert copy.scorer.score_frame(frame).equals(bundle.scorer.score_frame(frame))
    assert copy.manifest == bundle.manifest


def test_manifest_lists_every_file(bundle: Bundle) -> None:
    manifest = bundle.manifest
    assert sorted(manifest.files) == ["model.txt", "pipeline.json", "report.html"]
    assert sorted(p.name for p in bundle.path.iterdir()) == ["manifest.json", *sorted(manifest.files)]
    assert manifest.features == list(FEATURES)
    assert manifest.version == bundle.path.name == "v1"
    assert manifest.rows.total == sum(
        (manifest.rows.train, manifest.rows.calibration, manifest.rows.gap, manifest.rows.test)
    )
    assert set(manifest.packages) >= {"python", "lightgbm", "polars", "numpy", "msgspec"}
    assert bundle.scorer.feature_names == tuple(f.name for f in FEATURES)


def test_report_is_self_contained(bundle: Bundle) -> None:
    report = (bundle.path / "report.html").read_text()
    assert report.count('src="data:image/png;base64,') == 4
    assert "auc" in report
    assert "http" not in report


@pytest.mark.parametrize("name", ["model.txt", "pipeline.json", "report.html"])
def test_tampering_is_refused_naming_the_file(bundle: Bundle, tmp_path: Path, name: str) -> None:
    copy = Path(shutil.copytree(bundle.path, tmp_path / "copy"))
    (copy / name).write_bytes((copy / name).read_bytes() + b" ")
    with pytest.raises(BundleError, match=rf"^{name} in .* does not match its sha256 in manifest.json"):
        load_bundle(copy)


def test_missing_files_are_refused_naming_the_file(bundle: Bundle, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(bundle.path, tmp_path / "copy"))
    (copy / "model.txt").unlink()
    with pytest.raises(BundleError, match=r"^model.txt is listed in manifest.json but cannot be read"):
        load_bundle(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"^manifest.json cannot be read from"):
        load_bundle(copy)


def test_unknown_manifest_fields_are_refused(bundle: Bundle, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(bundle.path, tmp_path / "copy"))
    raw = msgspec.json.decode((copy / "manifest.json").read_bytes())
    raw["extra"] = 1
    (copy / "manifest.json").write_bytes(msgspec.json.encode(raw))
    with pytest.raises(
        ModelsError, match=r"^manifest.json in .* is not a valid manifest: Object contains unknown field `extra`"
    ):
        load_bundle(copy)


def test_existing_version_is_not_overwritten(bundle: Bundle) -> None:
    with pytest.raises(BundleError, match="already exists; pass another version"):
        write_bundle(bundle.path, bundle.manifest, {})


def test_same_data_and_seed_give_the_same_model(tmp_path: Path) -> None:
    df = make_frame(1500, seed=3)

    def train(out: str) -> Path:
        return train_bundle(df, FEATURES, label="fraud", time_col=None, out_dir=tmp_path / out, name="m", config=SMALL)

    first, second = train("a"), train("b")
    assert (first / "model.txt").read_bytes() == (second / "model.txt").read_bytes()
    assert (first / "pipeline.json").read_bytes() == (second / "pipeline.json").read_bytes()
    assert first.name.endswith(load_bundle(first).manifest.data_digest[:8])


def test_platt_calibration_bundle(tmp_path: Path) -> None:
    config = msgspec.structs.replace(SMALL, calibration="platt")
    path = train_bundle(
        make_frame(1500, seed=4),
        FEATURES,
        label="fraud",
        time_col="occurred_at",
        out_dir=tmp_path,
        name="m",
        version="p",
        config=config,
    )
    spec = load_bundle(path).scorer.spec
    assert type(spec.calibration).__name__ == "PlattParams"
