"""Benchmark probe, active only when ``$BENCH_COUNT_READS`` is set and only in tenantml's divider.

``benchmarks/scale.py`` puts this folder on ``PYTHONPATH`` for one run. In the divider process
(``python -m tenantml.backends.local.divide``) it wraps ``mltable.MLTable.to_pandas_dataframe``
so that every read appends ``{"rows": N}`` to ``$BENCH_COUNT_READS``: the sum shows how many
times the input's rows were read. Nothing else changes; other processes ignore this file.
"""

import os
import sys

_TARGET = os.environ.get("BENCH_COUNT_READS")


def _patch(module):
    cls = module.MLTable
    original = cls.to_pandas_dataframe

    def to_pandas_dataframe(self, *args, **kwargs):
        frame = original(self, *args, **kwargs)
        with open(_TARGET, "a", encoding="utf-8") as out:
            out.write('{"rows": %d}\n' % len(frame))
        return frame

    cls.to_pandas_dataframe = to_pandas_dataframe


if _TARGET and "tenantml.backends.local.divide" in " ".join(getattr(sys, "orig_argv", [])):
    import importlib.abc
    import importlib.machinery

    class _CountReads(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != "mltable":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            run_module = spec.loader.exec_module

            def exec_module(module):
                run_module(module)
                _patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _CountReads())
