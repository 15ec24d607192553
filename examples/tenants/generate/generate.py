"""Generate a deterministic synthetic multi-tenant demand dataset.

Every tenant (a shop selling one product) has its own daily history: price, promotion,
temperature and the demand that follows from them. Tenants differ on purpose:

- size: from a few dozen to several hundred days of history;
- relationship between the features and demand ("kind"):
    linear     demand falls with price, rises with promotion and temperature, plus small noise;
    nonlinear  demand jumps below a price point and with promotions on warm days, plus a seasonal wave;
    noise      demand does not depend on the features at all;
- a few tenants ("tiny") have too little history to train and test a model.

Tenant i is generated from the seed and i alone, so ``--tenants 10`` gives exactly the first 10
tenants of ``--tenants 40``. The raw extract has a few rows with a missing price, as real extracts
do; data_engineering drops them.

Outputs:
  <raw_data>/sales.csv           one row per tenant and day
  <profiles>/tenant_profiles.csv how each tenant was generated (the truth, for checking the models)
"""

import argparse
import os

import numpy as np
import pandas as pd

KINDS = ("linear", "nonlinear", "linear", "noise")  # tenant i gets KINDS[(i - 1) % 4]
TINY_EVERY, TINY_OFFSET, TINY_ROWS = 12, 7, 8  # tenants 7, 19, 31, ... have 8 days of history
NOISE_SD = {"linear": 2.0, "nonlinear": 2.0, "noise": 10.0}


def tenant_frame(seed: int, index: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng([seed, index])
    tenant = f"tenant_{index:03d}"
    kind = KINDS[(index - 1) % len(KINDS)]
    tiny = index % TINY_EVERY == TINY_OFFSET
    days = TINY_ROWS if tiny else int(np.exp(rng.uniform(np.log(60), np.log(600))))
    start = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
    dates = pd.date_range(start, periods=days, freq="D")
    season = np.sin(2 * np.pi * dates.dayofyear.to_numpy() / 365.25)
    price = np.round(rng.uniform(5.0, 15.0, days), 2)
    promotion = (rng.random(days) < 0.2).astype(int)
    temperature = np.round(15 + 10 * season + rng.normal(0, 3, days), 1)
    base = float(rng.uniform(60, 200))  # tenants differ in scale too
    noise = rng.normal(0, NOISE_SD[kind], days)
    if kind == "linear":
        elasticity, lift, heat = rng.uniform(2, 5), rng.uniform(8, 20), rng.uniform(0.4, 1.2)
        demand = base - elasticity * price + lift * promotion + heat * temperature + noise
        params = {"elasticity": elasticity, "promotion_lift": lift, "temperature_effect": heat}
    elif kind == "nonlinear":
        threshold, jump, warm_lift = rng.uniform(8, 11), rng.uniform(25, 40), rng.uniform(15, 30)
        demand = (base + jump * (price < threshold) + warm_lift * promotion * (temperature > 18)
                  + 12 * np.sin(temperature / 3) + noise)
        params = {"price_threshold": threshold, "price_jump": jump, "warm_promotion_lift": warm_lift}
    else:
        demand = base + noise
        params = {}
    frame = pd.DataFrame({
        "tenant": tenant,
        "date": dates.strftime("%Y-%m-%d"),
        "price": price,
        "promotion": promotion,
        "temperature": temperature,
        "demand": np.round(np.clip(demand, 0, None), 2),
    })
    missing = rng.random(days) < 0.01
    frame.loc[missing, "price"] = np.nan
    profile = {"tenant": tenant, "kind": kind, "tiny": tiny, "days": days, "base": round(base, 3),
               "noise_sd": NOISE_SD[kind], **{k: round(float(v), 3) for k, v in params.items()}}
    return frame, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--raw_data", required=True, help="output folder for sales.csv")
    parser.add_argument("--profiles", required=True, help="output folder for tenant_profiles.csv")
    args = parser.parse_args()
    if args.tenants < 1:
        parser.error(f"--tenants is {args.tenants}; it must be at least 1")

    frames, profiles = [], []
    for index in range(1, args.tenants + 1):
        frame, profile = tenant_frame(args.seed, index)
        frames.append(frame)
        profiles.append(profile)
    sales = pd.concat(frames, ignore_index=True)
    profiles = pd.DataFrame(profiles)

    os.makedirs(args.raw_data, exist_ok=True)
    os.makedirs(args.profiles, exist_ok=True)
    sales.to_csv(os.path.join(args.raw_data, "sales.csv"), index=False)
    profiles.to_csv(os.path.join(args.profiles, "tenant_profiles.csv"), index=False)

    print(f"generated {len(sales)} rows for {args.tenants} tenants (seed {args.seed})")
    print(profiles.groupby("kind").agg(tenants=("tenant", "count"), median_days=("days", "median")).to_string())
    print("tiny tenants (too little history to train):", ", ".join(profiles.loc[profiles["tiny"], "tenant"]) or "none")


if __name__ == "__main__":
    main()
