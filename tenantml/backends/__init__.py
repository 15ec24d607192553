"""Backends: where a pipeline runs. ``local`` (this machine) ships with tenantml; others register
in the ``tenantml.backends`` entry-point group (see :mod:`tenantml.backends.registry`)."""
