"""A few curated environments of the ``azureml`` registry, from their published definitions.

Source: https://github.com/Azure/azureml-assets at 4b41f8ccbc01cf492767adc586ce1661c54c340a,
``assets/training/general/environments/<name>/context/conda_dependencies.yaml`` (the conda file the
image is built from). Kept: the Python version and the packages user code imports. Left out: the
Azure ML service SDK (``azureml-core``, ``azureml-defaults``, ``azureml-mlflow``,
``azureml-telemetry``: pinned there to ``{{latest-pypi-version}}``, a build-time template) and the
image's debugging tools (py-spy, debugpy, ipykernel, tensorboard). A curated environment not
listed here is an error that says how to map it in ``tenantml.yml``.

The older workspace names (``AzureML-sklearn-1.0-ubuntu20.04-py38-cpu``) map to the same entry,
with the Python version their name states.
"""

from __future__ import annotations

import re

from tenantml.backends.local.environments import definition as _definition

SOURCE = ("https://github.com/Azure/azureml-assets/blob/4b41f8ccbc01cf492767adc586ce1661c54c340a/"
          "assets/training/general/environments/{name}/context/conda_dependencies.yaml")

TABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "sklearn-1.0": ("3.9", ("pandas~=1.3.0", "scipy~=1.10.0", "numpy~=1.22.0", "scikit-learn~=1.0.0",
                            "joblib~=1.2.0", "psutil~=5.8.0", "matplotlib~=3.5.0", "tqdm~=4.66.3")),
    "sklearn-1.1": ("3.9", ("pandas~=1.3.0", "scipy~=1.10.0", "numpy~=1.22.0", "scikit-learn~=1.1.0",
                            "joblib~=1.2.0", "psutil~=5.8.0", "matplotlib~=3.5.0", "tqdm~=4.66.3")),
    "sklearn-1.5": ("3.10", ("pandas~=1.5.3", "scipy~=1.10.0", "numpy~=1.22.0", "scikit-learn~=1.5.0",
                             "joblib~=1.2.0", "psutil~=5.8.0", "matplotlib~=3.5.0", "tqdm~=4.66.3", "pyarrow>=23.0.1")),
    "lightgbm-3.3": ("3.10", ("pandas~=1.5.3", "scipy~=1.10.0", "numpy~=1.22.0", "scikit-learn~=1.5.1",
                              "xgboost~=1.7.6", "lightgbm>=4.6.0", "psutil~=5.8.0", "matplotlib~=3.5.0",
                              "tqdm~=4.66.3", "pyarrow>=23.0.1")),
}

# What the Azure ML SDK packages left out above bring, which user code imports: each conda file lists
# azureml-mlflow (requires mlflow-skinny) and azureml-core (its azure-* dependencies require
# typing-extensions). Microsoft's own pipelines import both on sklearn-1.5 (azureml-examples
# cli/jobs/pipelines-with-components/nyc_taxi_data_regression: train_src/train.py `import mlflow`,
# prep_src/prep.py `from typing_extensions import Concatenate`)
BROUGHT_BY_AZUREML_SDK = ("mlflow-skinny", "typing-extensions")

_OLD_NAME = re.compile(r"^AzureML-(?P<short>.+?)(?:-ubuntu\d+\.\d+-py(?P<major>\d)(?P<minor>\d+)-cpu)?$", re.IGNORECASE)


def lookup(name: str) -> _definition.EnvDefinition | None:
    python = None
    old = _OLD_NAME.match(name)
    if old:
        name = old["short"].lower()
        python = f"{old['major']}.{old['minor']}" if old["major"] else None
    entry = TABLE.get(name)
    if entry is None:
        return None
    version, requirements = entry
    source = SOURCE.format(name=name)
    requirements = requirements + BROUGHT_BY_AZUREML_SDK
    return _definition.EnvDefinition(label=f"curated {name}", python=python or version, requirements=requirements,
                                     conda_text=source, source=source)
