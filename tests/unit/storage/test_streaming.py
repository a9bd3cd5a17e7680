"""Chunked reads and atomic file writes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from vantage.errors import StorageError
from vantage.storage.streaming import atomic_write, iter_chunks, write_temp


class TrickleStream(io.BytesIO):
    """Returns at most ``step`` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self.step = step

    def read(self, size: int | None = -1, /) -> bytes:
        return super().read(self.step if size is None or size < 0 else min(size, self.step))


@pytest.mark.parametrize("size_bytes", [0, 1, 9, 10, 11, 35])
def test_chunks_are_full_except_the_last(size_bytes: int) -> None:
    data = bytes(range(size_bytes))

    chunks = list(iter_chunks(TrickleStream(data, step=3), chunk_bytes=10))

    assert b"".join(chunks) == data
    assert all(len(chunk) == 10 for chunk in chunks[:-1])
    assert all(chunks)
    assert len(chunks) == -(-size_bytes // 10)


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    dest = tmp_path / "deep" / "file.bin"
    atomic_write(dest, [b"old"])

    written = atomic_write(dest, [b"ne", b"w"])

    assert dest.read_bytes() == b"new"
    assert written.path == dest
    assert (written.size_bytes, written.sha256) == (3, hashlib.sha256(b"new").hexdigest())
    assert written.inode == dest.stat().st_ino
    assert list(dest.parent.iterdir()) == [dest]


def test_failing_source_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):  # the source's own error, not a StorageError
        atomic_write(dest, chunks())

    assert dest.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [dest]


def test_unwritable_folder_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")

    with pytest.raises(StorageError) as caught:
        write_temp(blocker / "sub", [b"x"])

    assert str(blocker / "sub") in caught.value.fields["path"]
