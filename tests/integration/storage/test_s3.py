"""What `S3Store` does beyond the shared contract: prefixes, multipart, error mapping."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import boto3
import pytest
from mypy_boto3_s3 import S3Client

from vantage.errors import ConfigError, StorageError
from vantage.storage.s3 import S3Store

from .harness import CHUNK_BYTES, random_bytes


@pytest.fixture
def client(moto_endpoint: str) -> S3Client:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(client: S3Client) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def test_keys_live_under_the_prefix(client: S3Client, bucket: str) -> None:
    store = S3Store(bucket, prefix="/site/", client=client)

    store.put_bytes("a/b", b"x")

    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["site/a/b"]
    assert [info.key for info in store.list("a/")] == ["a/b"]


def test_long_streams_go_up_in_parts(client: S3Client, bucket: str) -> None:
    store = S3Store(bucket, client=client, chunk_bytes=CHUNK_BYTES)

    store.put_stream("big", io.BytesIO(random_bytes(2 * CHUNK_BYTES + 1)))
    store.put_stream("small", io.BytesIO(b"x"))

    assert client.head_object(Bucket=bucket, Key="big")["ETag"].endswith('-3"')
    assert "-" not in client.head_object(Bucket=bucket, Key="small")["ETag"]


def test_a_missing_bucket_is_a_storage_error(client: S3Client) -> None:
    store = S3Store("no-such-bucket", client=client)

    with pytest.raises(StorageError, match="NoSuchBucket"):
        store.put_bytes("k", b"x")
    with pytest.raises(StorageError, match="NoSuchBucket"):
        list(store.list())


def test_an_unreachable_endpoint_is_a_storage_error() -> None:
    store = S3Store("b", endpoint_url="http://127.0.0.1:9", client=None)

    with pytest.raises(StorageError):
        store.exists("k")


def test_chunks_below_the_s3_part_minimum_are_refused(client: S3Client) -> None:
    with pytest.raises(ConfigError, match="at least"):
        S3Store("b", chunk_bytes=1024, client=client)
