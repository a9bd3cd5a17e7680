"""Multipart bodies written by hand, so tests control every byte (names httpx would clean up)."""

from __future__ import annotations

from collections.abc import Iterator

BOUNDARY = "vantage-test-boundary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part_head(field: str, filename: str | None, content_type: str = "video/mp4") -> bytes:
    """The delimiter and headers of one part."""
    disposition = f'form-data; name="{field}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename is not None:
        head += f"Content-Type: {content_type}\r\n"
    return (head + "\r\n").encode("utf-8")


def body(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A whole multipart body of (field, filename, content) parts."""
    out = b"".join(part_head(f, n) + content + b"\r\n" for f, n, content in parts)
    return out + f"--{BOUNDARY}--\r\n".encode()


def streamed(
    filename: str, size_bytes: int, *more: tuple[str, int], piece_bytes: int = 256 * 1024
) -> Iterator[bytes]:
    """A body of files of the given sizes, made on the fly (never whole in memory)."""
    for name, size in ((filename, size_bytes), *more):
        yield part_head("file", name)
        sent = 0
        while sent < size:
            piece = min(piece_bytes, size - sent)
            yield bytes([sent // piece_bytes % 251]) * piece
            sent += piece
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()
