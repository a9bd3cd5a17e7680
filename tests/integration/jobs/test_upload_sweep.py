"""A worker deletes the files of uploads abandoned before their manifest, after the set age."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from vantage.config import Settings
from vantage.jobs.worker import JobWorker
from vantage.storage.uploads import file_key, new_upload_id


def test_a_worker_sweeps_abandoned_uploads(engine: Engine, settings: Settings) -> None:
    uploads = settings.uploads.model_copy(update={"abandoned_after_s": 1.0})
    worker = JobWorker(engine, settings.model_copy(update={"uploads": uploads}))
    dead = new_upload_id()
    worker.store.put_bytes(file_key(dead, "clip.mp4"), b"half a video")
    assert worker.sweep_uploads() == []  # younger than 1 s: maybe still arriving
    time.sleep(1.6)
    assert worker.sweep_uploads() == [dead]
    assert not worker.store.exists(file_key(dead, "clip.mp4"))
