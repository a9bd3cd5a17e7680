"""Small real servers on 127.0.0.1 for tests: S3 (moto), SMTP (aiosmtpd), a webhook receiver
that answers from a script, and a file server with optional Content-Disposition and length."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def http_server(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free 127.0.0.1 port in a thread until the block ends; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def moto_s3() -> Iterator[str]:
    """A moto S3 server on a free local port, with fake credentials; its endpoint URL."""
    env = pytest.MonkeyPatch()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.setenv(name, "testing")
    env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env.setenv("AWS_CONFIG_FILE", "/dev/null")
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        env.undo()


@dataclass
class Mailbox:
    """What the test SMTP server received."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)


class _Collect:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mailbox.recipients.append(list(envelope.rcpt_tos))
        self.mailbox.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An SMTP server (no TLS, no login) on a free local port."""
    mailbox = Mailbox("127.0.0.1", free_port())
    controller = Controller(_Collect(mailbox), hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class Receiver:
    """A webhook receiver: answers POSTs with ``statuses`` in turn (then 200), keeps the bodies."""

    url: str
    statuses: list[int]
    bodies: list[dict[str, Any]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)


@contextmanager
def webhook_receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    """A local HTTP server that records JSON POSTs and answers from a script."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.bodies.append(json.loads(body))
                receiver.answered.append(status)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Handler) as url:
        receiver = Receiver(f"{url}/hook", list(statuses or []))
        yield receiver


@dataclass(frozen=True)
class Served:
    """One file the file server answers with."""

    content: bytes
    status: int = 200
    content_type: str = "application/octet-stream"
    disposition: str | None = None
    send_length: bool = True


@contextmanager
def file_server(files: dict[str, Served]) -> Iterator[str]:
    """A local HTTP server answering GET <path> from ``files`` (404 otherwise); its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            served = files.get(self.path.partition("?")[0])
            if served is None:
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            self.send_response(served.status)
            self.send_header("content-type", served.content_type)
            if served.disposition:
                self.send_header("content-disposition", served.disposition)
            if served.send_length:
                self.send_header("content-length", str(len(served.content)))
                self.end_headers()
                self.wfile.write(served.content)
                return
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for start in range(0, len(served.content), 64 * 1024):
                piece = served.content[start : start + 64 * 1024]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Handler) as url:
        yield url
