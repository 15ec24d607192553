"""Conda dependency specs -> pip requirements.

A conda ``dependencies:`` entry is ``[channel::]name[ version[ build]]`` or ``name=version=build``
(https://docs.conda.io/projects/conda/en/latest/user-guide/concepts/pkg-specs.html#package-match-specifications).
``name=1.2`` matches 1.2, 1.2.x (a prefix: pip's ``==1.2.*``); ``==``, ``>=``, ``<``, ``~=`` and
``!=`` mean what they mean to pip. The build string is a conda concept and is dropped.

Most conda-forge packages carry their PyPI name; the exceptions below are the ones Azure ML conda
files use. Sources: conda-forge feedstocks name the Python bindings ``py-xgboost``
(https://github.com/conda-forge/xgboost-feedstock, recipe outputs) and ``py-lightgbm``-less
``lightgbm``; PyTorch's conda package is ``pytorch`` (https://anaconda.org/pytorch/pytorch), its wheel
``torch``; ``pytables`` is PyPI's ``tables``; ``matplotlib-base`` is ``matplotlib`` without Qt.
"""

from __future__ import annotations

import re

#: conda name -> PyPI name, where they differ
PYPI_NAMES = {
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-lightgbm": "lightgbm",
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytables": "tables",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "python-dateutil": "python-dateutil",
    "pyyaml": "pyyaml",
    "tensorflow-base": "tensorflow",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "graphviz": "graphviz",
}

#: conda packages that are the interpreter's tooling or system libraries: wheels bring their own
DROPPED = {
    "pip", "setuptools", "wheel", "python_abi", "libgcc-ng", "libstdcxx-ng", "libgomp", "_libgcc_mutex",
    "_openmp_mutex", "ca-certificates", "openssl", "certifi-conda", "mkl", "mkl-service", "mkl_fft",
    "mkl_random", "intel-openmp", "blas", "libblas", "libcblas", "liblapack", "libopenblas", "openblas", "nomkl",
    "cudatoolkit", "cudnn", "nccl", "libffi", "zlib", "xz", "sqlite", "readline", "ncurses", "tk", "bzip2",
    "libuuid", "ld_impl_linux-64", "tzdata-conda", "conda", "mamba",
}

_SPEC = re.compile(r"^(?:(?P<channel>[\w.\-/]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


class CondaSpecError(ValueError):
    """A dependency with no pip equivalent (message names it and says why)."""


def translate(spec: str) -> tuple[str, str | None]:
    """``(pypi_name, pip_requirement)``; the requirement is None for a dropped package.

    ``python`` returns ``("python", "3.10")``: the interpreter's version, not a requirement.
    """
    match = _SPEC.match(spec.strip())
    if not match:
        raise CondaSpecError(f"'{spec}' is not a conda package spec")
    name = match["name"].lower()
    version = _version(match["rest"].strip(), spec)
    if name == "python":
        return "python", _python_version(version, spec)
    if name in DROPPED:
        return name, None
    if name.startswith("r-") or name in {"r-base", "r", "julia", "nodejs", "openjdk", "gcc", "gxx"}:
        raise CondaSpecError(f"'{spec}' is not a Python package; there is no pip equivalent")
    pypi = PYPI_NAMES.get(name, name)
    return pypi, pypi + version


def _version(rest: str, spec: str) -> str:
    """A conda version constraint as a pip specifier (``=1.2`` -> ``==1.2.*``)."""
    if not rest:
        return ""
    rest = rest.replace(" ", "") if re.match(r"^[<>=!~]", rest) else "=" + rest.split()[0]  # "1.2 build"
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=", 1)[0]  # name=1.2=build: drop the build
        if not version:
            return ""
        if version.endswith("*"):
            return "==" + version if version.endswith(".*") else "==" + version[:-1].rstrip(".") + ".*"
        return f"=={version}.*" if _looks_partial(version) else f"=={version}"
    if rest.startswith("=="):
        return "==" + rest[2:].split("=", 1)[0]
    if re.match(r"^(>=|<=|>|<|!=|~=)", rest):
        return ",".join(part for part in rest.split(",") if part)
    raise CondaSpecError(f"'{spec}' has a version constraint pip cannot express")


def _looks_partial(version: str) -> bool:
    """conda ``=1.2`` is a prefix match; ``=1.2.3`` is as good as exact (``==1.2.3.*`` equals it)."""
    return version.count(".") < 2


def _python_version(version: str, spec: str) -> str:
    match = re.search(r"(\d+)\.(\d+)", version)
    if not match:
        if not version:
            return ""
        raise CondaSpecError(f"'{spec}' does not name a Python version X.Y")
    return f"{match[1]}.{match[2]}"
