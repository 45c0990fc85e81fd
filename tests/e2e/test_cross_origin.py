"""A page from another web site cannot stop the cook or silence the alarm, even with no token set.

Real headless Chromium opens a page served by a little web server of its own
on another origin (another port of the same machine), the way any site the
cook browses could. The page does what needs no preflight: a ``fetch`` in
``no-cors`` mode that POSTs an ack of every alarm, then an auto-submitting form
that POSTs a stop. Both reach the real ``potwatch``; both must be refused, and
the cook must still be running with its alarm still up.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.net import free_port
from tests.support.phone import open_phone
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess, serial_service, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.real_part("chromium")

ATTACK = """<!doctype html>
<title>a recipe blog</title>
<form id="stop" method="POST" action="{base}/api/cooks/current/stop" enctype="text/plain">
  <input name='{{"x":"' value='"}}'>
</form>
<script>
  fetch("{base}/api/alerts/all/ack", {{ method: "POST", mode: "no-cors" }})
    .catch(() => null)
    .finally(() => document.getElementById("stop").submit());
</script>
"""


@contextlib.contextmanager
def attack_site(service_base: str) -> Iterator[str]:
    """A web server on another origin serving the attacking page; yields the page's address."""
    page = ATTACK.format(base=service_base).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/recipe.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[ServiceProcess, PtyDevice]]:
    # no [server] token: the same-origin check is all that guards the commands
    with PtyDevice() as device, serving(serial_service(tmp_path, device.path, stale_after="30s")) as svc:
        yield svc, device


def reached_alarm(service: ServiceProcess, device: PtyDevice) -> dict[str, Any]:
    """Climb the caramel past 225 °F until the critical alarm is up; return it."""

    def alarm() -> dict[str, Any] | None:
        alerts = service.get("/api/status")["alerts"]
        return next((a for a in alerts if a["kind"] == "target_reached" and a["active"]), None)

    temp = 215.0
    end = time.monotonic() + 60
    while time.monotonic() < end:
        device.write(f"{temp:.2f}\n".encode())
        temp = min(temp + 0.2, 227.0)
        time.sleep(0.05)  # the pot's pace: a reading every 50 ms, as a fast probe sends them
        if temp >= 227.0 and (found := alarm()) is not None:
            return found
    raise AssertionError(f"the caramel never raised target_reached:\n{service.log()}")


def test_a_foreign_page_cannot_ack_or_stop(service: tuple[ServiceProcess, PtyDevice], browser: Browser) -> None:
    svc, device = service
    assert "anyone on this network can stop the cook" in svc.log()  # the warning at start, without a token
    alert = reached_alarm(svc, device)
    page = open_phone(browser).page
    try:
        with (
            attack_site(svc.base) as url,
            page.expect_response(lambda r: r.url.endswith("/api/alerts/all/ack")) as acked,
            page.expect_response(lambda r: r.url.endswith("/api/cooks/current/stop")) as stopped,
        ):
            page.goto(url)
        answers = {"ack": acked.value.status, "stop": stopped.value.status}
        page.wait_for_url(svc.base + "/api/cooks/current/stop")  # the form's navigation: the refusal
        body = page.locator("body").inner_text()
    finally:
        page.context.close()
    assert answers == {"ack": 403, "stop": 403}, answers
    assert "may not send commands" in body, body
    status = svc.get("/api/status")
    assert status["cook"] is not None and status["cook"]["profile"] == "caramel", "the cook was stopped"
    still = next(a for a in status["alerts"] if a["id"] == alert["id"])
    assert still["active"] and not still["acked"], "the alarm was acknowledged"
    # while the service's own page (same origin) still can: the ack goes through
    r = svc.post("/api/alerts/all/ack", headers={"Origin": svc.base})
    assert r.status_code == 200 and alert["id"] in r.json()["acked"]
