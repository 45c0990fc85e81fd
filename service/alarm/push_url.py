"""An Apprise URL, understood once: which service it reaches, and the plugin arguments Apprise made of it.

``check-config``, the start-up check and the push channel all ask Apprise
itself (its parser and its plugin's constructor), so a URL that passes the
check is one the channel can send with. Nothing said about a URL repeats it:
a reason names the service and points at Apprise's page for its form, and a
URL is only ever shown as Apprise prints it with privacy (secrets starred).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import apprise
from apprise.manager_plugins import NotificationManager

from service.alarm.push_reasons import apprise_messages

_SCHEMA = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_EXAMPLE = "e.g. ntfy://ntfy.example.org/kitchen or pover://USER_KEY@TOKEN"
PLUGINS = NotificationManager()  # type: ignore[no-untyped-call]  # Apprise's own registry of plugins (one shared instance)


@dataclass(frozen=True)
class PushTarget:
    """A URL Apprise understands."""

    service: str  # Apprise's service name: "ntfy", "Pushover", "JSON", "Telegram"…
    service_id: str  # the same as a channel's name has it: "ntfy", "pushover", "json", "homeassistant"
    arguments: dict[str, Any]  # the plugin's constructor arguments, as Apprise parsed them from the URL
    shown: str  # the URL as Apprise prints it with privacy: fit for a log line
    plugin_args: frozenset[str]  # the URL arguments this Apprise's plugin knows (ntfy's "actions"?)

    def with_arguments(self, extra: dict[str, Any]) -> dict[str, Any]:
        """A fresh copy of the arguments with ``extra`` laid over (Apprise's instantiate consumes its dict)."""
        arguments = copy.deepcopy(self.arguments)
        arguments.update(extra)
        return arguments


def service_id(service_name: str) -> str:
    """``"Home Assistant"`` → ``"homeassistant"``: a short, stable, secret-free part of a channel's name."""
    return re.sub(r"[^a-z0-9]+", "", service_name.lower()) or "push"


def parse_push_url(url: str) -> PushTarget | str:
    """The target ``url`` reaches, or a one-line reason why Apprise cannot use it."""
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        return f"empty: expected an Apprise URL ({_EXAMPLE})"
    found = _SCHEMA.match(text)
    if found is None:
        return f"not an Apprise URL: expected SERVICE://… ({_EXAMPLE})"
    schema = found.group(1).lower()
    with apprise_messages():  # Apprise's complaints are ours to word; held here, not printed twice
        arguments = apprise.plugins.url_to_dict(text, secure_logging=True)  # type: ignore[no-untyped-call]
        if arguments is None:
            if schema not in PLUGINS:
                return f"{schema}:// is not a service Apprise knows (https://appriseit.com/services/)"
            return f"Apprise cannot read this {_service_of(schema)} URL; its form: {_setup_url(schema)}"
        schema = str(arguments.get("schema", schema))
        if schema not in PLUGINS:
            return f"{schema}:// is not a service Apprise knows (https://appriseit.com/services/)"
        plugin_class = PLUGINS[schema]
        if not plugin_class.enabled:
            return f"Apprise's {_service_of(schema)} plugin is disabled here (a package it needs is missing)"
        try:
            plugin = apprise.Apprise.instantiate(copy.deepcopy(arguments), suppress_exceptions=False)
        except Exception:  # the plugin's own message may quote a token: not repeated
            plugin = None
        if plugin is None:
            return f"this {_service_of(schema)} URL has a missing or malformed part; its form: {_setup_url(schema)}"
        if plugin_class.service_name == "ntfy" and not getattr(plugin, "topics", None):
            return f"this ntfy URL names no topic (ntfy://HOST/TOPIC); its form: {_setup_url(schema)}"
        shown = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    service = str(plugin_class.service_name)
    return PushTarget(
        service=service,
        service_id=service_id(service),
        arguments=arguments,
        shown=shown,
        plugin_args=frozenset(getattr(plugin_class, "template_args", {})),
    )


def check_push_url(url: str, *, index: int | None = None) -> str | None:
    """None when Apprise can send with ``url``; else one line saying why not.

    With ``index`` the line names the config key, as ``check-config`` prints
    every problem: ``notify.urls[0]: …``.
    """
    parsed = parse_push_url(url)
    if isinstance(parsed, PushTarget):
        return None
    return parsed if index is None else f"notify.urls[{index}]: {parsed}"


def _service_of(schema: str) -> str:
    """Apprise's name for the service a schema reaches ("ntfy", "Pushover")."""
    return str(PLUGINS[schema].service_name) if schema in PLUGINS else schema


def _setup_url(schema: str) -> str:
    return str(getattr(PLUGINS[schema], "setup_url", None) or "https://appriseit.com/services/")
