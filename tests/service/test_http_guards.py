"""Who may send a command, and how big and how strange a body may be: in-process, through ASGI.

The guard and the body cap are ASGI middleware; these tests drive the app
with hand-made ASGI messages where they must see what the application read
(nothing, for a refused command), and with httpx where the answer is enough.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from service.api.app import AppSettings, create_app
from service.api.json_body import NotJson, strict_loads
from service.api.limits import MAX_BODY_BYTES
from service.api.origin import SameOrigin, machine_names
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import StartCook
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.clock import HandClock

START = {"profile": "caramel", "probe": "pot"}


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    hub = Hub(Kitchen([ProbeSetup("pot")]), HandClock(), load_profiles())
    task = asyncio.create_task(hub.run())
    yield hub
    task.cancel()


def client(hub: Hub, settings: AppSettings | None = None, host: str = "127.0.0.1:8000") -> httpx.AsyncClient:
    """A client whose requests name ``host``, as a phone that typed that address would."""
    app = create_app(hub, settings or AppSettings())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


async def asgi_call(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes],
    host: bytes = b"127.0.0.1:8000",
) -> Any:
    """One request by hand, reaching the Pi at 192.168.1.20:8000 and naming ``host``.

    Returns the status, the response headers, the JSON body and how many body chunks the app asked for.
    """
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        await asyncio.Event().wait()  # a client that sends nothing more
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host), *headers],
        "client": ("192.168.1.30", 50000),
        "server": ("192.168.1.20", 8000),
    }
    await asyncio.wait_for(app(scope, receive, send), 5)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), json.loads(body), pulled


# -- the token is checked before any body is read --------------------------------------------


@pytest.mark.parametrize("authorization", [None, b"Bearer wrong", b"s3cret", b"Basic czNjcmV0"])
async def test_a_command_without_the_token_is_refused_before_its_body_is_read(
    hub: Hub, authorization: bytes | None
) -> None:
    app = create_app(hub, AppSettings(token="s3cret"))
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    if authorization is not None:
        headers.append((b"authorization", authorization))
    status, response_headers, body, pulled = await asgi_call(app, "POST", "/api/cooks", headers, [b"{"] * 100)
    assert (status, pulled) == (401, 0), body
    assert body == {"detail": "missing or wrong token"}
    assert response_headers[b"connection"] == b"close"
    assert hub.kitchen.cooks == {}


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_the_bearer_scheme_is_case_insensitive(hub: Hub, scheme: str) -> None:
    async with client(hub, AppSettings(token="s3cret")) as c:
        r = await c.post("/api/cooks", json=START, headers={"Authorization": f"{scheme} s3cret"})
    assert r.status_code == 201, r.text


# -- bodies are capped on the receive stream --------------------------------------------------


@pytest.mark.parametrize("path", ["/api/cooks", "/api/cooks/current/stop"])
async def test_a_declared_length_over_the_cap_is_413_without_calling_the_route(hub: Hub, path: str) -> None:
    await hub.request(StartCook(hub.clock.monotonic(), hub.profiles["caramel"], "pot"))
    app = create_app(hub, AppSettings(token="s3cret"))
    headers = [
        (b"authorization", b"Bearer s3cret"),
        (b"content-type", b"application/json"),
        (b"content-length", b"209715200"),
    ]
    # the stop route reads no body: a 413 must still mean nothing was done
    status, response_headers, body, pulled = await asgi_call(app, "POST", path, headers, [b"{"])
    assert (status, pulled) == (413, 0), body
    assert response_headers[b"connection"] == b"close"
    assert "over 4096 bytes" in body["detail"]
    assert [c.ended_at for c in hub.kitchen.cooks.values()] == [None]  # still cooking, nothing else started


async def test_a_chunked_body_is_cut_off_at_the_cap(hub: Hub) -> None:
    app = create_app(hub, AppSettings(token="s3cret"))
    headers = [(b"authorization", b"Bearer s3cret"), (b"content-type", b"application/json")]
    chunk = b" " * 1024
    status, response_headers, body, pulled = await asgi_call(app, "POST", "/api/cooks", headers, [chunk] * 1000)
    assert status == 413, body
    assert pulled == MAX_BODY_BYTES // len(chunk) + 1  # not one chunk past the one that crossed the cap
    assert response_headers[b"connection"] == b"close"
    assert hub.kitchen.cooks == {}


async def test_a_body_just_under_the_cap_is_read(hub: Hub) -> None:
    body = json.dumps(START).encode()
    padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    async with client(hub) as c:
        r = await c.post("/api/cooks", content=padded, headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text


# -- strict JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"profile": NaN, "probe": "pot"}', "NaN is not a JSON number"),
        (b'{"profile": "caramel", "probe": "pot", "channel": Infinity}', "Infinity is not a JSON number"),
        (b'{"profile": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"profile": 1e999, "probe": "pot"}', "1e999 is out of range"),
        (b'{"profile": "\\ud800", "probe": "pot"}', "lone surrogate"),
        (b'{"\\udfff": 1}', "lone surrogate"),
        (b"[" * 100 + b"]" * 100, "nested deeper than 8 levels"),
        (b'{"profile": "caramel",', "Expecting"),
    ],
)
async def test_bodies_json_does_not_allow_are_422_saying_why(hub: Hub, raw: bytes, why: str) -> None:
    async with client(hub) as c:
        r = await c.post("/api/cooks", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    [problem] = r.json()["detail"]
    assert problem["type"] == "json_invalid" and problem["loc"] == ["body"]
    assert why in problem["msg"], problem
    assert hub.kitchen.cooks == {}


def test_strict_json_keeps_what_json_allows() -> None:
    assert strict_loads(b'{"a": "\\ud83d\\ude00", "b": [1, 2.5e3, null, true], "c": {"d": "[{"}}') == {
        "a": "\N{GRINNING FACE}",
        "b": [1, 2500.0, None, True],
        "c": {"d": "[{"},
    }
    with pytest.raises(NotJson):
        strict_loads('"\\ud800"')
    with pytest.raises(NotJson, match="integer string conversion"):
        strict_loads("1" * 5000)  # past Python's int limit: a ValueError, not a JSONDecodeError


# -- the same-origin check (no token set) -----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},  # another port is another origin
        {"Origin": "https://127.0.0.1:8000"},  # and another scheme
        {"Origin": "null"},  # a sandboxed frame, a file:// page
        {"Origin": "http://127.0.0.1:8000.evil.example"},
        {"Origin": "http://[::1"},  # not even a URL
    ],
)
async def test_a_command_from_a_foreign_page_is_403(hub: Hub, headers: dict[str, str]) -> None:
    async with client(hub) as c:
        r = await c.post(
            "/api/cooks",
            content=b"profile=caramel&probe=pot",
            headers={**headers, "content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 403, r.text
        assert "may not send commands" in r.json()["detail"]
        assert (await c.post("/api/alerts/all/ack", headers=headers)).status_code == 403
    assert hub.kitchen.cooks == {}


@pytest.mark.parametrize(
    ("host", "origin", "allowed", "status"),
    [
        # the page of attacker.example, its name now pointing at the kitchen's Pi (DNS rebinding):
        # same origin as far as the browser knows, but a Host that is none of the service's names
        (b"attacker.example:8000", b"http://attacker.example:8000", [], 403),
        (b"attacker.example:8000", None, [], 403),
        # the phone that opened the Pi's address, its hostname.local, or a name the config adds
        (b"192.168.1.20:8000", b"http://192.168.1.20:8000", [], 409),
        (b"%b.local:8000", b"http://%b.local:8000", [], 409),
        (b"kitchen.example", b"http://kitchen.example", ["Kitchen.Example"], 409),
        (b"[::1]:8000", b"http://[::1]:8000", [], 409),
        (b"192.168.1.20:8000", None, [], 409),  # a script: no Origin at all
    ],
)
async def test_the_host_must_be_one_of_the_services_names(
    hub: Hub, host: bytes, origin: bytes | None, allowed: list[str], status: int
) -> None:
    name = socket.gethostname().encode()
    host = host.replace(b"%b", name)
    headers = [(b"origin", origin.replace(b"%b", name))] if origin else []
    app = create_app(hub, AppSettings(allowed_hosts=allowed))
    # POST stop with nothing cooking: 409 once through the guard, and nothing to break if it were let through
    got, _, body, _ = await asgi_call(app, "POST", "/api/cooks/current/stop", headers, [], host=host)
    assert got == status, body
    if status == 403:
        assert "attacker.example" in body["detail"] and "allowed_hosts" in body["detail"]


def test_the_machines_own_names_are_known() -> None:
    hostname = socket.gethostname().lower()
    assert {hostname, f"{hostname}.local", "localhost", "127.0.0.1", "::1"} <= machine_names()
    assert SameOrigin(["Proxy.Example."]).allowed == {"proxy.example"}


async def test_a_push_buttons_key_acknowledges_its_own_alert_and_nothing_else(hub: Hub) -> None:
    """The key a push carries (service/runtime/ack_keys.py) is not the token: one alert's ack, no more."""
    from service.core.events import Sample
    from service.runtime.ack_keys import ack_key

    await hub.request(StartCook(0.0, load_profiles()["caramel"], "pot"))
    for i in range(12):  # past 225 °F: the caramel's alarm
        await hub.request(Sample(1.0 + i, "pot", "", 108.0))
    (alert,) = [a for a in hub.kitchen.alerts.values() if a.kind.value == "target_reached"]
    other = next(a for a in hub.kitchen.alerts.values() if a.id != alert.id)
    key = ack_key("s3cret", alert.id)
    assert key != "s3cret" and "s3cret" not in key
    async with client(hub, AppSettings(token="s3cret")) as c:
        bearer = {"Authorization": f"Bearer {key}"}
        assert (await c.post(f"/api/alerts/{other.id}/ack", headers=bearer)).status_code == 401
        assert (await c.post("/api/cooks/c1/stop", headers=bearer)).status_code == 401
        assert (await c.post("/api/alarm/test", headers=bearer)).status_code == 401
        assert not alert.acked
        answer = await c.post(f"/api/alerts/{alert.id}/ack", headers=bearer)
        assert answer.status_code == 200, answer.text
    assert hub.kitchen.alerts[alert.id].acked
