"""One self-contained HTML file that shows a run: ``tenantml report [RUN_ID] [-o FILE]``.

    run folder --(inspect_runs: run.json, ledger, error logs)--> Report --> HTML (inline CSS, SVG, JS)

- the pipeline's DAG, each step coloured by its status (edges from ``depends_on`` in run.json);
- per parallel step, a grid with one row per mini-batch (tenant): state, attempts, time spent,
  last error, and a link to its log excerpt further down the page;
- per parallel step, a timeline: one lane per worker (node/process), one bar per attempt,
  placed by the ledger's start and duration, coloured by outcome.

Nothing is fetched when the page is opened (no network, no fonts, no scripts from elsewhere),
so the file can be attached to a ticket or opened from CI artifacts. Read only through
:mod:`tenantml.inspect_runs`, as ``show`` and ``logs`` read a run.
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tenantml.errors import UserError
from tenantml.inspect_runs import format_duration, format_time
from tenantml.runfolder.errorlogs import ErrorEntry, error_entries
from tenantml.runfolder.layout import LEDGER
from tenantml.runfolder.ledgerfold import MiniBatchState, Verdict, iter_ledger
from tenantml.runfolder.runinfo import RunInfo
from tenantml.runfolder.stepview import StepView, job_names, read_step
from tenantml.runfolder.values import number

STATUS_COLOURS = {"Completed": "#2e7d32", "Reused": "#558b2f", "Failed": "#c62828", "Running": "#1565c0",
                  "Interrupted": "#ef6c00", "Skipped": "#757575", "NotStarted": "#9e9e9e", "Crashed": "#6a1b9a"}
OUTCOME_COLOURS = {"succeeded": "#43a047", "empty": "#7cb342", "short_return": "#f9a825", "interrupted": "#fb8c00",
                   "timeout": "#8e24aa"}
FAILED_COLOUR = "#e53935"
EXCERPT_CHARS = 4000
ENTRIES_PER_TENANT = 3


@dataclass(frozen=True)
class Attempt:
    mini_batch: str
    attempt: str
    label: str
    worker: str  # node/process
    start: float  # epoch seconds
    duration: float
    outcome: str
    error: str


@dataclass
class StepData:
    """What a step's section shows. The attempts themselves are not held: the timeline reads the
    ledger again, bar by bar (10,000 mini-batches would hold ~10 MiB of attempts and SVG)."""

    view: StepView
    ledger: Path | None = None
    t0: float = float("inf")  # the earliest start and latest end of an attempt (epoch seconds)
    t1: float = float("-inf")
    workers: list[str] = field(default_factory=list)  # node/process, sorted: the timeline's lanes
    errors: dict[str, list[ErrorEntry]] = field(default_factory=dict)  # by mini-batch: the last few
    loose_errors: list[ErrorEntry] = field(default_factory=list)  # import, init(), shutdown(): the last few
    loose_error_count: int = 0

    def attempts(self) -> Iterator[Attempt]:
        return _attempts(self.ledger) if self.ledger is not None else iter(())


def _start(text: str) -> float | None:
    if not text:
        return None
    seconds = number(text)
    if seconds is not None:
        return seconds
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.timestamp()


def _attempts(ledger: Path) -> Iterator[Attempt]:
    for row in iter_ledger(ledger):
        start = _start(row.get("start") or "")
        if start is None:
            continue
        yield Attempt((row.get("mini_batch") or "").strip(), row.get("attempt") or "", row.get("label") or "",
                      f"{row.get('node') or '?'}/{row.get('process') or '?'}", start,
                      number(row.get("duration_s")) or 0.0, (row.get("outcome") or "").strip(),
                      (row.get("error_message") or "").strip())


def collect(run: RunInfo, home: Path | None = None) -> list[StepData]:
    steps = []
    for job in job_names(run):
        view = read_step(run, job, home)
        data = StepData(view)
        if view.type == "parallel" and view.logs is not None:
            data.ledger = view.logs / LEDGER
            workers: set[str] = set()
            for a in data.attempts():
                data.t0, data.t1 = min(data.t0, a.start), max(data.t1, a.start + a.duration)
                workers.add(a.worker)
            data.workers = sorted(workers)
            for entry in error_entries(view.logs):
                kept = data.loose_errors if entry.mini_batch is None else data.errors.setdefault(entry.mini_batch, [])
                data.loose_error_count += entry.mini_batch is None
                kept.append(entry)
                del kept[:-ENTRIES_PER_TENANT]  # only the last few are shown
        steps.append(data)
    return steps


# --------------------------------------------------------------------------- HTML
def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(job: str, mini_batch: str) -> str:
    return "log-" + "".join(c if c.isalnum() else "_" for c in job) + "-" + _e(mini_batch)


def render(run: RunInfo, steps: list[StepData]) -> str:
    return "".join(render_parts(run, steps))


def render_parts(run: RunInfo, steps: list[StepData]) -> Iterator[str]:
    """The page in pieces, in order: written one by one, a run of 10,000 mini-batches never holds
    its whole page (and copies of it) in memory at once."""
    failed_total = sum((s.view.counts or {}).get("failed") or 0 for s in steps)
    before, after = PAGE.split("@BODY@", 1)
    yield before.replace("@TITLE@", _e(f"tenantml run {run.run_id}"), 1).replace("@CSS@", CSS, 1)
    yield (f"<h1>Run <code>{_e(run.run_id)}</code> <span class='status' style='background:"
           f"{STATUS_COLOURS.get(run.status, '#555')}'>{_e(run.status)}</span></h1>"
           f"<p class='meta'>pipeline <code>{_e(run.pipeline or '?')}</code> &middot; backend "
           f"{_e(run.backend or '?')} &middot; started {_e(format_time(run.started))} &middot; took "
           f"{_e(format_duration(run.duration) or '?')} &middot; <b>{failed_total}</b> failed mini-batch(es)</p>")
    yield "\n<h2>Pipeline</h2>\n"
    yield _dag(run, steps)
    yield "\n"
    yield _steps_table(steps)
    for data in steps:
        if data.view.type == "parallel":
            yield "\n"
            yield from _parallel_section(data)
    yield after.replace("@JS@", JS, 1)


def _steps_table(steps: list[StepData]) -> str:
    rows = "".join(
        f"<tr><td><a href='#step-{_e(s.view.job)}'>{_e(s.view.job)}</a></td><td>{_e(s.view.type)}</td>"
        f"<td><span class='pill' style='background:{STATUS_COLOURS.get(s.view.status, '#555')}'>"
        f"{_e(s.view.status)}</span></td><td>{_e(format_duration(s.view.duration))}</td>"
        f"<td>{_e(s.view.reason)}</td></tr>" for s in steps)
    return ("<table class='steps'><thead><tr><th>step</th><th>type</th><th>status</th><th>duration</th>"
            f"<th>reason</th></tr></thead><tbody>{rows}</tbody></table>")


def _dag(run: RunInfo, steps: list[StepData]) -> str:
    names = [s.view.job for s in steps]
    deps = {n: [d for d in (run.steps.get(n, {}).get("depends_on") or []) if d in names] for n in names}
    depth: dict[str, int] = {}

    def level(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in depth:
            parents = [d for d in deps[name] if d not in seen]
            depth[name] = 1 + max((level(p, seen | {name}) for p in parents), default=-1)
        return depth[name]

    for name in names:
        level(name)
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(depth[name], []).append(name)
    box_w, box_h, gap_x, gap_y = 150, 46, 36, 18
    pos = {}
    for col, members in columns.items():
        for row, name in enumerate(members):
            pos[name] = (20 + col * (box_w + gap_x), 20 + row * (box_h + gap_y))
    width = 40 + (max(columns) + 1) * (box_w + gap_x) if columns else 200
    height = 40 + max((len(m) for m in columns.values()), default=1) * (box_h + gap_y)
    status = {s.view.job: s.view.status for s in steps}
    parts = [f"<svg class='dag' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='pipeline graph'>",
             "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' markerHeight='7' "
             "orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='#888'/></marker></defs>"]
    for name in names:
        x2, y2 = pos[name]
        for parent in deps[name]:
            x1, y1 = pos[parent]
            parts.append(f"<path d='M{x1 + box_w},{y1 + box_h / 2} C{x1 + box_w + gap_x / 2},{y1 + box_h / 2} "
                         f"{x2 - gap_x / 2},{y2 + box_h / 2} {x2},{y2 + box_h / 2}' fill='none' stroke='#888' "
                         "stroke-width='1.5' marker-end='url(#arrow)'/>")
    for name in names:
        x, y = pos[name]
        colour = STATUS_COLOURS.get(status[name], "#555")
        label = name if len(name) <= 19 else name[:18] + "…"
        parts.append(f"<a href='#step-{_e(name)}'><g class='node' data-step='{_e(name)}'>"
                     f"<title>{_e(name)}: {_e(status[name])}</title>"
                     f"<rect x='{x}' y='{y}' rx='6' width='{box_w}' height='{box_h}' fill='{colour}'/>"
                     f"<text x='{x + box_w / 2}' y='{y + 19}' text-anchor='middle' class='n'>{_e(label)}</text>"
                     f"<text x='{x + box_w / 2}' y='{y + 36}' text-anchor='middle' class='s'>{_e(status[name])}</text>"
                     "</g></a>")
    parts.append("</svg>")
    return "".join(parts)


def _parallel_section(data: StepData) -> Iterator[str]:
    view = data.view
    counts = view.counts or {}
    order = {Verdict.FAILED: 0, Verdict.UNFINISHED: 1, Verdict.SUCCEEDED: 2}
    tenants = sorted(view.mini_batches, key=lambda mb: (order[mb.state], mb.sort_key()))
    summary = (f"{counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed, "
               f"{counts.get('unfinished', 0)} unfinished"
               + (f" of {counts['scheduled']} scheduled" if counts.get("scheduled") is not None else ""))
    yield (f"<section class='step' id='step-{_e(view.job)}'><h2>{_e(view.job)} "
           f"<span class='pill' style='background:{STATUS_COLOURS.get(view.status, '#555')}'>{_e(view.status)}"
           f"</span></h2><p class='meta'>{_e(summary)}</p>")
    if data.loose_errors:
        yield ("<details open class='loose'><summary>errors outside any mini-batch (import, init(), "
               f"shutdown()): {data.loose_error_count}</summary>"
               + "".join(_excerpt(e) for e in data.loose_errors) + "</details>")
    yield "<h3>Timeline: one lane per worker process, one bar per attempt</h3>"
    yield from _timeline(data)
    yield ("<h3>Tenants</h3><label class='filter'><input type='checkbox' class='only-failed'> only what "
           "did not succeed</label>"
           "<table class='grid'><thead><tr><th>#</th><th>tenant</th><th>state</th><th>attempts</th>"
           "<th>time</th><th>last error</th><th>log</th></tr></thead><tbody>")
    for mb in tenants:
        yield _tenant_row(view.job, mb, mb.seconds if mb.attempts else None, mb.mini_batch in data.errors)
    yield "</tbody></table>"
    logged = [mb for mb in tenants if mb.mini_batch in data.errors]
    if logged:
        yield "<h3>Log excerpts</h3>"
        for mb in logged:
            entries = data.errors[mb.mini_batch]
            yield (f"<div class='log' id='{_anchor(view.job, mb.mini_batch)}'><h4>mini-batch "
                   f"{_e(mb.mini_batch)} &middot; {_e(mb.label)}</h4>" + "".join(_excerpt(e) for e in entries)
                   + "</div>")
    yield "</section>"


def _tenant_row(job: str, mb: MiniBatchState, spent: float | None, has_log: bool) -> str:
    state = mb.state.value if mb.ok or mb.state is not Verdict.SUCCEEDED else f"{mb.state.value} ({mb.outcome})"
    css = "ok" if mb.ok else ("failed" if mb.state is Verdict.FAILED else "warn")
    link = f"<a href='#{_anchor(job, mb.mini_batch)}'>log</a>" if has_log else ""
    error = mb.last_error if (not mb.ok or mb.attempts > 1) else ""
    return (f"<tr class='{css}' data-state='{_e(mb.state.value)}'><td>{_e(mb.mini_batch)}</td>"
            f"<td class='label'>{_e(mb.label)}</td><td>{_e(state)}</td><td>{mb.attempts}</td>"
            f"<td>{_e(format_duration(spent))}</td><td class='err'>{_e(error)}</td><td>{link}</td></tr>")


def _excerpt(entry: ErrorEntry) -> str:
    text = entry.text
    if len(text) > EXCERPT_CHARS:
        text = "…\n" + text[-EXCERPT_CHARS:]
    return f"<p class='file'>{_e(entry.file)}</p><pre>{_e(text)}</pre>"


def _timeline(data: StepData) -> Iterator[str]:
    """One lane per worker, one bar per attempt, read from the ledger as the bars are written. A
    run still being written may have grown since :func:`collect`: what is new is left out."""
    job = data.view.job
    if not data.workers:
        yield "<p class='meta'>(no attempts recorded)</p>"
        return
    t0, span = data.t0, max(data.t1 - data.t0, 1e-3)
    lane_h, left, width = 20, 150, 1000
    height = 30 + lane_h * len(data.workers)
    scale = (width - left - 10) / span
    parts = [f"<svg class='timeline' data-step='{_e(job)}' xmlns='http://www.w3.org/2000/svg' width='{width}' "
             f"height='{height}' viewBox='0 0 {width} {height}' role='img' aria-label='timeline of {_e(job)}'>"]
    for i, worker in enumerate(data.workers):
        y = 20 + i * lane_h
        parts.append(f"<text x='4' y='{y + 14}' class='lane'>{_e(worker)}</text>"
                     f"<line x1='{left}' x2='{width - 10}' y1='{y + lane_h - 1}' y2='{y + lane_h - 1}' "
                     "stroke='#eee'/>")
    for tick in range(6):
        x = left + (width - left - 10) * tick / 5
        anchor = "start" if tick == 0 else ("end" if tick == 5 else "middle")
        parts.append(f"<text x='{x:.1f}' y='12' class='tick' text-anchor='{anchor}'>"
                     f"{_e(format_duration(span * tick / 5) or '0s')}</text>")
    yield "".join(parts)
    lane = {w: i for i, w in enumerate(data.workers)}
    for a in data.attempts():
        if a.worker not in lane or a.start + a.duration > data.t1:
            continue
        x = left + (a.start - t0) * scale
        w = max(1.5, a.duration * scale)
        y = 20 + lane[a.worker] * lane_h + 2
        colour = OUTCOME_COLOURS.get(a.outcome, FAILED_COLOUR)
        tip = f"mini-batch {a.mini_batch} ({a.label}) attempt {a.attempt}: {a.outcome}, {a.duration:.2f}s"
        if a.error:
            tip += f" - {a.error}"
        yield (f"<a href='#{_anchor(job, a.mini_batch)}'><rect class='attempt {_e(a.outcome)}' x='{x:.1f}' "
               f"y='{y}' width='{w:.1f}' height='{lane_h - 5}' fill='{colour}'><title>{_e(tip)}</title>"
               "</rect></a>")
    legend = " ".join(f"<span class='key' style='background:{c}'></span>{_e(o)}"
                      for o, c in [*OUTCOME_COLOURS.items(), ("raised / failed", FAILED_COLOUR)])
    yield f"</svg><p class='legend'>{legend}</p>"


def write_report(run: RunInfo, target: Path, home: Path | None = None) -> Path:
    """Render and write the report (built aside, renamed in place)."""
    if target.is_dir():
        raise UserError("is a folder; the report is one HTML file.", file=target, key="-o/--output",
                        fix=f"name a file, e.g. -o {target / 'report.html'}")
    steps = collect(run, home)
    target.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own beside the target: never a user's "<target>.tmp", and removed if writing fails
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(temp_name)
    try:
        with open(fd, "w", encoding="utf-8") as out:
            out.writelines(render_parts(run, steps))
        os.chmod(temp, 0o644)  # as atomic_write makes run files (mkstemp's 0600 would hide the page)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
h4{margin:10px 0 4px;font-size:13px}code{font:12px ui-monospace,Menlo,Consolas,monospace}
.meta{color:#555;margin:2px 0 10px}.status,.pill{color:#fff;border-radius:10px;padding:1px 9px;font-size:12px}
.status{font-size:14px;vertical-align:middle}
table{border-collapse:collapse;margin:6px 0 10px}th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #eee}
th{background:#fafafa;font-weight:600}td.err{color:#b71c1c;max-width:420px}td.label{font-family:ui-monospace,monospace}
tr.failed td:first-child{border-left:4px solid #e53935}tr.warn td:first-child{border-left:4px solid #fb8c00}
tr.ok td:first-child{border-left:4px solid #43a047}
body.only-failed-on table.grid tr.ok{display:none}
svg.dag,svg.timeline{max-width:100%;height:auto}
svg text.n{fill:#fff;font-weight:600;font-size:13px}svg text.s{fill:#fff;font-size:11px}
svg text.lane,svg text.tick{font-size:11px;fill:#555;font-family:ui-monospace,monospace}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px;max-height:320px}p.file{color:#777;margin:6px 0 0;font-size:12px}
.log{border-top:1px solid #eee}.log:target{background:#fff8e1}.legend{font-size:12px;color:#555}
.key{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px;border-radius:2px}
.filter{font-size:13px;color:#444}section.step{border-top:2px solid #ddd;margin-top:24px}
"""

JS = """
document.querySelectorAll('input.only-failed').forEach(function (box) {
  box.addEventListener('change', function () {
    document.body.classList.toggle('only-failed-on', box.checked);
    document.querySelectorAll('input.only-failed').forEach(function (other) { other.checked = box.checked; });
  });
});
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title><style>@CSS@</style></head>
<body>
@BODY@
<p class="meta">Written by tenantml report. Self-contained: nothing is loaded from the network.</p>
<script>@JS@</script>
</body></html>
"""

