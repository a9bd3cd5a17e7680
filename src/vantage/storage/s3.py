"""`S3Store`: blobs as objects in an S3 (or S3-compatible) bucket, under a key prefix.

A stream that fits in one chunk goes up in one ``PutObject``; a longer one in a multipart
upload that is aborted if anything fails, so no object appears under the key. The SHA-256 of a
blob is kept in the ``sha256`` user metadata whenever it is known before the upload starts:
for single-request puts and for content-addressed puts, which spool the content to a local temp
file (in memory up to one chunk) to learn their key first. Multipart `put_stream` blobs
therefore report ``sha256=None`` from `stat`.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from vantage.errors import BlobNotFoundError, ConfigError, StorageError
from vantage.storage.base import (
    DEFAULT_CONTENT_TYPE,
    BlobInfo,
    content_key,
    validate_key,
    validate_prefix,
)
from vantage.storage.streaming import atomic_write, iter_chunks

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest multipart part (all but the last)
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Store:
    """A `BlobStore` in an S3 bucket; keys are stored as ``<prefix>/<key>``."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        chunk_bytes: int = 8 * 1024 * 1024,
        client: S3Client | None = None,
    ) -> None:
        if chunk_bytes < MIN_PART_BYTES:
            raise ConfigError(
                f"S3 chunk_bytes must be at least {MIN_PART_BYTES} (got {chunk_bytes})",
                field="storage.chunk_bytes",
            )
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.chunk_bytes = chunk_bytes
        self._client = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> BlobInfo:
        return self._upload(validate_key(key), io.BytesIO(data), content_type)

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> BlobInfo:
        return self._upload(validate_key(key), stream, content_type)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> BlobInfo:
        validate_key(key)
        with path.open("rb") as stream:
            return self._upload(key, stream, content_type)

    def put_content(self, content: BinaryIO | bytes, content_type: str | None = None) -> BlobInfo:
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        with tempfile.SpooledTemporaryFile(max_size=self.chunk_bytes) as spool:
            digest = hashlib.sha256()
            for chunk in iter_chunks(stream, self.chunk_bytes):
                digest.update(chunk)
                spool.write(chunk)
            key = content_key(digest.hexdigest())
            with suppress(BlobNotFoundError):
                return self.stat(key)
            spool.seek(0)
            return self._upload(key, spool, content_type, sha256=digest.hexdigest())

    def open(self, key: str) -> BinaryIO:
        with self._errors(validate_key(key)):
            body = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
        return io.BufferedReader(_BodyReader(body, key, self._where(key)))

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as blob:
            return blob.read()

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except BlobNotFoundError:
            return False
        return True

    def stat(self, key: str) -> BlobInfo:
        with self._errors(validate_key(key)):
            head = self._client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        return BlobInfo(
            key, head["ContentLength"], head["Metadata"].get("sha256"), head.get("ContentType")
        )

    def delete(self, key: str) -> None:
        with self._errors(validate_key(key)):
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        validate_prefix(prefix)
        return self._list(prefix)

    def download(self, key: str, dest: Path) -> None:
        with self.open(key) as blob:
            atomic_write(dest, iter_chunks(blob, self.chunk_bytes))

    def _list(self, prefix: str) -> Iterator[BlobInfo]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        with _s3_errors(None, self._where(prefix)):
            for page in pages:
                for item in page.get("Contents", []):
                    yield BlobInfo(
                        item["Key"].removeprefix(self.prefix),
                        item["Size"],
                        None,
                        None,
                        modified_at=_utc(item.get("LastModified")),
                    )

    def _upload(
        self, key: str, stream: IO[bytes], content_type: str | None, sha256: str | None = None
    ) -> BlobInfo:
        """Upload ``stream``: one request if it fits in a chunk, else a multipart upload."""
        content_type = content_type or DEFAULT_CONTENT_TYPE
        chunks = iter_chunks(stream, self.chunk_bytes)
        first = next(chunks, b"")
        with self._errors(key):
            if len(first) < self.chunk_bytes:
                sha256 = hashlib.sha256(first).hexdigest()
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=self.prefix + key,
                    Body=first,
                    ContentType=content_type,
                    Metadata={"sha256": sha256},
                )
                return BlobInfo(key, len(first), sha256, content_type)
            return self._upload_parts(key, itertools.chain([first], chunks), content_type, sha256)

    def _upload_parts(
        self, key: str, chunks: Iterable[bytes], content_type: str, sha256: str | None
    ) -> BlobInfo:
        """Upload ``chunks`` as the parts of one multipart upload, aborting it on any failure."""
        upload_id = self._client.create_multipart_upload(
            Bucket=self.bucket,
            Key=self.prefix + key,
            ContentType=content_type,
            Metadata={"sha256": sha256} if sha256 else {},
        )["UploadId"]
        digest = hashlib.sha256()
        size_bytes = 0
        parts: list[CompletedPartTypeDef] = []
        try:
            for number, chunk in enumerate(chunks, start=1):
                part = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=self.prefix + key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                )
                parts.append({"ETag": part["ETag"], "PartNumber": number})
                digest.update(chunk)
                size_bytes += len(chunk)
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.prefix + key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with suppress(BotoCoreError, ClientError):  # the first failure is the one to report
                self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.prefix + key, UploadId=upload_id
                )
            raise
        return BlobInfo(key, size_bytes, digest.hexdigest(), content_type)

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def _errors(self, key: str) -> AbstractContextManager[None]:
        return _s3_errors(key, self._where(key))


class _BodyReader(io.RawIOBase):
    """An S3 response body as a raw stream whose failures are `StorageError`s."""

    def __init__(self, body: StreamingBody, key: str, where: str) -> None:
        super().__init__()
        self._body = body
        self._key = key
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        with _s3_errors(self._key, self._where):
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


@contextmanager
def _s3_errors(key: str | None, where: str) -> Iterator[None]:
    """Raise `BlobNotFoundError` for a missing object and `StorageError` for other failures."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code in _MISSING_CODES:
            raise BlobNotFoundError(f"no blob under key {key!r}", key=key) from None
        raise StorageError(
            f"S3 {exc.operation_name} on {where} failed: {code} {error.get('Message', '')}",
            key=key,
        ) from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 request on {where} failed: {exc}", key=key) from exc


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
