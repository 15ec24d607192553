"""Parallel-job entry script: train, test and save one model per tenant.

Azure ML calls init() once per worker process, run(mini_batch) for every mini-batch (here one
tenant file, mini_batch_size "1"), and shutdown() when the process has no work left.

For each tenant:
  <models>/<tenant>/model.pkl      the fitted scikit-learn model (joblib)
  <models>/<tenant>/card.json      metrics, rows, data hash, parameters
  <predictions>/<tenant>.csv       the held-out (most recent) rows with the model's prediction
and one line for the job's ledger (append_row_to):
  tenant,model,train_rows,test_rows,mae,rmse,r2

A tenant with fewer rows than MIN_TRAIN_ROWS raises: its mini-batch fails (after the retries),
and the job stays Completed as long as no more than mini_batch_error_threshold tenants fail.
"""

import argparse
import hashlib
import json
import os
import time

import joblib
import numpy as np
import pandas as pd
from azureml_user.parallel_run import EntryScript
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["price", "promotion", "temperature"]
TARGET = "demand"


def init():
    global ARGS, MIN_TRAIN_ROWS, LOGGER
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["gbm", "ridge"], default="gbm")
    parser.add_argument("--n_estimators", type=int, default=100)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--test_fraction", type=float, default=0.2)
    parser.add_argument("--models", required=True)
    parser.add_argument("--predictions", required=True)
    # The runner adds its own flags (--mini_batch_size, --logging_level, ...): parse_known_args.
    ARGS, _ = parser.parse_known_args()
    MIN_TRAIN_ROWS = int(os.environ.get("MIN_TRAIN_ROWS", "20"))
    LOGGER = EntryScript().logger
    os.makedirs(ARGS.models, exist_ok=True)
    os.makedirs(ARGS.predictions, exist_ok=True)
    LOGGER.info("init: model=%s min_train_rows=%d models=%s", ARGS.model, MIN_TRAIN_ROWS, ARGS.models)


def make_model():
    if ARGS.model == "ridge":
        return make_pipeline(StandardScaler(), Ridge(alpha=ARGS.alpha))
    return GradientBoostingRegressor(n_estimators=ARGS.n_estimators, max_depth=ARGS.max_depth,
                                     learning_rate=ARGS.learning_rate, random_state=0)


def parameters():
    if ARGS.model == "ridge":
        return {"model": "ridge", "alpha": ARGS.alpha}
    return {"model": "gbm", "n_estimators": ARGS.n_estimators, "max_depth": ARGS.max_depth,
            "learning_rate": ARGS.learning_rate}


def train_one(path):
    tenant = os.path.splitext(os.path.basename(path))[0]
    with open(path, "rb") as f:
        data_hash = hashlib.sha256(f.read()).hexdigest()
    frame = pd.read_csv(path).sort_values("date")
    if len(frame) < MIN_TRAIN_ROWS:
        raise ValueError(f"{tenant} has {len(frame)} rows; at least MIN_TRAIN_ROWS={MIN_TRAIN_ROWS} are needed "
                         "to train a model and hold out a test set")

    # Hold out the most recent days: the model is tested on the future it will be used for.
    n_test = max(1, int(round(len(frame) * ARGS.test_fraction)))
    train, test = frame.iloc[:-n_test], frame.iloc[-n_test:]
    started = time.perf_counter()
    model = make_model().fit(train[FEATURES], train[TARGET])
    seconds = time.perf_counter() - started
    predicted = model.predict(test[FEATURES])
    metrics = {
        "mae": float(mean_absolute_error(test[TARGET], predicted)),
        "rmse": float(np.sqrt(mean_squared_error(test[TARGET], predicted))),
        "r2": float(r2_score(test[TARGET], predicted)),
    }

    folder = os.path.join(ARGS.models, tenant)
    os.makedirs(folder, exist_ok=True)
    joblib.dump(model, os.path.join(folder, "model.pkl"))
    card = {
        "tenant": tenant,
        "metrics": {k: round(v, 6) for k, v in metrics.items()},
        "rows": {"train": len(train), "test": len(test)},
        "test_period": [str(test["date"].iloc[0]), str(test["date"].iloc[-1])],
        "data_hash": f"sha256:{data_hash}",
        "features": FEATURES,
        "target": TARGET,
        "parameters": parameters(),
        "fit_seconds": round(seconds, 4),
    }
    with open(os.path.join(folder, "card.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2)
    test.assign(prediction=np.round(predicted, 4)).to_csv(
        os.path.join(ARGS.predictions, f"{tenant}.csv"), index=False)

    LOGGER.info("%s: %d train / %d test rows, mae=%.3f r2=%.3f", tenant, len(train), len(test),
                metrics["mae"], metrics["r2"])
    return (f"{tenant},{ARGS.model},{len(train)},{len(test)},"
            f"{metrics['mae']:.4f},{metrics['rmse']:.4f},{metrics['r2']:.4f}")


def run(mini_batch):
    return [train_one(path) for path in mini_batch]


def shutdown():
    LOGGER.info("shutdown")
