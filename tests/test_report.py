"""``tenantml report``: one self-contained HTML page, checked the way a person sees it, in a real
browser (Debian's chromium, headless): the grid's text, failed tenants, the DAG and the timeline."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import Project

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no chromium on PATH: 'make test' installs it "
                                   "(apt-get install chromium); the report is not rendered in a browser")

SCRIPT = """\
import os
def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    if name in ("tenant_2.csv", "tenant_5.csv"):
        raise KeyError("price of " + name)
    return [name]
"""


def _browser(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                           f"--user-data-dir={tmp / 'profile'}", *args], capture_output=True, text=True, timeout=120)


class _Text(HTMLParser):
    """Visible text of a DOM (script/style/title left out), and the grid's rows as cell lists."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.in_grid = False
        self.row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self.skip += 1
        if tag == "table" and ("class", "grid") in attrs:
            self.in_grid = True
        if self.in_grid and tag == "tr":
            self.row = []
        if self.row is not None and tag == "td":
            self.row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self.skip -= 1
        if tag == "table":
            self.in_grid = False
        if tag == "tr" and self.row is not None:
            if self.row:
                self.rows.append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.text.append(data)
        if self.row:
            self.row[-1] += data.strip()


def _failing_run(project: Project) -> Path:
    project.tenants(6)
    project.parallel_pipeline(SCRIPT, job={"mini_batch_error_threshold": 5,
                                           "retry_settings": {"max_retries": 1, "timeout": 30}})
    done = project.cli("run", "pipeline.yml", "--run-id", "r1")
    assert done.returncode == 0, done.stderr
    report = project.home / "runs" / "r1" / "report.html"
    assert f"Report: {report}" in done.stdout or "report.html" in done.stdout  # run prints where it is
    assert report.is_file()
    return report


def test_report_is_one_self_contained_file(project: Project):
    _failing_run(project)
    target = project.root / "out" / "r1.html"
    done = project.cli("report", "r1", "-o", str(target))
    assert done.returncode == 0 and done.stdout.strip().endswith("r1.html")
    page = target.read_text(encoding="utf-8")
    # nothing to fetch: no external scripts, styles, images or fonts (the SVG namespace is a name, not a fetch)
    assert not re.search(r"""(src|href)\s*=\s*['"](https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page
    assert "<svg class='dag'" in page and "<svg class='timeline'" in page


@needs_browser
@pytest.mark.slow
def test_report_rendered_in_a_browser_shows_the_grid_failures_and_timeline(project: Project, tmp_path: Path):
    report = _failing_run(project)
    dom = _browser("--dump-dom", report.as_uri(), tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Text()
    parsed.feed(dom.stdout)
    visible = " ".join(" ".join(parsed.text).split())
    assert "Run r1 Completed" in visible and "2 failed mini-batch(es)" in visible
    by_tenant = {row[1]: row for row in parsed.rows}
    assert set(by_tenant) == {f"tenant_{i}.csv" for i in range(1, 7)}
    assert by_tenant["tenant_2.csv"][2] == "failed" and by_tenant["tenant_2.csv"][3] == "2"
    assert "KeyError" in by_tenant["tenant_2.csv"][5] and by_tenant["tenant_2.csv"][6] == "log"
    assert by_tenant["tenant_1.csv"][2] == "succeeded"
    assert [row[1] for row in parsed.rows[:2]] == sorted(["tenant_2.csv", "tenant_5.csv"])  # failures first
    assert "price of tenant_5.csv" in visible  # the log excerpt is on the page
    # the timeline: one bar per attempt (4 succeeded + 2 tenants x 2 attempts), the DAG: one node
    assert len(re.findall(r'<rect class="attempt', dom.stdout)) == 8
    assert dom.stdout.count('class="node"') == 1
    shot = tmp_path / "report.png"
    _browser("--window-size=1200,900", f"--screenshot={shot}", report.as_uri(), tmp=tmp_path)
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_ledger_that_grows_while_the_page_is_written_adds_no_bar_and_breaks_nothing(project: Project):
    """The timeline reads the ledger a second time, bar by bar (the attempts of 10,000 mini-batches
    are not held); ``tenantml report`` of a run still being written sees rows appear in between."""
    from tenantml.ledger_columns import normalize
    from tenantml.report import collect, render
    from tenantml.runfolder.runinfo import read_run

    _failing_run(project)
    run = read_run(project.home / "runs" / "r1")
    steps = collect(run)
    ledger = next(s.ledger for s in steps if s.ledger is not None)
    rows = ledger.read_text(encoding="utf-8").splitlines()
    late = rows[-1].split(",")
    header = normalize(rows[0].split(","))
    late[header.index("node")], late[header.index("process")] = "node_9", "process_9"  # a lane not seen before
    with ledger.open("a", encoding="utf-8") as f:
        f.write(",".join(late) + "\n")
    page = render(run, steps)
    assert page.count("<rect class='attempt") == 8  # as when collected: 4 succeeded + 2 tenants x 2 attempts
    assert "node_9/process_9" not in page  # no lane was drawn for it: its bar is left out, not misplaced
