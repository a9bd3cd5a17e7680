"""`LocalStore`: blobs as plain files under one folder, every write atomic.

Layout under ``root``: ``data/<key>`` holds the blob and ``meta/<key>`` a JSON sidecar with its
SHA-256 and content type. A write streams into a ``.tmp-<uuid>`` file beside its target, fsyncs
it, writes the sidecar, then ``os.replace``s the blob into place, so readers see the old blob or
the new one, never part of one. The sidecar records the inode of the blob it describes; when a
crash or a racing writer leaves it describing another file it is ignored and `stat` reports the
SHA-256 and content type as unknown (None) rather than wrong.

Files cannot be folders too, so unlike S3 this store cannot hold both ``a`` and ``a/b``: the
second write fails with `StorageError`.
"""

from __future__ import annotations

import io
import json
import os
import stat as stat_mode
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from vantage.errors import BlobNotFoundError, StorageError
from vantage.storage.base import (
    DEFAULT_CONTENT_TYPE,
    TEMP_PREFIX,
    BlobInfo,
    content_key,
    validate_key,
    validate_prefix,
)
from vantage.storage.streaming import TempFile, atomic_write, commit, iter_chunks, write_temp

# A path component that is a file, or a key that is a folder: no blob is there.
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


class LocalStore:
    """A `BlobStore` in a local folder (created on the first write)."""

    def __init__(self, root: Path, chunk_bytes: int = 8 * 1024 * 1024) -> None:
        self.root = root
        self.chunk_bytes = chunk_bytes
        self._data = root / "data"
        self._meta = root / "meta"

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> BlobInfo:
        return self.put_stream(key, io.BytesIO(data), content_type)

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> BlobInfo:
        path = self._data / validate_key(key)
        temp = write_temp(path.parent, iter_chunks(stream, self.chunk_bytes))
        return self._commit(temp, key, content_type)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> BlobInfo:
        validate_key(key)
        with path.open("rb") as stream:
            return self.put_stream(key, stream, content_type)

    def put_content(self, content: BinaryIO | bytes, content_type: str | None = None) -> BlobInfo:
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        # The key is known only once the content is hashed; stage beside the content blobs.
        temp = write_temp(self._data / "sha256", iter_chunks(stream, self.chunk_bytes))
        key = content_key(temp.sha256)
        if (self._data / key).is_file():
            temp.path.unlink(missing_ok=True)
            return self.stat(key)
        return self._commit(temp, key, content_type)

    def open(self, key: str) -> BinaryIO:
        path = self._data / validate_key(key)
        with self._os_errors(key):
            return path.open("rb")

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as blob:
            return blob.read()

    def exists(self, key: str) -> bool:
        return (self._data / validate_key(key)).is_file()

    def stat(self, key: str) -> BlobInfo:
        path = self._data / validate_key(key)
        with self._os_errors(key):
            status = path.stat()
        if not stat_mode.S_ISREG(status.st_mode):
            raise BlobNotFoundError(f"no blob under key {key!r}", key=key)
        sha256, content_type = self._read_sidecar(key, status.st_ino)
        return BlobInfo(key, status.st_size, sha256, content_type)

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._os_errors(key):
            for path in (self._data / key, self._meta / key):
                with suppress(*_MISSING):
                    path.unlink()

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        validate_prefix(prefix)
        return self._list(prefix)

    def download(self, key: str, dest: Path) -> None:
        with self.open(key) as blob:
            atomic_write(dest, iter_chunks(blob, self.chunk_bytes))

    def _list(self, prefix: str) -> Iterator[BlobInfo]:
        # Every key starting with "a/b/c" lies in the folder "a/b".
        start = self._data / prefix.rpartition("/")[0]
        keys = [
            Path(folder, name).relative_to(self._data).as_posix()
            for folder, _, names in os.walk(start)
            for name in names
            if not name.startswith(TEMP_PREFIX)
        ]
        for key in sorted(k for k in keys if k.startswith(prefix)):
            with suppress(FileNotFoundError):  # deleted since the walk
                status = (self._data / key).stat()
                written = datetime.fromtimestamp(status.st_mtime, UTC)
                yield BlobInfo(key, status.st_size, None, None, modified_at=written)

    def _commit(self, temp: TempFile, key: str, content_type: str | None) -> BlobInfo:
        info = BlobInfo(key, temp.size_bytes, temp.sha256, content_type or DEFAULT_CONTENT_TYPE)
        sidecar = {"inode": temp.inode, "sha256": info.sha256, "content_type": info.content_type}
        try:
            atomic_write(self._meta / key, [json.dumps(sidecar).encode()])
        except BaseException:
            temp.path.unlink(missing_ok=True)
            raise
        commit(temp.path, self._data / key)
        return info

    def _read_sidecar(self, key: str, inode: int) -> tuple[str | None, str | None]:
        """The blob's SHA-256 and content type, or (None, None) if the sidecar is not its own."""
        try:
            sidecar = json.loads((self._meta / key).read_bytes())
        except (OSError, ValueError):
            return None, None
        if sidecar.get("inode") != inode:
            return None, None
        return sidecar.get("sha256"), sidecar.get("content_type")

    @contextmanager
    def _os_errors(self, key: str) -> Iterator[None]:
        """Raise `BlobNotFoundError` for a missing file and `StorageError` for other OS errors."""
        try:
            yield
        except OSError as exc:
            if isinstance(exc, _MISSING):
                raise BlobNotFoundError(f"no blob under key {key!r}", key=key) from None
            raise StorageError(
                f"local blob store at {self.root} failed on {key!r}: {exc}",
                key=key,
                path=str(self.root),
            ) from exc
