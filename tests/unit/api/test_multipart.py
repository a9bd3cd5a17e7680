"""The streaming multipart reader: parts and their headers, lazy reads, malformed bodies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vantage.api.multipart import MultipartReader, boundary_of
from vantage.errors import InvalidInputError, UnsupportedMediaTypeError

BOUNDARY = b"----b0undary"


def encode(*parts: tuple[str, str | None, bytes], content_type: str = "image/jpeg") -> bytes:
    out = b""
    for field, filename, content in parts:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += b"--" + BOUNDARY + f"\r\nContent-Disposition: {disposition}\r\n".encode()
        out += f"Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 7, 64 * 1024])
def test_parts_come_out_whole_however_the_body_is_cut(size: int) -> None:
    photo = bytes(range(256)) * 300
    body = encode(("file", "a.jpg", photo), ("file", "été.jpg", b""), ("note", None, b"hi"))

    parts = [
        (part.field, part.filename, part.content_type, part.stream.read())
        for part in MultipartReader(pieces(body, size), BOUNDARY)
    ]

    assert parts == [
        ("file", "a.jpg", "image/jpeg", photo),
        ("file", "été.jpg", "image/jpeg", b""),
        ("note", None, "image/jpeg", b"hi"),
    ]


def test_the_body_is_pulled_only_as_far_as_it_is_read() -> None:
    body = encode(("file", "a.bin", b"x" * 1_000_000), ("file", "b.bin", b"y"))
    pulled = 0

    def chunks() -> Iterator[bytes]:
        nonlocal pulled
        for piece in pieces(body, 10_000):
            pulled += 1
            yield piece

    parts = iter(MultipartReader(chunks(), BOUNDARY))
    first = next(parts)
    assert first.stream.read(5_000) == b"x" * 5_000
    assert pulled <= 2  # not the 100 chunks of the body
    second = next(parts)  # the rest of the first part is skipped on the way
    assert second.filename == "b.bin"
    assert second.stream.read() == b"y"
    assert next(parts, None) is None


@pytest.mark.parametrize(
    "body",
    [
        encode(("file", "a.jpg", b"abc"))[:-20],
        b"no boundary at all",
        b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n\r\nabc\r\n--" + BOUNDARY + b"--\r\n",
    ],
    ids=["truncated", "garbage", "no-disposition"],
)
def test_malformed_bodies_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInputError, match="malformed multipart"):
        for part in MultipartReader(pieces(body, 16), BOUNDARY):
            part.stream.read()


def test_the_boundary_comes_from_the_content_type() -> None:
    assert boundary_of('multipart/form-data; boundary="abc d"') == b"abc d"
    for bad in (None, "application/json", "multipart/form-data", "multipart/mixed; boundary=x"):
        with pytest.raises(UnsupportedMediaTypeError):
            boundary_of(bad)
