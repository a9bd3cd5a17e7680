"""A pull-based, streaming ``multipart/form-data`` reader over body chunks.

python-multipart's `MultipartParser` pushes parts' headers and data into callbacks as body bytes
are written to it. `MultipartReader` turns that around: iterating it yields one `Part` at a time
whose ``stream`` pulls body chunks only as it is read, so a blob store can consume a file part
with its usual ``read()`` loop while no more than one body chunk (and the parser's events for
it) is held in memory. Starlette's ``request.form()`` is not used because it spools every file
of the request to temporary files before the endpoint runs, with no size limit.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from vantage.errors import InvalidInputError, UnsupportedMediaTypeError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_READ_BUFFER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Part:
    """One part of the body: its form field name, file name, media type and content."""

    field: str
    filename: str | None
    content_type: str | None
    stream: BinaryIO


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type header.

    Raises:
        UnsupportedMediaTypeError: the body is not multipart/form-data or has no boundary.
    """
    media_type, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary", b"")
    if media_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaTypeError(
            f"expected a multipart/form-data body with a boundary, got {content_type!r}",
            content_type=content_type,
        )
    return boundary


class MultipartReader:
    """The parts of one multipart body, read from ``chunks`` only as far as needed.

    Each part's stream must be read (or left) before the next part is taken; leaving it skips
    the rest of its data.
    """

    def __init__(self, chunks: Iterator[bytes], boundary: bytes) -> None:
        self._chunks = chunks
        self._events: deque[tuple[str, object]] = deque()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._finished = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": lambda: self._events.append(("end", None)),
                "on_end": lambda: self._events.append(("done", None)),
            },
        )
        self._current: _PartStream | None = None

    def __iter__(self) -> Iterator[Part]:
        while True:
            if self._current is not None:
                self._current.skip_rest()
                self._current = None
            kind, value = self._next_event()
            if kind == "done":
                return
            if kind != "headers" or not isinstance(value, dict):
                raise InvalidInputError("malformed multipart body: data outside a part")
            field, filename = _disposition(value.get("content-disposition"))
            self._current = _PartStream(self)
            yield Part(
                field,
                filename,
                value.get("content-type"),
                io.BufferedReader(self._current, _READ_BUFFER_BYTES),
            )

    def _next_event(self) -> tuple[str, object]:
        """The parser's next event, feeding it body chunks until it has one."""
        while not self._events:
            if self._finished:
                raise InvalidInputError("malformed multipart body: it ends before its last part")
            chunk = next(self._chunks, None)
            try:
                if chunk is None:
                    self._finished = True
                    self._parser.finalize()
                else:
                    self._parser.write(chunk)
            except MultipartParseError as exc:
                raise InvalidInputError(f"malformed multipart body: {exc}") from None
        return self._events.popleft()

    # -- parser callbacks --------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_field.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        self._events.append(("headers", self._headers))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", bytes(data[start:end])))


class _PartStream(io.RawIOBase):
    """The data of the reader's current part, pulled from the body as it is read."""

    def __init__(self, reader: MultipartReader) -> None:
        super().__init__()
        self._reader = reader
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending and not self._ended:
            kind, value = self._reader._next_event()
            if kind == "data" and isinstance(value, bytes):
                self._pending = value
            elif kind == "end":
                self._ended = True
            else:
                raise InvalidInputError(f"malformed multipart body: {kind} inside a part")
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def skip_rest(self) -> None:
        """Read and drop whatever of the part is left."""
        while self.readinto(bytearray(_READ_BUFFER_BYTES)):
            pass


def _disposition(header: str | None) -> tuple[str, str | None]:
    """The field name and file name of a part's Content-Disposition header.

    Raises:
        InvalidInputError: the header is missing, is not form-data, or names no field.
    """
    kind, options = parse_options_header(header or "")
    field = options.get(b"name")
    if kind != b"form-data" or field is None:
        raise InvalidInputError(
            "malformed multipart body: a part without 'Content-Disposition: form-data; name=…'"
        )
    filename = options.get(b"filename")
    try:
        # Browsers send names as raw UTF-8; the header was decoded as latin-1 byte for byte.
        decoded = filename.decode("utf-8") if filename is not None else None
        return field.decode("utf-8"), decoded
    except UnicodeDecodeError:
        raise InvalidInputError("a part's field or file name is not UTF-8", field="file") from None
