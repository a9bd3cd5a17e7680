"""Where a capture comes from: a server path, an upload, an S3 object or prefix, an HTTP(S) URL.

`parse_input` checks an input's form when a job is submitted (the params model calls it);
`preflight` checks what needs the blob store (that an upload exists) before the job is queued;
`materialise` makes the input a local file or folder in the job's working folder during the
``input`` stage, streaming downloads to disk (never whole in memory, each file written
atomically) under ``inputs.max_download_bytes`` and reporting their progress.

A server path is used where it is. An upload of one file that is not a photo is that file (a
video); otherwise its files are a folder of photos. An S3 key names one object; a prefix (or a
key that is no object) names the photos under it, or its one object when that is all there is.
"""

from __future__ import annotations

import ipaddress
import mimetypes
import re
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from vantage.config import InputsSettings
from vantage.errors import (
    InvalidInputError,
    InvalidMediaError,
    InvalidParamsError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    StorageError,
    UploadNotFoundError,
)
from vantage.storage.streaming import atomic_write, iter_chunks
from vantage.storage.uploads import check_upload_id, file_key, read_upload, safe_name

if TYPE_CHECKING:
    from vantage.jobs.pipeline import ProgressReporter, StageContext
    from vantage.storage.base import BlobStore

InputKind = Literal["path", "upload", "s3", "http"]

#: Bytes read per step of a download (and between progress reports).
CHUNK_BYTES = 1024 * 1024
#: Statuses of an HTTP input worth retrying the job for; other 4xx answers fail it.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# S3 bucket names: 3–63 lowercase letters, digits, '.' and '-', starting and ending alnum.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_FORMS = "a server path, upload://<id>, s3://bucket/key-or-prefix or http(s)://…"


@dataclass(frozen=True)
class InputRef:
    """A parsed job input: its kind and the parts that kind needs."""

    kind: InputKind
    value: str
    bucket: str = ""  # s3
    key: str = ""  # s3: key or prefix; upload: the upload id


def parse_input(value: str) -> InputRef:
    """What ``value`` names, checked for form only (nothing is fetched).

    Raises:
        InvalidInputError: an unsupported scheme, a malformed upload id, S3 bucket or URL.
    """
    scheme, sep, rest = value.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return InputRef("path", value)
    scheme = scheme.lower()
    if scheme == "upload":
        return InputRef("upload", value, key=check_upload_id(rest))
    if scheme == "s3":
        bucket, _, key = rest.partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise InvalidInputError(f"{value!r} names no valid S3 bucket", input=value)
        return InputRef("s3", value, bucket=bucket, key=key)
    if scheme in {"http", "https"}:
        try:
            host = urlsplit(value).hostname
        except ValueError as exc:
            raise InvalidInputError(f"{value!r} is not a valid URL: {exc}", input=value) from None
        if not host:
            raise InvalidInputError(f"{value!r} names no host", input=value)
        return InputRef("http", value)
    raise InvalidInputError(f"unsupported input {value!r}: use {_FORMS}", input=value)


def preflight(value: str, store: BlobStore) -> None:
    """Check, before a job is queued, what the blob store can tell about its input.

    Raises:
        InvalidParamsError: the input names an upload that does not exist.
    """
    ref = parse_input(value)
    if ref.kind == "upload":
        try:
            read_upload(store, ref.key)
        except UploadNotFoundError:
            raise InvalidParamsError(
                f"input: no upload with id {ref.key!r} (POST /uploads first)",
                field="params.input",
                errors=[f"input: no upload with id {ref.key!r}"],
            ) from None


def materialise(value: str, ctx: StageContext) -> Path:
    """The input as a local file or folder, downloaded into ``<work dir>/input`` if need be.

    Raises:
        InvalidMediaError: the input does not exist or holds nothing usable (permanent).
        PayloadTooLargeError: a download is over ``inputs.max_download_bytes`` (permanent).
        ServiceUnavailableError, StorageError: a source failed; the job is retried.
    """
    ref = parse_input(value)
    if ref.kind == "path":
        return Path(value)
    dest = ctx.work_dir / "input"
    shutil.rmtree(dest, ignore_errors=True)  # a rerun starts clean
    dest.mkdir(parents=True)
    settings = ctx.settings.inputs if ctx.settings is not None else InputsSettings()
    return _FETCHERS[ref.kind](ref, dest, ctx, settings)


class _Download:
    """Counts downloaded bytes against the limit and reports them as stage progress."""

    def __init__(
        self, progress: ProgressReporter, what: str, total: int | None, limit: int
    ) -> None:
        self.progress = progress
        self.what = what
        self.total = total
        self.limit = limit
        self.done = 0

    def counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """``chunks``, each reported; fails once the download goes over the limit."""
        for chunk in chunks:
            self.done += len(chunk)
            if self.done > self.limit:
                raise _too_large(self.what, self.limit)
            self.report()
            yield chunk

    def report(self) -> None:
        mb = self.done / 1e6
        if self.total:
            self.progress(
                min(self.done / self.total, 1.0),
                f"downloading {self.what}: {mb:.1f} of {self.total / 1e6:.1f} MB",
            )
        else:
            self.progress(0.0, f"downloading {self.what}: {mb:.1f} MB")


def _too_large(what: str, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"{what} is larger than the limit of {limit} bytes (inputs.max_download_bytes)",
        limit_bytes=limit,
    )


def _is_photo(name: str) -> bool:
    from vantage.capture.pipeline import PHOTO_SUFFIXES  # the input stage's own rule

    return PurePosixPath(name).suffix.lower() in PHOTO_SUFFIXES


def _copy_blobs(
    store: BlobStore, items: list[tuple[str, str, int]], dest: Path, download: _Download
) -> None:
    """Copy (key, file name, size) blobs from ``store`` into ``dest``, each atomically."""
    for key, name, _ in items:
        with store.open(key) as blob:
            atomic_write(dest / name, download.counted(iter_chunks(blob, CHUNK_BYTES)))
    download.progress(1.0, f"downloaded {download.what}")


def _from_upload(ref: InputRef, dest: Path, ctx: StageContext, settings: InputsSettings) -> Path:
    if ctx.store is None:
        raise StorageError("an upload:// input needs the blob store; this stage has none")
    try:
        upload = read_upload(ctx.store, ref.key)
    except UploadNotFoundError:
        raise InvalidMediaError(f"upload {ref.key} does not exist", input=ref.value) from None
    items = [(file_key(upload.id, f.name), f.name, f.size_bytes) for f in upload.files]
    total = sum(size for _, _, size in items)
    # Uploads were held to the upload limits when they came in.
    _copy_blobs(ctx.store, items, dest, _Download(ctx.progress, ref.value, total, limit=total))
    single = len(items) == 1 and not _is_photo(items[0][1])
    return dest / items[0][1] if single else dest


def _from_s3(ref: InputRef, dest: Path, ctx: StageContext, settings: InputsSettings) -> Path:
    from vantage.storage.s3 import S3Store

    bucket = S3Store(ref.bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    key = ref.key
    if key and not key.endswith("/") and bucket.exists(key):
        items = [(key, _s3_file_name(PurePosixPath(key).name, ref), bucket.stat(key).size_bytes)]
    else:
        prefix = key if not key or key.endswith("/") else f"{key}/"
        found = [(info.key, info.size_bytes) for info in bucket.list(prefix)]
        photos = [(k, size) for k, size in found if _is_photo(k)]
        if not photos and len(found) != 1:
            raise InvalidMediaError(
                f"{ref.value} is no object and holds "
                + ("nothing" if not found else f"{len(found)} objects but no photos")
                + " (JPEG, PNG, HEIC)",
                input=ref.value,
            )
        chosen = photos or found
        items = [
            (k, _s3_file_name(k[len(prefix) :].replace("/", "_"), ref), size) for k, size in chosen
        ]
    total = sum(size for _, _, size in items)
    if total > settings.max_download_bytes:
        raise _too_large(ref.value, settings.max_download_bytes)
    download = _Download(ctx.progress, ref.value, total, settings.max_download_bytes)
    _copy_blobs(bucket, items, dest, download)
    single = len(items) == 1 and not _is_photo(items[0][1])
    return dest / items[0][1] if single else dest


def _s3_file_name(name: str, ref: InputRef) -> str:
    try:
        return safe_name(name, field="input")
    except InvalidInputError as exc:
        raise InvalidMediaError(f"{ref.value}: {exc}", input=ref.value) from None


def check_public_host(url: str) -> None:
    """Refuse ``url`` when its host resolves to a loopback, private, link-local or reserved
    address (``inputs.block_private_networks``).

    Raises:
        InvalidMediaError: the host is not public, or does not resolve.
    """
    host = urlsplit(url).hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError) as exc:
        raise InvalidMediaError(f"{url}: cannot resolve {host!r} ({exc})", input=url) from None
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise InvalidMediaError(
                f"{url}: {host} resolves to {ip}, a non-public address, and "
                "inputs.block_private_networks is on",
                input=url,
            )


def _from_http(ref: InputRef, dest: Path, ctx: StageContext, settings: InputsSettings) -> Path:
    import httpx

    limit = settings.max_download_bytes
    hooks: dict[str, list[Callable[[Any], None]]] = {}
    if settings.block_private_networks:  # every hop, redirects included
        hooks["request"] = [lambda request: check_public_host(str(request.url))]
    try:
        with (
            httpx.Client(
                timeout=settings.http_timeout_s, follow_redirects=True, event_hooks=hooks
            ) as client,
            client.stream("GET", ref.value) as response,
        ):
            _check_status(ref, response.status_code, response.reason_phrase)
            declared = response.headers.get("content-length", "")
            total = int(declared) if declared.isdigit() else None
            if total is not None and total > limit:
                raise _too_large(ref.value, limit)
            path = dest / _http_file_name(str(response.url), response.headers)
            download = _Download(ctx.progress, ref.value, total, limit)
            atomic_write(path, download.counted(response.iter_bytes(CHUNK_BYTES)))
            download.progress(1.0, f"downloaded {ref.value}")
    except httpx.HTTPError as exc:
        raise ServiceUnavailableError(
            f"downloading {ref.value} failed: {type(exc).__name__}: {exc}", input=ref.value
        ) from exc
    return path


def _check_status(ref: InputRef, status: int, reason: str) -> None:
    if status < 400:
        return
    message = f"GET {ref.value} answered HTTP {status} {reason}".rstrip()
    if status < 500 and status not in _TRANSIENT_STATUSES:
        raise InvalidMediaError(message, input=ref.value)
    raise ServiceUnavailableError(message, input=ref.value)


def _http_file_name(url: str, headers: Any) -> str:
    """A safe local name for a download: the server's file name, else the URL's last segment.

    A name the server sends that would be refused (a path, '..') is replaced, not trusted.
    """
    disposition = headers.get("content-disposition", "")
    match = re.search(r'filename="?([^";]+)"?', disposition)
    candidate = match.group(1) if match else unquote(PurePosixPath(urlsplit(url).path).name)
    try:
        name = safe_name(candidate, field="input")
    except InvalidInputError:
        name = "download"
    if not PurePosixPath(name).suffix:
        media_type = headers.get("content-type", "").partition(";")[0].strip()
        name += mimetypes.guess_extension(media_type) or ""
    return name


_FETCHERS: dict[str, Callable[[InputRef, Path, StageContext, InputsSettings], Path]] = {
    "upload": _from_upload,
    "s3": _from_s3,
    "http": _from_http,
}
