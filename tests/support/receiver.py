"""A real HTTP receiver on loopback, standing in for a push service (ntfy, a JSON webhook, Pushover's API).

A stdlib ``http.server`` in a thread, on a free port. It records every
request (method, path, headers, body, and the ``perf_counter`` time its body
had fully arrived) and answers 200 with ``{}``, except that a test can make
it:

* ``fail(n, status)``: answer the next ``n`` requests with ``status``
  (``heal()`` forgets those still to come);
* ``hang()``: hold every request from now on (recorded on arrival, answered
  never) until ``release()``; ``open_requests`` counts the held ones.

Used by tests/alarm and by ``bench/push_latency.py``; as a context manager it
starts and stops itself, releasing whatever it still holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.perf_counter() once the body was read

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """A form-encoded body (Pushover's API), one value per field."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class Receiver:
    """An HTTP server on 127.0.0.1 that records what it is sent (see the module's docstring)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.cond = threading.Condition()
        self._failures: list[int] = []
        self._held = threading.Event()
        self._held.set()  # set: answer at once; cleared: hold
        self.open_requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            do_PUT = do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.host = "127.0.0.1"
        self._thread = threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True)

    # ---- control -------------------------------------------------------------------------------

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def fail(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``."""
        with self.cond:
            self._failures += [status] * count

    def heal(self) -> None:
        """Answer 200 again from now on: the failures ``fail`` still had to give are forgotten."""
        with self.cond:
            self._failures.clear()

    def hang(self) -> None:
        """Hold every request from now on, unanswered, until ``release()``."""
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    # ---- what arrived --------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 5.0) -> Received:
        """The ``count``-th request (1 for the first), once it has arrived; fails after ``timeout``."""
        self.wait_until(lambda: len(self.requests) >= count, timeout, f"request {count}")
        return self.requests[count - 1]

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        with self.cond:
            while not check():
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver timed out after {timeout} s waiting for {what}")
                self.cond.wait(left)

    # ---- the server's side ---------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        got = Received(
            handler.command,
            handler.path,
            {k.lower(): v for k, v in handler.headers.items()},
            body,
            time.perf_counter(),
        )
        with self.cond:
            self.requests.append(got)
            status = self._failures.pop(0) if self._failures else 200
            held = not self._held.is_set()
            if held:
                self.open_requests += 1
            self.cond.notify_all()
        if held:
            self._held.wait()
            with self.cond:
                self.open_requests -= 1
                self.cond.notify_all()
        answer = b"{}" if status == 200 else json.dumps({"code": status, "error": "test failure"}).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except OSError:  # the client gave up on a held request: nothing to answer
            pass
