"""Train the churn model that the batch-scoring job uses, and save it to a model folder.

The customers are synthetic: a customer churns when support tickets are many, tenure is short and
monthly spend is low (a logistic relationship, known exactly). The model folder holds
model.pkl (a scikit-learn pipeline, joblib) and card.json (features, accuracy on held-out rows).
"""

import argparse
import json
import os

import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from customers import FEATURES, customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--model", required=True, help="output folder")
    args = parser.parse_args()

    data = customers(args.rows, args.seed)
    train, test = train_test_split(data, test_size=0.25, random_state=0, stratify=data["churned"])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(train[FEATURES], train["churned"])
    accuracy = float(model.score(test[FEATURES], test["churned"]))

    os.makedirs(args.model, exist_ok=True)
    joblib.dump(model, os.path.join(args.model, "model.pkl"))
    with open(os.path.join(args.model, "card.json"), "w", encoding="utf-8") as f:
        json.dump({"features": FEATURES, "target": "churned", "train_rows": len(train),
                   "test_accuracy": round(accuracy, 4), "churn_rate": round(float(data["churned"].mean()), 4)},
                  f, indent=2)
    print(f"trained on {len(train)} customers; held-out accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
