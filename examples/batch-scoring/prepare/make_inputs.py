"""Land the day's customer files to score: --files CSV files of --rows customers each.

Stands in for whatever drops files into the datalake (an export, an ingestion job). The files
carry no churn label: that is what scoring is for.
"""

import argparse
import os

from customers import FEATURES, customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--incoming", required=True, help="output folder for customers_<nnn>.csv")
    args = parser.parse_args()

    os.makedirs(args.incoming, exist_ok=True)
    for i in range(1, args.files + 1):
        frame = customers(args.rows, seed=args.seed * 1000 + i, first_id=i * 100_000)
        frame[["customer_id", *FEATURES]].to_csv(os.path.join(args.incoming, f"customers_{i:03d}.csv"), index=False)
    print(f"wrote {args.files} files of {args.rows} customers to {args.incoming}")


if __name__ == "__main__":
    main()
