"""The tree signature that catches writes into read-only inputs (tenantml/backends/local/input_watch.py).

What a step sees end to end is in conformance/test_entry_script_world.py (every writer); here, the limits."""

from __future__ import annotations

import os
from pathlib import Path

from tenantml.backends.local.input_watch import signature


def test_reads_leave_the_signature_alone_and_a_write_hidden_by_utime_does_not(tmp_path: Path):
    """ctime is in the signature: a writer that puts size and mtime back is still seen; reading changes nothing."""
    (tmp_path / "a.csv").write_text("1,2\n")
    (tmp_path / "sub").mkdir()
    before = signature(tmp_path)
    assert (tmp_path / "a.csv").read_text() == "1,2\n" and list((tmp_path / "sub").iterdir()) == []
    assert signature(tmp_path) == before
    st = os.stat(tmp_path / "a.csv")
    (tmp_path / "a.csv").write_text("9,9\n")  # same size
    os.utime(tmp_path / "a.csv", ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    assert signature(tmp_path) != before and signature(tmp_path)[1] == before[1] == 3


def test_an_input_over_the_watch_limit_is_named_not_walked_twice(tmp_path: Path):
    """input_watch: an input with more entries than the limit is not watched, and the step says so."""
    from tenantml.backends.local.input_watch import changes, take
    from tenantml.spec import DataInput

    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        (data / f"t{i}.csv").write_text("x\n")

    class Job:  # the two fields take() reads
        inputs = {"big": DataInput("big", "uri_folder", data),
                  "small": DataInput("small", "uri_file", data / "t0.csv")}

    said: list[str] = []
    watched = take(Job(), note=said.append, limit=2)  # type: ignore[arg-type]
    assert [w.name for w in watched] == ["small"] and "more than 2 entries" in said[0]
    (data / "t0.csv").write_text("changed\n")
    (found, why), = changes(watched)
    assert found.name == "small" and why == "changed: t0.csv"
