"""Vantage's one settings tree: defaults → ``vantage.toml`` → ``VANTAGE__SECTION__KEY`` env vars.

Every field has a description and carries its unit in its name. Unknown keys are errors, in the
TOML file and in the environment alike, and a bad value is reported as a `ConfigError` that names
the field (and the TOML line when the value came from the file). Nothing is read at import time:
call `load_settings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vantage.errors import ConfigError

ENV_PREFIX = "VANTAGE__"
ENV_DELIMITER = "__"
DEFAULT_TOML = Path("vantage.toml")

#: Bind addresses that name no host a browser could open.
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})

_toml_path: ContextVar[Path | None] = ContextVar("vantage_toml_path", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DbSettings(_Section):
    """Where the catalog lives."""

    url: str | None = Field(
        None,
        description="SQLAlchemy URL of the catalog; empty means SQLite at DATA_DIR/vantage.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    pool_size: int = Field(
        5, ge=1, le=100, description="Connections kept per process (PostgreSQL)."
    )
    sqlite_busy_timeout_s: float = Field(
        60.0, gt=0, description="How long a SQLite writer waits for the write lock."
    )
    echo_sql: bool = Field(False, description="Log every SQL statement (debugging).")


class StorageSettings(_Section):
    """Where blobs (media, artifacts) are kept."""

    backend: Literal["local", "s3"] = Field("local", description="Blob store backend.")
    local_root: Path | None = Field(
        None, description="Folder of the local store; empty means DATA_DIR/blobs."
    )
    s3_bucket: str | None = Field(None, description="S3 bucket (backend = s3).")
    s3_prefix: str = Field("", description="Key prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint URL; empty means AWS."
    )
    s3_region: str = Field("us-east-1", description="S3 region name.")
    chunk_bytes: int = Field(
        8 * 1024 * 1024, ge=5 * 1024 * 1024, description="Streaming/multipart chunk size in bytes."
    )

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> StorageSettings:
        if self.backend == "s3" and not self.s3_bucket:
            raise ValueError("storage.s3_bucket is required when storage.backend = 's3'")
        return self


class JobsSettings(_Section):
    """Durable jobs: leases, retries, polling."""

    lease_ttl_s: float = Field(30.0, gt=0, description="How long a claim lasts without renewal.")
    heartbeat_interval_s: float = Field(
        5.0, gt=0, description="How often a worker renews its leases and records a heartbeat."
    )
    max_attempts: int = Field(3, ge=1, le=100, description="Attempts before a job fails for good.")
    retry_backoff_base_s: float = Field(
        2.0, ge=0, description="First retry delay; doubles on every further attempt."
    )
    retry_backoff_max_s: float = Field(300.0, ge=0, description="Upper bound of a retry delay.")
    poll_interval_s: float = Field(
        0.5, gt=0, description="How long an idle worker sleeps before looking for work again."
    )
    reap_interval_s: float = Field(
        5.0, gt=0, description="How often a worker returns expired leases to the queue."
    )

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> JobsSettings:
        if self.heartbeat_interval_s * 2 > self.lease_ttl_s:
            raise ValueError(
                "jobs.heartbeat_interval_s must be at most half of jobs.lease_ttl_s "
                f"({self.heartbeat_interval_s} s vs {self.lease_ttl_s} s)"
            )
        return self


class WorkerSettings(_Section):
    """Local worker processes."""

    concurrency: int = Field(2, ge=1, le=256, description="Worker processes to start.")
    heartbeat_history_keep: int = Field(
        1000, ge=0, description="Heartbeat history rows kept per worker."
    )


class ApiSettings(_Section):
    """The HTTP API and web UI."""

    host: str = Field("127.0.0.1", description="Address the API binds.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the API binds (0: any free).")
    sse_poll_interval_s: float = Field(
        0.25, gt=0, description="How often an event stream looks for new events."
    )
    embedded_workers: bool = Field(
        True, description="`vantage serve` also starts worker.concurrency worker processes."
    )
    public_url: str | None = Field(
        None,
        description="Base URL people reach the web UI at, for links in notifications; empty "
        "means http://127.0.0.1:<api.port> (or http://<api.host>:<api.port> for a named host).",
    )


_GIB = 1024**3


class UploadsSettings(_Section):
    """Files uploaded through the API (``POST /uploads``), streamed into the blob store."""

    max_file_bytes: int = Field(10 * _GIB, ge=1, description="Largest uploaded file, in bytes.")
    max_request_bytes: int = Field(
        20 * _GIB, ge=1, description="Largest upload request (all its files), in bytes."
    )
    max_files: int = Field(5000, ge=1, description="Most files in one upload.")
    abandoned_after_s: float = Field(
        24 * 3600.0,
        gt=0,
        description="Files of an upload that never completed are deleted after this long.",
    )
    sweep_interval_s: float = Field(
        3600.0, gt=0, description="How often each worker looks for abandoned uploads."
    )


class InputsSettings(_Section):
    """Where job inputs may come from besides server paths: uploads, S3 and HTTP(S) URLs."""

    max_download_bytes: int = Field(
        20 * _GIB, ge=1, description="Largest input downloaded from S3 or HTTP, in bytes."
    )
    http_timeout_s: float = Field(
        30.0, gt=0, description="Connect and read timeout of an HTTP(S) input download."
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint for s3:// inputs; empty means AWS."
    )
    s3_region: str = Field("us-east-1", description="Region of s3:// inputs.")
    block_private_networks: bool = Field(
        False,
        description="Refuse http(s):// inputs (and their redirects) that resolve to loopback, "
        "private, link-local or reserved addresses; turn on where untrusted users submit jobs.",
    )


class NotifySettings(_Section):
    """E-mail and webhook notices when a job succeeds or fails for good."""

    smtp_host: str | None = Field(
        None, description="SMTP server for e-mail notices; empty means no e-mail is sent."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_from: str = Field("vantage@localhost", description="Sender address of e-mail notices.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_user: str | None = Field(None, description="SMTP login name; empty means no login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (with smtp_user).")
    smtp_timeout_s: float = Field(10.0, gt=0, description="Timeout of one SMTP conversation.")
    webhook_timeout_s: float = Field(10.0, gt=0, description="Timeout of one webhook POST.")
    webhook_attempts: int = Field(
        4, ge=1, le=20, description="POSTs tried before a webhook notice is given up."
    )
    webhook_backoff_s: float = Field(
        1.0, ge=0, description="Wait before the second webhook POST; doubles after each failure."
    )


class LogSettings(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    json_format: bool = Field(True, description="One JSON object per line (else plain text).")


class Settings(BaseSettings):
    """The whole, resolved Vantage configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path(".vantage"), description="Folder for the SQLite catalog, local blobs and metrics."
    )
    db: DbSettings = Field(default_factory=DbSettings, description=DbSettings.__doc__)
    storage: StorageSettings = Field(
        default_factory=StorageSettings,
        description=StorageSettings.__doc__,
    )
    jobs: JobsSettings = Field(default_factory=JobsSettings, description=JobsSettings.__doc__)
    worker: WorkerSettings = Field(
        default_factory=WorkerSettings,
        description=WorkerSettings.__doc__,
    )
    api: ApiSettings = Field(default_factory=ApiSettings, description=ApiSettings.__doc__)
    log: LogSettings = Field(default_factory=LogSettings, description=LogSettings.__doc__)
    uploads: UploadsSettings = Field(
        default_factory=UploadsSettings, description=UploadsSettings.__doc__
    )
    inputs: InputsSettings = Field(
        default_factory=InputsSettings, description=InputsSettings.__doc__
    )
    notify: NotifySettings = Field(
        default_factory=NotifySettings, description=NotifySettings.__doc__
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _toml_path.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """The catalog URL, defaulting to SQLite inside the data folder."""
        if self.db.url:
            return self.db.url
        return f"sqlite:///{(self.data_dir / 'vantage.db').resolve()}"

    @property
    def blob_root(self) -> Path:
        """Folder of the local blob store."""
        return self.storage.local_root or self.data_dir / "blobs"

    @property
    def public_url(self) -> str:
        """Base URL of the web UI for links people follow (no trailing '/')."""
        if self.api.public_url:
            return self.api.public_url.rstrip("/")
        host = self.api.host if self.api.host not in _WILDCARD_HOSTS else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.api.port}"

    def redacted(self) -> dict[str, Any]:
        """The settings as JSON-ready data, with passwords in URLs hidden."""
        data = self.model_dump(mode="json")
        if data["db"]["url"]:
            data["db"]["url"] = _hide_password(data["db"]["url"])
        data["db"]["resolved_url"] = _hide_password(self.db_url)
        return data


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


@contextmanager
def _reading_toml(path: Path | None) -> Iterator[None]:
    token = _toml_path.set(path)
    try:
        yield
    finally:
        _toml_path.reset(token)


def load_settings(
    toml_path: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve settings from defaults, a TOML file and the environment.

    Args:
        toml_path: the TOML file; None reads ``$VANTAGE_CONFIG`` or ``./vantage.toml`` when present.
        environ: the environment to check for unknown ``VANTAGE__`` keys (default ``os.environ``).
        **overrides: highest-priority values (used by tests and the CLI).

    Raises:
        ConfigError: a value is invalid or a key is unknown; the message names the field.
    """
    env = os.environ if environ is None else environ
    if toml_path is None:
        configured = env.get("VANTAGE_CONFIG")
        if configured:
            toml_path = Path(configured)
            if not toml_path.is_file():
                raise ConfigError(f"config file {toml_path} does not exist", path=str(toml_path))
        elif DEFAULT_TOML.is_file():
            toml_path = DEFAULT_TOML
    _check_env_keys(env)
    try:
        with _reading_toml(toml_path):
            return Settings(**overrides)
    except ValidationError as exc:
        raise _config_error(exc, toml_path, env) from None
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read {toml_path}: {exc}", path=str(toml_path)) from None


def _check_env_keys(env: Any) -> None:
    """Reject ``VANTAGE__`` variables that name no field (a typo must not pass silently)."""
    for key in env:
        if not key.upper().startswith(ENV_PREFIX):  # pydantic-settings ignores case
            continue
        parts = key[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER)
        model: type[BaseModel] = Settings
        for depth, part in enumerate(parts):
            field = model.model_fields.get(part)
            if field is None:
                raise ConfigError(
                    f"unknown setting {key}: no field {'.'.join(parts[: depth + 1])}",
                    field=".".join(parts),
                )
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
            elif depth != len(parts) - 1:
                raise ConfigError(f"unknown setting {key}", field=".".join(parts))


def _config_error(exc: ValidationError, toml_path: Path | None, env: Any) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    field = ".".join(loc) or "settings"
    where = ""
    variable = ENV_PREFIX + ENV_DELIMITER.join(loc).upper()
    if loc and variable in {key.upper() for key in env}:
        where = f" (from {variable})"  # the environment wins over the file: blame it
    elif toml_path is not None:
        line = _toml_line(toml_path, loc)
        if line is not None:
            where = f" ({toml_path}:{line})"
    value = first.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict) and value is not None else ""
    message = f"invalid setting {field}{where}: {first['msg']}{shown}"
    return ConfigError(message, field=field, path=str(toml_path) if toml_path else None)


def _toml_line(path: Path, loc: list[str]) -> int | None:
    """The 1-based line of ``loc`` (``[section]`` then ``key =``) in a TOML file, if found."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    section: list[str] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        header = re.fullmatch(r"\[([^\]]+)\]", text)
        if header:
            section = [p.strip() for p in header.group(1).split(".")]
            if section == loc:
                return number
            continue
        key = re.match(r"([A-Za-z0-9_\-]+)\s*=", text)
        if key and [*section, key.group(1)] == loc[: len(section) + 1]:
            return number
    return None
