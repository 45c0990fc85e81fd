"""The documented Home Assistant automations: the file the Home Assistant tests load is the one the doc shows.

docs/mqtt.md quotes docs/ha/automations.yaml whole; a user copies from the
page, the tests against a real Home Assistant load the file, and the two must
never drift apart. The file for releases before 2024.10 must be the same
automations in the older spelling, and neither may fall back to the bare state
trigger that rang again for old alerts after every restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"
CURRENT = DOCS / "ha" / "automations.yaml"
OLDER = DOCS / "ha" / "automations-before-2024.10.yaml"


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.S)


def older_spelling(automation: dict[str, Any]) -> dict[str, Any]:
    """An automation as Home Assistant before 2024.10 wrote it: trigger/platform, condition, action/service."""
    out = dict(automation)
    out["trigger"] = [{("platform" if k == "trigger" else k): v for k, v in t.items()} for t in out.pop("triggers")]
    out["condition"] = out.pop("conditions")
    out["action"] = [{("service" if k == "action" else k): v for k, v in a.items()} for a in out.pop("actions")]
    return out


def test_the_doc_quotes_the_automations_file_verbatim() -> None:
    text = CURRENT.read_text()
    blocks = yaml_blocks((DOCS / "mqtt.md").read_text())
    assert text in blocks, "docs/mqtt.md must quote docs/ha/automations.yaml whole, in one ```yaml block"


def test_every_automation_has_a_unique_id_and_the_current_spelling() -> None:
    automations = yaml.safe_load(CURRENT.read_text())
    assert isinstance(automations, list) and len(automations) == 2
    ids = [a["id"] for a in automations]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    for automation in automations:
        assert {"triggers", "actions"} <= set(automation)
        assert not {"trigger", "action", "condition"} & set(automation)
        assert all("trigger" in t and "platform" not in t for t in automation["triggers"])
        assert all("service" not in a for a in automation["actions"])


def test_no_alarm_trigger_can_fire_on_a_restored_event() -> None:
    """A state trigger on the event entity fired when it came back from unavailable after a restart
    (and with not_from it missed a fresh Home Assistant's first alert): the alarm is on the MQTT message."""
    automations = {a["id"]: a for a in yaml.safe_load(CURRENT.read_text())}
    triggers = [t for a in automations.values() for t in a["triggers"]]
    assert not [t for t in triggers if t["trigger"] == "state" and "potwatch_alert" in str(t.get("entity_id"))]
    mqtt = automations["potwatch_critical_alert_mqtt"]
    assert mqtt["triggers"] == [{"trigger": "mqtt", "topic": "potwatch/cook/alert", "qos": 1}]
    assert any("== 'critical'" in c["value_template"] for c in mqtt["conditions"])


def test_the_older_file_is_the_same_automations_in_the_older_spelling() -> None:
    current = yaml.safe_load(CURRENT.read_text())
    older = yaml.safe_load(OLDER.read_text())
    assert older == [older_spelling(a) for a in current]
