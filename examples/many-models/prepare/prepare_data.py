"""Synthetic weekly orange-juice-style sales for every store x brand, as a tabular MLTable.

Rows: week_starting, store, brand, quantity, price, advert. The truth (per store and brand):
quantity = base * exp(-elasticity * (price - 2.5)) * (1 + lift * advert) * season * noise,
with a yearly season and about 5 % multiplicative noise. A model per store x brand that sees
price, advert and the week of the year should forecast it within a few percent.

The rows are written one file per year (sales_2021.csv, sales_2022.csv, ...), so every
store x brand partition spans several files: the parallel job's partition_keys gather them.
"""

import argparse
import os

import numpy as np
import pandas as pd

BRANDS = ("dominicks", "minute_maid", "tropicana")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sales", required=True, help="output folder: sales_<year>.csv files and an MLTable")
    args = parser.parse_args()

    weeks = pd.date_range("2021-01-04", periods=args.weeks, freq="W-MON")
    season = 1 + 0.15 * np.sin(2 * np.pi * weeks.isocalendar().week.to_numpy() / 52)
    frames = []
    for s in range(1, args.stores + 1):
        for b, brand in enumerate(BRANDS):
            rng = np.random.default_rng([args.seed, s, b])
            base = rng.uniform(5_000, 40_000)
            elasticity = rng.uniform(0.3, 0.9)
            lift = rng.uniform(0.1, 0.5)
            price = np.round(rng.uniform(1.5, 3.5, len(weeks)), 2)
            advert = (rng.random(len(weeks)) < 0.3).astype(int)
            noise = rng.lognormal(0, 0.05, len(weeks))
            quantity = base * np.exp(-elasticity * (price - 2.5)) * (1 + lift * advert) * season * noise
            frames.append(pd.DataFrame({"week_starting": weeks.strftime("%Y-%m-%d"), "store": f"store_{s:02d}",
                                        "brand": brand, "quantity": np.round(quantity).astype(int),
                                        "price": price, "advert": advert}))
    sales = pd.concat(frames, ignore_index=True)
    os.makedirs(args.sales, exist_ok=True)
    years = pd.to_datetime(sales["week_starting"]).dt.year
    for year, rows in sales.groupby(years):
        rows.to_csv(os.path.join(args.sales, f"sales_{year}.csv"), index=False)
    with open(os.path.join(args.sales, "MLTable"), "w", encoding="utf-8") as f:
        f.write("paths:\n"
                "  - pattern: ./sales_*.csv\n"
                "transformations:\n"
                "  - read_delimited:\n"
                "      delimiter: ','\n"
                "      encoding: utf8\n"
                "      header: all_files_same_headers\n")
    print(f"{len(sales)} rows: {args.stores} stores x {len(BRANDS)} brands x {args.weeks} weeks "
          f"in {years.nunique()} files")


if __name__ == "__main__":
    main()
