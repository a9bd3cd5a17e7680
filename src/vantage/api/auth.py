"""Who may write: the API-token guard on every write endpoint, and the browser's login cookie.

`require_token_for_writes` is an application-wide dependency (`create_app` installs it), so every
POST, PUT, PATCH and DELETE route, including ones added later, needs a token once one exists:
``Authorization: Bearer <token>`` for programs, or the ``vantage_token`` cookie that
``POST /login`` sets for the browser (httponly, SameSite=Strict, so other sites can neither read
it nor make the browser send it). Reads stay open.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.routing import NoMatchFound

from vantage.api.schemas import problem_responses
from vantage.api.tokens import TokenStore
from vantage.errors import AuthenticationError

COOKIE_NAME = "vantage_token"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

router = APIRouter(tags=["auth"])


def presented_token(request: Request) -> str | None:
    """The token a request carries: its bearer token, else its login cookie."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME) or None


def require_token_for_writes(request: Request) -> None:
    """Refuse a write without an active token (401) while any token is active.

    Raises:
        AuthenticationError: a write without a valid token while tokens are on.
    """
    if request.method not in WRITE_METHODS or request.scope.get("endpoint") in _OPEN_ENDPOINTS:
        return
    tokens: TokenStore = request.app.state.tokens
    if not tokens.check(presented_token(request)):
        raise AuthenticationError(
            "this request changes something and needs an API token: send "
            "'Authorization: Bearer <token>' or log in at /login "
            "(tokens come from `vantage tokens create NAME`)"
        )


def _safe_next(target: str) -> str:
    """``target`` when it is a path on this site, else '/' (no open redirect)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"


@router.get("/login", name="login_form", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    """The web UI's login page when it has one (``login_page``), else a bare token form."""
    target = _safe_next(next)
    try:
        page = request.url_for("login_page").include_query_params(next=target)
    except NoMatchFound:
        return HTMLResponse(_BARE_FORM.format(next=escape(target, quote=True)))
    return RedirectResponse(str(page), status_code=status.HTTP_303_SEE_OTHER)


_BARE_FORM = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Vantage · log in</title>"
    "</head><body><h1>Log in to Vantage</h1>"
    "<form method='post' action='/login'>"
    "<label>API token <input name='token' type='password' autocomplete='off' required "
    "autofocus></label><input type='hidden' name='next' value='{next}'>"
    "<button type='submit'>Log in</button></form>"
    "<p>Make a token with <code>vantage tokens create NAME</code>.</p></body></html>"
)


@router.post(
    "/login",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses=problem_responses(401, 422),
)
def login(
    request: Request,
    token: Annotated[str, Form(description="An API token from `vantage tokens create`.")],
    next: Annotated[str, Form(description="Where to go afterwards (a path).")] = "/",
) -> RedirectResponse:
    """Check the token and keep it in an httponly, SameSite=Strict cookie; then go on."""
    tokens: TokenStore = request.app.state.tokens
    if not tokens.valid(token.strip()):
        raise AuthenticationError("that API token is not valid: it is mistyped or revoked")
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE_NAME,
        token.strip(),
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", status_code=status.HTTP_303_SEE_OTHER, response_class=RedirectResponse)
def logout() -> RedirectResponse:
    """Forget the login cookie; then go to the start page."""
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


# Logging in must work without a token, and logging out needs none.
_OPEN_ENDPOINTS = frozenset({login, logout})
