"""LightGBM model text flattened into the tables the compiled walker reads (``models/_forest.c``).

The text is LightGBM's own serialisation (``Booster.model_to_string``): thresholds and leaf values are written with
round-trip precision, so the tables hold exactly the doubles LightGBM predicts with. Node and leaf indices are made
global (tree by tree, in order): a child ``>= 0`` is a node, ``< 0`` the leaf ``~child``; a one-leaf tree's root is
its leaf. Only what the project trains is accepted (one binary model, no linear trees, no random-forest
averaging); anything else raises :class:`UnsupportedModel` and the scorer keeps LightGBM's C API.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from models import native
from models.learners.calibration import PLATT_CLIP, PLATT_EPS, CalibrationParams, PlattParams


class UnsupportedModel(ValueError):
    """The model text holds something the compiled walker does not evaluate."""


@dataclass
class ForestTables:
    """The flattened forest: one entry per node (features ... cat_lens), per leaf, per tree root."""

    sigmoid: float
    num_features: int
    roots: array[int] = field(default_factory=lambda: array("i"))
    features: array[int] = field(default_factory=lambda: array("i"))
    thresholds: array[float] = field(default_factory=lambda: array("d"))
    lefts: array[int] = field(default_factory=lambda: array("i"))
    rights: array[int] = field(default_factory=lambda: array("i"))
    decisions: array[int] = field(default_factory=lambda: array("b"))
    cat_starts: array[int] = field(default_factory=lambda: array("i"))
    cat_lens: array[int] = field(default_factory=lambda: array("i"))
    leaves: array[float] = field(default_factory=lambda: array("d"))
    cat_bits: array[int] = field(default_factory=lambda: array("I"))
    internal_counts: array[float] = field(default_factory=lambda: array("d"))
    """Training rows through each node: TreeSHAP's cover (LightGBM's `internal_count`)."""
    leaf_counts: array[float] = field(default_factory=lambda: array("d"))
    """Training rows in each leaf (`leaf_count`)."""


def build_forest(
    module: ModuleType,
    t: ForestTables,
    *,
    names: tuple[str, ...],
    codes: Sequence[dict[str, float] | None],
    fills: Sequence[float],
    calibration: CalibrationParams,
    quantiles: Sequence[float],
    error: type[Exception],
    result: Callable[[float, float, float], Any],
) -> native.NativeForest:
    """The compiled stage's ``Forest`` for these tables: feature names in column order, each one's codes (None for
    a number) and fill (a number's imputation value, a category's "other" code), the calibration and the ECDF's
    quantiles; ``error`` is raised for a value of the wrong type and ``result`` builds the returned score."""
    if isinstance(calibration, PlattParams):
        platt, xs, ys, a, b = True, array("d"), array("d"), calibration.a, calibration.b
    else:
        platt, xs, ys, a, b = False, array("d", calibration.x), array("d", calibration.y), 0.0, 0.0
    return native.new_forest(
        module, names, tuple(codes), array("d", fills), t.roots, t.features, t.thresholds, t.lefts, t.rights,
        t.decisions, t.cat_starts, t.cat_lens, t.leaves, t.cat_bits, t.sigmoid, platt, xs, ys, a, b, PLATT_EPS,
        PLATT_CLIP, array("d", quantiles), error, result,
    )  # fmt: skip


_CATEGORICAL = 1


def _header_and_trees(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line == "end of trees":
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    return header, trees


def _sigmoid(header: dict[str, str]) -> float:
    objective = header.get("objective", "").split()
    if not objective or objective[0] != "binary":
        raise UnsupportedModel(f"objective {header.get('objective')!r}: only binary models are compiled")
    for part in objective[1:]:
        key, _, value = part.partition(":")
        if key == "sigmoid":
            return float(value)
    return 1.0


def _ints(tree: dict[str, str], key: str) -> list[int]:
    return [int(v) for v in tree.get(key, "").split()]


def _floats(tree: dict[str, str], key: str) -> list[float]:
    return [float(v) for v in tree.get(key, "").split()]


def flatten(text: str) -> ForestTables:
    """The tables of a LightGBM model text; raises :class:`UnsupportedModel` for what the walker does not do."""
    header, trees = _header_and_trees(text)
    if header.get("num_class", "1") != "1" or header.get("num_tree_per_iteration", "1") != "1":
        raise UnsupportedModel("multiclass models are not compiled")
    if "average_output" in header:
        raise UnsupportedModel("random-forest (average_output) models are not compiled")
    out = ForestTables(sigmoid=_sigmoid(header), num_features=int(header["max_feature_idx"]) + 1)
    for t, tree in enumerate(trees):
        if tree.get("is_linear", "0") != "0":
            raise UnsupportedModel(f"tree {t} is a linear tree")
        _add_tree(out, tree)
    return out


def _add_tree(out: ForestTables, tree: dict[str, str]) -> None:
    node_base, leaf_base, bit_base = len(out.features), len(out.leaves), len(out.cat_bits)
    leaves = _floats(tree, "leaf_value")
    out.leaves.extend(leaves)
    counts = _floats(tree, "leaf_count")
    out.leaf_counts.extend(counts if len(counts) == len(leaves) else [0.0] * len(leaves))
    if int(tree["num_leaves"]) == 1:
        out.roots.append(~leaf_base)
        return
    out.roots.append(node_base)
    features = _ints(tree, "split_feature")
    internal = _floats(tree, "internal_count")
    out.internal_counts.extend(internal if len(internal) == len(features) else [0.0] * len(features))
    bounds = _ints(tree, "cat_boundaries")
    out.cat_bits.extend(_ints(tree, "cat_threshold"))

    def child(c: int) -> int:
        return node_base + c if c >= 0 else ~(leaf_base + ~c)

    for f, thr, dec, left, right in zip(
        features,
        _floats(tree, "threshold"),
        _ints(tree, "decision_type"),
        _ints(tree, "left_child"),
        _ints(tree, "right_child"),
        strict=True,
    ):
        if f >= out.num_features:
            raise UnsupportedModel(f"split on feature {f} of {out.num_features}")
        out.features.append(f)
        out.thresholds.append(thr)
        out.decisions.append(dec)
        out.lefts.append(child(left))
        out.rights.append(child(right))
        if dec & _CATEGORICAL:
            k = int(thr)  # a categorical node's threshold is the index of its bitset
            out.cat_starts.append(bit_base + bounds[k])
            out.cat_lens.append(bounds[k + 1] - bounds[k])
        else:
            out.cat_starts.append(0)
            out.cat_lens.append(0)
