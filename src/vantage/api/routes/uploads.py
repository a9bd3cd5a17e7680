"""Upload routes: stream files into the blob store as one upload; read an upload back."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.from_thread
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from vantage.api.deps import SettingsDep, StoreDep
from vantage.api.multipart import MultipartReader, Part, boundary_of
from vantage.api.schemas import problem_responses
from vantage.config import Settings
from vantage.errors import InvalidInputError, PayloadTooLargeError
from vantage.storage.base import BlobStore
from vantage.storage.uploads import (
    IncomingFile,
    Upload,
    UploadLimits,
    read_upload,
    write_upload,
)

#: The form field that carries files.
FILE_FIELD = "file"

router = APIRouter(tags=["uploads"])


class UploadFileInfo(BaseModel):
    """One stored file of an upload."""

    name: str = Field(description="The file name, as sent.")
    size_bytes: int = Field(description="Its length in bytes.")


class UploadRecord(BaseModel):
    """A stored upload and how to use it as a job input."""

    id: str = Field(description="The upload's id.")
    input: str = Field(description="Pass as a job's `input` (upload://<id>).")
    files: list[UploadFileInfo] = Field(description="The stored files, in the order sent.")

    @classmethod
    def of(cls, upload: Upload) -> UploadRecord:
        """The record of ``upload``."""
        return cls(
            id=upload.id,
            input=upload.input,
            files=[UploadFileInfo(name=f.name, size_bytes=f.size_bytes) for f in upload.files],
        )


_MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files (a video, or photos).",
                        }
                    },
                }
            }
        },
    }
}


def limits_of(settings: Settings) -> UploadLimits:
    """The upload limits the settings set."""
    uploads = settings.uploads
    return UploadLimits(uploads.max_file_bytes, uploads.max_request_bytes, uploads.max_files)


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_MULTIPART_BODY,
    responses=problem_responses(401, 413, 415, 422),
)
async def create_upload(request: Request, settings: SettingsDep, store: StoreDep) -> UploadRecord:
    """Stream one or more `file` fields into the blob store as one upload (201).

    Files go to the store while they arrive, never whole in memory. A refused file name (a
    path, '..', control characters, empty) is 422; a file or request over its size limit is
    413. Either way nothing of the upload stays in the store.
    """
    boundary = boundary_of(request.headers.get("content-type"))
    limits = limits_of(settings)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_request_bytes:
        raise _request_too_large(limits)
    body = request.stream()

    async def next_chunk() -> bytes | None:
        return await anext(body, None)

    def chunks() -> Iterator[bytes]:
        received = 0
        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            received += len(chunk)
            if received > limits.max_request_bytes:
                raise _request_too_large(limits)
            if chunk:
                yield chunk

    upload = await anyio.to_thread.run_sync(
        functools.partial(_store_parts, store, MultipartReader(chunks(), boundary), limits)
    )
    return UploadRecord.of(upload)


@router.get("/uploads/{upload_id}", responses=problem_responses(404, 422))
def get_upload(upload_id: str, store: StoreDep) -> UploadRecord:
    """An upload's files."""
    return UploadRecord.of(read_upload(store, upload_id))


def _store_parts(store: BlobStore, reader: MultipartReader, limits: UploadLimits) -> Upload:
    return write_upload(store, _files(reader), limits)


def _files(parts: MultipartReader) -> Iterator[IncomingFile]:
    """The file parts of the body (any other field is refused)."""
    part: Part
    for part in parts:
        if part.field != FILE_FIELD:
            raise InvalidInputError(
                f"unexpected form field {part.field!r}: send files as {FILE_FIELD!r} fields",
                field=part.field,
            )
        if part.filename is None:
            raise InvalidInputError(
                f"{FILE_FIELD}: a {FILE_FIELD!r} field must be a file (with a file name)",
                field=FILE_FIELD,
            )
        yield IncomingFile(part.filename, part.content_type, part.stream)


def _request_too_large(limits: UploadLimits) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the upload is larger than the limit of {limits.max_request_bytes} bytes "
        "(uploads.max_request_bytes)",
        limit_bytes=limits.max_request_bytes,
    )
