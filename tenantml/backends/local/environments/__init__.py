"""Each step in its own Python environment, as on Azure ML (``--environments isolated``).

::

    job.definition["environment"]          (inline conda_file + image, azureml:name@latest, curated)
        | definition.resolve(job, config)   -> EnvDefinition: python X.Y + pip requirements, a content key
        |                                      (bad conda file / unknown name: UserError, before any step)
        v
    build.ensure(definition, home)          -> <home>/envs/<key>/ (uv venv + uv pip install, built aside
        |                                      as <key>.tmp-<pid>, renamed in place; a lock per key)
        v
    StepEnvironment(python, bin, PATH/PYTHONPATH for the step)
        command steps: PATH starts with the env's bin/   parallel workers: that python, with only
        tenantml's worker modules on PYTHONPATH (kit.py), nothing tenantml depends on.

In the default mode (``current``) nothing is built: :mod:`current` warns where a step's pins differ
from what is installed, and where its code imports a package its environment does not list.
"""

from __future__ import annotations

MODES = ("current", "isolated")
