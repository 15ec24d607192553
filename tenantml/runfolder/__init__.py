"""The run folder: the contract between backends and everything that reads a run.

Layout (every path is computed here and checked to stay inside its root)::

    <home>/runs/<run-id>/            record.new_run_dir             run ids are plain names (names.py)
        run.json                     record.RunRecord                atomic_write (temp + fsync + rename)
        .lock                        who writes the run              RunLock (flock; the holder's pid inside)
        <job>/                       checked inside the run          job names are Azure ML node names
            outputs/<output>/        default output paths            output names are Azure ML IO keys
            logs/...                 Azure ML's log tree (logs/sys/job_report/processed_mini-batches.csv: ledger)
            state/mini_batches.jsonl the division plan
            state/rows/<node>.<agent>.<session>.rows   one worker's rows journal, a record per attempt (rows.py)
            state/inputs.json        the inputs' signature the step started from     (commit.py)
            state/committed.json     "this step is done": written before spills go   (commit.py)
    <home>/locks/<digest>.lock       one lock per datastore output being written

Modules: ``layout`` (names and relative paths), ``record`` (run.json, new run folders), ``atomic``
(replace a file whole), ``commit`` (a step's commit record), ``lock`` (one writer), ``names``
(Azure ML identifiers, containment), ``storage`` (a full disk); the writers of a step:
``ledger`` (processed_mini-batches.csv), ``rows`` (the workers' rows journals and the
``append_row_to`` output built from them), ``logtree`` (job_result.txt and Azure ML's log tree). Readers, for ``runs``, ``show``,
``logs``, ``report`` and ``--resume``: ``runinfo`` (run.json leniently, find a run by id),
``stepview`` (a step: record, job_result.txt, ledger, log files), ``ledgerfold`` (the ledger
folded per mini-batch), ``errorlogs`` (tracebacks and what each attempt printed). Only
presentation (tables, times) is left to :mod:`tenantml.inspect_runs`.

Commit protocol of a step (every state a crash leaves is recovered by ``--resume``):

1. ``state/inputs.json`` records what the step started from; a resume whose inputs differ
   starts the step again from nothing (never keeps rows of other inputs).
2. The ``append_row_to`` output is built aside (``.<name>.partial``) from the spills and renamed
   into place; the real output is never truncated by a session that has not rebuilt it.
3. ``state/committed.json`` is written (atomically) once the output is in place;
4. only then are the spills deleted. A resume finding (3) keeps the step as done.
"""

from tenantml.runfolder.atomic import atomic_write
from tenantml.runfolder.lock import LockHeld, PathLock, RunLock
from tenantml.runfolder.names import check_inside, check_io_name, check_node_name, check_run_id

__all__ = ["LockHeld", "PathLock", "RunLock", "atomic_write", "check_inside", "check_io_name", "check_node_name",
           "check_run_id"]
