"""The self-test's route answers as the OpenAPI schema says (schemathesis), with alarm channels wired.

``tests/service/test_openapi.py`` checks a demo process, which has no alarm
channel and so no ``/api/alarm/test``: this checks the route on the app the
wiring builds when it has one.
"""

from __future__ import annotations

import hypothesis
import schemathesis
from schemathesis.checks import unsupported_method

from service.alarm.part import AlarmPart
from service.api.app import AppSettings, create_app
from service.config import AlarmConfig
from service.core.cook import Kitchen, ProbeSetup
from service.profiles import load_profiles
from service.runtime.clock import Clock
from service.runtime.hub import Hub
from tests.support.alarm import RecordingChannel


def alarm_app() -> object:
    hub = Hub(Kitchen([ProbeSetup("pot")]), Clock(), load_profiles())
    part = AlarmPart.from_config(
        [RecordingChannel("push"), RecordingChannel("voice", fail="espeak-ng not found")],
        AlarmConfig(),
        page_url="http://127.0.0.1:8000/",
        token="",
        mqtt_connected=lambda: False,
    )
    part.attach(hub)
    settings = AppSettings(routers=part.routers(), collectors=[part.collector()])
    settings.health.append(part.health)
    return create_app(hub, settings)


app = alarm_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.include(path_regex="^/(api/alarm/test|healthz|metrics)$").parametrize()
@hypothesis.settings(max_examples=10, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_the_alarm_routes_answer_as_their_schema_says(case: schemathesis.Case) -> None:
    # a GET on a command's path is the page's static files' 404 in-process, for every command alike
    case.call_and_validate(excluded_checks=[unsupported_method])
