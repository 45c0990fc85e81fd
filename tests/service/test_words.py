"""Every stage and alert kind the core can produce has the words the cook reads, served to the page."""

from __future__ import annotations

import json
import re

import httpx

from service.api.app import AppSettings, create_app
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertKind
from service.core.steps.boil import BoilStage
from service.core.steps.hold import HoldStage
from service.core.steps.reach import ReachStage
from service.profiles import load_profiles
from service.runtime.clock import Clock
from service.runtime.hub import Hub
from service.runtime.words import ALERT_ACTIONS, ALERT_TITLES, STAGE_WORDS


def test_every_stage_and_alert_kind_has_words() -> None:
    stages = {s.value for enum in (ReachStage, HoldStage, BoilStage) for s in enum}
    assert stages == set(STAGE_WORDS)
    assert {k.value for k in AlertKind} == set(ALERT_TITLES) == set(ALERT_ACTIONS)
    assert all(word.strip() for word in [*STAGE_WORDS.values(), *ALERT_TITLES.values(), *ALERT_ACTIONS.values()])


async def test_the_page_gets_the_same_tables_as_a_module() -> None:
    hub = Hub(Kitchen([ProbeSetup("pot")]), Clock(), load_profiles())
    app = create_app(hub, AppSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        got = await client.get("/words.js")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/javascript")
    tables = dict(re.findall(r"export const (\w+) = Object\.freeze\((\{.*?\})\);", got.text, flags=re.S))
    assert json.loads(tables["STAGE_WORDS"]) == {str(k): v for k, v in STAGE_WORDS.items()}
    assert json.loads(tables["ALERT_TITLES"]) == {str(k): v for k, v in ALERT_TITLES.items()}
    assert json.loads(tables["ALERT_ACTIONS"]) == {str(k): v for k, v in ALERT_ACTIONS.items()}
