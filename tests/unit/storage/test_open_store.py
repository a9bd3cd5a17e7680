"""Choosing a blob store backend from settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vantage.config import Settings, StorageSettings
from vantage.storage import BlobStore, LocalStore, open_store
from vantage.storage.s3 import S3Store


def test_local_backend_lives_in_the_blob_root(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))

    assert isinstance(store, LocalStore)
    assert isinstance(store, BlobStore)
    assert store.root == tmp_path / "blobs"
    assert not store.root.exists()  # nothing happens until the first write


def test_s3_backend_gets_its_settings() -> None:
    storage = StorageSettings(
        backend="s3",
        s3_bucket="media",
        s3_prefix="/site/a/",
        s3_endpoint_url="http://127.0.0.1:9",
        s3_region="eu-west-1",
    )

    store = open_store(Settings(storage=storage))

    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("media", "site/a/")


def test_importing_the_package_does_not_import_boto3() -> None:
    code = "import sys, vantage.storage; assert 'boto3' not in sys.modules, 'boto3 imported'"

    subprocess.run([sys.executable, "-c", code], check=True)
