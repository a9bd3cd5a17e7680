"""What `LocalStore` does beyond the shared contract: its layout, sidecars and temp files."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from vantage.errors import StorageError
from vantage.storage import BlobInfo, LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "blobs", chunk_bytes=4)


def test_layout_is_data_plus_sidecar(store: LocalStore) -> None:
    store.put_bytes("a/b.txt", b"hello", content_type="text/plain")

    assert (store.root / "data" / "a" / "b.txt").read_bytes() == b"hello"
    sidecar = json.loads((store.root / "meta" / "a" / "b.txt").read_text())
    assert sidecar == {
        "inode": (store.root / "data" / "a" / "b.txt").stat().st_ino,
        "sha256": hashlib.sha256(b"hello").hexdigest(),
        "content_type": "text/plain",
    }


def test_a_stale_sidecar_is_ignored_not_believed(store: LocalStore) -> None:
    store.put_bytes("k", b"old", content_type="text/plain")
    # As if a crash hit between a new blob's os.replace and its sidecar: the sidecar is stale.
    temp = store.root / "data" / "replacement"
    temp.write_bytes(b"other")
    os.replace(temp, store.root / "data" / "k")

    assert store.stat("k") == BlobInfo("k", 5, None, None)


def test_list_skips_temp_files_and_sidecars(store: LocalStore) -> None:
    store.put_bytes("a/1", b"1")
    (store.root / "data" / "a" / ".tmp-inflight").write_bytes(b"half")

    assert [info.key for info in store.list()] == ["a/1"]


def test_blob_and_folder_under_one_name_is_a_storage_error(store: LocalStore) -> None:
    store.put_bytes("a", b"file")

    with pytest.raises(StorageError):
        store.put_stream("a/b", io.BytesIO(b"child"))

    assert store.get_bytes("a") == b"file"
    assert [info.key for info in store.list()] == ["a"]
