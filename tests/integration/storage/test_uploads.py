"""Uploads on both blob stores: committed by their manifest, and a failed upload (too large,
refused name, broken stream) leaves nothing behind, not even an unfinished S3 multipart."""

from __future__ import annotations

import io

import pytest

from vantage.errors import InvalidInputError, PayloadTooLargeError, UploadNotFoundError
from vantage.storage.uploads import (
    IncomingFile,
    UploadLimits,
    file_key,
    manifest_key,
    new_upload_id,
    read_upload,
    sweep_abandoned_uploads,
    write_upload,
)

from .harness import CHUNK_BYTES, Backend, BrokenStream, random_bytes

ROOMY = UploadLimits(max_file_bytes=1 << 40, max_request_bytes=1 << 40, max_files=10)


def incoming(name: str, data: bytes) -> IncomingFile:
    return IncomingFile(name, "image/jpeg", io.BytesIO(data))


def test_an_upload_is_its_files_and_a_manifest(backend: Backend) -> None:
    big = random_bytes(CHUNK_BYTES + 123)  # a multipart upload on S3
    upload = write_upload(backend.store, [incoming("a.jpg", b"one"), incoming("b.jpg", big)], ROOMY)

    assert [(f.name, f.size_bytes) for f in upload.files] == [("a.jpg", 3), ("b.jpg", len(big))]
    assert backend.store.get_bytes(file_key(upload.id, "b.jpg")) == big
    assert read_upload(backend.store, upload.id) == upload
    assert backend.store.exists(manifest_key(upload.id))


def test_a_file_over_the_limit_leaves_nothing(backend: Backend) -> None:
    limits = UploadLimits(max_file_bytes=CHUNK_BYTES + 10, max_request_bytes=1 << 40, max_files=10)
    files = [incoming("a.jpg", b"small"), incoming("b.jpg", random_bytes(2 * CHUNK_BYTES))]

    with pytest.raises(PayloadTooLargeError, match=str(CHUNK_BYTES + 10)):
        write_upload(backend.store, files, limits, upload_id="0" * 32)

    assert backend.raw_contents() == []
    with pytest.raises(UploadNotFoundError):
        read_upload(backend.store, "0" * 32)


def test_the_request_limit_counts_every_file(backend: Backend) -> None:
    limits = UploadLimits(max_file_bytes=100, max_request_bytes=150, max_files=10)
    files = [incoming("a.jpg", b"x" * 100), incoming("b.jpg", b"y" * 100)]

    with pytest.raises(PayloadTooLargeError, match="max_request_bytes"):
        write_upload(backend.store, files, limits)

    assert backend.raw_contents() == []


def test_a_refused_name_after_a_stored_file_leaves_nothing(backend: Backend) -> None:
    files = [incoming("a.jpg", b"fine"), incoming("../../etc/passwd", b"root")]

    with pytest.raises(InvalidInputError, match="refused"):
        write_upload(backend.store, files, ROOMY)

    assert backend.raw_contents() == []


def test_a_broken_stream_leaves_nothing(backend: Backend) -> None:
    files = [
        incoming("a.jpg", b"fine"),
        IncomingFile("b.mp4", None, io.BufferedReader(BrokenStream(CHUNK_BYTES + 1))),
    ]

    with pytest.raises(ConnectionResetError):
        write_upload(backend.store, files, ROOMY)

    assert backend.raw_contents() == []


def test_abandoned_uploads_are_swept_and_the_rest_kept(backend: Backend) -> None:
    store = backend.store
    done = write_upload(store, [incoming("a.jpg", b"kept")], ROOMY)
    # A request that died after storing two files and before its manifest.
    dead = new_upload_id()
    store.put_bytes(file_key(dead, "x.jpg"), b"1")
    store.put_bytes(file_key(dead, "y.jpg"), b"2")
    listed = {info.key: info.modified_at for info in store.list("uploads/")}
    assert all(written is not None for written in listed.values())  # listings carry the age

    # Still young: it could be an upload in progress.
    assert sweep_abandoned_uploads(store, older_than_s=3600) == []
    assert store.exists(file_key(dead, "x.jpg"))
    # Old enough (every file was written before now + 1 s): gone; the committed upload stays.
    assert sweep_abandoned_uploads(store, older_than_s=-1) == [dead]
    assert not store.exists(file_key(dead, "x.jpg"))
    assert not store.exists(file_key(dead, "y.jpg"))
    assert read_upload(store, done.id) == done
    assert store.get_bytes(file_key(done.id, "a.jpg")) == b"kept"
    assert sweep_abandoned_uploads(store, older_than_s=-1) == []
