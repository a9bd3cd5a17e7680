"""Artifact rows: one per (job, name), replaced when a stage publishes again, on both catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from vantage.catalog.models import Artifact, Blob
from vantage.errors import InvalidInputError
from vantage.jobs.artifacts import artifact_key, list_artifacts, record_artifacts
from vantage.jobs.pipeline import StageContext
from vantage.jobs.queue import JobQueue
from vantage.storage.local import LocalStore


def context(job_id: str, store: LocalStore | None, work_dir: Path) -> StageContext:
    return StageContext(
        job_id=job_id,
        attempt=1,
        stage="report",
        params=None,  # type: ignore[arg-type]  # publish does not read them
        outputs={},
        work_dir=work_dir,
        progress=lambda fraction, message="": None,
        store=store,
    )


def test_publish_then_record_then_replace(engine: Engine, queue: JobQueue, tmp_path: Path) -> None:
    job, _ = queue.submit("diagnostic", {})
    store = LocalStore(tmp_path / "blobs")
    scene = tmp_path / "scene.ply"
    scene.write_bytes(b"ply\n" + bytes(100))
    report = tmp_path / "report.json"
    report.write_text('{"ok": true}')

    ctx = context(job.id, store, tmp_path)
    assert ctx.publish("scene.ply", scene) == f"jobs/{job.id}/scene.ply"
    ctx.publish("report.json", report)
    record_artifacts(engine, job.id, "report", ctx.published)

    listed = list_artifacts(engine, job.id)
    assert [(a.name, a.size_bytes, a.stage) for a in listed] == [
        ("report.json", 12, "report"),
        ("scene.ply", 104, "report"),
    ]
    assert listed[0].content_type == "application/json"
    assert store.get_bytes(listed[1].key) == scene.read_bytes()

    # The stage runs again (retry or resume) with a bigger scene: rows are replaced, not added.
    scene.write_bytes(b"ply\n" + bytes(500))
    again = context(job.id, store, tmp_path)
    again.publish("scene.ply", scene)
    record_artifacts(engine, job.id, "train", again.published)
    listed = list_artifacts(engine, job.id)
    assert [(a.name, a.size_bytes, a.stage) for a in listed] == [
        ("report.json", 12, "report"),
        ("scene.ply", 504, "train"),
    ]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Artifact)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(Blob)).scalar_one() == 2


def test_without_a_store_nothing_is_published(tmp_path: Path) -> None:
    ctx = context("job", None, tmp_path)
    (tmp_path / "a.json").write_text("{}")
    assert ctx.publish("a.json", tmp_path / "a.json") is None
    assert ctx.published == []


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b.ply", "", ".hidden", "x" * 300])
def test_artifact_names_are_plain_file_names(name: str) -> None:
    with pytest.raises(InvalidInputError):
        artifact_key("job", name)
