"""Champion/challenger gate: register a tenant's new model only if it beats the registered one.

For every tenant evaluated in this run, the registered model (the champion, the latest version)
and the new model (the challenger) are scored on the same held-out rows, those of this run. The
challenger becomes a new version only if its mean absolute error is lower than the champion's by
at least --min_improvement (a fraction: 0.01 = 1 %). A tenant with no registered model gets
version 1.

Where the models are registered (--registry_backend):
  folder  a registry folder: <registry>/<model name>/<version>/{model.pkl,card.json} and
          <registry>/<model name>/versions.json (versions, tags, dates). Bind --registry to a
          datastore path so it outlives the run.
  mlflow  the MLflow model registry of the tracking server in MLFLOW_TRACKING_URI.
  auto    mlflow when MLflow is installed and the tracking URI is an Azure ML workspace
          (azureml://...), as inside an Azure ML job; folder otherwise.

Outputs (in --report): registrations.csv (one row per tenant: both errors, the decision, the
version) and summary.txt (which tenants got a new version).
"""

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile

import joblib
import numpy as np
import pandas as pd

FEATURES = ["price", "promotion", "temperature"]
TARGET = "demand"


class FolderRegistry:
    """Versions and tags in plain files, written atomically."""

    kind = "folder"

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def _index(self, name):
        path = os.path.join(self.root, name, "versions.json")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def latest(self, name):
        """(version, load_model) of the newest version, or None."""
        versions = self._index(name)
        if not versions:
            return None
        newest = max(versions, key=lambda v: v["version"])
        path = os.path.join(self.root, name, str(newest["version"]), "model.pkl")
        return newest["version"], lambda: joblib.load(path)

    def register(self, name, model_dir, tags):
        versions = self._index(name)
        version = max((v["version"] for v in versions), default=0) + 1
        target = os.path.join(self.root, name, str(version))
        staging = tempfile.mkdtemp(prefix=".staging-", dir=self.root)
        for file in ("model.pkl", "card.json"):
            shutil.copy2(os.path.join(model_dir, file), staging)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.exists(target):  # left by a run that stopped before updating versions.json
            shutil.rmtree(target)
        os.replace(staging, target)
        versions.append({"version": version, "registered_at": dt.datetime.now(dt.timezone.utc).isoformat(
            timespec="seconds"), "tags": tags})
        index = os.path.join(self.root, name, "versions.json")
        with open(index + ".tmp", "w", encoding="utf-8") as f:
            json.dump(versions, f, indent=2)
        os.replace(index + ".tmp", index)
        return version


class MlflowRegistry:
    """The MLflow model registry (on Azure ML: the workspace's model registry)."""

    kind = "mlflow"

    def __init__(self):
        import mlflow
        from mlflow.tracking import MlflowClient

        self.mlflow = mlflow
        self.client = MlflowClient()

    def latest(self, name):
        try:
            versions = self.client.search_model_versions(f"name='{name}'")
        except Exception:  # the model does not exist yet
            return None
        if not versions:
            return None
        newest = max(versions, key=lambda v: int(v.version))
        uri = f"models:/{name}/{newest.version}"
        return int(newest.version), lambda: self.mlflow.sklearn.load_model(uri)

    def register(self, name, model_dir, tags):
        model = joblib.load(os.path.join(model_dir, "model.pkl"))
        if self.mlflow.active_run() is None:
            self.mlflow.start_run()  # inside an Azure ML job: the job's own run
        with open(os.path.join(model_dir, "card.json"), encoding="utf-8") as f:
            self.mlflow.log_dict(json.load(f), f"cards/{name}.json")
        info = self.mlflow.sklearn.log_model(model, artifact_path=name, registered_model_name=name,
                                             serialization_format="cloudpickle")
        version = getattr(info, "registered_model_version", None)
        if version is None:
            version = max(int(v.version) for v in self.client.search_model_versions(f"name='{name}'"))
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, value)
        return int(version)


def open_registry(backend, folder):
    if backend == "auto":
        try:
            import mlflow  # noqa: F401
            has_mlflow = True
        except ImportError:
            has_mlflow = False
        workspace = os.environ.get("MLFLOW_TRACKING_URI", "").startswith("azureml:")
        backend = "mlflow" if has_mlflow and workspace else "folder"
    return MlflowRegistry() if backend == "mlflow" else FolderRegistry(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, help="the training job's models folder")
    parser.add_argument("--predictions", required=True, help="the held-out rows, <tenant>.csv")
    parser.add_argument("--metrics", required=True, help="the evaluation's folder with metrics.csv")
    parser.add_argument("--registry", required=True, help="the registry folder (folder backend)")
    parser.add_argument("--report", required=True, help="output folder for registrations.csv and summary.txt")
    parser.add_argument("--model_prefix", default="demand-")
    parser.add_argument("--min_improvement", type=float, default=0.01)
    parser.add_argument("--registry_backend", choices=["auto", "folder", "mlflow"], default="auto")
    args = parser.parse_args()

    registry = open_registry(args.registry_backend, args.registry)
    metrics = pd.read_csv(os.path.join(args.metrics, "metrics.csv"), index_col="tenant")
    rows = []
    for tenant, challenger in metrics.iterrows():
        name = f"{args.model_prefix}{tenant}"
        model_dir = os.path.join(args.models, tenant)
        with open(os.path.join(model_dir, "card.json"), encoding="utf-8") as f:
            card = json.load(f)
        held_out = pd.read_csv(os.path.join(args.predictions, f"{tenant}.csv"))
        champion = registry.latest(name)
        row = {"tenant": tenant, "model_name": name, "challenger_model": card["parameters"]["model"],
               "challenger_mae": challenger["mae"], "champion_version": None, "champion_mae": None}
        if champion is None:
            better, reason = True, "no registered model"
        else:
            version, load = champion
            champion_mae = float(np.mean(np.abs(held_out[TARGET] - load().predict(held_out[FEATURES]))))
            row.update(champion_version=version, champion_mae=champion_mae)
            bar = champion_mae * (1 - args.min_improvement)
            better = challenger["mae"] < bar
            reason = (f"mae {challenger['mae']:.3f} vs champion v{version} {champion_mae:.3f}: "
                      f"{'beats' if better else 'does not beat'} {bar:.3f}")
        new_version = None
        if better:
            tags = {"tenant": tenant, "model": card["parameters"]["model"],
                    "parameters": json.dumps(card["parameters"], sort_keys=True),
                    "mae": f"{challenger['mae']:.6f}", "r2": f"{challenger['r2']:.6f}",
                    "data_hash": card["data_hash"], "test_period": " to ".join(card["test_period"]),
                    "previous_version": "" if champion is None else str(champion[0])}
            new_version = registry.register(name, model_dir, tags)
        rows.append({**row, "registered": bool(better), "new_version": new_version, "reason": reason})

    report = pd.DataFrame(rows, columns=["tenant", "model_name", "challenger_model", "challenger_mae",
                                         "champion_version", "champion_mae", "registered", "new_version", "reason"])
    os.makedirs(args.report, exist_ok=True)
    report.to_csv(os.path.join(args.report, "registrations.csv"), index=False)
    promoted = report[report["registered"]]
    lines = [f"registry: {registry.kind} ({args.registry if registry.kind == 'folder' else 'MLflow'})",
             f"{len(promoted)} of {len(report)} tenants got a new model version "
             f"(challenger must beat the champion's MAE by {100 * args.min_improvement:g} %):"]
    lines += [f"  {r.tenant}: v{int(r.new_version)} ({r.reason})" for r in promoted.itertuples()]
    kept = report[~report["registered"]]
    if len(kept):
        lines.append(f"kept the registered version for {len(kept)} tenants:")
        lines += [f"  {r.tenant}: v{int(r.champion_version)} ({r.reason})" for r in kept.itertuples()]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.report, "summary.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
