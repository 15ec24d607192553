"""Data and models the corpus cases need, generated offline (see README.md, "Data").

The public pipelines read data and models that are either downloaded at run time (MNIST) or
stored as binaries in the repository (a pickled scikit-learn 0.20 model, a TensorFlow 1 graph).
Here each is rebuilt from what scikit-learn ships, with the same layout and format the pipeline
expects, so the repository's YAML and entry scripts run unchanged. Nothing here is copied from
azureml-examples: test_corpus.py takes the cases from a local copy of the repository.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import numpy as np


def trim_oj_sales(path: Path) -> None:
    """``oj_sales_data.csv`` cut to store 1000, brands dominicks and tropicana (242 of 11,979 rows,
    2 partitions): each partition trains and saves an MLflow model (~10 s each on 2 cores)."""
    lines = path.read_bytes().split(b"\n")
    kept = [lines[0]] + [line for line in lines[1:]
                         if line.split(b",")[1:3] in ([b"1000", b"dominicks"], [b"1000", b"tropicana"])]
    path.write_bytes(b"\n".join(kept) + b"\n")


def iris_csv(path: Path) -> None:
    """``neural-iris-mltable/iris.csv`` as published: iris' 4 features then 40 N(0,1) columns
    drawn with ``np.random.seed(0)``, written by ``np.savetxt(..., delimiter=",")`` (no header
    line: the MLTable's ``all_files_same_headers`` makes the first row the header, as on Azure ML)."""
    from sklearn.datasets import load_iris

    np.random.seed(0)
    features = load_iris().data
    noise = np.random.randn(len(features), 40)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.hstack([features, noise]), delimiter=",")


def iris_model(folder: Path, csv: Path) -> None:
    """An MLflow sklearn model folder like ``iris-model/`` (MLmodel + model.pkl), trained here on
    the same 44 columns; the published pickle is scikit-learn 0.20 and does not load today."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = np.loadtxt(csv, delimiter=",")
    model = LogisticRegression(max_iter=500).fit(data, load_iris().target)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)
    (folder / "MLmodel").write_text(
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        "    model_path: model.pkl\n"
        "  sklearn:\n"
        "    pickled_model: model.pkl\n"
        "    serialization_format: pickle\n", encoding="utf-8")


PREPARE_MNIST = '''\
"""Stand-in for the published prepare_data.py (which downloads MNIST): the first 1000 images
of scikit-learn's digits, scaled to MNIST's 28x28 grey PNGs, written where the original writes."""
import argparse
import os

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

parser = argparse.ArgumentParser(allow_abbrev=False, description="parse user arguments")
parser.add_argument("--output_folder", type=str, default=0)
args, _ = parser.parse_known_args()

data_folder = os.path.join(args.output_folder, "mnist")
os.makedirs(data_folder, exist_ok=True)
images = load_digits().images
for i in range(1000):
    pixels = (images[i] * 255 / 16).astype(np.uint8)
    Image.fromarray(pixels).resize((28, 28)).save(os.path.join(data_folder, f"{i}.png"))
print("Saved 1000 images to the output folder")
'''

IDENTIFY_DIGITS = '''\
"""Stand-in for the published digit_identification.py (a TensorFlow 1 graph): the same
init()/run() contract and output lines ("<file>: <digit>"), with a scikit-learn model read
from the same --model folder."""
import argparse
import os
import pickle

import numpy as np
from PIL import Image


def init():
    global model
    parser = argparse.ArgumentParser(allow_abbrev=False, description="ParallelRunStep Agent")
    parser.add_argument("--model", type=str, default=0)
    args, _ = parser.parse_known_args()
    with open(os.path.join(args.model, "digits.pkl"), "rb") as handle:
        model = pickle.load(handle)


def run(mini_batch):
    print(f"run method start: {__file__}, run({mini_batch})")
    resultList = []
    for image in mini_batch:
        np_im = np.array(Image.open(image)).reshape((1, 784))
        best_result = int(model.predict(np_im)[0])
        resultList.append("{}: {}".format(os.path.basename(image), best_result))
    return resultList
'''


def digits_model(folder: Path) -> None:
    """A classifier over 28x28 PNG pixels of scikit-learn's digits (the stand-in for mnist_models/),
    trained once per test session."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "digits.pkl").write_bytes(_digits_model_bytes())


@functools.cache
def _digits_model_bytes() -> bytes:
    from sklearn.linear_model import RidgeClassifier

    model = RidgeClassifier().fit(digit_pixels(), digit_labels())  # one linear solve: fast to fit
    return pickle.dumps(model)


def digit_pixels() -> np.ndarray:
    """Each digit as the stand-in prepare_data.py writes it: 8x8 scaled to 0-255, resized to 28x28."""
    from PIL import Image
    from sklearn.datasets import load_digits

    return np.array([np.array(Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((28, 28))).reshape(784)
                     for img in load_digits().images])


def digit_labels() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().target


def mnist_scripts(script_folder: Path) -> None:
    script_folder.mkdir(parents=True, exist_ok=True)
    (script_folder / "prepare_data.py").write_text(PREPARE_MNIST, encoding="utf-8")
    (script_folder / "digit_identification.py").write_text(IDENTIFY_DIGITS, encoding="utf-8")


def iris_file(path: Path) -> None:
    """The public ``iris.csv`` the basics jobs read (header + 150 rows), from scikit-learn's copy."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = ["setosa", "versicolor", "virginica"]
    rows = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    rows += [",".join(f"{v:g}" for v in x) + f",{names[y]}" for x, y in zip(iris.data, iris.target)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
