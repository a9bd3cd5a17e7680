"""Helpers for the blob store contract: the backend under test and streams that fail."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vantage.storage import BlobStore

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_BYTES = 5 * 1024 * 1024  # the smallest chunk S3 multipart allows


@dataclass(frozen=True)
class Backend:
    """A store under test and a look at everything its backend holds, finished or not."""

    store: BlobStore
    raw_contents: Callable[[], list[str]]


class BrokenStream(io.RawIOBase):
    """Yields ``good_bytes`` of data, then fails like a dropped upload."""

    def __init__(self, good_bytes: int) -> None:
        super().__init__()
        self.left = good_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self.left == 0:
            raise ConnectionResetError("client went away")
        view = memoryview(buffer).cast("B")
        size = min(len(view), self.left, 64 * 1024)
        view[:size] = b"\x01" * size
        self.left -= size
        return size


def random_bytes(size_bytes: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size_bytes)
