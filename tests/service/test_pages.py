"""Where a phone finds the page: LAN addresses first (not 127.0.1.1 nor only .local), and a QR code of the best."""

from __future__ import annotations

import re
import socket

import httpx
import pytest
import segno

from service.api.app import AppSettings, create_app
from service.core.cook import Kitchen, ProbeSetup
from service.profiles import load_profiles
from service.runtime.hub import Hub
from service.runtime.pages import interface_addresses, lan_addresses, page_urls
from tests.support.clock import HandClock


def test_the_default_routes_address_comes_first_and_loopback_and_bridges_are_left_out() -> None:
    interfaces = [
        ("lo", "127.0.0.1"),
        ("docker0", "172.17.0.1"),
        ("veth12ab", "169.254.3.3"),
        ("eth0", "192.168.1.20"),
        ("wlan0", "10.0.0.7"),
        ("usb0", "169.254.10.2"),
        ("odd", "not-an-ip"),
    ]
    assert lan_addresses("10.0.0.7", interfaces) == ["10.0.0.7", "192.168.1.20", "169.254.10.2"]


def test_without_a_default_route_the_interfaces_still_count() -> None:
    assert lan_addresses(None, [("lo", "127.0.0.1"), ("eth0", "192.168.1.20")]) == ["192.168.1.20"]
    assert lan_addresses("127.0.1.1", [("lo", "127.0.0.1")]) == []  # Debian's name for itself is no address


def test_this_machines_page_urls_start_with_its_lan_address() -> None:
    lan = [a for name, a in interface_addresses() if not a.startswith("127.") and not name.startswith("docker")]
    urls = page_urls("http", "0.0.0.0", 8000)
    local = f"http://{socket.gethostname()}.local:8000/"
    assert urls[-2:] == [local, "http://127.0.0.1:8000/"]
    if not lan:
        pytest.skip("this machine has no non-loopback IPv4 address")
    assert urls[0].removeprefix("http://").removesuffix(":8000/") in lan
    assert {f"http://{a}:8000/" for a in lan} <= set(urls)


def test_a_named_listen_address_is_the_only_one() -> None:
    assert page_urls("https", "192.168.1.20", 8443) == ["https://192.168.1.20:8443/"]


@pytest.fixture
def hub() -> Hub:
    # /qr.svg asks nothing of the kitchen: a hub that is never run is enough
    return Hub(Kitchen([ProbeSetup("pot")]), HandClock(), load_profiles())


def modules_of(svg: str) -> set[tuple[int, int]]:
    """The dark modules an SVG of segno's draws: its one path is runs of ``h`` along rows."""
    d = re.search(r'<path class="qrline"[^>]* d="([^"]+)"', svg)
    assert d is not None, svg[:400]
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for op, args in re.findall(r"([MmHh])([-0-9. ]+)", d.group(1).replace("m", " m").replace("h", " h")):
        nums = [float(n) for n in args.split()]
        if op == "M":
            x, y = nums
        elif op == "m":
            x, y = x + nums[0], y + nums[1]
        else:
            dark.update((int(y - 0.5), int(x + i)) for i in range(int(nums[0])))
            x += nums[0]
    return dark


async def test_qr_svg_encodes_the_pages_best_address(hub: Hub) -> None:
    url = "http://192.168.1.20:8000/"
    app = create_app(hub, AppSettings(page_url=url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
        got = await c.get("/qr.svg")
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/svg+xml"
    code = segno.make(url, error="m", micro=False)
    border = 4
    expected = {(r + border, c + border) for r, row in enumerate(code.matrix) for c, v in enumerate(row) if v & 1}
    assert modules_of(got.text) == expected
    assert modules_of(got.text) != modules_of(segno.make("http://127.0.0.1:8000/", error="m").svg_inline())


async def test_qr_svg_before_the_address_is_known_shows_the_one_asked(hub: Hub) -> None:
    app = create_app(hub, AppSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pot.local:8000") as c:
        got = await c.get("/qr.svg")
    assert got.status_code == 200 and "<title>http://pot.local:8000/</title>" in got.text
