"""The blob store: media and artifacts under '/'-separated keys, on local disk or S3.

`open_store` builds the backend that ``settings.storage.backend`` names from an explicit table.
Every backend satisfies the `BlobStore` protocol: atomic writes (streamed, never whole in memory),
content-addressed puts under `content_key`, streaming reads. boto3 is imported only when an S3
store is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vantage.errors import ConfigError
from vantage.storage.base import BlobInfo, BlobStore, content_key, validate_key
from vantage.storage.local import LocalStore

if TYPE_CHECKING:
    from vantage.config import Settings

__all__ = ["BlobInfo", "BlobStore", "LocalStore", "content_key", "open_store", "validate_key"]


def open_store(settings: Settings) -> BlobStore:
    """The blob store that ``settings.storage`` describes.

    Raises:
        ConfigError: the S3 backend is chosen without a bucket.
    """
    return _BACKENDS[settings.storage.backend](settings)


def _open_local(settings: Settings) -> BlobStore:
    return LocalStore(settings.blob_root, settings.storage.chunk_bytes)


def _open_s3(settings: Settings) -> BlobStore:
    from vantage.storage.s3 import S3Store

    storage = settings.storage
    if not storage.s3_bucket:
        raise ConfigError(
            "storage.s3_bucket is required when storage.backend = 's3'", field="storage.s3_bucket"
        )
    return S3Store(
        storage.s3_bucket,
        prefix=storage.s3_prefix,
        endpoint_url=storage.s3_endpoint_url,
        region=storage.s3_region,
        chunk_bytes=storage.chunk_bytes,
    )


_BACKENDS: dict[str, Callable[[Settings], BlobStore]] = {"local": _open_local, "s3": _open_s3}
