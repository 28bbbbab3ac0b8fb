"""FastAPI + uvicorn + scikit-learn: the reference stack for bench/http-serving.ts (bench tooling only).

Serves POST /models/iris/predict with the request body the platform's API takes,
{"features": {"sepal_length": 5.1, ...}}, and answers a JSON body of the same shape:
{"model": "iris", "version": 1, "predictions": [{"label": ..., "probabilities": {...}}]}.

The model is trained at startup, the same kind of pipeline as the platform's iris champion in the
bench (only `lr` is enabled there): SimpleImputer(mean) + StandardScaler + LogisticRegression
(lbfgs, max_iter=2000, C from the platform's manifest), fitted on training/datasets/iris.csv (no header;
sepal_length, sepal_width, petal_length, petal_width, class). The rows it is fitted on are the
platform's own: the TypeScript bench computes the stratified 60/20/20 split with seed 42
(training/split.ts, the iris spec's seed) and passes the train + validation row indices, which
is what the platform's final model is fitted on, in HTTP_REFERENCE_EXPERIMENT (a JSON file:
{"csv": path, "rows": [...], "C": number}). Without it every row is used.

Run (bench/http-serving.ts does this):
    HTTP_REFERENCE_EXPERIMENT=exp.json bench/.venv/bin/python -m uvicorn app:app \
        --app-dir bench/http-reference --workers 1 --log-level warning --no-access-log

Input is validated by pydantic (numbers or null per feature, extra fields refused, as the
platform refuses unknown features); a missing value (null) is imputed by the pipeline. The
handler is `async def`, so FastAPI calls it on the event loop: for a ~0.1 ms CPU-bound predict
that is faster than the thread-pool hop a plain `def` endpoint takes.
"""

import os

# One BLAS / OpenMP thread, set before numpy is imported: a single-row predict gains nothing from
# threads and on a small machine they would compete with the load generator.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import csv
import json
from pathlib import Path
from typing import Optional

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
ROOT = Path(__file__).resolve().parents[2]


def _train() -> Pipeline:
    experiment_path = os.environ.get("HTTP_REFERENCE_EXPERIMENT")
    experiment = json.loads(Path(experiment_path).read_text()) if experiment_path else {}
    csv_path = Path(experiment.get("csv", ROOT / "training" / "datasets" / "iris.csv"))
    with csv_path.open(newline="", encoding="utf-8-sig") as f:
        records = [r for r in csv.reader(f) if r and any(field.strip() for field in r)]
    rows = experiment.get("rows", list(range(len(records))))
    x = np.array([[float(records[i][j]) for j in range(4)] for i in rows], dtype=np.float64)
    y = np.array([records[i][4] for i in rows])
    model = Pipeline(
        [
            ("impute", SimpleImputer(strategy="mean")),
            ("scale", StandardScaler()),
            ("lr", LogisticRegression(C=float(experiment.get("C", 1.0)), max_iter=2000)),
        ]
    )
    model.fit(x, y)
    return model


MODEL = _train()
CLASSES = [str(c) for c in MODEL.classes_]


class Features(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sepal_length: Optional[float]
    sepal_width: Optional[float]
    petal_length: Optional[float]
    petal_width: Optional[float]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    features: Features


app = FastAPI()


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.post("/models/iris/predict")
async def predict(request: PredictRequest) -> dict:
    f = request.features
    row = [[np.nan if v is None else v for v in (f.sepal_length, f.sepal_width, f.petal_length, f.petal_width)]]
    probabilities = MODEL.predict_proba(np.array(row, dtype=np.float64))[0]
    best = int(np.argmax(probabilities))
    return {
        "model": "iris",
        "version": 1,
        "predictions": [{"label": CLASSES[best], "probabilities": {c: float(p) for c, p in zip(CLASSES, probabilities)}}],
    }
