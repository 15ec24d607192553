"""Synthetic customers with a known churn rule (shared by train_model.py and make_inputs.py)."""

import numpy as np
import pandas as pd

FEATURES = ["tenure_months", "monthly_spend", "support_tickets", "on_discount"]


def churn_probability(frame: pd.DataFrame) -> np.ndarray:
    logit = (-1.0 - 0.08 * frame["tenure_months"] - 0.03 * (frame["monthly_spend"] - 50)
             + 0.9 * frame["support_tickets"] - 0.5 * frame["on_discount"])
    return 1 / (1 + np.exp(-logit))


def customers(rows: int, seed: int, first_id: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "customer_id": np.arange(first_id, first_id + rows),
        "tenure_months": rng.integers(1, 72, rows),
        "monthly_spend": np.round(rng.gamma(4, 12, rows), 2),
        "support_tickets": rng.poisson(1.5, rows),
        "on_discount": (rng.random(rows) < 0.25).astype(int),
    })
    frame["churned"] = (rng.random(rows) < churn_probability(frame)).astype(int)
    return frame
