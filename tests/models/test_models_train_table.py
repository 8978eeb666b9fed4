"""`fraudgate train --table`: any labelled table (Parquet or CSV) becomes a bundle, with clear errors for bad flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from models_synth import make_frame

from engine.cli import main
from models import load_bundle


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_any_labelled_table_trains_a_bundle(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_frame(3000).rename({"fraud": "chargeback"})
    table = tmp_path / f"my_data.{fmt}"
    frame.write_parquet(table) if fmt == "parquet" else frame.write_csv(table)
    args = ["train", "--table", str(table), "--label", "chargeback", "--time-col", "occurred_at",
            "--out", str(tmp_path / "registry"), "--version", "mine"]  # fmt: skip
    assert main(args) == 0
    assert "not promoted" in capsys.readouterr().out
    bundle = load_bundle(tmp_path / "registry" / "mine")
    assert bundle.manifest.name == "my_data"
    kinds = {f.name: f.kind for f in bundle.scorer.spec.features}
    assert kinds == {"amount": "numeric", "velocity_1h": "numeric", "new_device": "numeric",
                     "country": "categorical", "channel": "categorical"}  # fmt: skip
    assert bundle.manifest.metrics.auc > 0.7  # the synthetic signal is learnt
    assert not (tmp_path / "registry" / "CURRENT").exists()
    row = {"amount": 900.0, "velocity_1h": 6, "new_device": True, "country": "NG", "channel": "ecommerce"}
    assert 0.0 <= bundle.scorer.score_row(row).score <= 1.0


def test_chosen_features_and_categoricals(tmp_path: Path) -> None:
    table = tmp_path / "t.parquet"
    make_frame(3000).write_parquet(table)
    args = ["train", "--table", str(table), "--label", "fraud", "--features", "amount,country,velocity_1h",
            "--categorical", "country", "--out", str(tmp_path), "--version", "v"]  # fmt: skip
    assert main(args) == 0
    features = load_bundle(tmp_path / "v").scorer.spec.features
    assert [(f.name, f.kind) for f in features] == [
        ("amount", "numeric"), ("country", "categorical"), ("velocity_1h", "numeric")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--label", "nope"], "--label: the table has no column `nope`"),
        (["--label", "fraud", "--features", "amount,ghost"], "--features: the table has no column `ghost`"),
        (["--label", "fraud", "--time-col", "when"], "--time-col: the table has no column `when`"),
    ],
)
def test_bad_flags_name_the_flag_and_the_column(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.parquet"
    make_frame(500).write_parquet(table)
    assert main(["train", "--table", str(table), "--out", str(tmp_path), *extra]) != 0
    assert message in capsys.readouterr().err
