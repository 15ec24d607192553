"""Parallel-job entry script: score customer files with a trained churn model.

init() loads the model once per worker process from the model folder (--model). run() gets a
list of file paths (mini_batch_size files), scores every customer in them and returns one
DataFrame: the job appends its rows to the scores output (append_row_to). The file
parallel_run_step.settings.json beside this script makes those rows comma-separated.
"""

import argparse
import json
import os

import joblib
import pandas as pd
from azureml_user.parallel_run import EntryScript


def init():
    global MODEL, FEATURES, THRESHOLD, LOGGER
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="folder with model.pkl and card.json")
    parser.add_argument("--threshold", type=float, default=0.5)
    args, _ = parser.parse_known_args()
    MODEL = joblib.load(os.path.join(args.model, "model.pkl"))
    with open(os.path.join(args.model, "card.json"), encoding="utf-8") as f:
        FEATURES = json.load(f)["features"]
    THRESHOLD = args.threshold
    LOGGER = EntryScript().logger
    LOGGER.info("model loaded from %s, threshold %.2f", args.model, THRESHOLD)


def run(mini_batch):
    scored = []
    for path in mini_batch:
        customers = pd.read_csv(path)
        probability = MODEL.predict_proba(customers[FEATURES])[:, 1]
        scored.append(pd.DataFrame({
            "file": os.path.basename(path),
            "customer_id": customers["customer_id"],
            "churn_probability": probability.round(4),
            "churn": (probability >= THRESHOLD).astype(int),
        }))
        LOGGER.info("%s: %d customers, %d predicted to churn", os.path.basename(path), len(customers),
                    int((probability >= THRESHOLD).sum()))
    return pd.concat(scored, ignore_index=True)
