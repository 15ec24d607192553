"""The rows journals of append_row_to (tenantml/runfolder/rows.py): what a kill can leave of them.

Every worker appends one record per attempt to its own journal; a resume finds the records of
the attempts its ledger kept by scanning the journals. These tests write real journals, cut
them where a SIGKILL of a worker can (any byte), and check that the scan returns exactly the
records that were whole, byte for byte, with a call sent again winning over the first one.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantml.runfolder.rows import RowAppender, RowsJournal, scan_journals

records = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 3), st.binary(max_size=40)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(journals=st.lists(records, min_size=1, max_size=3), cut=st.integers(0, 2000), data=st.data())
def test_a_scan_finds_every_whole_record_and_nothing_of_a_torn_one(tmp_path_factory, journals, cut, data):
    rows_dir = tmp_path_factory.mktemp("rows")
    expected: dict[tuple[int, int], bytes] = {}
    highest: dict[int, int] = {}
    seq = 0
    torn = data.draw(st.integers(0, len(journals) - 1))
    for n, recs in enumerate(journals):
        journal = RowsJournal(rows_dir / f"0.process{n:03d}.abc.rows")
        ends = []
        for index, attempt, rows in recs:
            seq += 1
            journal.append(index, attempt, rows, seq)
            ends.append((journal.path.stat().st_size, index, attempt, rows))
        journal.close()
        size = ends[-1][0] if ends else 0
        keep = min(cut, size) if n == torn else size  # a worker killed while writing: its journal ends anywhere
        if ends:
            with open(journal.path, "r+b") as f:
                f.truncate(keep)
        for end, index, attempt, rows in ends:
            if end <= keep:  # whole: later sends of the same (mini-batch, attempt) win (higher seq)
                expected[(index, attempt)] = rows
                highest[index] = max(highest.get(index, 0), attempt)

    found, recorded = scan_journals(rows_dir)
    assert recorded == highest
    appender = RowAppender(rows_dir.parent / f"{rows_dir.name}.out", rows_dir)
    got = {}
    for key, spill in found.items():
        appender.open()
        start = appender._out.tell() if appender._out else 0
        appender._write(spill)
        appender._out.flush()  # type: ignore[union-attr]
        got[key] = appender.aside.read_bytes()[start:]  # type: ignore[union-attr]
    appender.close()
    assert got == expected


def test_only_the_wanted_attempts_are_returned_and_an_older_spill_file_still_counts(tmp_path: Path):
    journal = RowsJournal(tmp_path / "0.process000.abc.rows")
    journal.append(0, 1, b"a\n", 1)
    journal.append(1, 1, b"b\n", 2)
    journal.append(1, 2, b"c\n", 3)
    journal.close()
    (tmp_path / "2.1.txt").write_bytes(b"old\n")  # a spill file of a tenantml before journals
    found, recorded = scan_journals(tmp_path, [(1, 2), (2, 1)])
    assert set(found) == {(1, 2), (2, 1)} and found[(2, 1)].length == -1
    assert recorded == {0: 1, 1: 2}


def test_a_journal_name_left_by_an_earlier_session_is_never_appended_to(tmp_path: Path):
    taken = tmp_path / "0.process000.abc.rows"
    taken.write_bytes(b"0 1 2 1\nx\n")
    journal = RowsJournal(taken)
    spill = journal.append(3, 1, b"rows\n", 1)
    journal.close()
    assert taken.read_bytes() == b"0 1 2 1\nx\n"
    assert spill.name == "0.process000.abc-1.rows"
    found, _ = scan_journals(tmp_path)
    assert set(found) == {(0, 1), (3, 1)}
