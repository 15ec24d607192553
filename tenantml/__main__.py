"""``python -m tenantml``: the same command line as the ``tenantml`` script."""

from tenantml.cli import entry

entry()
