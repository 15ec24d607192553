"""Evaluate every tenant's model on its held-out rows, read as one table through MLTable.

Outputs (in --metrics):
  metrics.csv            one row per tenant: rows, mae, rmse, r2, normalised mae
  summary.json           the cross-tenant summary
  error_by_tenant.png    per-tenant error, worst first, and error against history length
"""

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")  # no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import mltable  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def tenant_metrics(rows: pd.DataFrame) -> pd.Series:
    actual = rows["demand"].to_numpy(dtype=float)
    error = actual - rows["prediction"].to_numpy(dtype=float)
    mae = float(np.abs(error).mean())
    spread = float(((actual - actual.mean()) ** 2).sum())
    return pd.Series({
        "test_rows": len(rows),
        "mae": mae,
        "rmse": float(np.sqrt((error ** 2).mean())),
        "r2": 1 - float((error ** 2).sum()) / spread if spread > 0 else float("nan"),
        "mean_demand": float(actual.mean()),
        "nmae": mae / max(float(np.abs(actual).mean()), 1e-9),  # error as a share of typical demand
    })


GOOD, FAIR, POOR = "#2e7d32", "#f9a825", "#c62828"


def r2_colours(r2: pd.Series) -> np.ndarray:
    return np.where(r2 >= 0.8, GOOD, np.where(r2 >= 0.3, FAIR, POOR))


def chart(metrics: pd.DataFrame, history: pd.Series, path: str, title: str) -> None:
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    ordered = metrics.sort_values("nmae")
    height = max(4.5, 0.22 * len(ordered) + 1.8)
    fig, (bars, scatter) = plt.subplots(1, 2, figsize=(13, height), gridspec_kw={"width_ratios": [3, 2]})
    bars.barh(ordered.index, 100 * ordered["nmae"], color=r2_colours(ordered["r2"]))
    median = 100 * metrics["nmae"].median()
    bars.axvline(median, color="grey", linestyle="--", linewidth=1, label=f"median {median:.1f}%")
    bars.set_xlabel("mean absolute error on held-out days, % of the tenant's mean demand")
    bars.set_title("Error per tenant, worst at the top")
    bars.tick_params(axis="y", labelsize=7)
    bars.margins(y=0.01)
    bars.legend(handles=[Patch(color=GOOD, label="R² ≥ 0.8"), Patch(color=FAIR, label="0.3 ≤ R² < 0.8"),
                         Patch(color=POOR, label="R² < 0.3"), *bars.get_legend_handles_labels()[0]],
                loc="lower right", fontsize=8)
    days = history.reindex(metrics.index)
    scatter.scatter(days, 100 * metrics["nmae"], c=r2_colours(metrics["r2"]), s=28)
    for tenant in metrics["nmae"].nlargest(3).index:
        scatter.annotate(tenant, (days[tenant], 100 * metrics.loc[tenant, "nmae"]), fontsize=7,
                         xytext=(4, 2), textcoords="offset points")
    scatter.set_xscale("log")
    scatter.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    scatter.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if f"{value:g}"[0] in "25" else ""))
    scatter.set_xlabel("days of history (train + test)")
    scatter.set_ylabel("error, % of mean demand")
    scatter.set_title("Error against history length")
    scatter.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", required=True, help="an MLTable folder over the predictions CSVs")
    parser.add_argument("--models", required=True, help="the training job's models folder (cards)")
    parser.add_argument("--metrics", required=True, help="output folder")
    args = parser.parse_args()

    predictions = mltable.load(args.predictions).to_pandas_dataframe()
    print(f"read {len(predictions)} held-out rows of {predictions['tenant'].nunique()} tenants through MLTable")
    metrics = predictions.groupby("tenant").apply(tenant_metrics, include_groups=False)
    metrics["test_rows"] = metrics["test_rows"].astype(int)

    cards = {}
    for tenant in metrics.index:
        with open(os.path.join(args.models, tenant, "card.json"), encoding="utf-8") as f:
            cards[tenant] = json.load(f)
    metrics["train_rows"] = [cards[t]["rows"]["train"] for t in metrics.index]
    metrics["model"] = [cards[t]["parameters"]["model"] for t in metrics.index]
    history = metrics["train_rows"] + metrics["test_rows"]

    os.makedirs(args.metrics, exist_ok=True)
    metrics.round(6).to_csv(os.path.join(args.metrics, "metrics.csv"), index_label="tenant")
    summary = {
        "tenants": int(len(metrics)),
        "models": sorted(metrics["model"].unique().tolist()),
        "test_rows": int(metrics["test_rows"].sum()),
        "median_mae": round(float(metrics["mae"].median()), 4),
        "median_nmae": round(float(metrics["nmae"].median()), 4),
        "median_r2": round(float(metrics["r2"].median()), 4),
        "tenants_r2_at_least_0.8": int((metrics["r2"] >= 0.8).sum()),
        "tenants_r2_below_0.3": sorted(metrics.index[metrics["r2"] < 0.3].tolist()),
        "worst_by_nmae": metrics["nmae"].nlargest(5).round(4).to_dict(),
    }
    with open(os.path.join(args.metrics, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    title = (f"{summary['tenants']} tenants, model {'/'.join(summary['models'])}: "
             f"median error {100 * summary['median_nmae']:.1f}% of demand, median R² {summary['median_r2']:.2f}")
    chart(metrics, history, os.path.join(args.metrics, "error_by_tenant.png"), title)

    print(metrics[["model", "train_rows", "test_rows", "mae", "r2", "nmae"]].round(3).to_string())
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
