"""Upload file names are kept when safe and refused, never rewritten, when not."""

from __future__ import annotations

import pytest

from vantage.errors import InvalidInputError
from vantage.storage.uploads import (
    check_upload_id,
    file_key,
    manifest_key,
    new_upload_id,
    safe_name,
)


@pytest.mark.parametrize(
    "name", ["clip.mp4", "IMG 0001.HEIC", "été.jpg", "a-b_c.d.jpeg", "...x"[2:], "x" * 255]
)
def test_safe_names_are_kept(name: str) -> None:
    assert safe_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "..",
        ".",
        "a..b.jpg",
        "/etc/passwd",
        "dir/a.jpg",
        "C:\\temp\\a.jpg",
        "",
        "   ",
        "a\x00.jpg",
        "a\nb.jpg",
        "a\u202eb.jpg",  # right-to-left override: a name that lies about its suffix
        ".tmp-123",
        "é" * 200,  # 400 UTF-8 bytes
    ],
)
def test_unsafe_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        safe_name(name, field="file")
    assert caught.value.fields["field"] == "file"
    assert caught.value.fields["filename"] == name
    assert str(caught.value).startswith("file: ")


def test_upload_ids_and_keys() -> None:
    upload_id = new_upload_id()
    assert check_upload_id(upload_id) == upload_id
    assert new_upload_id() > upload_id or len(new_upload_id()) == 32
    assert file_key(upload_id, "a.jpg") == f"uploads/{upload_id}/a.jpg"
    assert manifest_key(upload_id) == f"uploads/{upload_id}.json"
    for bad in ("", "../x", "A" * 32, "0" * 31):
        with pytest.raises(InvalidInputError):
            check_upload_id(bad)
