"""API tokens on SQLite and PostgreSQL: once one exists, every write needs it (bearer or login
cookie) and gets 401 without; reads stay open; only hashes are stored; revoking takes effect."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from vantage.api.app import create_app
from vantage.api.tokens import TokenStore
from vantage.catalog.db import engine_from_settings
from vantage.catalog.models import ApiToken
from vantage.cli.app import app as cli
from vantage.cli.tokens import login_hint
from vantage.config import Settings
from vantage.errors import ConflictError, InvalidInputError, TokenNotFoundError

from .forms import CONTENT_TYPE, body
from .support import serve

PROBLEM = "application/problem+json"


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_settings(request: pytest.FixtureRequest) -> Settings:
    """A migrated catalog of each kind (the root conftest's fixtures)."""
    name = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    settings: Settings = request.getfixturevalue(name)
    return settings


@pytest.fixture
def catalog(catalog_settings: Settings) -> Iterator[Engine]:
    engine = engine_from_settings(catalog_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def tokens(catalog: Engine) -> TokenStore:
    return TokenStore(catalog)


@pytest.fixture
def api(catalog_settings: Settings, catalog: Engine) -> Iterator[httpx.Client]:
    with (
        serve(create_app(catalog_settings, engine=catalog)) as live,
        httpx.Client(base_url=live.url, timeout=10) as client,
    ):
        yield client


def unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"].endswith("/unauthorized")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_writes_are_open_while_no_token_exists(api: httpx.Client, tokens: TokenStore) -> None:
    assert not tokens.required()
    assert api.post("/jobs", json={"pipeline": "diagnostic"}).status_code == 201


def test_every_write_needs_a_token_once_one_exists(api: httpx.Client, tokens: TokenStore) -> None:
    job = api.post("/jobs", json={"pipeline": "diagnostic"}).json()
    token, _ = tokens.create("ci")

    writes: list[tuple[str, dict[str, Any]]] = [
        ("/jobs", {"json": {"pipeline": "diagnostic"}}),
        ("/start-job", {"json": {"s3Url": "s3://bucket/video.mp4", "email": "a@example.com"}}),
        ("/uploads", {"content": body(("file", "a.jpg", b"x")), "headers": {}}),
        (f"/jobs/{job['id']}/cancel", {}),
        (f"/jobs/{job['id']}/retry", {}),
    ]
    for path, request in writes:
        headers = request.pop("headers", {})
        if path == "/uploads":
            headers["content-type"] = CONTENT_TYPE
        unauthorized(api.post(path, headers=headers, **request))
        unauthorized(api.post(path, headers={**headers, **bearer("vt_wrong")}, **request))
        unauthorized(api.post(path, headers={**headers, "authorization": token}, **request))

    assert (
        api.post("/jobs", json={"pipeline": "diagnostic"}, headers=bearer(token)).status_code == 201
    )
    assert api.post(f"/jobs/{job['id']}/cancel", headers=bearer(token)).status_code == 200
    upload = api.post(
        "/uploads",
        content=body(("file", "a.jpg", b"x")),
        headers={"content-type": CONTENT_TYPE, **bearer(token)},
    )
    assert upload.status_code == 201
    # Reads stay open.
    assert api.get("/jobs").status_code == 200
    assert api.get(f"/jobs/{job['id']}").status_code == 200
    assert api.get(f"/uploads/{upload.json()['id']}").status_code == 200


def test_a_refused_write_changes_nothing(api: httpx.Client, tokens: TokenStore) -> None:
    tokens.create("ci")
    unauthorized(api.post("/jobs", json={"pipeline": "diagnostic"}))
    assert api.get("/jobs").json()["jobs"] == []


def test_login_sets_a_strict_httponly_cookie_that_authorises_writes(
    api: httpx.Client, tokens: TokenStore
) -> None:
    token, _ = tokens.create("browser")

    unauthorized(api.post("/login", data={"token": "vt_wrong"}))
    response = api.post("/login", data={"token": token, "next": "/jobs"})

    assert response.status_code == 303
    assert response.headers["location"] == "/jobs"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"vantage_token={token};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert api.cookies.get("vantage_token") == token
    assert api.post("/jobs", json={"pipeline": "diagnostic"}).status_code == 201

    logout = api.post("/logout")
    assert logout.status_code == 303
    assert logout.headers["location"] == "/"
    assert 'vantage_token=""' in logout.headers["set-cookie"]
    assert "vantage_token" not in api.cookies
    unauthorized(api.post("/jobs", json={"pipeline": "diagnostic"}))


def test_login_refuses_to_redirect_off_site(api: httpx.Client, tokens: TokenStore) -> None:
    token, _ = tokens.create("browser")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = api.post("/login", data={"token": token, "next": target})
        assert response.headers["location"] == "/"


def test_the_login_page_is_a_form(api: httpx.Client) -> None:
    page = api.get("/login", params={"next": "/jobs"}, follow_redirects=True)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "token" in page.text
    assert "action='/login'" in page.text or 'action="/login"' in page.text


def test_login_hands_over_to_the_web_ui_page_when_there_is_one(
    catalog_settings: Settings, catalog: Engine
) -> None:
    app = create_app(catalog_settings, engine=catalog)
    app.add_api_route("/ui/login", lambda: "the web UI's form", name="login_page")
    with serve(app) as live, httpx.Client(base_url=live.url) as client:
        response = client.get("/login", params={"next": "//evil.example/"})
    assert response.status_code == 303
    assert response.headers["location"].endswith("/ui/login?next=%2F")


def test_revoking_a_token_takes_effect_at_once(api: httpx.Client, tokens: TokenStore) -> None:
    first, _ = tokens.create("first")
    second, _ = tokens.create("second")

    tokens.revoke("first")

    unauthorized(api.post("/jobs", json={"pipeline": "diagnostic"}, headers=bearer(first)))
    assert (
        api.post("/jobs", json={"pipeline": "diagnostic"}, headers=bearer(second)).status_code
        == 201
    )
    unauthorized(api.post("/login", data={"token": first}))
    tokens.revoke("second")  # none active: writes are open again
    assert api.post("/jobs", json={"pipeline": "diagnostic"}).status_code == 201


def test_only_the_hash_is_stored_and_use_is_recorded(
    api: httpx.Client, tokens: TokenStore, catalog: Engine
) -> None:
    token, info = tokens.create("ci")
    assert info.last_used_at is None

    api.post("/jobs", json={"pipeline": "diagnostic"}, headers=bearer(token))

    with catalog.connect() as conn:
        row = conn.execute(select(ApiToken.__table__)).one()
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in [str(value) for value in row]
    [listed] = tokens.list()
    assert listed.name == "ci"
    assert listed.last_used_at is not None
    assert listed.active


def test_token_names_are_checked_and_unique(tokens: TokenStore) -> None:
    token, _ = tokens.create("laptop-1.home_x")
    assert token.startswith("vt_")
    assert len(token) > 40
    with pytest.raises(ConflictError):
        tokens.create("laptop-1.home_x")
    for bad in ("", "-x", "a b", "x" * 65, "a/b"):
        with pytest.raises(InvalidInputError):
            tokens.create(bad)
    with pytest.raises(TokenNotFoundError):
        tokens.revoke("nobody")
    tokens.revoke("laptop-1.home_x")
    assert tokens.revoke("laptop-1.home_x").revoked_at is not None  # again: no change, no error
    with pytest.raises(ConflictError):  # revoked names stay taken
        tokens.create("laptop-1.home_x")


def test_the_cli_creates_lists_and_revokes(
    catalog_settings: Settings, tokens: TokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"VANTAGE__DATA_DIR": str(catalog_settings.data_dir)}
    if catalog_settings.db.url:
        env["VANTAGE__DB__URL"] = catalog_settings.db.url
    monkeypatch.delenv("VANTAGE_CONFIG", raising=False)
    runner = CliRunner()

    created = runner.invoke(cli, ["tokens", "create", "laptop"], env=env)
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert tokens.valid(token)
    assert "once" in created.output

    listed = runner.invoke(cli, ["tokens", "list", "--json"], env=env)
    assert '"name": "laptop"' in listed.output
    assert token not in listed.output

    revoked = runner.invoke(cli, ["tokens", "revoke", "laptop"], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert "writes are open" in revoked.output
    assert not tokens.valid(token)


def test_serve_says_how_to_log_in(catalog_settings: Settings, tokens: TokenStore) -> None:
    assert "writes are open" in login_hint(catalog_settings, "http://127.0.0.1:8000")
    tokens.create("ci")
    hint = login_hint(catalog_settings, "http://127.0.0.1:8000")
    assert "http://127.0.0.1:8000/login" in hint
    assert "vantage tokens create" in hint
