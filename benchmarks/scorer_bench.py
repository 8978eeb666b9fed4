"""The single-row scorer benchmark of docs/benchmarks/models.md: every way to score one row, side by side, with
`Booster.predict` on a 1-row array measured in the same run as the baseline.

    .venv/bin/python benchmarks/scorer_bench.py [--rows 300] [--repeat 40] [--extra-site DIR] [--max-depth N]

It scores the demo model of `make run` (trained first when absent) on feature rows computed by the offline twin from
the demo events, so missing values and category mixes are those of production. Compiled forms (lleaves, tl2cgen,
treelite's GTIL) are not dependencies of the project: install them in a throwaway venv of the same Python and pass
its site-packages with `--extra-site` (appended to sys.path, so the project's own packages still win); they are
skipped when absent. Figures are µs per row, the best of `--repeat` passes over all rows, one thread.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from engine.demo import ensure_demo_data, ensure_model  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.training import read_profiles, train_card_payment, training_frame  # noqa: E402
from models import Bundle, Score, TrainConfig, load_bundle  # noqa: E402
from models.scorer import Scorer  # noqa: E402


def side_by_side(
    fns: dict[str, Callable[[Any], object]], inputs: Sequence[Any], repeat: int, *, pair: bool = False
) -> dict[str, float]:
    """Best of ``repeat`` passes over ``inputs`` per function, in µs per call. The functions take turns in every
    round, so that load from other processes on this shared machine falls on all of them alike. With ``pair``,
    inputs are tuples and the i-th function reads the i-th element of each."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for i, (name, fn) in enumerate(fns.items()):
            args = [x[i] for x in inputs] if pair else inputs
            start = time.perf_counter_ns()
            for x in args:
                fn(x)
            best[name] = min(best[name], (time.perf_counter_ns() - start) / len(inputs) / 1000)
    return best


def demo_rows(bundle: Bundle, n: int) -> list[dict[str, Any]]:
    """``n`` feature rows (name -> value, None = missing) from the demo events, through the offline twin."""
    settings = Settings()
    demo = settings.data_dir / "demo"
    events = pl.read_parquet(demo / "events.parquet").tail(max(n * 5, 10_000))
    df = training_frame(events, read_profiles(demo)).tail(n)
    names = list(bundle.scorer.feature_names)
    return [dict(zip(names, r, strict=True)) for r in df.select(names).iter_rows()]


def compiled_options(model_file: Path, rows: list[ctypes.Array[ctypes.c_double]]) -> dict[str, Callable[[Any], Any]]:
    """Predict functions of the compiled forms that import; each reads one ctypes row."""
    out: dict[str, Callable[[Any], Any]] = {}
    try:
        import lleaves  # type: ignore[import-not-found]
    except ImportError:
        print("  lleaves: not importable (pass --extra-site), skipped")
    else:
        start = time.perf_counter()
        model = lleaves.Model(model_file=str(model_file))
        model.compile()
        print(
            f"  lleaves {lleaves.__version__ if hasattr(lleaves, '__version__') else ''}: compiled in "
            f"{time.perf_counter() - start:.1f} s"
        )
        entry = model._c_entry_func  # the compiled forest: (double* rows, double* out, int start, int end)
        result = (ctypes.c_double * 1)()
        n = len(rows[0])

        def lleaves_direct(x: Any) -> float:
            entry(x, result, 0, 1)
            return float(result[0])

        out["lleaves, compiled entry via ctypes"] = lleaves_direct
        arrays = {id(r): np.frombuffer(r, dtype=np.float64).reshape(1, n) for r in rows}
        out["lleaves Model.predict (1-row array)"] = lambda x: model.predict(arrays[id(x)], n_jobs=1)
    try:
        import tl2cgen  # type: ignore[import-not-found]
        import treelite  # type: ignore[import-not-found]
    except ImportError:
        print("  treelite / tl2cgen: not importable (pass --extra-site), skipped")
    else:
        n = len(rows[0])
        arrays = {id(r): np.frombuffer(r, dtype=np.float64).reshape(1, n) for r in rows}
        tree_model = treelite.frontend.load_lightgbm_model(str(model_file))
        out["treelite GTIL (1-row array)"] = lambda x: treelite.gtil.predict(tree_model, arrays[id(x)], nthread=1)
        lib = Path(tempfile.mkdtemp()) / "forest.so"
        start = time.perf_counter()
        tl2cgen.export_lib(tree_model, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 8})
        print(f"  tl2cgen: compiled with gcc in {time.perf_counter() - start:.1f} s")
        predictor = tl2cgen.Predictor(str(lib), nthread=1)
        matrices = {id(r): tl2cgen.DMatrix(arrays[id(r)]) for r in rows}
        out["tl2cgen Predictor (prebuilt DMatrix)"] = lambda x: predictor.predict(matrices[id(x)])
    return out


def check_equal(name: str, fn: Callable[[Any], Any], rows: list[Any], expected: np.ndarray[Any, Any]) -> None:
    """Print the largest difference of ``fn`` from ``Booster.predict`` over the rows."""
    got = np.array([float(np.asarray(fn(r)).ravel()[0]) for r in rows])
    print(f"  {name}: max |diff| vs Booster.predict = {float(np.max(np.abs(got - expected))):.2e}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000, help="demo feature rows to score (default 3000)")
    parser.add_argument("--repeat", type=int, default=20, help="passes over the rows; the best is kept (default 20)")
    parser.add_argument("--reason-rows", type=int, default=50, help="rows for the (slow) reasons figures")
    parser.add_argument("--extra-site", type=Path, help="site-packages of a venv holding lleaves / treelite")
    parser.add_argument(
        "--max-depth",
        type=int,
        help="train a fresh demo model with this TrainConfig.max_depth (-1: no limit, the default) and score it",
    )
    args = parser.parse_args(argv)
    if args.extra_site:
        sys.path.append(str(args.extra_site))

    settings = Settings()
    ensure_model(settings, ensure_demo_data(settings.data_dir))
    path = settings.model_dir / (settings.model_dir / "CURRENT").read_text().strip()
    bundle = load_bundle(path)
    if args.max_depth is not None:
        path = train_card_payment(
            settings.data_dir / "demo",
            Path(tempfile.mkdtemp()),
            config=TrainConfig(max_depth=args.max_depth),
            progress=False,
        )
        bundle = load_bundle(path)
        m = bundle.manifest.metrics
        print(
            f"freshly trained demo model, max_depth={args.max_depth}: test slice AUC {m.auc:.4f}, "
            f"AP {m.average_precision:.4f}, recall at 1 % FPR {m.recall_at_fpr_1pct:.4f}"
        )
    scorer = bundle.scorer
    booster = scorer.booster
    fast = scorer._fast
    calibrate, ecdf = scorer._calibrate, scorer._ecdf
    rows = demo_rows(bundle, args.rows)
    vectors = [scorer.vector(r) for r in rows]
    matrix = {id(v): np.array([v], dtype=np.float64) for v in vectors}
    vector_of = {id(row): v for row, v in zip(rows, vectors, strict=True)}
    missing = sum(v is None for r in rows for v in r.values()) / (len(rows) * len(scorer.feature_names))
    print(
        f"model {path.name}: {booster.num_trees()} trees, {booster.num_feature()} features; "
        f"{len(rows)} demo rows, {missing:.1%} of values missing"
    )

    print("\nequality (every option must equal Booster.predict to 1e-9):")
    expected = np.array([float(booster.predict(matrix[id(v)], num_threads=1)[0]) for v in vectors])
    raw_of = {id(row): float(e) for row, e in zip(rows, expected, strict=True)}
    check_equal("C API fast path", fast.predict, vectors, expected)
    forest = scorer.native
    if forest is None:
        print("  compiled stage (models/_forest.c): not built here (no C compiler?), skipped")
    else:
        check_equal("compiled forest (models/_forest.c)", forest.predict, vectors, expected)
    fallback = Scorer(scorer.spec, (path / "model.txt").read_text(), use_native=False)
    compiled = compiled_options(path / "model.txt", vectors)
    for name, fn in compiled.items():
        check_equal(name, fn, vectors, expected)

    r = args.repeat
    baseline = "Booster.predict (1-row array) [baseline]"
    print("\n1. the booster alone, from a ready float64 row (µs per row; x = times faster than the baseline):")
    alone = side_by_side(
        {
            baseline: lambda x: booster.predict(matrix[id(x)], num_threads=1),
            "C API single-row fast path": fast.predict,
            **({"compiled forest (models/_forest.c)": forest.predict} if forest else {}),
            **compiled,
        },
        vectors,
        r,
    )
    for name, us in alone.items():
        print(f"  {name:<52} {us:8.2f}   {alone[baseline] / us:5.1f}x")

    def before(row: dict[str, Any]) -> Score:
        raw = float(booster.predict(scorer.matrix_row(row), num_threads=1)[0])
        return Score(score=raw, calibrated=calibrate(raw), ecdf=ecdf(raw))

    stage_fns: dict[str, Callable[[Any], object]] = {
        baseline: lambda row: booster.predict(matrix[id(vector_of[id(row)])], num_threads=1),
        "previous Scorer.score (numpy row + Booster.predict)": before,
        "Scorer.score_row(row): the stage the engine calls": scorer.score_row,
        "Python adapters + C API (fallback, use_native=False)": fallback.score_row,
        "  vector: lookup, encode, impute, into ctypes": fallback.vector,
        "  C API fast path": lambda row: fast.predict(vector_of[id(row)]),
        "  calibration + ECDF": lambda row: (calibrate(raw_of[id(row)]), ecdf(raw_of[id(row)])),
        "  Score struct": lambda row: Score(score=raw_of[id(row)], calibrated=0.5, ecdf=0.5),
    }
    if "lleaves, compiled entry via ctypes" in compiled:
        direct = compiled["lleaves, compiled entry via ctypes"]

        def with_lleaves(row: dict[str, Any]) -> Score:
            raw = float(direct(scorer.vector(row)))
            return Score(score=raw, calibrated=calibrate(raw), ecdf=ecdf(raw))

        stage_fns["the same stage with lleaves instead of the C API"] = with_lleaves
    print("\n2. the model stage, mapping in -> Score out (µs per row; x = times faster than the baseline):")
    stage = side_by_side(stage_fns, rows, r)
    for name, us in stage.items():
        print(f"  {name:<52} {us:8.2f}   {stage[baseline] / us:5.1f}x")
    total = stage["Scorer.score_row(row): the stage the engine calls"]
    if forest:
        # the same call shape as the stage (one C call per row, no lambda), so that the difference is the adapters
        both = side_by_side(
            {"stage": scorer.score_row, "trees": forest.predict}, list(zip(rows, vectors, strict=True)), r, pair=True
        )
        print(f"  stage {both['stage']:.2f} µs, trees + sigmoid alone (encoded row, one C call) {both['trees']:.2f} µs")
        adapters = both["stage"] - both["trees"]
        print(
            f"  adapters of the compiled stage (gather, encode, impute, calibration, ECDF, Score; the stage minus the "
            f"trees alone): {adapters:.2f} µs = {adapters / both['stage']:.0%} of the model stage"
        )
    fb_total = stage["Python adapters + C API (fallback, use_native=False)"]
    fb_adapters = fb_total - stage["  C API fast path"]
    print(f"  fallback adapters: {fb_adapters:.2f} µs = {fb_adapters / fb_total:.0%} of its stage")

    if forest and scorer._contributions == forest.contributions:
        few_vectors = [vector_of[id(row)] for row in rows[: args.reason_rows]]
        want = np.array([fast.contributions(v) for v in few_vectors])
        got = np.array([forest.contributions(v) for v in few_vectors])
        print(f"\n  compiled TreeSHAP: max |diff| vs LightGBM's pred_contrib = {np.max(np.abs(got - want)):.2e}")
    print("\n3. reasons: TreeSHAP contributions (µs per row):")
    few = rows[: args.reason_rows]
    reasons = side_by_side(
        {
            "Booster.predict(pred_contrib=True)": lambda row: booster.predict(
                matrix[id(vector_of[id(row)])], pred_contrib=True, num_threads=1
            ),
            "C API fast path, C_API_PREDICT_CONTRIB": lambda row: fast.contributions(vector_of[id(row)]),
            **(
                {"compiled TreeSHAP (models/_forest.c)": lambda row: forest.contributions(vector_of[id(row)])}
                if forest and scorer._contributions == forest.contributions
                else {}
            ),
            "Scorer.score(row, reasons=3)": lambda row: scorer.score(row, reasons=3),
        },
        few,
        3,
    )
    for name, us in reasons.items():
        print(f"  {name:<52} {us:8.1f}   = {us / total:5.0f}x a score without reasons")
    depths = [_depth(t["tree_structure"]) for t in booster.dump_model()["tree_info"]]
    print(f"  trees: depth median {statistics.median(depths):.0f}, max {max(depths)}; TreeSHAP is O(leaves x depth^2)")
    return 0


def _depth(node: dict[str, Any]) -> int:
    if "leaf_index" in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


if __name__ == "__main__":
    raise SystemExit(main())
