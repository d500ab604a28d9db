"""A stand-in for the bureau's enrolment system: a real HTTP server on 127.0.0.1 in a thread,
speaking the contract in README "Enrolment check over HTTP", with switchable behaviour and a
hit counter. `stop()` closes the port (connection refused); `start()` opens it again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ltc.enrollment.gateway import set_gateway
from ltc.enrollment.remote import RemoteEnrollmentGateway
from ltc.enrollment.rules import BreakerPolicy

TOKEN = "test-bureau-token"


class Bureau:
    def __init__(self) -> None:
        self.mode = "ok"  # ok | slow | garbage | wrong_shape | error
        self.slow_seconds = 1.0
        self.not_enrolled: dict[str, str] = {}  # resident id → reason
        self.hits = 0
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        bureau = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bureau.hits += 1
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                bureau.requests.append({"path": self.path, "body": body,
                                        "authorization": self.headers.get("authorization")})
                if bureau.mode == "slow":
                    time.sleep(bureau.slow_seconds)
                if bureau.mode == "error":
                    return self._send(503, b'{"error": "maintenance"}')
                if bureau.mode == "garbage":
                    return self._send(200, b"<html>\xe7\xbb\xb4\xe6\x8a\xa4\xe4\xb8\xad</html>")
                if bureau.mode == "wrong_shape":
                    return self._send(200, b'{"enrolled": "yes"}')
                if self.headers.get("authorization") != f"Bearer {TOKEN}":
                    return self._send(401, b'{"error": "unauthorised"}')
                asked = json.loads(body)
                reason = bureau.not_enrolled.get(asked["resident_id"])
                answer = {"enrolled": reason is None, "scheme": "resident",
                          "insurance_number": "N" + asked["resident_id"][-4:],
                          "region_code": "370983", "reason": reason}
                self._send(200, json.dumps(answer, ensure_ascii=False).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the slow mode's timeout)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def close(self) -> None:
        if self._server is not None:
            self.stop()


def gateway(bureau: Bureau, **overrides: Any) -> RemoteEnrollmentGateway:
    """The adapter as production builds it (a generous timeout: the test machine is busy;
    the slow-mode tests shorten it), with backoff sleeps recorded (their lengths are the
    rule's, tested in unit tests) rather than waited."""
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    options: dict[str, Any] = {"timeout": 5.0, "retries": 2,
                               "policy": BreakerPolicy(failure_threshold=3), "sleep": record}
    made = RemoteEnrollmentGateway(bureau.url, TOKEN, **{**options, **overrides})
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


@pytest.fixture(name="bureau")
def bureau_fixture() -> Iterator[Bureau]:
    bureau = Bureau()
    yield bureau
    bureau.close()
    set_gateway(None)
