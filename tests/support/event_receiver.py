"""A partner's receiver of decision events, really listening on 127.0.0.1 (http.server in a
thread): it verifies signatures as the README tells partners to, de-duplicates by event id,
and remembers what it applied, in order per subject."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (how many requests came before this one, the event) -> HTTP status to answer; may block.
Behaviour = Callable[[int, dict[str, Any]], int]


@dataclass
class Receiver:
    url: str = ""
    secret: str | None = None  # when set, a bad signature is answered 401
    behaviour: Behaviour = lambda n, event: 200
    # Called after an event is applied, before the answer is sent: may block, so that the
    # sender dies holding a delivery the receiver already has.
    before_answer: Callable[[dict[str, Any]], None] = lambda event: None
    requests: list[dict[str, Any]] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)  # each event id once
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_subject(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for event in self.applied:
            key = event["subject"].get("resident_id") or event["subject"].get("payee_key")
            out.setdefault(key, []).append(event["sequence"])
        return out


def _valid(secret: str, headers: Any, body: bytes) -> bool:
    signed = headers["X-LTC-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-LTC-Signature", ""))


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            event = json.loads(body)
            with receiver.lock:
                number = len(receiver.requests)
                receiver.requests.append({"event": event, "headers": dict(self.headers)})
            if receiver.secret is not None and not _valid(receiver.secret, self.headers, body):
                status = 401
            else:
                status = receiver.behaviour(number, event)
            if 200 <= status < 300:
                with receiver.lock:
                    if event["event_id"] not in receiver.seen:  # at least once → once
                        receiver.seen.add(event["event_id"])
                        receiver.applied.append(event)
                receiver.before_answer(event)
            answer = json.dumps({"status": status, "n": number}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a sender that timed out and hung up: its answer has nowhere to go

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/ltc-events"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
