"""What the running service is doing, asked over its own API, and where phones find its page.

``GET /api/status`` has ``"cook": null`` between cooks and the cook (with no
``ended_at``) while one runs (SPEC.md, HTTP). The request goes to this
machine's loopback, with the token when one is set, and to https when the
config turns TLS on (its certificate is the service's own: not checked here,
the address is this machine's).
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .config_file import Server


@dataclass(frozen=True)
class Answer:
    """The service answered (``cook`` is the running cook's profile, or None), or did not (``reached`` False)."""

    reached: bool
    cook: str | None = None
    version: str | None = None
    why: str = ""


def _local_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def ask(server: Server, timeout: float = 5.0) -> Answer:
    scheme = "https" if server.tls else "http"
    url = f"{scheme}://{_local_host(server.host)}:{server.port}/api/status"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if server.token:
        request.add_header("Authorization", f"Bearer {server.token}")
    context = ssl._create_unverified_context() if server.tls else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status: Any = json.load(response)
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return Answer(False, why=f"{url}: {reason}")
    if not isinstance(status, dict):
        return Answer(False, why=f"{url}: not the potwatch status")
    cook = status.get("cook")
    version = status.get("version")
    running = isinstance(cook, dict) and not cook.get("ended_at")
    name = (
        str(cook.get("title") or cook.get("profile") or cook.get("id")) if running and isinstance(cook, dict) else None
    )
    return Answer(True, name, str(version) if version else None)


def lan_address() -> str | None:
    """The address this machine's default route leaves from: the one a phone on the Wi-Fi reaches.

    Connecting a UDP socket sends nothing; it only picks the source address.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, only looked up
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def page_addresses(server: Server) -> list[str]:
    scheme = "https" if server.tls else "http"
    if server.host not in ("", "0.0.0.0", "::"):
        return [f"{scheme}://{_local_host(server.host)}:{server.port}/"]
    found = []
    lan = lan_address()
    if lan:
        found.append(f"{scheme}://{lan}:{server.port}/")
    found.append(f"{scheme}://{socket.gethostname()}.local:{server.port}/")
    return found
