"""Key rules and the content-addressed key layout."""

from __future__ import annotations

import hashlib

import pytest

from vantage.errors import InvalidInputError, InvalidKeyError
from vantage.storage import content_key, validate_key
from vantage.storage.base import validate_prefix

GOOD_KEYS = [
    "a",
    "media/2024/clip.mp4",
    "sha256/ab/" + "ab" * 32,
    "with space/and-dash_under.score",
    "unicodé/ключ/鍵",
    "...",
    "a/.hidden",
    "x" * 1024,
]

BAD_KEYS = {
    "": "empty",
    "/abs/path": "starts with '/'",
    "a/../b": "'.' or '..' segment",
    "..": "'.' or '..' segment",
    "a/./b": "'.' or '..' segment",
    "a//b": "empty segment",
    "a/": "empty segment",
    "a\\b": "backslash",
    "a\nb": "control character",
    "a\x00b": "control character",
    "a\x7fb": "control character",
    "a\x85b": "control character",
    "x" * 1025: "over 1024",
    "é" * 513: "over 1024",  # 1026 UTF-8 bytes
    "a\ud800b": "not valid Unicode",
    "a/.tmp-123": "reserved",
}


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_valid_keys_pass(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(("key", "reason"), BAD_KEYS.items())
def test_invalid_keys_name_the_key_and_the_rule(key: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        validate_key(key)

    assert caught.value.fields == {"key": key}
    assert repr(key) in str(caught.value)
    assert reason in str(caught.value)
    assert caught.value.http_status == 422


@pytest.mark.parametrize("prefix", ["", "a", "a/", "media/2024/c"])
def test_valid_prefixes_pass(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["/", "../", "a//", "/a"])
def test_invalid_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(InvalidKeyError):
        validate_prefix(prefix)


def test_content_key_layout() -> None:
    digest = hashlib.sha256(b"").hexdigest()

    key = content_key(digest)

    assert key == f"sha256/e3/{digest}"
    assert key.split("/") == ["sha256", digest[:2], digest]
    assert validate_key(key) == key


@pytest.mark.parametrize("digest", ["", "ab", "E3" * 32, "g" * 64, "a" * 65])
def test_content_key_rejects_non_digests(digest: str) -> None:
    with pytest.raises(InvalidInputError):
        content_key(digest)
