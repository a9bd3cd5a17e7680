"""Uploaded file sets in the blob store: ids, safe file names, size limits and the manifest.

An upload's files live under ``uploads/<id>/<name>``. Each file is streamed into the store (one
chunk in memory at a time, written atomically by the store); the manifest ``uploads/<id>.json``
is written last and is what makes the upload exist: `read_upload` knows only uploads whose
manifest is there. A failed upload (too large, malformed, the client went away) removes every
file it had already stored before the error goes on, so nothing half-written stays behind.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import time
import unicodedata
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from vantage.errors import (
    BlobNotFoundError,
    InvalidInputError,
    PayloadTooLargeError,
    StorageError,
    UploadNotFoundError,
)
from vantage.storage.base import TEMP_PREFIX

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from vantage.storage.base import BlobStore

SCHEME = "upload://"
MAX_NAME_BYTES = 255  # a file name on every common file system
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class UploadLimits:
    """How much one upload may hold."""

    max_file_bytes: int
    max_request_bytes: int
    max_files: int


@dataclass(frozen=True)
class IncomingFile:
    """One file of an upload as it arrives: its name as sent, media type and content."""

    filename: str
    content_type: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class UploadedFile:
    """One stored file of an upload."""

    name: str
    size_bytes: int
    content_type: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Upload:
    """A committed upload: its id and files."""

    id: str
    files: list[UploadedFile]
    created_at: datetime

    @property
    def input(self) -> str:
        """The job input that names this upload."""
        return f"{SCHEME}{self.id}"

    def as_dict(self) -> dict[str, Any]:
        """The manifest document."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "files": [vars(file) for file in self.files],
        }


def new_upload_id() -> str:
    """A 32-hex-digit id that sorts by creation time (48-bit ms clock + 80 random bits)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def check_upload_id(upload_id: str) -> str:
    """``upload_id`` if it has the form of an upload id.

    Raises:
        InvalidInputError: it does not (32 lowercase hex digits).
    """
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise InvalidInputError(
            f"{upload_id!r} is not an upload id (32 lowercase hex digits)", upload_id=upload_id
        )
    return upload_id


def file_key(upload_id: str, name: str) -> str:
    """The blob key of file ``name`` of an upload."""
    return f"uploads/{upload_id}/{name}"


def manifest_key(upload_id: str) -> str:
    """The blob key of an upload's manifest (written last: the upload's commit)."""
    return f"uploads/{upload_id}.json"


def safe_name(raw: str, *, field: str = "file") -> str:
    """``raw`` as a file name to store, or an error saying why it cannot be one.

    Names are refused rather than rewritten: a client that sends ``../../etc/passwd`` learns
    that it did, instead of finding a file called ``passwd``.

    Raises:
        InvalidInputError: empty, '.' or '..', a path (separator), NUL or another control
            character, a reserved '.tmp-' prefix, or longer than 255 UTF-8 bytes; the error
            names ``field``.
    """
    name = unicodedata.normalize("NFC", raw)
    checks = (
        (not name.strip(), "it is empty"),
        (name == "." or ".." in name, "it is '.' or contains '..'"),
        ("/" in name or "\\" in name, "it contains a path separator"),
        (any(unicodedata.category(c) in {"Cc", "Cf"} for c in name), "it has control characters"),
        (name.startswith(TEMP_PREFIX), f"names starting with {TEMP_PREFIX!r} are reserved"),
        (len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES, "it is over 255 bytes"),
    )
    reason = next((why for broken, why in checks if broken), None)
    if reason is not None:
        raise InvalidInputError(
            f"{field}: file name {raw!r} is refused: {reason}", field=field, filename=raw
        )
    return name


def write_upload(
    store: BlobStore,
    files: Iterable[IncomingFile],
    limits: UploadLimits,
    *,
    upload_id: str | None = None,
) -> Upload:
    """Stream ``files`` into the store as one upload and commit it with its manifest.

    Raises:
        InvalidInputError: a refused file name, a name sent twice, or no file at all.
        PayloadTooLargeError: a file or the whole upload is over its limit.
        Anything ``files`` raises (a malformed body, a client that went away).
        In every case the files stored so far are removed first.
    """
    upload_id = check_upload_id(upload_id or new_upload_id())
    stored: list[UploadedFile] = []
    total = 0
    try:
        for incoming in files:
            name = safe_name(incoming.filename)
            if any(done.name == name for done in stored):
                raise InvalidInputError(f"file: {name!r} is sent twice", field="file")
            if len(stored) >= limits.max_files:
                raise PayloadTooLargeError(
                    f"an upload holds at most {limits.max_files} files (uploads.max_files)",
                    limit=limits.max_files,
                )
            limited = _Limited(incoming.stream, name, limits, already=total)
            info = store.put_stream(
                file_key(upload_id, name), io.BufferedReader(limited), incoming.content_type
            )
            stored.append(UploadedFile(name, info.size_bytes, info.content_type, info.sha256))
            total += info.size_bytes
        if not stored:
            raise InvalidInputError("no files: send one or more 'file' fields", field="file")
        upload = Upload(upload_id, stored, datetime.now(UTC))
        store.put_bytes(
            manifest_key(upload_id),
            json.dumps(upload.as_dict()).encode(),
            "application/json",
        )
    except BaseException:
        for done in stored:
            with suppress(StorageError):  # the first failure is the one to report
                store.delete(file_key(upload_id, done.name))
        raise
    return upload


def read_upload(store: BlobStore, upload_id: str) -> Upload:
    """The committed upload ``upload_id``.

    Raises:
        InvalidInputError: the id is malformed.
        UploadNotFoundError: no committed upload has that id.
    """
    check_upload_id(upload_id)
    try:
        document = json.loads(store.get_bytes(manifest_key(upload_id)))
    except BlobNotFoundError:
        raise UploadNotFoundError(f"no upload with id {upload_id!r}", upload_id=upload_id) from None
    return Upload(
        id=document["id"],
        files=[UploadedFile(**file) for file in document["files"]],
        created_at=datetime.fromisoformat(document["created_at"]),
    )


def sweep_abandoned_uploads(store: BlobStore, *, older_than_s: float) -> list[str]:
    """Delete the files of uploads that never got their manifest; returns their ids.

    A request that dies mid-upload (the server killed, the machine lost) cannot clean up after
    itself. Its files are told from an upload still in progress by age: only uploads without a
    manifest whose newest file was written more than ``older_than_s`` ago are removed.
    """
    newest: dict[str, datetime | None] = {}
    committed: set[str] = set()
    for info in store.list("uploads/"):
        head, _, rest = info.key.removeprefix("uploads/").partition("/")
        if not rest:  # uploads/<id>.json: a manifest
            committed.add(head.removesuffix(".json"))
            continue
        seen = newest.get(head)
        written = info.modified_at
        newest[head] = written if seen is None or (written and written > seen) else seen
    cutoff = datetime.now(UTC).timestamp() - older_than_s
    abandoned = [
        upload_id
        for upload_id, written in sorted(newest.items())
        if upload_id not in committed and written is not None and written.timestamp() < cutoff
    ]
    for upload_id in abandoned:
        for info in list(store.list(f"uploads/{upload_id}/")):
            with suppress(BlobNotFoundError):
                store.delete(info.key)
    return abandoned


class _Limited(io.RawIOBase):
    """A file's stream that fails once the file or the whole upload goes over its limit."""

    def __init__(self, stream: BinaryIO, name: str, limits: UploadLimits, *, already: int) -> None:
        super().__init__()
        self._stream = stream
        self._name = name
        self._limits = limits
        self._already = already
        self.size_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        # Straight into the caller's buffer: no copy of each chunk on the way.
        size = cast(io.BufferedIOBase, self._stream).readinto(view)
        self.size_bytes += size
        if self.size_bytes > self._limits.max_file_bytes:
            raise PayloadTooLargeError(
                f"file {self._name!r} is larger than the limit of "
                f"{self._limits.max_file_bytes} bytes (uploads.max_file_bytes)",
                limit_bytes=self._limits.max_file_bytes,
                filename=self._name,
            )
        if self._already + self.size_bytes > self._limits.max_request_bytes:
            raise PayloadTooLargeError(
                f"the upload is larger than the limit of {self._limits.max_request_bytes} bytes "
                "(uploads.max_request_bytes)",
                limit_bytes=self._limits.max_request_bytes,
            )
        return size
