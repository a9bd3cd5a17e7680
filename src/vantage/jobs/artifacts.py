"""Job artifacts: files a stage publishes to the blob store, and their rows in the catalog.

A stage calls `StageContext.publish` for each file worth keeping beyond the machine it ran on;
the file goes to the blob store under ``jobs/<job id>/<name>`` at once, and the worker records a
`Blob` and an `Artifact` row for each when the stage returns. Recording is an upsert keyed by
(job, name), so a stage that runs again (retry, resume, lost lease) replaces its rows instead of
adding duplicates. The API lists a job's artifacts and streams them from the store.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from vantage.catalog.db import read_tx, write_tx
from vantage.catalog.models import Artifact, Blob, utcnow
from vantage.errors import InvalidInputError

#: An artifact name: a plain file name (letters, digits, ``._-``), no folders.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


@dataclass(frozen=True)
class PublishedArtifact:
    """One file a stage put in the blob store."""

    name: str
    key: str
    size_bytes: int
    sha256: str | None
    content_type: str | None


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact as the catalog holds it."""

    job_id: str
    stage: str
    name: str
    key: str
    size_bytes: int
    content_type: str | None


def artifact_key(job_id: str, name: str) -> str:
    """The blob key of artifact ``name`` of job ``job_id``.

    Raises:
        InvalidInputError: ``name`` is not a plain file name.
    """
    if not _NAME.match(name) or ".." in name:
        raise InvalidInputError(f"artifact name {name!r} is not a plain file name", name=name)
    return f"jobs/{job_id}/{name}"


def guess_content_type(name: str) -> str:
    """The media type to serve an artifact with."""
    special = {
        ".ply": "application/octet-stream",
        ".sog": "application/zip",
        ".spz": "application/octet-stream",
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
    }
    for suffix, kind in special.items():
        if name.endswith(suffix):
            return kind
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def record_artifacts(
    engine: Engine, job_id: str, stage: str, artifacts: Sequence[PublishedArtifact]
) -> None:
    """Record (or replace) the catalog rows of ``artifacts`` published by ``stage``."""
    if not artifacts:
        return
    now = utcnow()
    names = [artifact.name for artifact in artifacts]
    keys = [artifact.key for artifact in artifacts]
    with write_tx(engine) as conn:
        conn.execute(delete(Artifact).where(Artifact.job_id == job_id, Artifact.name.in_(names)))
        conn.execute(delete(Blob).where(Blob.key.in_(keys)))
        conn.execute(
            insert(Blob),
            [
                {
                    "key": artifact.key,
                    "size_bytes": artifact.size_bytes,
                    "sha256": artifact.sha256,
                    "content_type": artifact.content_type,
                    "created_at": now,
                }
                for artifact in artifacts
            ],
        )
        conn.execute(
            insert(Artifact),
            [
                {
                    "job_id": job_id,
                    "stage": stage,
                    "name": artifact.name,
                    "blob_key": artifact.key,
                    "created_at": now,
                }
                for artifact in artifacts
            ],
        )


def list_artifacts(engine: Engine, job_id: str) -> list[ArtifactRecord]:
    """The artifacts of job ``job_id``, by name."""
    query = (
        select(Artifact.stage, Artifact.name, Blob.key, Blob.size_bytes, Blob.content_type)
        .join(Blob, Blob.key == Artifact.blob_key)
        .where(Artifact.job_id == job_id)
        .order_by(Artifact.name)
    )
    with read_tx(engine) as conn:
        rows = conn.execute(query).all()
    return [
        ArtifactRecord(
            job_id=job_id,
            stage=row.stage,
            name=row.name,
            key=row.key,
            size_bytes=row.size_bytes,
            content_type=row.content_type,
        )
        for row in rows
    ]
