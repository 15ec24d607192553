"""The aml backend's own options on the command line: ``tenantml run --backend aml`` and
``tenantml fetch``. Importing this module imports nothing from Azure."""

from __future__ import annotations

import argparse
import sys

from tenantml.backends.aml.options import AmlOptions


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """Options of ``tenantml run --backend aml``."""
    add_workspace_arguments(group)
    group.add_argument("--experiment", default=None,
                       help="experiment name (default: the YAML's experiment_name, else its folder's name)")
    group.add_argument("--wait", dest="wait", action="store_true", default=None,
                       help="stream the job's status until it ends; exit 0 Completed, 1 otherwise "
                            "(default on a terminal)")
    group.add_argument("--no-wait", dest="wait", action="store_false", help="submit, print the job name and exit")
    group.add_argument("--cancel-on-interrupt", action="store_true", default=None,
                       help="Ctrl-C while waiting cancels the cloud job without asking (for scripts)")


def add_workspace_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--subscription", default=None, help="Azure subscription id of the workspace")
    parser.add_argument("-g", "--resource-group", default=None, help="resource group of the workspace (as az ml's -g)")
    parser.add_argument("-w", "--workspace", default=None,
                        help="Azure ML workspace name, as az ml's -w (else AZUREML_ARM_* variables, else config.json, "
                             "else 'az configure --defaults group=... workspace=...')")


def add_fetch_only_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--outputs", action="store_true", default=False,
                        help="download every step's named outputs too (default: logs only, which is what "
                             "show and --resume read; outputs can be a whole partitioned data set)")


def options_from_args(args: argparse.Namespace) -> AmlOptions:
    wait = args.wait if getattr(args, "wait", None) is not None else sys.stdout.isatty()
    return AmlOptions(subscription=getattr(args, "subscription", None),
                      resource_group=getattr(args, "resource_group", None),
                      workspace=getattr(args, "workspace", None), experiment=getattr(args, "experiment", None),
                      wait=wait, cancel_on_interrupt=getattr(args, "cancel_on_interrupt", None),
                      fetch_outputs=bool(getattr(args, "outputs", False)))
