"""Job inputs made local by the input stage: uploads from the blob store, S3 objects and
prefixes from a moto server, HTTP(S) downloads from a local server; limits, progress, errors,
and a reconstruct job that runs its input stage from an upload in a real worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from mypy_boto3_s3 import S3Client

from integration.servers import Served, file_server, moto_s3
from vantage.capture.params import ReconstructParams
from vantage.capture.pipeline import PIPELINE, _input_stage
from vantage.capture.sources import check_public_host, materialise
from vantage.capture.synthetic.media import write_video
from vantage.config import InputsSettings, Settings, load_settings
from vantage.errors import (
    InvalidMediaError,
    InvalidParamsError,
    PayloadTooLargeError,
    ServiceUnavailableError,
)
from vantage.jobs.pipeline import StageContext
from vantage.jobs.queue import JobQueue
from vantage.jobs.records import JobState
from vantage.jobs.worker import JobWorker
from vantage.storage import BlobStore, open_store
from vantage.storage.uploads import IncomingFile, UploadLimits, write_upload

LIMITS = UploadLimits(1 << 30, 1 << 30, 100)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real, tiny H.264 video (12 frames of noise, 64×48)."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    rng = np.random.default_rng(3)
    write_video(path, (rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(12)), 12)
    return path.read_bytes()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, data_dir=tmp_path / "data")


@pytest.fixture
def store(settings: Settings) -> BlobStore:
    return open_store(settings)


class Recorder:
    """A progress reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str = "") -> None:
        self.reports.append((fraction, message))


def context(
    input_value: str, settings: Settings, store: BlobStore | None, job_id: str = "job1"
) -> StageContext:
    params = ReconstructParams(input=input_value)
    return StageContext(
        job_id=job_id,
        attempt=1,
        stage="input",
        params=params,
        outputs={},
        work_dir=settings.data_dir / "jobs" / job_id,
        progress=Recorder(),
        store=store,
        settings=settings,
    )


def upload(store: BlobStore, *files: tuple[str, bytes]) -> str:
    import io

    incoming = [IncomingFile(name, None, io.BytesIO(data)) for name, data in files]
    return write_upload(store, incoming, LIMITS).input


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# -- uploads -----------------------------------------------------------------------------------


def test_an_uploaded_video_becomes_that_file(
    settings: Settings, store: BlobStore, clip: bytes
) -> None:
    ctx = context(upload(store, ("walk around.mp4", clip)), settings, store)

    path = materialise(ctx.params.input, ctx)  # type: ignore[attr-defined]

    assert path == ctx.work_dir / "input" / "walk around.mp4"
    assert path.read_bytes() == clip
    progress = ctx.progress.reports  # type: ignore[attr-defined]
    assert progress[-1][0] == 1.0
    assert all(0 <= fraction <= 1 for fraction, _ in progress)


def test_uploaded_photos_become_a_folder(settings: Settings, store: BlobStore) -> None:
    ctx = context(upload(store, *((f"p{i}.jpg", b"jpeg%d" % i) for i in range(3))), settings, store)

    path = materialise(ctx.params.input, ctx)  # type: ignore[attr-defined]

    assert path == ctx.work_dir / "input"
    assert files_under(path) == ["p0.jpg", "p1.jpg", "p2.jpg"]


def test_a_missing_upload_fails_the_stage_for_good(settings: Settings, store: BlobStore) -> None:
    ctx = context(f"upload://{'1' * 32}", settings, store)
    with pytest.raises(InvalidMediaError, match="does not exist"):
        materialise(ctx.params.input, ctx)  # type: ignore[attr-defined]


def test_the_input_stage_reports_an_uploaded_video_and_writes_the_default_output(
    settings: Settings, store: BlobStore, clip: bytes
) -> None:
    ctx = context(upload(store, ("clip.mp4", clip)), settings, store)

    found = _input_stage(ctx)

    assert found["kind"] == "video"
    assert found["path"] == str(ctx.work_dir / "input" / "clip.mp4")
    assert found["source"] == ctx.params.input  # type: ignore[attr-defined]
    assert (ctx.work_dir / "config.json").is_file()  # output defaults to the job's folder


def test_a_server_path_is_used_where_it_is(settings: Settings, tmp_path: Path, clip: bytes) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(clip)
    ctx = context(str(video), settings, None)

    assert materialise(str(video), ctx) == video
    assert not (ctx.work_dir / "input").exists()


# -- S3 -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3(moto_endpoint: str) -> S3Client:
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="captures")
    return client


@pytest.fixture
def s3_settings(settings: Settings, moto_endpoint: str) -> Settings:
    inputs = InputsSettings(s3_endpoint_url=moto_endpoint, max_download_bytes=1_000_000)
    return settings.model_copy(update={"inputs": inputs})


def test_an_s3_key_becomes_one_file(s3: S3Client, s3_settings: Settings, clip: bytes) -> None:
    s3.put_object(Bucket="captures", Key="scans/7/video.mp4", Body=clip)
    ctx = context("s3://captures/scans/7/video.mp4", s3_settings, None)

    path = materialise("s3://captures/scans/7/video.mp4", ctx)

    assert path == ctx.work_dir / "input" / "video.mp4"
    assert path.read_bytes() == clip
    assert "downloading s3://captures/scans/7/video.mp4" in ctx.progress.reports[0][1]  # type: ignore[attr-defined]


def test_an_s3_prefix_becomes_a_folder_of_its_photos(s3: S3Client, s3_settings: Settings) -> None:
    for key in ("set/a.jpg", "set/b.JPG", "set/sub/c.png", "set/notes.txt", "setx/d.jpg"):
        s3.put_object(Bucket="captures", Key=key, Body=key.encode())
    for url in ("s3://captures/set", "s3://captures/set/"):
        ctx = context(url, s3_settings, None)

        path = materialise(url, ctx)

        assert path == ctx.work_dir / "input"
        assert files_under(path) == ["a.jpg", "b.JPG", "sub_c.png"]
        assert (path / "sub_c.png").read_bytes() == b"set/sub/c.png"


def test_a_prefix_with_one_object_is_that_object(
    s3: S3Client, s3_settings: Settings, clip: bytes
) -> None:
    s3.put_object(Bucket="captures", Key="job/9/capture.mov", Body=clip)
    ctx = context("s3://captures/job/9", s3_settings, None)
    assert materialise("s3://captures/job/9", ctx) == ctx.work_dir / "input" / "capture.mov"


@pytest.mark.parametrize(
    ("keys", "needle"),
    [([], "holds nothing"), (["many/a.txt", "many/b.txt"], "2 objects but no photos")],
)
def test_an_s3_prefix_without_photos_fails_for_good(
    s3: S3Client, s3_settings: Settings, keys: list[str], needle: str
) -> None:
    for key in keys:
        s3.put_object(Bucket="captures", Key=key, Body=b"x")
    ctx = context("s3://captures/many/", s3_settings, None)
    with pytest.raises(InvalidMediaError, match=needle):
        materialise("s3://captures/many/", ctx)


def test_s3_inputs_over_the_limit_are_refused_before_downloading(
    s3: S3Client, s3_settings: Settings
) -> None:
    s3.put_object(Bucket="captures", Key="big.mp4", Body=b"x" * 1_000_001)
    ctx = context("s3://captures/big.mp4", s3_settings, None)
    with pytest.raises(PayloadTooLargeError, match=r"inputs\.max_download_bytes"):
        materialise("s3://captures/big.mp4", ctx)
    assert files_under(ctx.work_dir) == []


# -- HTTP ----------------------------------------------------------------------------------------


@pytest.fixture
def http_settings(settings: Settings) -> Settings:
    inputs = InputsSettings(max_download_bytes=3_000_000, http_timeout_s=5)
    return settings.model_copy(update={"inputs": inputs})


def test_an_http_download_streams_to_a_file(http_settings: Settings, clip: bytes) -> None:
    files = {
        "/v/clip.mp4": Served(clip, content_type="video/mp4"),
        "/v/chunked": Served(clip * 20, content_type="video/mp4", send_length=False),
        "/named": Served(clip, disposition='attachment; filename="scan 3.mov"'),
        "/evil": Served(clip, disposition='attachment; filename="../../etc/passwd"'),
    }
    with file_server(files) as base:
        fetched: dict[str, Path] = {}
        for number, path in enumerate(files):
            ctx = context(f"{base}{path}?sig=abc", http_settings, None, job_id=f"job{number}")
            fetched[path] = materialise(f"{base}{path}?sig=abc", ctx)
            assert ctx.progress.reports[-1][0] == 1.0  # type: ignore[attr-defined]

    assert fetched["/v/clip.mp4"].name == "clip.mp4"
    assert fetched["/v/clip.mp4"].read_bytes() == clip
    assert fetched["/v/chunked"].name == "chunked.mp4"  # a suffix from the media type
    assert fetched["/v/chunked"].read_bytes() == clip * 20
    assert fetched["/named"].name == "scan 3.mov"
    assert fetched["/evil"].name == "download.bin"  # a refused server name is replaced
    assert fetched["/evil"].parent.name == "input"


@pytest.mark.parametrize(
    ("served", "error", "needle"),
    [
        (Served(b"nope", status=404), InvalidMediaError, "HTTP 404"),
        (Served(b"busy", status=503), ServiceUnavailableError, "HTTP 503"),
        (Served(b"x" * 3_000_001), PayloadTooLargeError, "3000000 bytes"),
        (Served(b"x" * 3_000_001, send_length=False), PayloadTooLargeError, "3000000 bytes"),
    ],
    ids=["not-found", "unavailable", "declared-too-large", "streamed-too-large"],
)
def test_http_failures_are_typed_and_leave_no_file(
    http_settings: Settings, served: Served, error: type[Exception], needle: str
) -> None:
    with file_server({"/f.mp4": served}) as base:
        ctx = context(f"{base}/f.mp4", http_settings, None)
        with pytest.raises(error, match=needle):
            materialise(f"{base}/f.mp4", ctx)
    assert files_under(ctx.work_dir) == []  # no partial download, no temp file


def test_an_unreachable_host_is_worth_a_retry(http_settings: Settings) -> None:
    from integration.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/clip.mp4"
    with pytest.raises(ServiceUnavailableError, match="downloading"):
        materialise(url, context(url, http_settings, None))


# -- through the API's submit check and a real worker ---------------------------------------------


def test_preflight_knows_which_uploads_exist(store: BlobStore) -> None:
    known = upload(store, ("a.jpg", b"1"))
    assert PIPELINE.preflight is not None
    PIPELINE.preflight(ReconstructParams(input=known), store)
    PIPELINE.preflight(ReconstructParams(input="s3://b-1/x"), store)  # nothing to check here
    with pytest.raises(InvalidParamsError, match="no upload"):
        PIPELINE.preflight(ReconstructParams(input=f"upload://{'2' * 32}"), store)


def test_a_worker_runs_the_input_stage_of_an_uploaded_capture(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path / "data")
    from vantage.catalog.db import engine_from_settings
    from vantage.catalog.migrate import upgrade

    engine = engine_from_settings(settings)
    upgrade(engine)
    try:
        store = open_store(settings)
        # Not images at all: the input stage takes them; the frames stage finds none usable.
        source = upload(store, *((f"p{i}.jpg", b"not a jpeg") for i in range(3)))
        queue = JobQueue(engine)
        job, _ = queue.submit("reconstruct", {"input": source}, max_attempts=1)
        JobWorker(engine, settings).run(threading.Event(), exit_when_idle=True)
        final = queue.get(job.id)
    finally:
        engine.dispose()

    assert final.state == JobState.FAILED
    stages: dict[str, Any] = {stage.name: stage for stage in final.stages}
    assert stages["input"].state == "succeeded"
    job_dir = settings.data_dir / "jobs" / job.id
    assert stages["input"].output["path"] == str(job_dir / "input")
    assert stages["input"].output["source"] == source
    assert stages["input"].output["files"] == 3
    assert (job_dir / "config.json").is_file()
    assert stages["frames"].state == "failed"


def test_private_hosts_are_refused_when_blocked(http_settings: Settings, clip: bytes) -> None:
    inputs = http_settings.inputs.model_copy(update={"block_private_networks": True})
    blocking = http_settings.model_copy(update={"inputs": inputs})
    with file_server({"/f.mp4": Served(clip)}) as base:
        url = f"{base}/f.mp4"
        with pytest.raises(InvalidMediaError, match="non-public address"):
            materialise(url, context(url, blocking, None))
        # The same server is fine while the guard is off (the default: LAN sources are common).
        assert materialise(url, context(url, http_settings, None, job_id="open")).exists()
    for url in (
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/x",
        "http://10.0.0.7/a",
    ):
        with pytest.raises(InvalidMediaError, match="non-public address"):
            check_public_host(url)
    with pytest.raises(InvalidMediaError, match="cannot resolve"):
        check_public_host("http://no-such-host.invalid/clip.mp4")
