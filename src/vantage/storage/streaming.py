"""Chunked reads and atomic local file writes, shared by the blob store backends."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from vantage.errors import StorageError
from vantage.storage.base import TEMP_PREFIX


@dataclass(frozen=True)
class TempFile:
    """A fully written, fsynced temp file and what was written to it."""

    path: Path
    size_bytes: int
    sha256: str
    inode: int  # kept by os.replace, so it identifies the file after the move too


def iter_chunks(stream: IO[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """Read ``stream`` in chunks of exactly ``chunk_bytes``, the last one shorter, none empty.

    Short reads are topped up, so every chunk but the last is full (S3 multipart parts need it).
    """
    while True:
        chunk = bytearray()
        while len(chunk) < chunk_bytes:
            piece = stream.read(chunk_bytes - len(chunk))
            if not piece:
                break
            chunk += piece
        if chunk:
            yield bytes(chunk)
        if len(chunk) < chunk_bytes:
            return


def write_temp(folder: Path, chunks: Iterable[bytes]) -> TempFile:
    """Write ``chunks`` to a new ``.tmp-<uuid>`` file in ``folder`` and fsync it.

    The temp file is removed again if anything fails. An error raised by ``chunks`` (the
    caller's source) propagates as it is; a failure to write raises `StorageError`.
    """
    path = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    with _write_errors(path):
        folder.mkdir(parents=True, exist_ok=True)
        out = path.open("xb")
    digest = hashlib.sha256()
    size_bytes = 0
    try:
        with out:
            for chunk in chunks:
                with _write_errors(path):
                    out.write(chunk)
                digest.update(chunk)
                size_bytes += len(chunk)
            with _write_errors(path):
                out.flush()
                os.fsync(out.fileno())
                inode = os.fstat(out.fileno()).st_ino
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return TempFile(path, size_bytes, digest.hexdigest(), inode)


def commit(temp: Path, dest: Path) -> None:
    """Move ``temp`` onto ``dest`` in one step and make the rename durable.

    Raises:
        StorageError: the move failed; ``temp`` has been removed.
    """
    try:
        with _write_errors(dest):
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    with _write_errors(dest.parent):
        folder = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def atomic_write(dest: Path, chunks: Iterable[bytes]) -> TempFile:
    """Write ``chunks`` to ``dest`` so that ``dest`` is either whole or as it was before.

    Returns:
        What was written; its ``path`` is now ``dest``.
    """
    temp = write_temp(dest.parent, chunks)
    commit(temp.path, dest)
    return TempFile(dest, temp.size_bytes, temp.sha256, temp.inode)


def write_json_atomic(dest: Path, document: Any) -> None:
    """Write ``document`` as indented JSON to ``dest``, whole or not at all (`atomic_write`)."""
    text = json.dumps(document, indent=2, default=str) + "\n"
    atomic_write(dest, [text.encode("utf-8")])


@contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc}", path=str(path)) from exc
