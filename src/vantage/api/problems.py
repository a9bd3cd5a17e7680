"""Every error the API returns, as an RFC 9457 ``application/problem+json`` response."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from vantage.api.schemas import PROBLEM_MEDIA_TYPE
from vantage.errors import VantageError


class ProblemResponse(JSONResponse):
    """A JSON response with the problem+json media type."""

    media_type = PROBLEM_MEDIA_TYPE


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error ``app`` raises, expected or not, answer with a problem body."""
    app.add_exception_handler(VantageError, _vantage_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _vantage_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, VantageError)  # registered for VantageError only
    return ProblemResponse(
        exc.problem(instance=request.url.path),
        status_code=exc.http_status,
        headers=dict(exc.http_headers) or None,
    )


async def _invalid_request(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)  # registered for it only
    errors = [
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    ]
    body: dict[str, Any] = {
        "type": "https://vantage.dev/problems/invalid-request",
        "title": "The request is invalid.",
        "status": 422,
        "detail": "; ".join(errors),
        "instance": request.url.path,
        "errors": errors,
    }
    return ProblemResponse(body, status_code=422)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)  # registered for it only
    body = {
        "type": "about:blank",
        "title": HTTPStatus(exc.status_code).phrase,
        "status": exc.status_code,
        "detail": str(exc.detail),
        "instance": request.url.path,
    }
    return ProblemResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> ProblemResponse:
    # The server logs the traceback (Starlette re-raises after responding); the client
    # learns only that it was not its fault.
    error = VantageError("unexpected server error; the server log has the details")
    return ProblemResponse(error.problem(instance=request.url.path), status_code=500)
