"""Split the raw extract into one clean CSV per tenant, plus an MLTable that lists them.

The MLTable has no read transformation, so a parallel job that takes it as input_data gets
*files* (one tenant per file with mini_batch_size "1"), as Azure ML does.
"""

import argparse
import os

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw_data", required=True, help="folder with sales.csv")
    parser.add_argument("--training_data", required=True, help="output folder: <tenant>.csv files and MLTable")
    args = parser.parse_args()

    raw = pd.read_csv(os.path.join(args.raw_data, "sales.csv"))
    before = len(raw)
    clean = raw.dropna(subset=["price", "temperature", "demand"]).drop_duplicates(["tenant", "date"])
    clean = clean.sort_values(["tenant", "date"])
    print(f"read {before} rows, kept {len(clean)} (dropped {before - len(clean)} with missing values or duplicates)")

    os.makedirs(args.training_data, exist_ok=True)
    for name in os.listdir(args.training_data):  # a rerun into the same folder must not keep old tenants
        if name.endswith(".csv") or name == "MLTable":
            os.remove(os.path.join(args.training_data, name))
    tenants = []
    for tenant, rows in clean.groupby("tenant", sort=True):
        rows.to_csv(os.path.join(args.training_data, f"{tenant}.csv"), index=False)
        tenants.append(tenant)

    # One explicit entry per file (a `pattern: ./*.csv` entry would work as well).
    with open(os.path.join(args.training_data, "MLTable"), "w", encoding="utf-8") as f:
        f.write("paths:\n")
        for tenant in tenants:
            f.write(f"  - file: ./{tenant}.csv\n")
    print(f"wrote {len(tenants)} tenant files and an MLTable to {args.training_data}")


if __name__ == "__main__":
    main()
