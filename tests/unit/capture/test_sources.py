"""Job input forms: what parses, what is refused at submit, and names for downloads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vantage.capture.params import ReconstructParams
from vantage.capture.sources import InputRef, _http_file_name, parse_input
from vantage.errors import InvalidInputError, InvalidParamsError

UPLOAD_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/srv/capture.mp4", InputRef("path", "/srv/capture.mp4")),
        ("captures/photos", InputRef("path", "captures/photos")),
        ("C:\\captures\\v.mp4", InputRef("path", "C:\\captures\\v.mp4")),
        (f"upload://{UPLOAD_ID}", InputRef("upload", f"upload://{UPLOAD_ID}", key=UPLOAD_ID)),
        (
            "s3://my.bucket-1/a/b.mp4",
            InputRef("s3", "s3://my.bucket-1/a/b.mp4", "my.bucket-1", "a/b.mp4"),
        ),
        ("s3://bucket", InputRef("s3", "s3://bucket", "bucket", "")),
        ("S3://bucket/p/", InputRef("s3", "S3://bucket/p/", "bucket", "p/")),
        ("https://h.example/v.mp4?sig=1", InputRef("http", "https://h.example/v.mp4?sig=1")),
        ("http://127.0.0.1:8080/v", InputRef("http", "http://127.0.0.1:8080/v")),
    ],
)
def test_inputs_parse(value: str, expected: InputRef) -> None:
    assert parse_input(value) == expected


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("ftp://host/v.mp4", "unsupported input"),
        ("upload://../../etc", "not an upload id"),
        ("upload://", "not an upload id"),
        ("s3://", "no valid S3 bucket"),
        ("s3://UPPER/x", "no valid S3 bucket"),
        ("s3://b/x", "no valid S3 bucket"),
        ("http:///nohost", "names no host"),
        ("https://[::1/x", "not a valid URL"),
    ],
)
def test_bad_inputs_are_refused(value: str, needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        parse_input(value)
    with pytest.raises(ValidationError, match=needle):
        ReconstructParams(input=value)


def test_the_output_may_be_left_to_the_job() -> None:
    params = ReconstructParams(input="s3://bucket/v.mp4")
    assert params.output is None
    with pytest.raises(InvalidParamsError):
        _ = params.output_dir
    assert str(ReconstructParams(input="x", output="/out").output_dir) == "/out"


@pytest.mark.parametrize(
    ("url", "headers", "name"),
    [
        ("http://h/a/clip.mp4", {}, "clip.mp4"),
        ("http://h/a/my%20clip.mov", {}, "my clip.mov"),
        ("http://h/get", {"content-type": "video/mp4"}, "get.mp4"),
        ("http://h/", {"content-type": "image/jpeg; q=1"}, "download.jpg"),
        ("http://h/x", {"content-disposition": 'attachment; filename="a b.mp4"'}, "a b.mp4"),
        ("http://h/x.mp4", {"content-disposition": "attachment; filename=../x"}, "download"),
        ("http://h/%2e%2e", {}, "download"),
    ],
)
def test_downloads_get_safe_names(url: str, headers: dict[str, str], name: str) -> None:
    assert _http_file_name(url, headers) == name
