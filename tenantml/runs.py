"""Kept for imports: the run record and run folders live in :mod:`tenantml.runfolder.record`."""

from tenantml.runfolder.record import RunRecord, list_runs, new_run_dir, propose_run_id

__all__ = ["RunRecord", "list_runs", "new_run_dir", "propose_run_id"]
