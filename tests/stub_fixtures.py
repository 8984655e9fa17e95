"""Pytest fixtures and helpers for tests that talk to the local Twilio stub.

tests/conftest.py registers this module as a pytest plugin, so every test can ask for the
fixtures by name; import only the helpers (``json_request``).

- ``twilio_stub``: a started ``TwilioStub`` on a free loopback port (stopped afterwards).
- ``webhook_receiver``: a tiny HTTP server that records every POST (path, headers, form)
  and answers with ``receiver.response`` (status, body, content type); use it as a
  StatusCallback or as the stub's webhook URL.
- ``json_request``: call the stub's ``/_stub/*`` endpoints over HTTP.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import pytest

from tools.twilio_stub import TwilioStub


@dataclass
class ReceivedRequest:
    path: str
    headers: dict
    form: dict  # field -> first value
    raw: bytes


class WebhookReceiver:
    """Records POSTs on a free loopback port; ``url(path)`` gives the full URL to hand out."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.response: tuple[int, str, str] = (200, "<Response/>", "text/xml")
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
                with receiver._changed:
                    receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), form, raw))
                    receiver._changed.notify_all()
                status, body, content_type = receiver.response
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until ``predicate(requests)`` holds; return the requests (fails the test on timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.requests):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"timed out waiting for requests; got {[r.form for r in self.requests]}")
                self._changed.wait(remaining)
            return list(self.requests)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def json_request(base_url: str, path: str, payload: Optional[dict] = None) -> tuple[int, Any]:
    """GET (payload None) or POST JSON to the stub; returns (status, decoded JSON)."""
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(base_url + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def twilio_stub():
    stub = TwilioStub(callback_delay_ms=10).start()
    yield stub
    stub.stop()
