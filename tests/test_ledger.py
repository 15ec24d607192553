"""The ledger writer (tenantml/runfolder/ledger.py): Azure ML's columns, whatever the row holds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantml.ledger_columns import disk_values
from tenantml.runfolder.ledger import AttemptRow, LedgerWriter, disk_row, read_rows

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
rows = st.builds(AttemptRow, mini_batch=st.integers(0, 10**6), attempt=st.integers(1, 9), label=text, node=text,
                 process=text, pid=st.integers(1, 2**22), start=text, duration_s=st.floats(0, 1e5),
                 items=st.integers(0, 10**6), succeeded=st.integers(0, 10**6), failed=st.integers(0, 10**6),
                 outcome=st.sampled_from(["succeeded", "raised", "timeout", "crashed", "interrupted", "odd"]),
                 final=st.booleans(), error_type=text, error_message=text, process_seconds=text)


def _line(values: list[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


@settings(max_examples=50, deadline=None)
@given(row=rows)
def test_the_fast_row_writes_the_cells_of_disk_values(row: AttemptRow):
    values = {name: getattr(row, name) for name in AttemptRow.__dataclass_fields__}
    values["duration_s"] = f"{row.duration_s:.3f}"
    assert _line(disk_row(row)) == _line(disk_values(values))


def test_rows_written_are_on_disk_once_flushed_and_all_of_them_once_closed(tmp_path: Path):
    path = tmp_path / "processed_mini-batches.csv"
    ledger = LedgerWriter(path)
    row = AttemptRow(0, 1, "t", "0", "process000", 1, "2026-01-01T00:00:00.000", 0.1, 1, 1, 0, "succeeded", True,
                     "", "")
    ledger.write(row)
    assert ledger.flush_due_in() <= 0.2
    ledger.flush()
    assert ledger.flush_due_in() == float("inf")
    assert [r["mini_batch"] for r in read_rows(path)] == ["0"]
    ledger.write(row)
    ledger.close()
    assert len(read_rows(path)) == 2
