"""Put on PYTHONPATH by ``tenantml exec`` so that every Python process the command starts (and
their children: notebook kernels, subprocesses) serves azure-ai-ml's service calls locally.

It only installs an import hook: nothing Azure is imported until the user's code imports it.
An existing ``sitecustomize`` further down ``sys.path`` still runs afterwards.
"""

import os
import sys


def _install() -> None:
    where = os.environ.get("TENANTML_EXEC_PATH")
    try:
        import tenantml.sdk.local.hook as hook
    except ImportError:
        if not where:
            return
        sys.path.append(where)
        import tenantml.sdk.local.hook as hook
    hook.install()


def _chain() -> None:
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if os.environ.get("TENANTML_EXEC"):
    _install()
_chain()
