"""At start the service logs the page's addresses and shows a QR code of the best one, once; the page serves it."""

from __future__ import annotations

from pathlib import Path

import httpx

from service.runtime.qr import qr_svg, qr_terminal
from tests.support.net import free_port
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until


def test_the_qr_code_is_printed_once_and_served(tmp_path: Path) -> None:
    config = tmp_path / "potwatch.toml"
    config.write_text('[[probes]]\nid = "pot"\nurl = "sim://?kind=water"\n')
    service = ServiceProcess(
        ["run", "--config", str(config), "--state-dir", str(tmp_path / "state")], tmp_path / "run.log", free_port()
    )
    with service:
        url = f"http://127.0.0.1:{service.port}/"
        wait_until(lambda: qr_terminal(url) in service.log_path.read_text(), 10, "the QR code in the log")
        assert f"phone page: {url}" in service.log()
        got = httpx.get(service.base + "/qr.svg", timeout=5)
        assert got.headers["content-type"] == "image/svg+xml" and got.content == qr_svg(url)
        page = httpx.get(service.base + "/", timeout=5).text
        assert 'src="qr.svg"' in page and "Open on another phone" in page
    assert service.log_path.read_text().count("scan to open") == 1
