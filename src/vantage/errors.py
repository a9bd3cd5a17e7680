"""The one error hierarchy of Vantage: typed errors with an HTTP status and a CLI exit code.

Every error raised on purpose by Vantage code is a `VantageError`. A subclass's docstring is its
default message; structured fields (``job_id``, ``path``, ``field`` …) travel in ``fields`` so the
API can put them in a problem+json body and the CLI can print one precise line.

Exit codes follow BSD ``sysexits.h`` where one fits, so scripts can tell a bad argument (64/65)
from a missing thing (66), an unavailable service (69), a conflict (75) or bad configuration (78).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class VantageError(Exception):
    """Vantage failed."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 70  # EX_SOFTWARE
    #: Short, stable, machine-readable name used as the problem+json ``type`` suffix.
    code: ClassVar[str] = "internal"
    #: Headers the API adds to the error's response (e.g. ``WWW-Authenticate``).
    http_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.message = message or (self.__doc__ or "").strip().splitlines()[0]
        self.fields = fields
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (worker pools, Ray); keep the fields on the way.
        return (_rebuild, (type(self), self.message, self.fields))

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """This error as an RFC 9457 problem+json body."""
        body: dict[str, Any] = {
            "type": f"https://vantage.dev/problems/{self.code}",
            "title": (type(self).__doc__ or "").strip().splitlines()[0],
            "status": self.http_status,
            "detail": self.message,
        }
        if instance:
            body["instance"] = instance
        body.update({k: v for k, v in self.fields.items() if _json_scalar(v)})
        return body


def _rebuild(cls: type[VantageError], message: str, fields: dict[str, Any]) -> VantageError:
    return cls(message, **fields)


def _json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


class ConfigError(VantageError):
    """The settings are invalid."""

    http_status = 500
    exit_code = 78  # EX_CONFIG
    code = "config"


class InvalidInputError(VantageError):
    """The input is invalid."""

    http_status = 422
    exit_code = 65  # EX_DATAERR
    code = "invalid-input"


class UnknownPipelineError(InvalidInputError):
    """No pipeline has that name."""

    code = "unknown-pipeline"


class InvalidParamsError(InvalidInputError):
    """The job parameters are invalid."""

    code = "invalid-params"


class InvalidMediaError(InvalidInputError):
    """The media file cannot be used."""

    code = "invalid-media"


class TooFewImagesError(InvalidInputError):
    """Too few usable images remain."""

    code = "too-few-images"


class PayloadTooLargeError(InvalidInputError):
    """The content is larger than allowed."""

    http_status = 413
    code = "too-large"


class UnsupportedMediaTypeError(InvalidInputError):
    """The request body is not of a media type this endpoint takes."""

    http_status = 415
    code = "unsupported-media-type"


class AuthenticationError(VantageError):
    """A valid API token is required."""

    http_status = 401
    exit_code = 77  # EX_NOPERM
    code = "unauthorized"
    http_headers = {"WWW-Authenticate": "Bearer"}


class NotFoundError(VantageError):
    """The requested thing does not exist."""

    http_status = 404
    exit_code = 66  # EX_NOINPUT
    code = "not-found"


class JobNotFoundError(NotFoundError):
    """No job has that id."""

    code = "job-not-found"


class UploadNotFoundError(NotFoundError):
    """No upload has that id."""

    code = "upload-not-found"


class TokenNotFoundError(NotFoundError):
    """No API token has that name."""

    code = "token-not-found"


class ArtifactNotFoundError(NotFoundError):
    """The job has no artifact of that name."""

    code = "artifact-not-found"


class BlobNotFoundError(NotFoundError):
    """No blob is stored under that key."""

    code = "blob-not-found"


class ConflictError(VantageError):
    """The request conflicts with the current state."""

    http_status = 409
    exit_code = 75  # EX_TEMPFAIL
    code = "conflict"


class DedupeConflictError(ConflictError):
    """A job with that dedupe key already exists with another pipeline or parameters."""

    code = "dedupe-conflict"


class InvalidTransitionError(ConflictError):
    """The job is not in a state that allows this."""

    code = "invalid-transition"


class LeaseLostError(ConflictError):
    """This worker no longer holds the job's lease; its write was rejected."""

    code = "lease-lost"


class JobCancelledError(VantageError):
    """The job was cancelled."""

    http_status = 409
    exit_code = 75
    code = "cancelled"


class StorageError(VantageError):
    """The blob store failed."""

    http_status = 503
    exit_code = 74  # EX_IOERR
    code = "storage"


class InvalidKeyError(InvalidInputError):
    """The blob key is not valid."""

    code = "invalid-key"


class ServiceUnavailableError(VantageError):
    """A service Vantage depends on is unavailable."""

    http_status = 503
    exit_code = 69  # EX_UNAVAILABLE
    code = "unavailable"


class NotificationError(ServiceUnavailableError):
    """A job notice could not be delivered."""

    code = "notification-failed"


class CatalogOutdatedError(ServiceUnavailableError):
    """The catalog's schema is older than this version of Vantage."""

    code = "catalog-outdated"


class JobFailedError(VantageError):
    """The job failed."""

    http_status = 500
    exit_code = 1
    code = "job-failed"


class ReconstructionError(VantageError):
    """The reconstruction did not succeed."""

    http_status = 422
    exit_code = 65
    code = "reconstruction-failed"


class StageFailedError(VantageError):
    """A pipeline stage failed."""

    http_status = 500
    exit_code = 70
    code = "stage-failed"
