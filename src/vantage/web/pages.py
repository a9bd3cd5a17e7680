"""What the web UI's pages show: the Jinja2 environment and view models of jobs, stages and health.

Routes (`vantage.api.routes.pages`) read jobs, events and service health, turn them into the
plain, already formatted view models here and render a template; templates do no arithmetic
and never reach into the catalog. Autoescaping is on for every template, so any text from a job
(its error, its parameters, an event message) reaches the page escaped.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import jinja2
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine, Table, func, select

from vantage import __version__
from vantage.catalog.db import read_tx
from vantage.catalog.models import JobEvent, Worker, utcnow
from vantage.formatting import format_duration
from vantage.jobs.records import EventRecord, JobRecord, JobState, StageRecord

TEMPLATES_DIR = Path(__file__).parent / "templates"

#: Lines of a job's event log shown on its page (consecutive progress events count once).
LOG_TAIL_LINES = 100
#: Events read to fill the log tail; progress events are many, so read more than we show.
LOG_TAIL_EVENTS = 400

EVENTS = cast(Table, JobEvent.__table__)
WORKERS = cast(Table, Worker.__table__)


@functools.cache
def environment() -> jinja2.Environment:
    """The templates' environment (built on first use, then shared)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    env.filters["time"] = format_time
    return env


def render(template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` as an HTML response."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


# --- formatting -------------------------------------------------------------------------------


def format_time(at: datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS UTC`` (an em dash when there is none)."""
    if at is None:
        return "—"
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_size(size_bytes: float | None) -> str:
    """A size in bytes with a binary unit: ``512 B``, ``1.5 KiB``, ``12.0 MiB``."""
    if size_bytes is None:
        return "—"
    value, unit = float(size_bytes), "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"


def whole_percent(progress: float) -> int:
    """Progress in % (0–100) as the whole percent shown; 100 only once it is complete."""
    return max(0, min(100, math.floor(progress)))


# --- jobs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRow:
    """A job as a row of the jobs list and the head of its own page."""

    id: str
    pipeline: str
    state: str
    active: bool
    percent: int
    stage: str
    message: str
    input: str
    created_at: str
    created_iso: str
    last_event_id: int


@dataclass(frozen=True)
class StageView:
    """One stage of the job page's timeline."""

    position: int
    name: str
    state: str
    weight: float
    percent: int
    duration: str
    started_at: str
    executions: int
    error: str | None


@dataclass(frozen=True)
class LogLine:
    """One line of a job's event log."""

    event_id: int
    at: str
    at_iso: str
    kind: str
    state: str
    stage: str
    message: str


@dataclass(frozen=True)
class ReportSection:
    """A group of figures from report.json: a title and (label, formatted value) rows."""

    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class JobView:
    """Everything the job page shows that the server knows when it renders."""

    row: JobRow
    params: tuple[tuple[str, str], ...]
    error: str | None
    attempts: str
    started_at: str
    finished_at: str
    duration: str
    stages: tuple[StageView, ...]
    can_cancel: bool
    can_retry: bool
    log: tuple[LogLine, ...]
    report: tuple[ReportSection, ...]


def _elapsed_s(
    started_at: datetime | None, finished_at: datetime | None, now: datetime
) -> float | None:
    if started_at is None:
        return None
    return ((finished_at or now) - started_at).total_seconds()


def job_row(job: JobRecord, last_event_id: int = 0) -> JobRow:
    """The list row of ``job`` (``last_event_id`` is where its live updates resume)."""
    source = job.params.get("input")
    return JobRow(
        id=job.id,
        pipeline=job.pipeline,
        state=job.state.value,
        active=not job.state.terminal,
        percent=whole_percent(job.progress),
        stage=job.current_stage or "",
        message=job.message,
        input=source if isinstance(source, str) else "",
        created_at=format_time(job.created_at),
        created_iso=job.created_at.astimezone(UTC).isoformat(),
        last_event_id=last_event_id,
    )


def stage_view(stage: StageRecord, now: datetime) -> StageView:
    """A stage as its timeline row shows it (a running stage's duration so far)."""
    return StageView(
        position=stage.position,
        name=stage.name,
        state=stage.state.value,
        weight=stage.weight,
        percent=whole_percent(100 * stage.progress),
        duration=format_duration(_elapsed_s(stage.started_at, stage.finished_at, now)),
        started_at=format_time(stage.started_at),
        executions=stage.executions,
        error=stage.error,
    )


def stage_views(job: JobRecord, now: datetime | None = None) -> tuple[StageView, ...]:
    """The job's stages in pipeline order."""
    at = now or utcnow()
    return tuple(stage_view(stage, at) for stage in sorted(job.stages, key=lambda s: s.position))


def log_lines(events: Iterable[EventRecord], limit: int = LOG_TAIL_LINES) -> tuple[LogLine, ...]:
    """The last ``limit`` log lines of ``events`` (oldest first).

    Consecutive progress events of one stage show as one line, the latest, so a long stage's
    hundreds of progress reports do not push everything else out of the tail.
    """
    lines: list[LogLine] = []
    for event in events:
        line = LogLine(
            event_id=event.id,
            at=event.at.astimezone(UTC).strftime("%H:%M:%S"),
            at_iso=event.at.astimezone(UTC).isoformat(),
            kind=event.kind,
            state=event.state.value,
            stage=event.stage or "",
            message=event.message,
        )
        previous = lines[-1] if lines else None
        if (
            previous is not None
            and line.kind == previous.kind == "progress"
            and line.stage == previous.stage
        ):
            lines[-1] = line
        else:
            lines.append(line)
    return tuple(lines[-limit:])


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def job_view(
    job: JobRecord,
    events: Sequence[EventRecord],
    report: Mapping[str, Any] | None,
    now: datetime | None = None,
) -> JobView:
    """The job page of ``job``, its latest ``events`` and its report (None: none readable)."""
    at = now or utcnow()
    last_event_id = events[-1].id if events else 0
    return JobView(
        row=job_row(job, last_event_id),
        params=tuple((name, _param_text(value)) for name, value in sorted(job.params.items())),
        error=job.error,
        attempts=f"{job.attempts} of {job.max_attempts}",
        started_at=format_time(job.started_at),
        finished_at=format_time(job.finished_at),
        duration=format_duration(_elapsed_s(job.started_at, job.finished_at, at)),
        stages=stage_views(job, at),
        can_cancel=job.state in (JobState.QUEUED, JobState.RUNNING),
        can_retry=job.state in (JobState.FAILED, JobState.CANCELLED),
        log=log_lines(events),
        report=report_sections(report) if report else (),
    )


# --- report.json ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A number from report.json: its label, dotted path and unit (how to format it).

    Units: ``int``, ``text``, ``db``, ``ratio``, ``px``, ``fps``, ``seconds``, ``bytes``, and
    ``sizes`` (a mapping of format name → bytes, or → an object with ``size_bytes``: a row each).
    """

    label: str
    path: str
    unit: str


#: The figures the job page shows, by section. The page's script formats a report fetched later
#: with the same table (it is embedded in the page as JSON), so both say the same thing.
REPORT_FIGURES: tuple[tuple[str, tuple[Figure, ...]], ...] = (
    (
        "Input",
        (
            Figure("Kind", "input.kind", "text"),
            Figure("Frames seen", "input.frames_seen", "int"),
            Figure("Width", "input.video.width", "int"),
            Figure("Height", "input.video.height", "int"),
            Figure("Frame rate", "input.video.fps", "fps"),
            Figure("Length", "input.video.duration_s", "seconds"),
            Figure("Codec", "input.video.codec", "text"),
        ),
    ),
    (
        "Frames",
        (
            Figure("Decoded", "frames.decoded", "int"),
            Figure("Kept", "frames.kept", "int"),
            Figure("Rejected as blurry", "frames.rejected_blurry", "int"),
            Figure("Rejected as static", "frames.rejected_static", "int"),
            Figure("Rejected for exposure", "frames.rejected_exposure", "int"),
        ),
    ),
    (
        "Structure from motion",
        (
            Figure("Input images", "sfm.input_images", "int"),
            Figure("Registered images", "sfm.registered_images", "int"),
            Figure("3D points", "sfm.points3d", "int"),
            Figure("Mean reprojection error", "sfm.mean_reprojection_error_px", "px"),
        ),
    ),
    (
        "Training",
        (
            Figure("Gaussians", "train.gaussians", "int"),
            Figure("Iterations", "train.iterations", "int"),
            Figure("Backend", "train.backend", "text"),
            Figure("PSNR (held-out views)", "train.psnr_test", "db"),
            Figure("PSNR before training", "train.psnr_initial", "db"),
            Figure("SSIM (held-out views)", "train.ssim_test", "ratio"),
            Figure("Held-out views", "train.test_views", "int"),
            Figure("Mean step time", "train.step_s_mean", "seconds"),
        ),
    ),
    (
        "Compression",
        (
            Figure("PLY size", "compress.ply_bytes", "bytes"),
            Figure("SOG size", "compress.formats.sog.bytes", "bytes"),
            Figure("SOG: times smaller than the PLY", "compress.formats.sog.ratio_vs_ply", "text"),
            Figure("SOG: PSNR drop", "compress.formats.sog.psnr_drop_db", "db"),
            Figure("SPZ size", "compress.formats.spz.bytes", "bytes"),
            Figure("SPZ: times smaller than the PLY", "compress.formats.spz.ratio_vs_ply", "text"),
            Figure("SPZ: PSNR drop", "compress.formats.spz.psnr_drop_db", "db"),
            Figure("Gaussians after reductions", "compress.formats.sog.gaussians", "int"),
        ),
    ),
    (
        "Timings",
        (
            Figure("Input", "timings_s.input", "seconds"),
            Figure("Frames", "timings_s.frames", "seconds"),
            Figure("Structure from motion", "timings_s.sfm", "seconds"),
            Figure("Training", "timings_s.train", "seconds"),
            Figure("Compression", "timings_s.compress", "seconds"),
        ),
    ),
)


def report_spec() -> list[dict[str, Any]]:
    """`REPORT_FIGURES` as plain JSON-able data, for the page's script."""
    return [
        {
            "title": title,
            "figures": [{"label": f.label, "path": f.path, "unit": f.unit} for f in figures],
        }
        for title, figures in REPORT_FIGURES
    ]


def _lookup(report: Mapping[str, Any], path: str) -> Any:
    value: Any = report
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def format_figure(value: Any, unit: str) -> str | None:
    """``value`` formatted for ``unit``; None when there is nothing to show."""
    if value is None or isinstance(value, Mapping | list):
        return None
    if not _is_number(value) or unit == "text":
        return str(value)
    number = float(value)
    formats = {
        "int": lambda: f"{round(number):,}",
        "db": lambda: f"{number:.2f} dB",
        "ratio": lambda: f"{number:.3f}",
        "px": lambda: f"{number:.2f} px",
        "fps": lambda: f"{number:.2f} fps",
        "seconds": lambda: format_duration(number),
        "bytes": lambda: format_size(number),
    }
    return formats.get(unit, lambda: str(value))()


def report_sections(report: Mapping[str, Any]) -> tuple[ReportSection, ...]:
    """The figures of ``report`` that are present, by section (sections with none left out)."""
    sections = []
    for title, figures in REPORT_FIGURES:
        rows: list[tuple[str, str]] = []
        for figure in figures:
            text = format_figure(_lookup(report, figure.path), figure.unit)
            if text is not None:
                rows.append((figure.label, text))
        if rows:
            sections.append(ReportSection(title, tuple(rows)))
    return tuple(sections)


def local_report(job: JobRecord) -> dict[str, Any] | None:
    """The job's report.json when its report stage names a file this server can read.

    That is the embedded case (API and workers on one machine); otherwise the page's script
    fetches the report from the job's artifacts.
    """
    for stage in job.stages:
        path = (stage.output or {}).get("report")
        if not isinstance(path, str) or Path(path).name != "report.json":
            continue
        try:
            report = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return report if isinstance(report, dict) else None
    return None


# --- catalog reads the JSON API does not offer --------------------------------------------------


def event_tail(engine: Engine, job_id: str, limit: int = LOG_TAIL_EVENTS) -> list[EventRecord]:
    """The job's latest ``limit`` events, oldest first."""
    query = select(EVENTS).where(EVENTS.c.job_id == job_id).order_by(EVENTS.c.id.desc())
    with read_tx(engine) as conn:
        rows = conn.execute(query.limit(limit)).all()
    return [EventRecord.model_validate(row._mapping) for row in reversed(rows)]


def last_event_ids(engine: Engine, job_ids: Sequence[str]) -> dict[str, int]:
    """The id of each job's latest event (jobs without events left out)."""
    if not job_ids:
        return {}
    query = (
        select(EVENTS.c.job_id, func.max(EVENTS.c.id))
        .where(EVENTS.c.job_id.in_(job_ids))
        .group_by(EVENTS.c.job_id)
    )
    with read_tx(engine) as conn:
        return {job_id: int(last) for job_id, last in conn.execute(query)}


# --- health -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerView:
    """A live worker on the health page."""

    id: str
    kind: str
    host: str
    pid: int
    state: str
    last_heartbeat: str
    jobs_done: int
    current_job_id: str | None


def alive_workers(engine: Engine, alive_s: float) -> list[WorkerView]:
    """Workers not stopped whose last heartbeat is at most ``alive_s`` old, by id."""
    query = (
        select(WORKERS)
        .where(
            WORKERS.c.state != "stopped",
            WORKERS.c.last_heartbeat_at >= utcnow() - timedelta(seconds=alive_s),
        )
        .order_by(WORKERS.c.id)
    )
    with read_tx(engine) as conn:
        rows = conn.execute(query).all()
    return [
        WorkerView(
            id=row.id,
            kind=row.kind,
            host=row.hostname,
            pid=row.pid,
            state=row.state,
            last_heartbeat=format_time(row.last_heartbeat_at),
            jobs_done=row.jobs_done,
            current_job_id=row.current_job_id,
        )
        for row in rows
    ]
