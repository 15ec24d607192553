"""Parallel-job entry script: one forecasting model per store x brand (partition_keys).

run() receives one partition, every row of one store and brand, as a pandas DataFrame, and a
mini_batch_context whose partition_key_value says which: {"store": "store_01", "brand": "tropicana"}.
It trains on all weeks but the last --test_weeks, tests on those, saves the model to
<model_folder>/<store>/<brand>/model.pkl and returns one row (a DataFrame) that the job appends
to its metrics output (append_row_to).
"""

import argparse
import os

import joblib
import numpy as np
import pandas as pd
from azureml_user.parallel_run import EntryScript
from sklearn.linear_model import LinearRegression


def init():
    global ARGS, LOGGER
    parser = argparse.ArgumentParser()
    parser.add_argument("--target_col", default="quantity")
    parser.add_argument("--date_col", default="week_starting")
    parser.add_argument("--test_weeks", type=int, default=8)
    parser.add_argument("--model_folder", required=True)
    ARGS, _ = parser.parse_known_args()  # the runner adds --partition_keys and others
    LOGGER = EntryScript().logger


def features(frame):
    week = pd.to_datetime(frame[ARGS.date_col]).dt.isocalendar().week.astype(float)
    return pd.DataFrame({
        "price": frame["price"].astype(float),
        "advert": frame["advert"].astype(float),
        "season_sin": np.sin(2 * np.pi * week / 52),
        "season_cos": np.cos(2 * np.pi * week / 52),
    }, index=frame.index)


def run(mini_batch, mini_batch_context):
    if not isinstance(mini_batch, pd.DataFrame):
        raise TypeError(f"expected a DataFrame (tabular input), got {type(mini_batch).__name__}")
    key = mini_batch_context.partition_key_value  # {"store": ..., "brand": ...}
    frame = mini_batch.sort_values(ARGS.date_col).reset_index(drop=True)
    if len(frame) <= ARGS.test_weeks + 10:
        raise ValueError(f"{key}: {len(frame)} weeks of history is too little to train and test")

    train, test = frame.iloc[:-ARGS.test_weeks], frame.iloc[-ARGS.test_weeks:]
    # Demand is multiplicative in price, advert and season: a linear model of the log quantity
    # (its price coefficient is minus the price elasticity).
    model = LinearRegression()
    model.fit(features(train), np.log(train[ARGS.target_col].astype(float)))
    forecast = np.exp(model.predict(features(test)))
    actual = test[ARGS.target_col].to_numpy(dtype=float)
    mape = float(np.mean(np.abs(actual - forecast) / actual) * 100)

    folder = os.path.join(ARGS.model_folder, *(str(v) for v in key.values()))
    os.makedirs(folder, exist_ok=True)
    joblib.dump(model, os.path.join(folder, "model.pkl"))
    LOGGER.info("%s: %d weeks, test MAPE %.2f%%", key, len(frame), mape)

    result = pd.DataFrame([key])
    result["weeks"] = len(frame)
    result["first_week"] = str(frame[ARGS.date_col].iloc[0])[:10]
    result["last_week"] = str(frame[ARGS.date_col].iloc[-1])[:10]
    result["test_mape"] = round(mape, 3)
    return result
