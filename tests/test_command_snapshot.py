"""The code snapshot a command step runs in (tenantml/backends/local/snapshot.py): what is copied, what never is."""

from __future__ import annotations

import os
from pathlib import Path

from tenantml.backends.local.snapshot import MAX_BYTES, MAX_FILES, Snapshot, copy_code, excluded


def test_gitignore_subset_as_the_sdk_reads_it():
    patterns = ["big_data/", "*.ckpt", "/top_only.txt", "docs/**/*.png"]
    assert excluded("big_data", patterns) and excluded("nested/big_data", patterns)
    assert excluded("a/b/model.ckpt", patterns) and excluded("top_only.txt", patterns)
    assert not excluded("sub/top_only.txt", patterns) and not excluded("train.py", patterns)
    assert excluded("docs/img/x.png", patterns)


def test_links_are_copied_as_content_loops_and_tenantml_home_are_not(tmp_path: Path):
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "m.py").write_text("x = 1\n")
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "lib.py").write_text("y = 2\n")
    os.symlink(outside, code / "shared")  # a folder link: its content is copied, writes stay in the copy
    os.symlink(code, code / "pkg" / "loop")  # a loop: not copied again
    os.symlink(tmp_path / "gone", code / "dangling")
    os.mkfifo(code / "pipe")  # a fifo would block a copy: not a file to upload
    (code / ".tenantml" / "runs").mkdir(parents=True)
    (code / ".tenantml" / "runs" / "r.json").write_text("{}")
    target = code / ".tenantml" / "runs" / "r1" / "train" / "exe" / "wd"
    snap = copy_code(code, target, never=(code / ".tenantml",))
    copied = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
    assert copied == ["pkg", "pkg/m.py", "shared", "shared/lib.py"]
    assert not (target / "shared").is_symlink()
    (target / "shared" / "lib.py").write_text("changed")
    assert (outside / "lib.py").read_text() == "y = 2\n"
    assert (snap.files, snap.over_cap()) == (2, "")
    again = copy_code(code, target, never=(code / ".tenantml",))  # a second run of the step: a fresh copy
    assert (target / "shared" / "lib.py").read_text() == "y = 2\n" and again.files == 2


def test_a_code_folder_over_azure_mls_snapshot_cap_is_named(tmp_path: Path):
    """how-to-save-write-experiment-files: "300 MB and/or 2000 files" (the copy itself is measured above)."""
    assert Snapshot(tmp_path, MAX_FILES, MAX_BYTES).over_cap() == ""
    said = Snapshot(tmp_path, MAX_FILES + 1, 10).over_cap()
    assert "2001 files" in said and "300 MB and/or 2000 files" in said and ".amlignore" in said
    assert "301.0 MB" in Snapshot(tmp_path, 3, MAX_BYTES + 2**20).over_cap()
    assert copy_code(None, tmp_path / "wd").files == 0 and not any((tmp_path / "wd").iterdir())

