"""Stand-ins for the kitchen light and the cook's phone that docs/ha's automations call, for tests/ha.

A Home Assistant custom integration (copied into the test Home Assistant's
``custom_components/``): it registers ``light.turn_on`` and
``notify.mobile_app_my_phone``, the services the documented automations name
for the user to replace, and appends every call to ``stand_ins.jsonl`` in the
config dir. A file rather than a state, so that the calls survive the Home
Assistant restarts the tests make, and the tests can read what the phone
would have shown (the message, the "Got it" action) and how many times.

It imports nothing from Home Assistant, so that potwatch's own venv can lint
it; Home Assistant runs a plain (non-coroutine) service handler in its
executor, where the file write is allowed.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

DOMAIN = "kitchen_stand_ins"
# the services docs/ha/automations*.yaml call, as a user's installation would have them
SERVICES = (("light", "turn_on"), ("notify", "mobile_app_my_phone"))
CALLS_FILE = "stand_ins.jsonl"


async def async_setup(hass: Any, config: Any) -> bool:
    path = Path(hass.config.path(CALLS_FILE))
    lock = threading.Lock()

    def record(call: Any) -> None:
        line = json.dumps({"service": f"{call.domain}.{call.service}", "data": dict(call.data)}, default=str)
        with lock, path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    for domain, service in SERVICES:
        hass.services.async_register(domain, service, record)
    return True
