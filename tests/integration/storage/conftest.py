"""Blob store fixtures: every backend behind one `Backend`, S3 served by a local moto server."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from integration.servers import moto_s3
from vantage.config import Settings, StorageSettings
from vantage.storage import BlobStore, open_store

from .harness import CHUNK_BYTES, Backend


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on a free local port, with fake credentials in the environment."""
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        settings = Settings(data_dir=tmp_path, storage=StorageSettings(chunk_bytes=CHUNK_BYTES))
        yield Backend(open_store(settings), lambda: _files_under(settings.blob_root))
        return
    endpoint: str = request.getfixturevalue("moto_endpoint")
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    storage = StorageSettings(
        backend="s3",
        s3_bucket=bucket,
        s3_prefix="vantage",
        s3_endpoint_url=endpoint,
        chunk_bytes=CHUNK_BYTES,
    )

    def raw_contents() -> list[str]:
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return [o["Key"] for o in objects] + [f"upload:{u['Key']}" for u in uploads]

    yield Backend(open_store(Settings(data_dir=tmp_path, storage=storage)), raw_contents)
    # Drop every bucket so big test blobs do not pile up in the server's memory.
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).close()


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.store


def _files_under(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
