"""The blob store contract: the `BlobStore` protocol, `BlobInfo` and the rules for keys."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from vantage.errors import InvalidInputError, InvalidKeyError

MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes
TEMP_PREFIX = ".tmp-"  # names of in-flight writes; no key segment may start with it
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # recorded when a put names no content type

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BlobInfo:
    """What a store knows about one blob.

    Attributes:
        key: the blob's key.
        size_bytes: its length.
        sha256: hex digest of its content, or None where the store did not record one.
        content_type: its media type, or None where the store does not know it.
        modified_at: when it was written (UTC), where the store said (listings do).
    """

    key: str
    size_bytes: int
    sha256: str | None
    content_type: str | None
    modified_at: datetime | None = None


@runtime_checkable
class BlobStore(Protocol):
    """A flat namespace of immutable-once-written blobs under '/'-separated keys.

    Every method validates its key with `validate_key` first, so an invalid key raises
    `InvalidKeyError` and touches nothing. A write is all or nothing: until it returns, readers
    see the previous blob (or none), and a write that fails leaves no trace. A missing key
    raises `BlobNotFoundError`; any other backend failure raises `StorageError`.
    """

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> BlobInfo:
        """Store ``data`` under ``key``, replacing any blob there."""
        ...

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> BlobInfo:
        """Store everything read from ``stream`` under ``key``, one chunk in memory at a time."""
        ...

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> BlobInfo:
        """Store the file at ``path`` under ``key``."""
        ...

    def put_content(self, content: BinaryIO | bytes, content_type: str | None = None) -> BlobInfo:
        """Store ``content`` under its `content_key`; storing it again changes nothing.

        Returns:
            The stored blob; when it was already there, as first stored (first content type).
        """
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A binary stream over the blob, to use in a ``with`` block."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole blob in memory."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        ...

    def stat(self, key: str) -> BlobInfo:
        """What the store knows about the blob under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob under ``key``; removing a missing blob is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Blobs whose key starts with ``prefix``, in key order.

        Only ``key`` and ``size_bytes`` are filled in (an S3 listing carries no metadata);
        call `stat` for the rest.
        """
        ...

    def download(self, key: str, dest: Path) -> None:
        """Copy the blob to the file ``dest`` atomically: ``dest`` is whole or untouched."""
        ...


def validate_key(key: str) -> str:
    """Check that ``key`` is a valid blob key and return it.

    A key is a relative, '/'-separated path of at most 1024 UTF-8 bytes with no empty, '.' or
    '..' segment, no backslash and no control character; segments starting with '.tmp-' are
    reserved for in-flight writes.

    Raises:
        InvalidKeyError: the key breaks a rule; the message names the key and the rule.
    """
    reason = _key_problem(key)
    if reason is not None:
        raise InvalidKeyError(f"invalid blob key {key!r}: {reason}", key=key)
    return key


def validate_prefix(prefix: str) -> str:
    """Check that ``prefix`` (a key, a key with a trailing '/', or '') can start keys."""
    if prefix:
        validate_key(prefix.removesuffix("/"))
    return prefix


def content_key(sha256: str) -> str:
    """The content-addressed key of a blob: ``sha256/<first 2 hex>/<64 hex>``.

    Raises:
        InvalidInputError: ``sha256`` is not a lowercase hex SHA-256 digest.
    """
    if not _SHA256_HEX.fullmatch(sha256):
        raise InvalidInputError(f"not a SHA-256 hex digest: {sha256!r}", sha256=sha256)
    return f"sha256/{sha256[:2]}/{sha256}"


def _key_problem(key: str) -> str | None:
    try:
        size_bytes = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode"
    segments = key.split("/")
    checks = (
        (not key, "it is empty"),
        (size_bytes > MAX_KEY_BYTES, f"it is {size_bytes} bytes long, over {MAX_KEY_BYTES}"),
        (key.startswith("/"), "it starts with '/'"),
        ("\\" in key, "it contains a backslash"),
        (any(unicodedata.category(c) == "Cc" for c in key), "it contains a control character"),
        ("" in segments, "it has an empty segment"),
        ("." in segments or ".." in segments, "it has a '.' or '..' segment"),
        (
            any(segment.startswith(TEMP_PREFIX) for segment in segments),
            f"segments starting with {TEMP_PREFIX!r} are reserved",
        ),
    )
    return next((reason for broken, reason in checks if broken), None)
