#!/usr/bin/env python3
"""scikit-learn peer-comparison reference for the TypeScript bench (bench tooling only).

Usage:
    PY="$(bench/reference/setup.sh | tail -n 1)"
    "$PY" bench/reference/sklearn_reference.py EXPERIMENT.json RESULTS.json \
        [--datasets iris,wdbc] [--algorithms lr,svm]

EXPERIMENT.json is written by the TypeScript bench. It names the data files, the column
types and the exact row indices of the train / validation / holdout split. This script never
re-splits: sklearn is trained and scored on the very same rows as the TypeScript trainers.
Progress goes to stderr; stdout stays empty. Any inconsistency (row count, field count,
unknown column, bad index, unparsable number) fails loudly with exit code 1.

Loading (must match the TS loader):
  * each file is decoded as UTF-8 with a BOM stripped (encoding 'utf-8-sig');
  * records are split on '\\n' only (never str.splitlines(), which also splits on U+0085
    etc.), one trailing '\\r' per record is removed, and blank records (empty after that, or
    only whitespace) are skipped;
  * each record is parsed on its own with the csv module and the given delimiter; with
    "quoting": false, csv.QUOTE_NONE (quotes are literal characters);
  * with "header": true the first non-blank record of each file holds the column names
    (all files of a multi-file dataset must have the same header); otherwise "columns" names
    them; every record must have exactly that many fields;
  * "files" (list) instead of "path": rows of the files are concatenated in the given order;
  * a field equal to one of the "missing" tokens is missing (compared exactly, no trimming).
    numeric -> NaN (then mean-imputed), categorical -> missing (then most-frequent imputed),
    text -> "" (empty document). A missing label is an error. Other fields are not trimmed;
    numeric fields are parsed with Python float() (which tolerates surrounding whitespace).
  * labels are kept as strings; classes are ordered as sklearn orders them (sorted).

Models (Pipeline(ColumnTransformer -> estimator)) and grids, mirroring the TS side:
  numeric     -> SimpleImputer(mean) + StandardScaler
  categorical -> SimpleImputer(most_frequent) + OneHotEncoder(handle_unknown='ignore')
                 (dense output for tabular datasets, because HistGradientBoosting needs it)
  text        -> TfidfVectorizer(lowercase=True, ngram_range=(1, 2),
                 token_pattern=r"(?u)\\b\\w+\\b" (single characters count as tokens),
                 sublinear_tf=False, norm='l2', use_idf=True, smooth_idf=True, min_df=1,
                 strip_accents=None), one vectorizer per text column, sparse output
  lr   LogisticRegression(lbfgs, max_iter=2000), C in [1, 0.1, 10, 100]
  svm  CalibratedClassifierCV(LinearSVC(C), method='sigmoid', cv=3) (ensemble of the 3
       fold models, sklearn's default), C in [1, 0.1, 0.01, 10]; LinearSVC defaults otherwise
  nb   all numeric           -> GaussianNB(var_smoothing in [1e-9, 1e-6]) on imputed+scaled data
       categorical only      -> SimpleImputer(most_frequent) + OrdinalEncoder + CategoricalNB
                                (alpha in [1, 0.1, 0.5]); categories unseen in training are
                                mapped to code 0, which no training row has (so they get
                                the alpha-smoothed "empty" probability instead of an error)
       mixed numeric+categorical -> GaussianNB(var_smoothing in [1e-9, 1e-6]) on the
                                transformed matrix (scaled numerics + dense one-hot columns)
       text                  -> MultinomialNB(alpha in [1, 0.1, 0.5]) on tf-idf (any extra
                                numeric columns use MinMaxScaler(clip=True) instead of
                                StandardScaler there, because MultinomialNB needs X >= 0)
  gbdt HistGradientBoostingClassifier(max_iter=100, early_stopping=False,
       random_state=seed), learning_rate in [0.1, 0.05] x max_leaf_nodes in [31, 15]
       (tabular only)
  rf   RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1),
       min_samples_leaf in [1, 3] (tabular only)
  Datasets with any text feature run lr, svm, nb only.
  Every estimator that takes random_state gets the experiment seed.

Single thread: n_jobs=1 everywhere it has an effect (LogisticRegression's n_jobs does nothing
since sklearn 1.8 and warns, so it is not passed), and the BLAS / OpenMP pools are limited to one thread
(environment variables set before numpy is imported, plus threadpoolctl), so the comparison
with the single-threaded TypeScript trainers is fair. HistGradientBoosting would otherwise use
all cores through OpenMP whatever n_jobs says.

Protocol per (dataset, algorithm): "folds" absent (validation-split, the TS trainer's protocol
when its validation part has >= 1000 rows):
  1. for each grid point (in the order listed): fit on the train rows, predict the validation
     rows, score with selectionMetric ('accuracy' or 'macro_f1'); the best is the first grid
     point with the highest score (a later point must be strictly better to replace it);
  2. refit a fresh pipeline with the best params on train + validation rows (train indices
     first, then validation indices, in the order given);
  3. score that model on the holdout rows.
"folds" present (k-fold, below 1000 validation rows): a list of k lists of row indices that
partition train + validation (the TS trainer's stratified folds, the same for every algorithm):
  1. for each grid point and each fold f: fit a fresh pipeline (preprocessing included) on the
     rows of the other folds (ascending indices), predict fold f, score it; the grid point's
     score is the mean over folds (std = numpy's population std); the best is the first grid
     point with the highest mean;
  2. and 3. as above (refit on train + validation, score on the holdout).
  searchSeconds = wall time of step 1 (all fits + predictions),
  fitSeconds    = wall time of the final fit() in step 2 only, both time.perf_counter().
Metrics: accuracy_score; macroF1 = f1_score(average='macro', zero_division=0) (labels = the
union of true and predicted labels, sklearn's default); logLoss = log_loss with
labels=model.classes_ (null if the scored rows hold a class the model never saw);
rocAuc (binary datasets only) = roc_auc_score on P(classes_[1]) (null if only one class is
present in the scored rows).
parameters = what the refitted model stores, counted as training/algorithms count theirs:
  LogisticRegression coef_ + intercept_; CalibratedClassifierCV(LinearSVC) coef_ + intercept_ of
  each of its 3 LinearSVCs plus each sigmoid calibrator's a and b (the TS svm folds Platt's A and
  B into its one weight set); GaussianNB theta_ + var_ + class_prior_; CategoricalNB and
  MultinomialNB feature_log_prob_ + class_log_prior_; RandomForest tree_.node_count over all
  trees; HistGradientBoosting nodes over all predictors (split + leaf, one per node).
best[dataset] = training/selection.ts's pickBest: the best selection score (mean CV score under
k-fold, validation score otherwise); candidates within TIE_TOLERANCE = 0.001 of it tie and the one
with the fewest parameters wins, then the first in the order lr, gbdt, rf, nb, svm (the holdout
is never used to choose).
"""

from __future__ import annotations

import os

# Must happen before numpy / scipy / sklearn are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score  # noqa: E402
from sklearn.naive_bayes import CategoricalNB, GaussianNB, MultinomialNB  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from sklearn.svm import LinearSVC  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

# n_jobs=1 everywhere: a fair single-thread comparison with the TypeScript trainers.
N_JOBS = 1

ALGORITHM_ORDER = ["lr", "gbdt", "rf", "nb", "svm"]  # also the tie-break order for `best`
TIE_TOLERANCE = 0.001  # training/selection.ts
TEXT_ALGORITHMS = {"lr", "svm", "nb"}
FEATURE_TYPES = {"numeric", "categorical", "text"}
SELECTION_METRICS = {"accuracy", "macro_f1"}
TOKEN_PATTERN = r"(?u)\b\w+\b"


class ExperimentError(Exception):
    """A problem with the experiment or the data: reported and exit code 1."""


def log(msg: str) -> None:
    print(f"[sklearn_reference] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

def _read_records(path: str, delimiter: str, quoting: bool) -> list[list[str]]:
    with open(path, "r", encoding="utf-8-sig", newline="") as fh:
        text = fh.read()
    records: list[list[str]] = []
    csv_kwargs: dict[str, Any] = {"delimiter": delimiter}
    if quoting:
        csv_kwargs["quoting"] = csv.QUOTE_MINIMAL
    else:
        csv_kwargs["quoting"] = csv.QUOTE_NONE
        csv_kwargs["escapechar"] = None
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip() == "":
            continue
        # One record per line, parsed on its own (a quote left open does not swallow the
        # next line). csv.reader on a one-element list yields exactly one row.
        records.append(next(csv.reader([line], **csv_kwargs)))
    return records


def load_dataset(spec: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Returns (column names, rows as lists of raw strings) following the loading rules."""
    name = spec.get("name", "?")
    if ("path" in spec) == ("files" in spec):
        raise ExperimentError(f"dataset {name}: give exactly one of 'path' or 'files'")
    paths = [spec["path"]] if "path" in spec else list(spec["files"])
    if not paths:
        raise ExperimentError(f"dataset {name}: 'files' is empty")
    delimiter = spec.get("delimiter", ",")
    quoting = bool(spec.get("quoting", True))
    header = bool(spec.get("header", False))

    columns: list[str] | None = None if header else list(spec.get("columns") or [])
    if not header and not columns:
        raise ExperimentError(f"dataset {name}: 'columns' is required when header is false")
    rows: list[list[str]] = []
    for p in paths:
        recs = _read_records(p, delimiter, quoting)
        if header:
            if not recs:
                raise ExperimentError(f"dataset {name}: {p} has no header record")
            file_cols, recs = recs[0], recs[1:]
            if columns is None:
                columns = file_cols
            elif file_cols != columns:
                raise ExperimentError(f"dataset {name}: header of {p} differs from the first file")
            if spec.get("columns") and list(spec["columns"]) != file_cols:
                raise ExperimentError(f"dataset {name}: 'columns' does not match the header of {p}")
        assert columns is not None
        for i, r in enumerate(recs):
            if len(r) != len(columns):
                raise ExperimentError(
                    f"dataset {name}: {p} data record {i} has {len(r)} fields, expected "
                    f"{len(columns)}: {r[:6]!r}")
        rows.extend(recs)
    assert columns is not None
    if len(set(columns)) != len(columns):
        raise ExperimentError(f"dataset {name}: duplicate column names {columns}")
    return columns, rows


def build_matrix(spec: dict[str, Any], columns: list[str], rows: list[list[str]]):
    """Object matrix X (one column per feature, in 'features' order), label vector y (str)."""
    name = spec["name"]
    label = spec["label"]
    if label not in columns:
        raise ExperimentError(f"dataset {name}: label column {label!r} not in {columns}")
    features = spec["features"]
    if not features:
        raise ExperimentError(f"dataset {name}: no features")
    missing = set(spec.get("missing", []))
    col_index = {c: i for i, c in enumerate(columns)}
    X = np.empty((len(rows), len(features)), dtype=object)
    for j, f in enumerate(features):
        fname, ftype = f["name"], f["type"]
        if fname not in col_index:
            raise ExperimentError(f"dataset {name}: feature {fname!r} not in {columns}")
        if fname == label:
            raise ExperimentError(f"dataset {name}: the label {label!r} is also a feature")
        if ftype not in FEATURE_TYPES:
            raise ExperimentError(f"dataset {name}: feature {fname!r} has unknown type {ftype!r}")
        ci = col_index[fname]
        for i, r in enumerate(rows):
            v = r[ci]
            if ftype == "numeric":
                if v in missing:
                    X[i, j] = np.nan
                else:
                    try:
                        X[i, j] = float(v)
                    except ValueError:
                        raise ExperimentError(
                            f"dataset {name}: row {i} column {fname!r}: {v!r} is not a number "
                            f"and not a missing token {sorted(missing)}") from None
            elif ftype == "categorical":
                X[i, j] = np.nan if v in missing else v
            else:  # text
                X[i, j] = "" if v in missing else v
    li = col_index[label]
    y = np.array([r[li] for r in rows], dtype=object)
    bad = [i for i, v in enumerate(y) if v in missing]
    if bad:
        raise ExperimentError(f"dataset {name}: {len(bad)} rows have a missing label (first row {bad[0]})")
    return X, y.astype(str)


def check_split(spec: dict[str, Any], n_rows: int) -> dict[str, np.ndarray]:
    name = spec["name"]
    split = spec.get("split") or {}
    out: dict[str, np.ndarray] = {}
    for part in ("train", "validation", "holdout"):
        idx = split.get(part)
        if not isinstance(idx, list) or not idx:
            raise ExperimentError(f"dataset {name}: split.{part} must be a non-empty list")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in idx):
            raise ExperimentError(f"dataset {name}: split.{part} must hold integers")
        arr = np.asarray(idx, dtype=np.int64)
        if arr.min() < 0 or arr.max() >= n_rows:
            raise ExperimentError(
                f"dataset {name}: split.{part} has indices outside [0, {n_rows})")
        if len(np.unique(arr)) != len(arr):
            raise ExperimentError(f"dataset {name}: split.{part} has duplicate indices")
        out[part] = arr
    for a, b in (("train", "validation"), ("train", "holdout"), ("validation", "holdout")):
        common = np.intersect1d(out[a], out[b])
        if len(common):
            raise ExperimentError(
                f"dataset {name}: split.{a} and split.{b} share {len(common)} rows "
                f"(first {int(common[0])})")
    return out


def check_folds(spec: dict[str, Any], split: dict[str, np.ndarray]) -> list[np.ndarray] | None:
    """The k-fold folds, checked to partition train + validation; None without "folds"."""
    name = spec["name"]
    folds = spec.get("folds")
    if folds is None:
        return None
    if not isinstance(folds, list) or len(folds) < 2:
        raise ExperimentError(f"dataset {name}: folds must be a list of at least 2 index lists")
    out = [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]
    if any(len(f) == 0 for f in out):
        raise ExperimentError(f"dataset {name}: a fold is empty")
    together = np.sort(np.concatenate(out))
    pool = np.sort(np.concatenate([split["train"], split["validation"]]))
    if len(together) != len(pool) or not np.array_equal(together, pool):
        raise ExperimentError(f"dataset {name}: folds do not partition train + validation")
    return out


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

def _shift_plus_one(x):
    # OrdinalEncoder codes unseen categories as -1; +1 makes them 0, a code no training row
    # has, so CategoricalNB gives them its smoothed zero-count probability.
    return x + 1


def dataset_kind(features: list[dict[str, str]]) -> str:
    types = {f["type"] for f in features}
    if "text" in types:
        return "text"
    if types == {"numeric"}:
        return "numeric"
    if types == {"categorical"}:
        return "categorical"
    return "mixed"


def make_preprocessor(features, kind: str, for_multinomial_nb: bool = False) -> ColumnTransformer:
    text = kind == "text"
    transformers = []
    num = [j for j, f in enumerate(features) if f["type"] == "numeric"]
    cat = [j for j, f in enumerate(features) if f["type"] == "categorical"]
    txt = [j for j, f in enumerate(features) if f["type"] == "text"]
    if num:
        scaler = MinMaxScaler(clip=True) if for_multinomial_nb else StandardScaler()
        transformers.append(("num", Pipeline([
            ("impute", SimpleImputer(strategy="mean")),
            ("scale", scaler),
        ]), num))
    if cat:
        transformers.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            # Dense for tabular datasets (HistGradientBoosting rejects sparse input).
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=text)),
        ]), cat))
    for j in txt:
        # A scalar column selector hands the vectorizer a 1-D array of documents.
        transformers.append((f"text_{j}", TfidfVectorizer(
            lowercase=True, ngram_range=(1, 2), token_pattern=TOKEN_PATTERN,
            sublinear_tf=False, norm="l2", use_idf=True, smooth_idf=True, min_df=1,
            strip_accents=None), j))
    # sparse_threshold=0 for tabular (always dense); text keeps sklearn's default (0.3).
    return ColumnTransformer(transformers, sparse_threshold=0.3 if text else 0.0, n_jobs=N_JOBS)


def make_categorical_nb_preprocessor(features) -> ColumnTransformer:
    cat = [j for j, f in enumerate(features) if f["type"] == "categorical"]
    return ColumnTransformer([("cat", Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("ordinal", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
        ("shift", FunctionTransformer(_shift_plus_one)),
    ]), cat)], sparse_threshold=0.0, n_jobs=N_JOBS)


def algorithm_grid(algorithm: str, kind: str, seed: int):
    """Returns (description, list of (params dict, factory() -> estimator), preprocessor factory)."""
    if algorithm == "lr":
        # No n_jobs: it has no effect for LogisticRegression since sklearn 1.8 (and warns).
        grid = [({"C": c}, lambda c=c: LogisticRegression(
            C=c, max_iter=2000, random_state=seed)) for c in (1, 0.1, 10, 100)]
        return "LogisticRegression(lbfgs, max_iter=2000)", grid, None
    if algorithm == "svm":
        grid = [({"C": c}, lambda c=c: CalibratedClassifierCV(
            LinearSVC(C=c, random_state=seed), method="sigmoid", cv=3, n_jobs=N_JOBS))
            for c in (1, 0.1, 0.01, 10)]
        return "CalibratedClassifierCV(LinearSVC, sigmoid, cv=3)", grid, None
    if algorithm == "nb":
        if kind == "text":
            grid = [({"alpha": a}, lambda a=a: MultinomialNB(alpha=a)) for a in (1, 0.1, 0.5)]
            return "MultinomialNB on tf-idf", grid, "multinomial"
        if kind == "categorical":
            grid = [({"alpha": a}, lambda a=a: CategoricalNB(alpha=a)) for a in (1, 0.1, 0.5)]
            return "OrdinalEncoder + CategoricalNB", grid, "categorical_nb"
        grid = [({"var_smoothing": v}, lambda v=v: GaussianNB(var_smoothing=v))
                for v in (1e-9, 1e-6)]
        desc = ("GaussianNB" if kind == "numeric"
                else "GaussianNB on the transformed matrix (scaled numerics + one-hot)")
        return desc, grid, None
    if kind == "text":
        raise ExperimentError(f"algorithm {algorithm} is tabular only")
    if algorithm == "gbdt":
        grid = [({"learning_rate": lr, "max_leaf_nodes": leaves},
                 lambda lr=lr, leaves=leaves: HistGradientBoostingClassifier(
                     learning_rate=lr, max_leaf_nodes=leaves, max_iter=100,
                     early_stopping=False, random_state=seed))
                for lr in (0.1, 0.05) for leaves in (31, 15)]
        return "HistGradientBoostingClassifier(max_iter=100, early_stopping=False)", grid, None
    if algorithm == "rf":
        grid = [({"min_samples_leaf": m}, lambda m=m: RandomForestClassifier(
            n_estimators=100, min_samples_leaf=m, random_state=seed, n_jobs=N_JOBS))
            for m in (1, 3)]
        return "RandomForestClassifier(n_estimators=100)", grid, None
    raise ExperimentError(f"unknown algorithm {algorithm!r}")


def build_pipeline(features, kind: str, prep: str | None, estimator) -> Pipeline:
    if prep == "categorical_nb":
        pre = make_categorical_nb_preprocessor(features)
    else:
        pre = make_preprocessor(features, kind, for_multinomial_nb=(prep == "multinomial"))
    return Pipeline([("prep", pre), ("model", estimator)])


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def score_all(model: Pipeline, X, y, binary: bool) -> dict[str, Any]:
    pred = model.predict(X)
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    out: dict[str, Any] = {
        "accuracy": float(accuracy_score(y, pred)),
        "macroF1": float(f1_score(y, pred, average="macro", zero_division=0)),
    }
    if set(np.unique(y)) <= set(classes):
        out["logLoss"] = _finite(log_loss(y, proba, labels=classes))
    else:
        out["logLoss"] = None
    if binary:
        if len(np.unique(y)) == 2 and len(classes) == 2:
            out["rocAuc"] = _finite(roc_auc_score(y == classes[1], proba[:, 1]))
        else:
            out["rocAuc"] = None
    return out


def selection_score(metric: str, y, pred) -> float:
    if metric == "accuracy":
        return float(accuracy_score(y, pred))
    return float(f1_score(y, pred, average="macro", zero_division=0))


def parameter_count(model: Pipeline) -> int:
    """What the fitted estimator stores, counted as the TypeScript models count theirs."""
    est = model.named_steps["model"]
    if isinstance(est, LogisticRegression):
        return int(est.coef_.size + est.intercept_.size)
    if isinstance(est, CalibratedClassifierCV):
        total = 0
        for cc in est.calibrated_classifiers_:
            total += int(cc.estimator.coef_.size + cc.estimator.intercept_.size)
            total += 2 * len(cc.calibrators)  # each sigmoid's a and b
        return total
    if isinstance(est, GaussianNB):
        return int(est.theta_.size + est.var_.size + est.class_prior_.size)
    if isinstance(est, CategoricalNB):
        return int(sum(a.size for a in est.feature_log_prob_) + est.class_log_prior_.size)
    if isinstance(est, MultinomialNB):
        return int(est.feature_log_prob_.size + est.class_log_prior_.size)
    if isinstance(est, RandomForestClassifier):
        return int(sum(t.tree_.node_count for t in est.estimators_))
    if isinstance(est, HistGradientBoostingClassifier):
        return int(sum(len(p.nodes) for iteration in est._predictors for p in iteration))
    raise ExperimentError(f"no parameter count for {type(est).__name__}")


def pick_best(results: list[dict[str, Any]], tolerance: float = TIE_TOLERANCE) -> tuple[int, bool, str]:
    """training/selection.ts's pickBest: (index, whether the tie-break decided, reason)."""
    def value(r: dict[str, Any]) -> float:
        v = r["validation"]["score"]
        return -math.inf if v is None or math.isnan(v) else v
    top = max(value(r) for r in results)
    floor = top - tolerance - 1e-12
    tied = [i for i, r in enumerate(results) if value(r) >= floor]
    index = tied[0]
    for i in tied:
        if results[i]["parameters"] < results[index]["parameters"]:
            index = i
    chosen = results[index]
    if len(tied) == 1:
        return index, False, f"{chosen['algorithm']} has the best selection score ({value(chosen):.4f})"
    others = ", ".join(f"{results[i]['algorithm']} {results[i]['parameters']:,}" for i in tied if i != index)
    return index, True, (f"{', '.join(results[i]['algorithm'] for i in tied)} tie within {tolerance}; "
                         f"{chosen['algorithm']} chosen: {chosen['parameters']:,} parameters vs {others}")


class WarningCounter:
    """Counts ConvergenceWarnings (reported, not hidden) and silences them on stderr."""

    def __init__(self) -> None:
        self.count = 0
        self._ctx = None

    def __enter__(self):
        self._ctx = warnings.catch_warnings(record=True)
        self._records = self._ctx.__enter__()
        warnings.simplefilter("always", ConvergenceWarning)
        return self

    def __exit__(self, *exc):
        self.count += sum(1 for w in self._records if issubclass(w.category, ConvergenceWarning))
        others = [w for w in self._records if not issubclass(w.category, ConvergenceWarning)]
        self._ctx.__exit__(*exc)
        for w in others:  # re-emit anything unexpected
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return False


def run_algorithm(ds: dict[str, Any], algorithm: str, X, y, split, folds, seed: int, kind: str,
                  binary: bool) -> dict[str, Any]:
    features = ds["features"]
    metric = ds.get("selectionMetric", "macro_f1")
    desc, grid, prep = algorithm_grid(algorithm, kind, seed)
    tr, va, ho = split["train"], split["validation"], split["holdout"]

    trace = []
    best_i, best_score, best_model, best_cv = -1, -math.inf, None, None
    conv_search = WarningCounter()
    t0 = time.perf_counter()
    for i, (params, factory) in enumerate(grid):
        if folds is None:
            model = build_pipeline(features, kind, prep, factory())
            with conv_search:
                model.fit(X[tr], y[tr])
            s = selection_score(metric, y[va], model.predict(X[va]))
            trace.append({"params": params, "score": s})
            if s > best_score:
                best_i, best_score = i, s
                best_model = model
            continue
        acc, f1 = [], []
        for f, held in enumerate(folds):
            fit_idx = np.sort(np.concatenate([folds[j] for j in range(len(folds)) if j != f]))
            model = build_pipeline(features, kind, prep, factory())
            with conv_search:
                model.fit(X[fit_idx], y[fit_idx])
            pred = model.predict(X[held])
            acc.append(float(accuracy_score(y[held], pred)))
            f1.append(float(f1_score(y[held], pred, average="macro", zero_division=0)))
        cv = {"accuracy": float(np.mean(acc)), "macroF1": float(np.mean(f1)),
              "accuracyStd": float(np.std(acc)), "macroF1Std": float(np.std(f1))}
        s = cv["accuracy"] if metric == "accuracy" else cv["macroF1"]
        trace.append({"params": params, "score": s, "folds": {"accuracy": acc, "macroF1": f1}})
        if s > best_score:
            best_i, best_score, best_cv = i, s, cv
    search_seconds = time.perf_counter() - t0
    if folds is None:
        validation = score_all(best_model, X[va], y[va], binary)  # not timed
    else:
        validation = dict(best_cv)
    validation["selectionMetric"] = metric
    validation["score"] = best_score

    params, factory = grid[best_i]
    refit_idx = np.concatenate([tr, va])
    final = build_pipeline(features, kind, prep, factory())
    conv_refit = WarningCounter()
    t1 = time.perf_counter()
    with conv_refit:
        final.fit(X[refit_idx], y[refit_idx])
    fit_seconds = time.perf_counter() - t1
    t2 = time.perf_counter()
    holdout = score_all(final, X[ho], y[ho], binary)
    score_seconds = time.perf_counter() - t2

    result = {
        "dataset": ds["name"],
        "algorithm": algorithm,
        "model": desc,
        "params": params,
        "validation": validation,
        "holdout": holdout,
        "fitSeconds": fit_seconds,
        "searchSeconds": search_seconds,
        "holdoutScoreSeconds": score_seconds,
        "parameters": parameter_count(final),
        "grid": trace,
        "convergenceWarnings": {"search": conv_search.count, "refit": conv_refit.count},
    }
    if binary:
        result["positiveClass"] = str(final.classes_[1])
    return result


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpuCount": os.cpu_count(),
        "nJobs": N_JOBS,
        "threadpools": [{"api": p.get("user_api"), "impl": p.get("internal_api"),
                         "threads": p.get("num_threads")} for p in threadpool_info()],
    }


def run(experiment: dict[str, Any], only_datasets: set[str] | None,
        only_algorithms: set[str] | None) -> dict[str, Any]:
    seed = int(experiment.get("seed", 42))
    np.random.seed(seed)
    results: list[dict[str, Any]] = []
    best: dict[str, Any] = {}
    datasets_meta: list[dict[str, Any]] = []
    names = [d.get("name") for d in experiment.get("datasets", [])]
    if len(set(names)) != len(names):
        raise ExperimentError(f"duplicate dataset names: {names}")
    for ds in experiment.get("datasets", []):
        name = ds["name"]
        if only_datasets and name not in only_datasets:
            continue
        metric = ds.get("selectionMetric", "macro_f1")
        if metric not in SELECTION_METRICS:
            raise ExperimentError(f"dataset {name}: selectionMetric {metric!r} not in {SELECTION_METRICS}")
        t_load = time.perf_counter()
        columns, rows = load_dataset(ds)
        if "rows" in ds and len(rows) != int(ds["rows"]):
            raise ExperimentError(
                f"dataset {name}: loaded {len(rows)} data rows, experiment expects {ds['rows']}")
        X, y = build_matrix(ds, columns, rows)
        split = check_split(ds, len(rows))
        folds = check_folds(ds, split)
        load_seconds = time.perf_counter() - t_load
        kind = dataset_kind(ds["features"])
        classes = sorted(set(y.tolist()))
        binary = len(classes) == 2
        algos = [a for a in ALGORITHM_ORDER
                 if (kind != "text" or a in TEXT_ALGORITHMS)
                 and (not only_algorithms or a in only_algorithms)]
        log(f"{name}: {len(rows)} rows, {len(ds['features'])} features ({kind}), "
            f"{len(classes)} classes, split {len(split['train'])}/{len(split['validation'])}/"
            f"{len(split['holdout'])}, "
            f"{'validation split' if folds is None else f'{len(folds)}-fold CV on train + validation'}, "
            f"algorithms {algos}")
        datasets_meta.append({
            "name": name, "rows": len(rows), "kind": kind, "classes": classes,
            "nTrain": len(split["train"]), "nValidation": len(split["validation"]),
            "nHoldout": len(split["holdout"]), "selectionMetric": metric,
            "protocol": "validation-split" if folds is None else "k-fold",
            "folds": None if folds is None else len(folds),
            "loadSeconds": load_seconds,
        })
        ds_results = []
        for algo in algos:
            r = run_algorithm(ds, algo, X, y, split, folds, seed, kind, binary)
            log(f"  {algo:5s} params={r['params']} val={r['validation']['score']:.4f} "
                f"size={r['parameters']} "
                f"holdout acc={r['holdout']['accuracy']:.4f} f1={r['holdout']['macroF1']:.4f} "
                f"fit={r['fitSeconds']:.2f}s search={r['searchSeconds']:.2f}s")
            ds_results.append(r)
            results.append(r)
        if ds_results:
            index, tie_break, reason = pick_best(ds_results)
            winner = ds_results[index]
            log(f"  best: {reason}")
            best[name] = {"algorithm": winner["algorithm"], "params": winner["params"],
                          "validation": winner["validation"], "holdout": winner["holdout"],
                          "parameters": winner["parameters"], "tieBreak": tie_break,
                          "reason": reason}
    return {"environment": environment(), "seed": seed, "datasets": datasets_meta,
            "results": results, "best": best}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", help="experiment JSON written by the TypeScript bench")
    ap.add_argument("results", help="where to write the results JSON")
    ap.add_argument("--datasets", help="comma-separated dataset names to run (default: all)")
    ap.add_argument("--algorithms", help="comma-separated subset of lr,gbdt,rf,nb,svm (default: all)")
    args = ap.parse_args(argv)
    only_d = set(args.datasets.split(",")) if args.datasets else None
    only_a = set(args.algorithms.split(",")) if args.algorithms else None
    if only_a and not only_a <= set(ALGORITHM_ORDER):
        ap.error(f"unknown algorithms {sorted(only_a - set(ALGORITHM_ORDER))}")
    t0 = time.perf_counter()
    try:
        with open(args.experiment, "r", encoding="utf-8") as fh:
            experiment = json.load(fh)
        if only_d:
            unknown = only_d - {d.get("name") for d in experiment.get("datasets", [])}
            if unknown:
                raise ExperimentError(f"--datasets names not in the experiment: {sorted(unknown)}")
        with threadpool_limits(limits=1):
            out = run(experiment, only_d, only_a)
    except (ExperimentError, OSError, KeyError, json.JSONDecodeError) as e:
        kind = "missing key" if isinstance(e, KeyError) else type(e).__name__
        log(f"ERROR ({kind}): {e}")
        return 1
    out["totalSeconds"] = time.perf_counter() - t0
    tmp = args.results + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=2, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, args.results)
    log(f"wrote {args.results} ({len(out['results'])} results, {out['totalSeconds']:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
