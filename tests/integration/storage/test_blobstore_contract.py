"""The `BlobStore` contract, run against every backend (local folder, S3 on moto)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vantage.errors import BlobNotFoundError, InvalidKeyError
from vantage.storage import BlobInfo, BlobStore, content_key

from .harness import CHUNK_BYTES, Backend, BrokenStream, random_bytes

BAD_KEYS = ["", "/abs", "a/../b", "..", "a//b", "a/", "a\\b", "a\nb", "a\x00b", "x" * 1025]


def test_bytes_round_trip(store: BlobStore) -> None:
    data = b"hello blob"

    info = store.put_bytes("media/a.txt", data, content_type="text/plain")

    sha256 = hashlib.sha256(data).hexdigest()
    assert info == BlobInfo("media/a.txt", len(data), sha256, "text/plain")
    assert store.stat("media/a.txt") == info
    assert store.get_bytes("media/a.txt") == data
    assert store.exists("media/a.txt")
    with store.open("media/a.txt") as blob:
        assert blob.read(5) == b"hello"
        assert blob.read() == b" blob"


def test_empty_blob_and_default_content_type(store: BlobStore) -> None:
    info = store.put_bytes("empty", b"")

    assert info.size_bytes == 0
    assert store.get_bytes("empty") == b""
    assert store.stat("empty").content_type == "application/octet-stream"


def test_stream_and_file_round_trip(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(random_bytes(1000, seed=1))

    from_stream = store.put_stream("s/stream", io.BytesIO(b"streamed"), "application/x-test")
    from_file = store.put_file("s/file", source)

    assert store.get_bytes("s/stream") == b"streamed"
    assert store.stat("s/stream").content_type == "application/x-test"
    assert from_stream.sha256 == hashlib.sha256(b"streamed").hexdigest()
    assert store.get_bytes("s/file") == source.read_bytes()
    assert from_file.size_bytes == 1000


def test_overwrite_replaces_the_blob(store: BlobStore) -> None:
    store.put_bytes("k", b"old", content_type="text/plain")

    store.put_bytes("k", b"newer", content_type="text/csv")

    assert store.get_bytes("k") == b"newer"
    assert store.stat("k") == BlobInfo("k", 5, hashlib.sha256(b"newer").hexdigest(), "text/csv")


def test_large_stream_is_chunked_and_hashed(store: BlobStore, tmp_path: Path) -> None:
    data = random_bytes(4 * CHUNK_BYTES + 123)  # S3: five multipart parts

    info = store.put_stream("big/video.mp4", io.BytesIO(data), "video/mp4")

    sha256 = hashlib.sha256(data).hexdigest()
    assert (info.size_bytes, info.sha256) == (len(data), sha256)
    assert store.stat("big/video.mp4").sha256 in (None, sha256)  # S3 multipart cannot record it
    streamed = hashlib.sha256()
    with store.open("big/video.mp4") as blob:
        while chunk := blob.read(1024 * 1024):
            streamed.update(chunk)
    assert streamed.hexdigest() == sha256
    store.download("big/video.mp4", tmp_path / "video.mp4")
    assert hashlib.sha256((tmp_path / "video.mp4").read_bytes()).hexdigest() == sha256


def test_content_addressed_put_is_idempotent(store: BlobStore) -> None:
    data = b"same content"
    sha256 = hashlib.sha256(data).hexdigest()

    first = store.put_content(data, content_type="text/plain")
    second = store.put_content(io.BytesIO(data), content_type="text/other")

    assert first.key == f"sha256/{sha256[:2]}/{sha256}" == content_key(sha256)
    assert first == second == BlobInfo(first.key, len(data), sha256, "text/plain")
    assert store.stat(first.key) == first
    assert [info.key for info in store.list("sha256/")] == [first.key]


def test_content_addressed_large_stream(store: BlobStore) -> None:
    data = random_bytes(CHUNK_BYTES + 1, seed=3)
    sha256 = hashlib.sha256(data).hexdigest()

    info = store.put_content(io.BytesIO(data))

    assert info == BlobInfo(content_key(sha256), len(data), sha256, "application/octet-stream")
    assert store.stat(info.key).sha256 == sha256
    assert store.get_bytes(info.key) == data


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_rejected_and_nothing_is_written(
    backend: Backend, key: str, tmp_path: Path
) -> None:
    store = backend.store
    calls: list[Callable[[], object]] = [
        lambda: store.put_bytes(key, b"x"),
        lambda: store.put_stream(key, io.BytesIO(b"x")),
        lambda: store.put_file(key, tmp_path / "never-read"),
        lambda: store.open(key),
        lambda: store.get_bytes(key),
        lambda: store.exists(key),
        lambda: store.stat(key),
        lambda: store.delete(key),
        lambda: store.download(key, tmp_path / "dest"),
    ]
    for call in calls:
        with pytest.raises(InvalidKeyError) as caught:
            call()
        assert caught.value.fields["key"] == key

    assert backend.raw_contents() == []
    assert not (tmp_path / "dest").exists()


def test_invalid_list_prefix_is_rejected(store: BlobStore) -> None:
    with pytest.raises(InvalidKeyError):
        store.list("../")


def test_missing_key_errors(store: BlobStore, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    reads: list[Callable[[], object]] = [
        lambda: store.stat("nope"),
        lambda: store.open("nope"),
        lambda: store.get_bytes("nope"),
        lambda: store.download("nope", dest),
    ]
    for read in reads:
        with pytest.raises(BlobNotFoundError) as caught:
            read()
        assert caught.value.fields["key"] == "nope"
    assert not store.exists("nope")
    assert not dest.exists()


def test_a_folder_of_blobs_is_not_a_blob(store: BlobStore) -> None:
    store.put_bytes("dir/child", b"x")

    assert not store.exists("dir")
    with pytest.raises(BlobNotFoundError):
        store.stat("dir")
    store.delete("dir")
    assert store.exists("dir/child")


def test_delete_is_idempotent(backend: Backend) -> None:
    store = backend.store
    store.put_content(b"keep")
    store.put_bytes("gone", b"x", content_type="text/plain")
    before = backend.raw_contents()

    store.delete("gone")
    store.delete("gone")
    store.delete("never/was")

    assert not store.exists("gone")
    with pytest.raises(BlobNotFoundError):
        store.get_bytes("gone")
    assert len(backend.raw_contents()) < len(before)
    assert [info.key for info in store.list()] == [content_key(hashlib.sha256(b"keep").hexdigest())]


def test_list_by_prefix(store: BlobStore) -> None:
    for key, data in {"b/4": b"4444", "a/2": b"22", "ab/3": b"333", "a/1": b"1"}.items():
        store.put_bytes(key, data)

    listed = list(store.list())
    assert [replace(info, modified_at=None) for info in listed] == [
        BlobInfo("a/1", 1, None, None),
        BlobInfo("a/2", 2, None, None),
        BlobInfo("ab/3", 3, None, None),
        BlobInfo("b/4", 4, None, None),
    ]
    now = datetime.now(UTC)
    for info in listed:  # when each was written, in UTC
        assert info.modified_at is not None and info.modified_at.utcoffset() == timedelta(0)
        assert abs((now - info.modified_at).total_seconds()) < 120
    assert [info.key for info in store.list("a/")] == ["a/1", "a/2"]
    assert [info.key for info in store.list("a")] == ["a/1", "a/2", "ab/3"]
    assert [info.key for info in store.list("a/2")] == ["a/2"]
    assert list(store.list("zzz/")) == []


@pytest.mark.parametrize("good_bytes", [1000, CHUNK_BYTES + 1000], ids=["small", "multipart"])
def test_failed_stream_leaves_nothing_under_the_key(backend: Backend, good_bytes: int) -> None:
    store = backend.store

    with pytest.raises(ConnectionResetError):
        store.put_stream("new/blob", io.BufferedReader(BrokenStream(good_bytes)))
    with pytest.raises(ConnectionResetError):
        store.put_content(io.BufferedReader(BrokenStream(good_bytes)))

    assert not store.exists("new/blob")
    assert list(store.list()) == []
    assert backend.raw_contents() == []


def test_failed_overwrite_keeps_the_old_blob(backend: Backend) -> None:
    store = backend.store
    old = store.put_bytes("k", b"old", content_type="text/plain")
    before = backend.raw_contents()

    with pytest.raises(ConnectionResetError):
        store.put_stream("k", io.BufferedReader(BrokenStream(CHUNK_BYTES + 1)))

    assert store.get_bytes("k") == b"old"
    assert store.stat("k") == old
    assert backend.raw_contents() == before


def test_download_is_atomic(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "out" / "blob.bin"
    data = random_bytes(CHUNK_BYTES + 10, seed=5)
    store.put_bytes("k", data)

    store.download("k", dest)
    assert dest.read_bytes() == data

    monkeypatch.setattr(store, "open", lambda key: io.BufferedReader(BrokenStream(1000)))
    with pytest.raises(ConnectionResetError):
        store.download("k", dest)

    assert dest.read_bytes() == data
    assert list(dest.parent.iterdir()) == [dest]
