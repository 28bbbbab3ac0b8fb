#!/usr/bin/env python3
"""scikit-learn side of the training cost curve (issue 17; bench tooling only, hand-run).

Usage:
    PY="$(bench/reference/setup.sh | tail -n 1)"
    /usr/bin/time -v "$PY" bench/reference/curve_reference.py FILE.csv [--algorithms lr,gbdt,rf] [--seed 42]

FILE.csv is a table written by bench/generated-data.ts (writeGeneratedCsv): a header row
`type,f1,f2,f3,f4,f5,failure`, `type` categorical, f1..f5 numeric, binary label `failure`, no
quotes and no missing values. Prints one JSON line to stdout (phase seconds, holdout scores,
ru_maxrss); progress goes to stderr.

Same models and grids as sklearn_reference.py (and training/): numeric columns mean-imputed and
standardised, `type` one-hot encoded (dense); lr = LogisticRegression(lbfgs, max_iter=2000) with
C in [1, 0.1, 10, 100]; gbdt = HistGradientBoostingClassifier(early_stopping=False) over the grid of
training/algorithms/gbdt.ts: (learning_rate 0.1, 100 iterations, 31 leaves), (0.05, 200, 31) and
(0.1, 100, 15 leaves, l2_regularization 1) -- 400 trees in all, as sklearn_reference.py's
learning_rate [0.1, 0.05] x max_leaf_nodes [31, 15] at 100 iterations, but not the same points;
rf = RandomForestClassifier(n_jobs=1, bootstrap=True, criterion gini, fully grown) over the grid
of training/algorithms/random-forest.ts: 100 trees with (max_features 'sqrt', min_samples_leaf 1),
('sqrt', 3) and (0.5, 1) -- 300 trees in all; not run by default (--algorithms ...,rf).
Protocol as ours: each grid point
fits on the train rows and is scored on the validation rows (macro F1), the first best is refitted
on train + validation and scored on the holdout.

Differs from sklearn_reference.py (which trains on the TypeScript trainer's exact row indices) in
the split only: a stratified 60 / 20 / 20 train / validation / holdout split drawn here with
train_test_split(random_state=seed), where ours assigns each row by a hash of its content (the
same expected proportions, not the same rows). So times and memory compare like for like; the
holdout scores are comparable only statistically. Reading uses numpy.loadtxt for the numeric
columns plus one pass over the lines for the categorical one (there is no pandas in bench/.venv).

Single thread, as sklearn_reference.py: the BLAS / OpenMP pools are pinned to one thread.
"""

from __future__ import annotations

import os

# Must happen before numpy / scipy / sklearn are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

GRIDS = {
    "lr": [{"C": c} for c in (1, 0.1, 10, 100)],
    # training/algorithms/gbdt.ts's grid (min_samples_leaf=20 is scikit-learn's default too).
    "gbdt": [
        {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31, "l2_regularization": 0.0},
        {"learning_rate": 0.05, "max_iter": 200, "max_leaf_nodes": 31, "l2_regularization": 0.0},
        {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 15, "l2_regularization": 1.0},
    ],
    # training/algorithms/random-forest.ts's grid: DEFAULTS, then minSamplesLeaf 3, then maxFeatures 0.5.
    "rf": [
        {"n_estimators": 100, "max_features": "sqrt", "min_samples_leaf": 1},
        {"n_estimators": 100, "max_features": "sqrt", "min_samples_leaf": 3},
        {"n_estimators": 100, "max_features": 0.5, "min_samples_leaf": 1},
    ],
}


def log(msg: str) -> None:
    print(f"[curve_reference] {msg}", file=sys.stderr, flush=True)


def read_table(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(numeric float64 n x 5, categorical str n, label int n) from a generated CSV."""
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
        if header != ["type", "f1", "f2", "f3", "f4", "f5", "failure"]:
            raise SystemExit(f"{path}: unexpected header {header}")
        categorical = np.array([line.split(",", 1)[0] for line in fh if line.strip()], dtype=object)
    values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, 7), dtype=np.float64)
    if values.shape[0] != categorical.shape[0]:
        raise SystemExit(f"{path}: {values.shape[0]} numeric rows but {categorical.shape[0]} lines")
    return values[:, :5], categorical, values[:, 5].astype(np.int64)


def model(algorithm: str, params: dict, seed: int) -> Pipeline:
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), list(range(5))),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), [5]),
    ])
    if algorithm == "lr":
        est = LogisticRegression(solver="lbfgs", max_iter=2000, random_state=seed, **params)
    elif algorithm == "gbdt":
        est = HistGradientBoostingClassifier(early_stopping=False, random_state=seed, **params)
    else:
        # Single thread (n_jobs=1) like the other two; bootstrap and gini are the defaults, spelled out.
        est = RandomForestClassifier(n_jobs=1, bootstrap=True, criterion="gini", random_state=seed, **params)
    return Pipeline([("pre", pre), ("est", est)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--algorithms", default="lr,gbdt")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    algorithms = args.algorithms.split(",")
    for a in algorithms:
        if a not in GRIDS:
            raise SystemExit(f"--algorithms: unknown {a} (lr, gbdt, rf)")

    out: dict = {"data": args.data, "seed": args.seed, "phases": {}, "algorithms": {}}
    t = time.perf_counter()
    numeric, categorical, y = read_table(args.data)
    out["phases"]["read"] = time.perf_counter() - t
    out["rows"] = int(y.shape[0])
    out["positiveShare"] = float(y.mean())
    log(f"read {y.shape[0]} rows in {out['phases']['read']:.1f}s")

    t = time.perf_counter()
    x = np.empty((y.shape[0], 6), dtype=object)
    x[:, :5] = numeric
    x[:, 5] = categorical
    del numeric, categorical
    idx = np.arange(y.shape[0])
    rest, holdout = train_test_split(idx, test_size=0.2, stratify=y, random_state=args.seed)
    train, validation = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=args.seed)
    refit_rows = np.concatenate([train, validation])
    out["phases"]["split"] = time.perf_counter() - t
    out["split"] = {"train": int(train.size), "validation": int(validation.size), "holdout": int(holdout.size)}

    with threadpool_limits(limits=1):
        for algorithm in algorithms:
            t0 = time.perf_counter()
            points = []
            best = None
            for params in GRIDS[algorithm]:
                t = time.perf_counter()
                m = model(algorithm, params, args.seed).fit(x[train], y[train])
                score = f1_score(y[validation], m.predict(x[validation]), average="macro", zero_division=0)
                points.append({"params": params, "seconds": time.perf_counter() - t, "validationMacroF1": score})
                if best is None or score > best[1]:
                    best = (params, score)
                log(f"{algorithm} {params}: macro F1 {score:.4f} in {points[-1]['seconds']:.1f}s")
            search = time.perf_counter() - t0
            t = time.perf_counter()
            m = model(algorithm, best[0], args.seed).fit(x[refit_rows], y[refit_rows])
            refit = time.perf_counter() - t
            pred = m.predict(x[holdout])
            out["algorithms"][algorithm] = {
                "gridSeconds": search,
                "refitSeconds": refit,
                "totalSeconds": time.perf_counter() - t0,
                "points": points,
                "best": best[0],
                "holdout": {
                    "accuracy": accuracy_score(y[holdout], pred),
                    "macroF1": f1_score(y[holdout], pred, average="macro", zero_division=0),
                },
            }
            log(f"{algorithm}: grid {search:.1f}s, refit {refit:.1f}s, holdout macro F1 "
                f"{out['algorithms'][algorithm]['holdout']['macroF1']:.4f}")
    out["maxRssMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
