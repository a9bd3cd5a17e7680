"""The web UI's pages over a live API server, on SQLite and PostgreSQL: elements, escaping, 404s."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from sqlalchemy import Engine, update

from integration.api.support import DEADLINE_S, drain, serve, submit, wait_for
from vantage.api.app import create_app
from vantage.capture.params import ReconstructParams
from vantage.capture.report import build_report
from vantage.catalog.db import create_catalog_engine
from vantage.catalog.models import Job, JobEvent, JobStage
from vantage.config import Settings
from vantage.jobs.queue import JobQueue
from vantage.jobs.worker import JobWorker

SCRIPT = "<script>alert('pwned')</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# --- a small DOM, strict about nesting so a broken template fails here -----------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def by_id(self, element_id: str) -> Node:
        found = [node for node in self.walk() if node.attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def by_class(self, name: str) -> list[Node]:
        return [node for node in self.walk() if name in node.classes()]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    ids = [node.attrs["id"] for node in builder.root.walk() if "id" in node.attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    return builder.root


def page(client: httpx.Client, path: str, status: int = 200) -> Node:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[httpx.Client]:
    with (
        serve(create_app(settings, engine=engine)) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
    ):
        yield client


def _set(engine: Engine, table: Any, where: Any, **values: Any) -> None:
    with engine.begin() as conn:
        assert conn.execute(update(table).where(where).values(**values)).rowcount >= 1


def _reconstruct(client: httpx.Client, tmp_path: Path, source: str) -> dict[str, Any]:
    params = {"input": source, "output": str(tmp_path / "out"), "preset": "fast"}
    return submit(client, "reconstruct", params=params)


# --- tests ------------------------------------------------------------------------------------


def test_root_redirects_to_the_jobs_list(client: httpx.Client) -> None:
    response = client.get("/", follow_redirects=False)

    assert response.is_redirect
    assert response.headers["location"] == "/ui/jobs"


def test_new_job_form_has_every_field_and_the_presets(client: httpx.Client) -> None:
    doc = page(client, "/ui/jobs/new")

    upload = doc.by_id("upload-input")
    assert upload.tag == "input"
    assert upload.attrs["type"] == "file"
    assert "multiple" in upload.attrs
    assert set(upload.attrs["accept"].split(",")) == {"video/*", "image/*"}
    assert doc.by_id("source-input").attrs["type"] == "text"
    assert doc.by_id("email-input").attrs["type"] == "email"
    assert doc.by_id("webhook-input").attrs["type"] == "url"
    options = [n for n in doc.by_id("preset-select").walk() if n.tag == "option"]
    field_info = ReconstructParams.model_fields["preset"]
    assert [o.attrs["value"] for o in options] == list(get_args(field_info.annotation))
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == [field_info.default]
    assert doc.by_id("submit-job").attrs["type"] == "submit"
    assert "hidden" in doc.by_id("form-error").attrs
    assert doc.by_id("upload-progress").attrs["data-percent"] == "0"
    for element_id in ("upload-input", "source-input", "preset-select", "submit-job"):
        assert doc.by_id(element_id).attrs["data-testid"] == element_id
    scripts = [n.attrs["src"] for n in doc.walk() if n.tag == "script" and "src" in n.attrs]
    assert len(scripts) == 1
    script = client.get(scripts[0])
    assert script.status_code == 200
    assert "EventSource" in script.text
    assert "/uploads" in script.text


def test_jobs_list_shows_state_progress_and_filters_by_state(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    done = submit(client, params={"stages": 2, "stage_s": 0})
    drain(engine, settings)
    waiting = submit(client, params={"stages": 2, "stage_s": 0})

    doc = page(client, "/ui/jobs")

    rows = {row.attrs["data-job-id"]: row for row in doc.by_class("job-row")}
    assert list(rows) == [waiting["id"], done["id"]]  # newest first
    assert rows[done["id"]].attrs["data-state"] == "succeeded"
    assert rows[done["id"]].by_class("job-progress")[0].attrs["data-percent"] == "100"
    assert rows[done["id"]].by_class("job-percent")[0].text() == "100%"
    assert rows[waiting["id"]].attrs["data-state"] == "queued"
    assert rows[waiting["id"]].by_class("job-state")[0].text() == "queued"
    last_event = JobQueue(engine).events(waiting["id"])[-1].id
    assert rows[waiting["id"]].attrs["data-last-event-id"] == str(last_event)
    links = [a.attrs["href"] for a in rows[done["id"]].by_class("job-link")]
    assert links == [f"/ui/jobs/{done['id']}"]

    only_done = page(client, "/ui/jobs?state=succeeded")
    assert [r.attrs["data-job-id"] for r in only_done.by_class("job-row")] == [done["id"]]
    assert "state=succeeded" in only_done.by_id("jobs-table").attrs["data-query"]
    nothing = page(client, "/ui/jobs?state=failed")
    assert nothing.by_class("job-row") == []
    assert "no-jobs" in {n.attrs.get("id") for n in nothing.walk()}
    assert "bogus" in page(client, "/ui/jobs?state=bogus", status=422).text()


def test_job_page_shows_stages_progress_and_log_of_a_finished_job(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    job = submit(client, params={"stages": 3, "stage_s": 0.05})
    drain(engine, settings)

    for path in (f"/ui/jobs/{job['id']}", f"/jobs/{job['id']}/view"):
        doc = page(client, path)
        assert doc.by_id("job").attrs["data-job-id"] == job["id"]
        assert doc.by_id("job-state").text() == "succeeded"
        assert doc.by_id("job-progress").attrs["data-percent"] == "100"
        assert doc.by_id("job-percent").text() == "100%"
        stages = doc.by_class("stage-row")
        assert [s.attrs["data-stage"] for s in stages] == ["step-1", "step-2", "step-3"]
        assert {s.attrs["data-state"] for s in stages} == {"succeeded"}
        assert all(s.by_class("stage-progress")[0].attrs["data-percent"] == "100" for s in stages)
        assert all(s.by_class("stage-duration")[0].text().endswith("ms") for s in stages)
        assert "hidden" in doc.by_id("cancel-job").attrs
        assert "hidden" in doc.by_id("retry-job").attrs
        assert "hidden" in doc.by_id("job-error").attrs
        assert "hidden" in doc.by_id("viewer").attrs  # shown by the script once scene.sog exists
        assert doc.by_id("viewer-frame").attrs["data-src"] == f"/jobs/{job['id']}/viewer"

    log = [line.attrs for line in page(client, f"/ui/jobs/{job['id']}").by_class("log-line")]
    kinds = [line["data-kind"] for line in log]
    assert kinds[0] == "submitted"
    assert kinds[-1] == "succeeded"
    assert "stage_started" in kinds
    runs = list(itertools.pairwise(log))
    assert not any(
        a["data-kind"] == b["data-kind"] == "progress"
        for a, b in runs
        if a["data-stage"] == b["data-stage"]
    )
    last_event = JobQueue(engine).events(job["id"])[-1].id
    assert doc.by_id("job").attrs["data-last-event-id"] == str(last_event)

    fragment = client.get(f"/ui/jobs/{job['id']}/stages")
    assert fragment.status_code == 200
    timeline = parse(fragment.text).by_id("stage-timeline")
    assert [s.attrs["data-state"] for s in timeline.by_class("stage-row")] == ["succeeded"] * 3


def test_job_page_of_a_queued_job_offers_cancel(client: httpx.Client) -> None:
    job = submit(client, params={"stages": 2, "stage_s": 0})

    doc = page(client, f"/ui/jobs/{job['id']}")

    assert doc.by_id("job").attrs["data-state"] == "queued"
    assert doc.by_id("job-percent").text() == "0%"
    assert "hidden" not in doc.by_id("cancel-job").attrs
    assert "hidden" in doc.by_id("retry-job").attrs
    assert [s.attrs["data-state"] for s in doc.by_class("stage-row")] == ["pending", "pending"]

    client.post(f"/jobs/{job['id']}/cancel").raise_for_status()
    cancelled = page(client, f"/ui/jobs/{job['id']}")
    assert cancelled.by_id("job-state").text() == "cancelled"
    assert "hidden" not in cancelled.by_id("retry-job").attrs
    assert "hidden" in cancelled.by_id("cancel-job").attrs


def test_text_from_jobs_is_escaped(client: httpx.Client, engine: Engine, tmp_path: Path) -> None:
    job = _reconstruct(client, tmp_path, f"/captures/{SCRIPT}.mp4")
    _set(engine, Job.__table__, Job.__table__.c.id == job["id"], error=SCRIPT, state="failed")
    _set(engine, JobStage.__table__, JobStage.__table__.c.job_id == job["id"], error=SCRIPT)
    _set(engine, JobEvent.__table__, JobEvent.__table__.c.job_id == job["id"], message=SCRIPT)

    for path in (f"/ui/jobs/{job['id']}", "/ui/jobs"):
        response = client.get(path)
        assert response.status_code == 200
        assert SCRIPT not in response.text
        assert "&lt;script&gt;" in response.text
        doc = parse(response.text)
        assert not [
            n
            for n in doc.walk()
            if n.tag == "script"
            and "src" not in n.attrs
            and n.attrs.get("type") != "application/json"
        ]

    doc = page(client, f"/ui/jobs/{job['id']}")
    assert doc.by_id("job-error").text() == SCRIPT
    assert "hidden" not in doc.by_id("job-error").attrs
    assert {n.text() for n in doc.by_class("stage-error")} == {SCRIPT}
    assert [n.text() for n in doc.by_class("log-message")] == [SCRIPT]
    params = doc.by_id("job-params").text()
    assert f"/captures/{SCRIPT}.mp4" in params
    listed = page(client, "/ui/jobs").by_class("job-input")
    assert [n.text() for n in listed] == [f"/captures/{SCRIPT}.mp4"]


def test_unknown_job_is_a_404_page(client: httpx.Client) -> None:
    for path in ("/ui/jobs/nope", "/jobs/nope/view", "/ui/jobs/nope/stages"):
        doc = page(client, path, status=404)
        assert doc.by_id("error-page").by_id("error-detail").text() == "No job has the id 'nope'."


def test_job_page_shows_report_figures_when_the_report_is_readable(
    client: httpx.Client, engine: Engine, tmp_path: Path
) -> None:
    job = _reconstruct(client, tmp_path, "/captures/site.mp4")
    outputs = {
        "input": {"kind": "video", "width": 640, "height": 480, "fps": 30.0, "seconds": 0.2},
        "frames": {"decoded": 300, "kept": 42, "rejected_blurry": 7, "seconds": 3.5},
        "sfm": {"input_images": 42, "registered_images": 40, "points3d": 12345},
        "train": {"gaussians": 20480, "psnr_test": 28.4123, "ssim_test": 0.9123, "seconds": 75},
        "compress": {
            "ply_bytes": 20480 * 248,
            "formats": {
                "sog": {"bytes": 3 * 1024 * 1024, "ratio_vs_ply": 1.62, "psnr_drop_db": 0.214},
                "spz": {"bytes": 2048, "ratio_vs_ply": 2480.0, "psnr_drop_db": -0.01},
            },
        },
    }
    report = build_report(ReconstructParams.model_validate(job["params"]), outputs)
    path = tmp_path / "out" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report))
    stages = JobStage.__table__.c
    where = (stages.job_id == job["id"]) & (stages.name == "report")
    _set(engine, JobStage.__table__, where, output={"report": str(path)})

    doc = page(client, f"/ui/jobs/{job['id']}")

    assert "hidden" not in doc.by_id("report").attrs
    figures: dict[str, dict[str, str]] = {}
    for group in doc.by_id("report-figures").by_class("figure-group"):
        title = next(n.text() for n in group.walk() if n.tag == "h3")
        labels = [n.text() for n in group.walk() if n.tag == "dt"]
        values = [n.text() for n in group.walk() if n.tag == "dd"]
        figures[title] = dict(zip(labels, values, strict=True))
    assert figures["Input"] == {
        "Kind": "video",
        "Frames seen": "300",
        "Width": "640",
        "Height": "480",
        "Frame rate": "30.00 fps",
    }
    assert figures["Frames"]["Kept"] == "42"
    assert figures["Frames"]["Decoded"] == "300"
    assert figures["Structure from motion"]["Registered images"] == "40"
    assert figures["Structure from motion"]["3D points"] == "12,345"
    assert "Mean reprojection error" not in figures["Structure from motion"]  # absent: left out
    assert figures["Training"]["Gaussians"] == "20,480"
    assert figures["Training"]["PSNR (held-out views)"] == "28.41 dB"
    assert figures["Training"]["SSIM (held-out views)"] == "0.912"
    assert figures["Compression"] == {
        "PLY size": "4.8 MiB",
        "SOG size": "3.0 MiB",
        "SOG: times smaller than the PLY": "1.62",
        "SOG: PSNR drop": "0.21 dB",
        "SPZ size": "2.0 KiB",
        "SPZ: times smaller than the PLY": "2480.0",
        "SPZ: PSNR drop": "-0.01 dB",
    }
    assert figures["Timings"]["Training"] == "1 min 15 s"
    spec = json.loads(doc.by_id("report-spec").text())
    assert [section["title"] for section in spec][:4] == list(figures)[:4]

    path.unlink()  # not readable here (say, the workers are on other machines)
    again = page(client, f"/ui/jobs/{job['id']}")
    assert "hidden" in again.by_id("report").attrs
    assert again.by_id("report-figures").by_class("figure-group") == []


def test_health_page_shows_the_database_workers_and_queue_depth(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    submit(client, params={"stages": 1, "stage_s": 0})
    submit(client, params={"stages": 1, "stage_s": 0})

    doc = page(client, "/ui/health")

    assert doc.by_id("health-status").text() == "degraded"
    assert doc.by_id("health-database").text() == "ok"
    assert doc.by_id("health-workers").text() == "0"
    assert doc.by_id("health-queue-depth").text() == "2"
    assert "workers-table" not in {n.attrs.get("id") for n in doc.walk()}

    stop = threading.Event()
    worker = JobWorker(engine, settings)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        live = wait_for(
            lambda: (d := page(client, "/ui/health")).by_id("health-status").text() == "ok" and d,
            "a live worker on the health page",
        )
    finally:
        stop.set()
        thread.join(timeout=DEADLINE_S)
    assert int(live.by_id("health-workers").text()) >= 1
    workers = live.by_id("workers-table").by_class("worker-row")
    assert len(workers) == int(live.by_id("health-workers").text())
    assert workers[0].attrs["data-worker-id"] == worker.worker_id


def test_health_page_says_when_the_database_does_not_answer(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    # A catalog that was never migrated: every health query fails.
    broken = create_catalog_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")
    with (
        serve(create_app(sqlite_settings, engine=broken)) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
    ):
        doc = page(client, "/ui/health", status=503)
    broken.dispose()

    assert doc.by_id("health-status").text() == "down"
    assert doc.by_id("health-database").attrs["data-ok"] == "false"
    assert "no such table" in doc.by_id("health-database").text()


def test_login_page_posts_the_token_to_login(client: httpx.Client) -> None:
    doc = page(client, "/ui/login?next=/ui/jobs/abc")

    form = doc.by_id("login-form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", "/login")
    token = doc.by_id("token-input")
    assert (token.attrs["name"], token.attrs["type"]) == ("token", "password")
    hidden = [n for n in form.walk() if n.attrs.get("name") == "next"]
    assert [n.attrs["value"] for n in hidden] == ["/ui/jobs/abc"]
    elsewhere = page(client, "/ui/login?next=//evil.example/")
    assert [n.attrs["value"] for n in elsewhere.walk() if n.attrs.get("name") == "next"] == [
        "/ui/jobs"
    ]
