"""POST /uploads over a live server: files streamed into the blob store, names refused, limits
enforced with 413, and nothing half-written left behind."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from vantage.api.app import create_app
from vantage.config import Settings, UploadsSettings
from vantage.storage import open_store

from .forms import BOUNDARY, CONTENT_TYPE, body, streamed
from .support import serve

PROBLEM = "application/problem+json"
MiB = 1024 * 1024


@pytest.fixture
def limited_settings(settings: Settings) -> Settings:
    """Settings whose upload limits are small enough to reach in a test."""
    limits = UploadsSettings(max_file_bytes=2 * MiB, max_request_bytes=3 * MiB, max_files=4)
    return settings.model_copy(update={"uploads": limits})


@pytest.fixture
def limited(limited_settings: Settings, engine: Engine) -> Iterator[httpx.Client]:
    with (
        serve(create_app(limited_settings, engine=engine)) as live,
        httpx.Client(base_url=live.url, timeout=30) as client,
    ):
        yield client


def stored_files(settings: Settings) -> list[str]:
    """Every file under the local blob store, temp files included."""
    root = settings.blob_root
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def post(client: httpx.Client, content: Any, **headers: str) -> httpx.Response:
    return client.post(
        "/uploads", content=content, headers={"content-type": CONTENT_TYPE, **headers}
    )


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    detail: dict[str, Any] = response.json()
    return detail


def test_files_are_stored_under_the_upload_and_can_be_read_back(
    client: httpx.Client, settings: Settings
) -> None:
    video, photo = b"\x00\x01video" * 1000, b"\xff\xd8photo"
    response = post(client, body(("file", "clip.mp4", video), ("file", "été 1.jpg", photo)))

    assert response.status_code == 201, response.text
    upload = response.json()
    assert upload["input"] == f"upload://{upload['id']}"
    assert upload["files"] == [
        {"name": "clip.mp4", "size_bytes": len(video)},
        {"name": "été 1.jpg", "size_bytes": len(photo)},
    ]
    store = open_store(settings)
    assert store.get_bytes(f"uploads/{upload['id']}/clip.mp4") == video
    assert store.get_bytes(f"uploads/{upload['id']}/été 1.jpg") == photo
    assert store.stat(f"uploads/{upload['id']}/clip.mp4").content_type == "video/mp4"
    manifest = json.loads(store.get_bytes(f"uploads/{upload['id']}.json"))
    assert [f["sha256"] for f in manifest["files"]] == [
        hashlib.sha256(video).hexdigest(),
        hashlib.sha256(photo).hexdigest(),
    ]
    assert client.get(f"/uploads/{upload['id']}").json() == upload


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "..", ".", "a/b.jpg", "a\\b.jpg", "", "  ", "x\x1b.jpg", ".tmp-x"],
    ids=["traversal", "dotdot", "dot", "slash", "backslash", "empty", "blank", "escape", "tmp"],
)
def test_unsafe_names_are_refused_not_rewritten(
    client: httpx.Client, settings: Settings, name: str
) -> None:
    response = post(client, body(("file", "ok.jpg", b"fine"), ("file", name, b"root:x:0:0")))

    detail = problem(response, 422)
    assert detail["field"] == "file"
    assert detail["filename"] == name
    assert "file" in detail["detail"]
    assert stored_files(settings) == []  # the good first file went too


def test_nul_in_a_name_is_refused(client: httpx.Client, settings: Settings) -> None:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a'.encode()
    raw = head + b'\x00b.jpg"\r\n\r\ndata\r\n' + f"--{BOUNDARY}--\r\n".encode()

    problem(post(client, raw), 422)
    assert stored_files(settings) == []


def test_a_file_over_the_limit_is_413_and_leaves_nothing(
    limited: httpx.Client, limited_settings: Settings
) -> None:
    response = post(limited, streamed("big.mp4", 2 * MiB + 1))

    detail = problem(response, 413)
    assert str(2 * MiB) in detail["detail"]
    assert "uploads.max_file_bytes" in detail["detail"]
    assert stored_files(limited_settings) == []


def test_the_second_file_over_the_request_limit_removes_the_first(
    limited: httpx.Client, limited_settings: Settings
) -> None:
    one_and_a_half = b"x" * (3 * MiB // 2)
    response = post(
        limited, body(("file", "a.jpg", one_and_a_half), ("file", "b.jpg", b"y" * MiB * 2))
    )

    detail = problem(response, 413)
    assert str(3 * MiB) in detail["detail"]
    assert stored_files(limited_settings) == []


def test_a_declared_length_over_the_limit_is_refused_before_reading(
    limited: httpx.Client, limited_settings: Settings
) -> None:
    response = post(limited, body(("file", "a.jpg", b"x" * 4 * MiB)))  # Content-Length: 4 MiB

    assert problem(response, 413)["limit_bytes"] == 3 * MiB
    assert stored_files(limited_settings) == []


def test_a_chunked_body_over_the_request_limit_is_413(
    limited: httpx.Client, limited_settings: Settings
) -> None:
    files = [(f"f{i}.jpg", 1536 * 1024) for i in range(3)]  # each under the file limit
    response = post(limited, streamed(*files[0], *files[1:]))  # an iterator: no Content-Length

    assert "uploads.max_request_bytes" in problem(response, 413)["detail"]
    assert stored_files(limited_settings) == []


def test_too_many_files_is_413(limited: httpx.Client, limited_settings: Settings) -> None:
    parts = [("file", f"{i}.jpg", b"x") for i in range(5)]
    assert "uploads.max_files" in problem(post(limited, body(*parts)), 413)["detail"]
    assert stored_files(limited_settings) == []


@pytest.mark.parametrize(
    ("parts", "needle"),
    [
        ([], "no files"),
        ([("note", None, b"hello")], "unexpected form field 'note'"),
        ([("file", None, b"hello")], "must be a file"),
        ([("file", "a.jpg", b"1"), ("file", "a.jpg", b"2")], "sent twice"),
    ],
    ids=["no-files", "other-field", "no-filename", "duplicate"],
)
def test_malformed_forms_are_422(
    client: httpx.Client,
    settings: Settings,
    parts: list[tuple[str, str | None, bytes]],
    needle: str,
) -> None:
    assert needle in problem(post(client, body(*parts)), 422)["detail"]
    assert stored_files(settings) == []


def test_a_truncated_body_is_422(client: httpx.Client, settings: Settings) -> None:
    truncated = body(("file", "a.jpg", b"abc" * 100))[:-40]
    assert "malformed multipart" in problem(post(client, truncated), 422)["detail"]
    assert stored_files(settings) == []


def test_other_media_types_are_415(client: httpx.Client) -> None:
    response = client.post("/uploads", json={"file": "x"})
    assert problem(response, 415)["type"].endswith("/unsupported-media-type")


def test_an_unknown_upload_is_404(client: httpx.Client) -> None:
    assert problem(client.get(f"/uploads/{'a' * 32}"), 404)["type"].endswith("/upload-not-found")
    problem(client.get("/uploads/not-an-id"), 422)


def test_a_large_file_streams_through_in_bounded_memory(
    client: httpx.Client, settings: Settings, tmp_path: Path
) -> None:
    size = 128 * MiB
    tracemalloc.start()
    try:
        response = post(client, streamed("big.mp4", size))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 201, response.text
    assert response.json()["files"] == [{"name": "big.mp4", "size_bytes": size}]
    # What is held is a few of the store's write chunks (storage.chunk_bytes, 8 MiB; the
    # store's chunker keeps about four alive), however large the file.
    assert peak < 5 * settings.storage.chunk_bytes, (
        f"peak {peak / MiB:.0f} MiB for a {size / MiB:.0f} MiB upload"
    )
