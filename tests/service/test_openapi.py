"""The OpenAPI schema tells the truth: every route of a running ``potwatch`` answers as it says.

Schemathesis reads ``/openapi.json`` from a real ``potwatch demo`` process (a
simulated pot cooking, the history on a real SQLite file) and calls every
operation with generated requests, checking each answer's status code, content
type, headers and body against the schema. The routes return the TypedDicts of
``service/runtime/views.py``, so a field the code sends but the schema does not
declare (or declares with another type) fails here.

``GET /api/events`` is left out: it never ends (the SSE tests cover it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance

from service.api.app import AppSettings, create_app
from service.core.cook import Kitchen, ProbeSetup
from service.profiles import load_profiles
from service.runtime.clock import Clock
from service.runtime.hub import Hub
from tests.support.net import free_port
from tests.support.service import ServiceProcess


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    state = tmp_path_factory.mktemp("state")
    service = ServiceProcess(
        ["demo", "--speed", "600", "--state-dir", str(state)], Path(state / "service.log"), free_port()
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


def app_schema() -> dict[str, object]:
    """The schema as the code builds it; the test below checks the process serves the same one."""
    hub = Hub(Kitchen([ProbeSetup("pot")]), Clock(), load_profiles())
    return create_app(hub, AppSettings()).openapi()


# loaded when the module is (schemathesis' lazy loading does not work with this pytest)
schema = schemathesis.openapi.from_dict(app_schema())


def test_the_running_service_serves_the_schema_the_code_declares(demo: ServiceProcess) -> None:
    assert httpx.get(demo.base + "/openapi.json", timeout=5.0).json() == app_schema()


@schema.exclude(path="/api/events").parametrize()
@hypothesis.settings(max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_route_answers_as_its_schema_says(case: schemathesis.Case, demo: ServiceProcess) -> None:
    # an unknown profile or probe is a 422 naming it: the schema cannot list a config's recipes
    case.call_and_validate(base_url=demo.base, excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize(
    "path", ["/api/cooks/{cook_id}", "/api/cooks/{cook_id}/series", "/api/cooks/{cook_id}/readings.csv"]
)
def test_a_cook_that_exists_answers_as_the_schema_says(path: str, demo: ServiceProcess) -> None:
    """Generated ids are almost never a real cook's: the running one's answers are checked here."""
    for cook_id in ("current", "1-c1"):
        case = schema[path]["GET"].Case(path_parameters={"cook_id": cook_id})
        response = case.call_and_validate(base_url=demo.base)
        assert response.status_code == 200, response.text
