"""The external yardstick of issue 5 item 8: our pipeline on the Fraud Detection Handbook, with the Handbook's protocol.

    .venv/bin/python benchmarks/handbook_model.py [--trees 500] [--out var/handbook] [--no-baseline]

Protocol (Handbook Chapter 3.4, see ../shared/datasets/handbook/README.md): train on 2018-07-25..31, a 7-day delay
period unused, test on 2018-08-08..14 without the cards already known compromised (a fraud on or before the test day
minus 8 days). Labels reach the features 7 days after each transaction (`features.labels.with_label_delay`), so the
delayed terminal risk never reads a label the protocol would not know yet. The booster trains on 07-25..30 and
calibration and the ECDF are fitted on 07-31, which the booster never saw. Features come from the offline twin of the
feature store (`features.offline.compute_offline`): `features.handbook_plus` (ours) and, for reference, the
Handbook's own 15 baseline features (`features.handbook`) through the same pipeline. Writes both bundles (with their
HTML reports) under `--out` and prints the table: ours beside the published figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import polars as pl  # noqa: E402

from features.handbook import DAY, DELAY_DAYS, HANDBOOK, handbook_events  # noqa: E402
from features.handbook_plus import HANDBOOK_PLUS  # noqa: E402
from features.labels import with_label_delay  # noqa: E402
from features.offline import compute_offline  # noqa: E402
from features.specs import FeatureSet  # noqa: E402
from models import FeatureDef, TrainConfig, load_bundle, train_bundle  # noqa: E402
from models.metrics import auc, average_precision  # noqa: E402
from models.protocol import card_precision_at_k, remove_known_compromised  # noqa: E402
from models.split import Periods  # noqa: E402

PATH = ROOT.parent / "shared" / "datasets" / "handbook" / "transactions.parquet"
START = dt.datetime(2018, 4, 1, tzinfo=dt.UTC)
TRAIN_DAYS = (115, 121)
"""2018-07-25 .. 2018-07-31 as `TX_TIME_DAYS`."""
TEST_DAYS = (129, 135)
"""2018-08-08 .. 2018-08-14."""
CALIBRATION_DAYS = 1
"""Last days of the training week kept from the booster for calibration and the ECDF."""
CONFIG = TrainConfig(num_trees=500, learning_rate=0.02, num_leaves=31, min_data_in_leaf=50)
"""The settings of the published figures in docs/benchmarks/models.md."""

PUBLISHED = {
    "Logistic regression": (0.871, 0.606, 0.291),
    "Decision tree with depth of two": (0.763, 0.496, 0.241),
    "Decision tree - unlimited depth": (0.788, 0.309, 0.243),
    "Random forest": (0.867, 0.658, 0.287),
    "XGBoost": (0.862, 0.639, 0.273),
}
"""Handbook Chapter 3.4, test week: AUC ROC, average precision, card precision@100."""
BEST = tuple(max(v[i] for v in PUBLISHED.values()) for i in range(3))


class Result(NamedTuple):
    """One row of the table."""

    auc: float
    average_precision: float
    card_precision_100: float
    test_rows: int
    test_frauds: int
    bundle: Path


def feature_defs(fs: FeatureSet) -> list[FeatureDef]:
    """Every fetched and derived feature of `fs` but the datetime ones, as numeric model inputs, plus the amount."""
    names = ["amount", *fs.fetched_names(), *(d.feature for d in fs.derived)]
    return [FeatureDef(name=n, kind="numeric") for n in names]


def day_start(day: int) -> dt.datetime:
    """The start of `TX_TIME_DAYS == day`, in UTC (as `handbook_events` stamps the events)."""
    return START + dt.timedelta(days=day)


def feature_frame(tx: pl.DataFrame, fs: FeatureSet) -> pl.DataFrame:
    """Engine features of every transaction (offline twin, labels known 7 days late), with day, card and label."""
    events = handbook_events(tx)
    labels = with_label_delay(events, DELAY_DAYS * DAY)
    feats = compute_offline(events.drop("is_fraud"), {}, fs, labels)
    return feats.with_columns(
        tx.get_column("TX_TIME_DAYS").alias("day"),
        tx.get_column("CUSTOMER_ID").alias("card"),
        tx.get_column("TX_FRAUD").alias("fraud"),
    )


def protocol_frames(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training week, protocol test set without the known compromised cards) from the full feature frame."""
    window = frame.filter(pl.col("day").is_between(TRAIN_DAYS[0], TEST_DAYS[1]))
    train = window.filter(pl.col("day").is_between(*TRAIN_DAYS))
    test = remove_known_compromised(
        window,
        day="day",
        card="card",
        label="fraud",
        train_days=TRAIN_DAYS,
        test_days=TEST_DAYS,
        delay_days=DELAY_DAYS,
    )
    return train, test


def periods() -> Periods:
    """Booster on the training week but its last `CALIBRATION_DAYS`, calibration on those, the test week after."""
    return Periods(
        calibration_start=day_start(TRAIN_DAYS[1] + 1 - CALIBRATION_DAYS),
        gap_start=day_start(TRAIN_DAYS[1] + 1),
        test_start=day_start(TEST_DAYS[0]),
    )


def run(
    frame: pl.DataFrame, fs: FeatureSet, *, config: TrainConfig, out_dir: Path, version: str, progress: bool = False
) -> Result:
    """Train a bundle on the protocol's training week and measure it on its test set."""
    train, test = protocol_frames(frame)
    features = feature_defs(fs)
    folder = train_bundle(
        pl.concat([train, test]),
        features,
        label="fraud",
        time_col="occurred_at",
        out_dir=out_dir,
        name=fs.name,
        version=version,
        config=config,
        periods=periods(),
        progress=progress,
    )
    bundle = load_bundle(folder)
    scored = bundle.scorer.score_frame(test)
    y, s = scored.get_column("fraud").to_numpy(), scored.get_column("score").to_numpy()
    cp = card_precision_at_k(scored, day="day", card="card", label="fraud", score="score", k=100)
    return Result(auc(y, s), average_precision(y, s), cp, test.height, int(y.sum()), folder)


def table(ours: dict[str, Result]) -> str:
    """The Markdown table: our rows, then the published ones."""
    lines = [
        "| model | AUC ROC | Average precision | Card Precision@100 |",
        "|---|---:|---:|---:|",
    ]
    for name, r in ours.items():
        lines.append(
            f"| **{name}** | **{r.auc:.3f}** | **{r.average_precision:.3f}** | **{r.card_precision_100:.3f}** |"
        )
    for name, (a, ap, cp) in PUBLISHED.items():
        lines.append(f"| {name} (published) | {a:.3f} | {ap:.3f} | {cp:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", type=int, default=CONFIG.num_trees, help="boosting rounds")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "handbook", help="folder of the bundles")
    ap.add_argument("--no-baseline", action="store_true", help="skip the Handbook's own 15 features")
    args = ap.parse_args()
    if not PATH.exists():
        sys.exit(f"{PATH} is missing: the Handbook dataset is needed (see ../shared/datasets/handbook/README.md)")
    config = msgspec.structs.replace(CONFIG, num_trees=args.trees)
    tx = pl.read_parquet(PATH).filter(pl.col("TX_TIME_DAYS") <= TEST_DAYS[1])
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    sets = [HANDBOOK_PLUS] if args.no_baseline else [HANDBOOK_PLUS, HANDBOOK]
    labels = {
        HANDBOOK_PLUS.name: "fraudgate, handbook_plus features",
        HANDBOOK.name: "fraudgate, Handbook's 15 features",
    }
    ours: dict[str, Result] = {}
    for fs in sets:
        t = time.perf_counter()
        frame = feature_frame(tx, fs)
        f_s = time.perf_counter() - t
        t = time.perf_counter()
        r = run(frame, fs, config=config, out_dir=args.out, version=f"{fs.name}-{stamp}", progress=True)
        print(
            f"{fs.name}: features {f_s:.1f} s (offline twin, {tx.height:,} events), "
            f"train + score {time.perf_counter() - t:.1f} s; "
            f"test {r.test_rows:,} rows, {r.test_frauds} frauds; bundle {r.bundle}"
        )
        ours[labels[fs.name]] = r
    print()
    print(table(ours))
    best = ours[labels[HANDBOOK_PLUS.name]]
    beaten = [best.auc > BEST[0], best.average_precision > BEST[1], best.card_precision_100 > BEST[2]]
    print(f"\nbest published: AUC {BEST[0]}, AP {BEST[1]}, CP@100 {BEST[2]}; beaten: {beaten}")


if __name__ == "__main__":
    main()
