"""The code snapshot a command step runs in (tenantml/backends/local/snapshot.py): what is copied, what never is."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantml.backends.local.snapshot import MAX_BYTES, MAX_FILES, IgnoreRules, Snapshot, copy_code


def test_ignore_patterns_as_the_sdk_reads_them():
    rules = IgnoreRules(["big_data/", "*.ckpt", "/top_only.txt", "docs/**/*.png", "# a comment", ""])
    assert rules.excludes("big_data/x.csv") and rules.excludes("nested/big_data/x")
    assert rules.excludes("a/b/model.ckpt") and rules.excludes("top_only.txt")
    assert not rules.excludes("sub/top_only.txt") and not rules.excludes("train.py")
    assert rules.excludes("docs/img/x.png") and rules.prunes("big_data")
    back = IgnoreRules(["data/", "!data/keep.csv"])  # the last match decides, file by file
    assert back.excludes("data/drop.csv") and not back.excludes("data/keep.csv") and not back.prunes("data")


FILES = ["a.csv", "x.py", "data/keep.csv", "data/drop.csv", "data/deep/z.csv", "src/x.py", "src/tmp/y.txt",
         "tmp/deep/y.txt", "docs/img/p.png", "keep.csv"]
LINES = ["data/", "*.csv", "!keep.csv", "/a.csv", "tmp/**", "**/deep", "!data/keep.csv", "# comment", "",
         "x.py", "!*.py", "src", "/src/", "!src/tmp/", "docs/**/*.png", "?.py", "data", "!/data/deep/"]


@pytest.mark.slow  # ~5 s: the SDK's import and 40 trees
@settings(max_examples=40, deadline=None)
@given(lines=st.lists(st.sampled_from(LINES), max_size=6), name=st.sampled_from([".amlignore", ".gitignore"]))
def test_the_copy_holds_the_files_azure_ml_uploads(lines: list[str], name: str):
    """Differential: for any ignore file, the snapshot holds exactly the files azure-ai-ml's own
    upload list (``_asset_utils.get_upload_files_from_folder`` with ``get_ignore_file``) holds."""
    asset_utils = pytest.importorskip("azure.ai.ml._utils._asset_utils")
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        for relative in FILES:
            (code / relative).parent.mkdir(parents=True, exist_ok=True)
            (code / relative).write_text(relative)
        (code / name).write_text("\n".join(lines) + "\n")
        sdk = {Path(local).relative_to(code.resolve()).as_posix() for local, _ in
               asset_utils.get_upload_files_from_folder(code, ignore_file=asset_utils.get_ignore_file(code))}
        copy_code(code, Path(tmp) / "wd")
        ours = {p.relative_to(Path(tmp) / "wd").as_posix() for p in (Path(tmp) / "wd").rglob("*") if p.is_file()}
        assert ours == sdk


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



def test_one_file_as_a_command_jobs_code_runs_in_a_snapshot_of_that_file(tmp_path: Path):
    """``command(code="./preprocess.py", command="python preprocess.py ...")`` in azureml-examples'
    sdk/python/jobs/pipelines/1h_automl_in_pipeline notebooks: azure-ai-ml uploads one file as the code
    asset (``is_file`` in azure/ai/ml/_artifacts/_artifact_utilities.py). It was refused as "the code
    folder .../preprocess.py does not exist"; a parallel job's code is still a folder."""
    import subprocess
    import sys
    import textwrap

    (tmp_path / "preprocess.py").write_text(
        "import os, sys\nopen(os.path.join(sys.argv[1], 'seen.txt'), 'w').write(' '.join(sorted(os.listdir('.'))))\n")
    (tmp_path / "other.txt").write_text("not part of the code\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text("def run(mini_batch):\n    return mini_batch\n")
    (tmp_path / "pipeline.yml").write_text(textwrap.dedent("""
        type: pipeline
        jobs:
          prep:
            type: command
            code: ./preprocess.py
            command: python preprocess.py ${{outputs.out}}
            outputs:
              out: {type: uri_folder}
        """))
    env = {**os.environ, "TENANTML_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "tenantml.cli", "run", "--quiet", "pipeline.yml"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = list((tmp_path / "home" / "runs").glob("*/prep/outputs/out/seen.txt"))
    assert len(seen) == 1
    listed = seen[0].read_text().split()
    assert "preprocess.py" in listed and "other.txt" not in listed and "src" not in listed  # that file only
    (tmp_path / "parallel.yml").write_text(textwrap.dedent("""
        type: pipeline
        jobs:
          score:
            type: parallel
            inputs:
              data: {type: uri_folder, path: ./src}
            input_data: ${{inputs.data}}
            task: {type: run_function, code: ./src/score.py, entry_script: score.py}
        """))
    done = subprocess.run([sys.executable, "-m", "tenantml.cli", "validate", "parallel.yml"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "jobs.score.task.code: the code folder" in done.stderr and "is a file; a parallel job's code is a folder" \
        in done.stderr and "Traceback" not in done.stderr
