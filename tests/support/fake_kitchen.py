"""A stand-in service for layout tests of the phone page: the real static files, a scripted API.

The demo pot passes through each moment of a cook once, at its own pace; a
layout test needs one moment held still (approaching, with an ETA; an alarm; a
warning banner; a silent stream). ``FakeKitchen`` serves the page's own files
and ``/words.js`` from the service's tables, answers ``/api/status`` with
whatever the test put in ``status``, and streams the events the test sends,
with a heartbeat every second until ``silence()``.
"""

from __future__ import annotations

import copy
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from service.runtime.words import page_module
from tests.support.net import free_port

STATIC = Path(__file__).resolve().parents[2] / "service" / "api" / "static"
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


def probe(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "pot",
        "label": "Caramel pot",
        "state": "ok",
        "celsius": 104.0,
        "fahrenheit": 219.2,
        "at": "2026-11-28T14:03:10.990Z",
        "age_s": 0.3,
        "channel": "",
        "fault": None,
        "calibration": "none",
    }
    return base | fields


def reach_cook(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "1-c1",
        "profile": "caramel",
        "title": "Caramel: red-wine caramel to 225 °F",
        "probe": "pot",
        "channel": "",
        "step": "caramel",
        "step_index": 0,
        "step_kind": "reach",
        "steps": ["caramel"],
        "stage": "approaching",
        "started_at": "2026-11-28T13:50:00.000Z",
        "target_c": 107.22,
        "target_f": 225.0,
        "overshoot_c": 110.0,
        "overshoot_f": 230.0,
        "rate_f_per_min": 4.8,
        "eta_s": 77.0,
        "eta_sigma_s": 6.0,
        "sugar_stage": "syrup",
        "next_sugar_stage": "glaze",
        "next_sugar_stage_eta_s": 77.0,
        "low_c": None,
        "high_c": None,
        "calibration": "none",
    }
    return base | fields


def alert(
    kind: str, level: str, message: str, ident: str = "a1", at: str = "2026-11-28T14:03:10.990Z"
) -> dict[str, Any]:
    return {
        "id": ident,
        "kind": kind,
        "level": level,
        "active": True,
        "acked": False,
        "at": at,
        "probe": "pot",
        "cook": "1-c1",
        "step": "caramel",
        "celsius": 107.3,
        "fahrenheit": 225.1,
        "message": message,
    }


class FakeKitchen:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {
            "version": "test",
            "speed": 1,
            "auth_required": True,
            "last_event_id": 0,
            "probes": [probe()],
            "cook": reach_cook(),
            "alerts": [],
        }
        self.series: dict[str, Any] = {"points": [], "stages": [], "alerts": []}
        self.profiles: list[dict[str, Any]] = [{"name": "caramel", "title": "Caramel", "steps": []}]
        self._streams: list[queue.Queue[str | None]] = []
        self._lock = threading.Lock()
        self._next_id = 1
        self._quiet = threading.Event()
        self._stop = threading.Event()
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._beat, daemon=True),
        ]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeKitchen:
        for t in self._threads:
            t.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for q in self._streams:
                q.put(None)
        self._server.shutdown()
        self._server.server_close()

    def send(self, name: str, data: dict[str, Any]) -> None:
        """An event to every open stream (with an id, as the service numbers them)."""
        with self._lock:
            ident = self._next_id
            self._next_id += 1
            self.status["last_event_id"] = ident
            for q in self._streams:
                q.put(f"id: {ident}\nevent: {name}\ndata: {json.dumps(data)}\n\n")

    def silence(self) -> None:
        """Stop the heartbeats (the stream stays open and carries nothing: Wi-Fi gone without a FIN)."""
        self._quiet.set()

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            if self._quiet.is_set():
                continue
            with self._lock:
                for q in self._streams:
                    q.put('event: heartbeat\ndata: {"now": null}\n\n')

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        kitchen = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, body: bytes, kind: str, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, data: Any) -> None:
                self._send(json.dumps(data).encode(), "application/json")

            def do_POST(self) -> None:
                self._json({})

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/api/events":
                    return self._events()
                with kitchen._lock:
                    if path == "/api/status":
                        return self._json(copy.deepcopy(kitchen.status))
                    if path.endswith("/series"):
                        return self._json(kitchen.series)
                    if path == "/api/profiles":
                        return self._json(kitchen.profiles)
                    if path == "/api/cooks":
                        return self._json([])
                if path == "/words.js":
                    return self._send(page_module().encode(), "text/javascript")
                name = "index.html" if path == "/" else path.lstrip("/")
                file = STATIC / name
                if file.parent != STATIC or not file.is_file():
                    return self._send(b"{}", "application/json", 404)
                self._send(file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"))

            def _events(self) -> None:
                q: queue.Queue[str | None] = queue.Queue()
                with kitchen._lock:
                    kitchen._streams.append(q)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                try:
                    self.wfile.write(b"retry: 2000\n\n")
                    self.wfile.flush()
                    while (chunk := q.get()) is not None:
                        self.wfile.write(chunk.encode())
                        self.wfile.flush()
                except OSError:
                    pass
                finally:
                    with kitchen._lock:
                        kitchen._streams.remove(q)

        return Handler
