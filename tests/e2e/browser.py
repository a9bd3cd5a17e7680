"""Browser fixtures: Debian's Chromium under Playwright with software WebGL, console and page
errors collected per page, a static file server, a live API server, a screenshot measure and a
wait for the 3D viewer.

Chromium renders WebGL2 with SwiftShader on the CPU (one or two frames a second at 640×480), so
pages stay small. Import the fixtures in a conftest (``tests/e2e/conftest.py`` does).
"""

from __future__ import annotations

import functools
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from starlette.types import ASGIApp

from integration.servers import http_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 320, "height": 240}
VIEWER_TIMEOUT_S = 60.0


@dataclass
class WatchedPage:
    """A browser page and the errors it reported (console ``error`` messages, uncaught errors)."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Every error the page reported."""
        return self.console_errors + self.page_errors


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with WebGL2 on SwiftShader."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[WatchedPage]:
    """A fresh page (own context, 320×240 viewport) that records its errors."""
    context = chromium.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    watched = WatchedPage(context.new_page())

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(f"{message.text} ({message.location.get('url')})")

    watched.page.on("console", on_console)
    watched.page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    try:
        yield watched
    finally:
        context.close()


@contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 until the block ends; yields the base URL."""

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http_server(functools.partial(QuietHandler, directory=str(folder))) as url:
        yield url


@contextmanager
def live_app(app: ASGIApp, startup_s: float = 30.0) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free 127.0.0.1 port until the block ends; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Off the main thread uvicorn installs no signal handlers; should_exit stops it.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_s
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        if not server.started:
            pytest.fail("the API server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_s)
        sock.close()


def screenshot_variance(png_bytes: bytes) -> float:
    """Variance of all pixel values (RGB, 0–255) of a PNG: 0 for a page of one colour."""
    pixels = np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB"), dtype=np.float64)
    return float(pixels.var())


def wait_for_viewer(page: Page, timeout_s: float = VIEWER_TIMEOUT_S) -> dict[str, Any]:
    """Wait until the 3D viewer is ready or has failed; its ``window.vantageViewer`` state."""
    page.wait_for_function(
        "() => window.vantageViewer && (window.vantageViewer.ready || window.vantageViewer.error)",
        timeout=timeout_s * 1000,
    )
    state: dict[str, Any] = page.evaluate("window.vantageViewer")
    return state
