"""The training report: one self-contained HTML page with inline PNG plots and the metrics table."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from models.metrics import Metrics, precision_recall_curve, roc_curve

_BINS = 10


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode()


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Any]:
    fig = Figure(figsize=(4.8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def _plots(
    label: npt.NDArray[np.float64], score: npt.NDArray[np.float64], calibrated: npt.NDArray[np.float64]
) -> dict[str, str]:
    plots: dict[str, str] = {}
    fpr, tpr, _ = roc_curve(label, score)
    fig, ax = _figure("ROC (test)", "false-positive rate", "recall")
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    plots["ROC"] = _png(fig)

    precision, recall = precision_recall_curve(label, score)
    fig, ax = _figure("Precision-recall (test)", "recall", "precision")
    ax.plot(recall, precision)
    plots["Precision-recall"] = _png(fig)

    fig, ax = _figure("Reliability (test)", "mean predicted", "observed rate")
    edges = np.unique(np.quantile(calibrated, np.linspace(0, 1, _BINS + 1)))
    bins = np.clip(np.searchsorted(edges, calibrated, side="right") - 1, 0, max(edges.size - 2, 0))
    used = np.unique(bins)
    predicted = [float(calibrated[bins == b].mean()) for b in used]
    observed = [float(label[bins == b].mean()) for b in used]
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.plot(predicted, observed, marker="o")
    plots["Calibration"] = _png(fig)

    fig, ax = _figure("Raw score by label (test)", "score", "density")
    for value, name in ((0.0, "legit"), (1.0, "fraud")):
        ax.hist(score[label == value], bins=50, range=(0, 1), density=True, alpha=0.5, label=name)
    ax.legend()
    plots["Score distribution"] = _png(fig)
    return plots


def render_report(
    *,
    title: str,
    metrics: Metrics,
    facts: dict[str, str],
    label: npt.ArrayLike,
    score: npt.ArrayLike,
    calibrated: npt.ArrayLike,
) -> str:
    """HTML page: facts and metrics tables, then ROC, precision-recall, reliability and score distribution plots."""
    y = np.asarray(label, dtype=np.float64)
    plots = _plots(y, np.asarray(score, dtype=np.float64), np.asarray(calibrated, dtype=np.float64))
    rows = {
        **facts,
        **{k: f"{v:.6g}" if isinstance(v, float) else str(v) for k, v in msgspec.structs.asdict(metrics).items()},
    }
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows.items())
    images = "".join(
        f'<figure><img alt="{html.escape(k)}" src="data:image/png;base64,{v}"><figcaption>{html.escape(k)}'
        "</figcaption></figure>"
        for k, v in plots.items()
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}figure{display:inline-block;margin:1em}"
        f"</style></head><body><h1>{html.escape(title)}</h1><table>{table}</table>{images}</body></html>\n"
    )
