"""Every route, every parameter, hostile values: a clear 4xx (or a plain answer), never a 5xx.

A real ``potwatch demo`` (uvicorn's own URL and header parsing included) is
asked every operation of its own ``/openapi.json`` with each parameter in
turn set to a value chosen to break something: integers past 64 bits,
negatives, lone surrogates, NaN and Infinity, very long strings, control
characters, unicode. Then the same for each field of the one body and for the
headers the service reads. Any 5xx, or a dropped connection, fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.support.net import free_port
from tests.support.service import ServiceProcess, serving

# as they would appear in a URL, before percent-encoding (a lone surrogate goes out as its CESU bytes)
HOSTILE = [
    "9223372036854775808",
    "-9223372036854775809",
    "1" * 400,
    "-1",
    "0",
    "1e309",
    "NaN",
    "Infinity",
    "-Infinity",
    "\ud800",
    "\udfff\ud800",
    "x" * 6000,
    "🍮" * 200,
    "1" * 5000,
    "é",
    "\x00",
    "\r\nX-Injected: 1",
    "../../../../etc/passwd",
    " ",
    "%",
    "all' OR 1=1 --",
]

# as JSON text, for each field of the body
HOSTILE_JSON = [
    "9223372036854775808",
    "1" * 4400,
    "-1",
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-Infinity",
    '"\\ud800"',
    '"\\u0000"',
    json.dumps("x" * 3000),
    json.dumps("🍮" * 100, ensure_ascii=False),
    "null",
    "true",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
]

HOSTILE_HEADERS = {
    "Authorization": ["Bearer", "bearer ", "Bearer \udc80", "x" * 6000, "Basic Og=="],
    "Origin": ["null", "http://[::1", "http://a:99999", "\udc80", "x" * 6000, "file://"],
    "Host": ["", "[::1", "a:b:c", "127.0.0.1:99999", "x" * 6000, "evil.example"],
    "Last-Event-ID": ["9223372036854775808", "-1", "NaN", "\udc80", "x" * 6000],
    "Content-Type": ["application/json; charset=\udc80", "text/plain", "multipart/form-data; boundary=x"],
}


def url_part(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def header_bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    state = tmp_path_factory.mktemp("state")
    with serving(
        ServiceProcess(["demo", "--speed", "100", "--state-dir", str(state)], state / "demo.log", free_port())
    ) as svc:
        yield svc


def operations(base: str) -> list[tuple[str, str, list[dict[str, str]]]]:
    schema = httpx.get(base + "/openapi.json", timeout=5.0).json()
    return [
        (method.upper(), path, op.get("parameters", []))
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    ]


def ask(client: httpx.Client, method: str, url: str, **kwargs: object) -> int:
    """The status of one request, reading no more than its head (``/api/events`` never ends).

    0: the client itself refuses to send it (a NUL in a header); -1: the service dropped the connection.
    """
    try:
        with client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
            return response.status_code
    except httpx.LocalProtocolError:
        return 0
    except httpx.TransportError:
        return -1


def sample_path(path: str) -> str:
    return path.replace("{cook_id}", "current").replace("{alert_id}", "a1").replace("{probe_id}", "pot")


def test_every_parameter_of_every_route_takes_hostile_values(demo: ServiceProcess) -> None:
    bad: list[str] = []
    tried = 0
    with httpx.Client(base_url=demo.base, timeout=10.0) as client:
        for method, path, parameters in operations(demo.base):
            for parameter in parameters:
                where, name = parameter["in"], parameter["name"]
                for value in HOSTILE:
                    if where == "path":
                        url = sample_path(path.replace("{" + name + "}", url_part(value)))
                        status = ask(client, method, url)
                    elif where == "query":
                        status = ask(client, method, f"{sample_path(path)}?{name}={url_part(value)}")
                    else:
                        status = ask(client, method, sample_path(path), headers={name: header_bytes(value)})  # type: ignore[dict-item]
                    tried += 1
                    if status >= 500 or status < 0:
                        bad.append(f"{method} {path} {where} {name}={value[:40]!r}: {status}")
    assert tried > 100, tried
    assert bad == []


@pytest.mark.parametrize(
    "path",
    ["/api/cooks?offset=9223372036854775808", "/api/cooks?limit=9223372036854775808", "/api/cooks?offset=-1"],
)
def test_a_huge_or_negative_page_is_a_422_naming_it(demo: ServiceProcess, path: str) -> None:
    r = httpx.get(demo.base + path, timeout=5.0)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][0] == "query"


@pytest.mark.parametrize("field", ["profile", "probe", "channel", "colour"])
def test_every_body_field_takes_hostile_values(demo: ServiceProcess, field: str) -> None:
    statuses: dict[str, int] = {}
    with httpx.Client(base_url=demo.base, timeout=10.0) as client:
        for value in HOSTILE_JSON:
            fields = {"profile": '"caramel"', "probe": '"nowhere"'}  # an unknown probe: nothing starts
            fields[field] = value
            body = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
            r = client.post("/api/cooks", content=body.encode(), headers={"Content-Type": "application/json"})
            statuses[value[:30]] = r.status_code
    assert all(400 <= s < 500 for s in statuses.values()), statuses


def test_the_headers_the_service_reads_take_hostile_values(demo: ServiceProcess) -> None:
    bad: list[str] = []
    with httpx.Client(base_url=demo.base, timeout=10.0) as client:
        for name, values in HOSTILE_HEADERS.items():
            for value in values:
                for method, path in [("GET", "/api/status"), ("GET", "/api/events"), ("POST", "/api/alerts/a0/ack")]:
                    status = ask(client, method, path, headers={name: header_bytes(value)})  # type: ignore[dict-item]
                    if status >= 500 or status < 0:
                        bad.append(f"{method} {path} {name}={value[:40]!r}: {status}")
    assert bad == []
