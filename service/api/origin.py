"""The same-origin check that guards commands when no token is set.

A page on any web site can make the kitchen's browser send a form POST to
``http://192.168.1.20:8000/api/cooks/current/stop`` (no preflight, so CORS never
asks), and with DNS rebinding it can even put its own name on that address.
Two headers catch both, and no client needs to know anything:

- ``Host`` must be one of the service's own names: this machine's hostname
  (and ``hostname.local``), its addresses, the loopback names, the address the
  request reached, and ``[server] allowed_hosts``. A rebound name is not one.
- ``Origin``, which browsers send with every cross-site POST, must be this very
  service (``scheme://host:port`` as the request names it). Scripts and
  Home Assistant send no ``Origin`` and pass on ``Host`` alone.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.types import Scope

LOOPBACK = ("localhost", "127.0.0.1", "::1")
DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=1)
def machine_names() -> frozenset[str]:
    """This machine's hostname, ``hostname.local`` and the addresses its name resolves to.

    Resolved once: a changed hostname needs a restart, like the page addresses logged at start.
    """
    hostname = socket.gethostname().lower()
    names = {hostname, f"{hostname}.local", *LOOPBACK}
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(hostname, None):
            names.add(str(info[4][0]).lower())
    return frozenset(names)


def split_host(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (``[v6]:port`` too) as a lower-case name and a port; None when malformed."""
    try:
        parts = urlsplit(f"//{value}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.username is not None or parts.path:
        return None
    return host.lower().rstrip("."), port


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class SameOrigin:
    """Decides whether a request comes from the service's own page (or no browser at all)."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed = frozenset(h.lower().rstrip(".") for h in allowed_hosts)
        machine_names()  # resolved now, at start: never a name lookup on the event loop for a request

    def own_host(self, host: str, scope: Scope) -> bool:
        server = scope.get("server")
        if server and str(server[0]).lower() == host:
            return True  # the very address this connection reached
        return host in self.allowed or host in machine_names()

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is not same-origin, or None when it is."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        scheme = str(scope.get("scheme", "http"))
        host_header = headers.get("host", "")
        host = split_host(host_header)
        if host is None:
            return f"the Host header {host_header[:100]!r} is not a host name"
        name, port = host
        if not self.own_host(name, scope):
            hint = "" if _is_address(name) else " (add it to [server] allowed_hosts if it is this service's)"
            return f"the Host {name[:100]!r} is not one of this service's names{hint}"
        origin = headers.get("origin")
        if origin is None:
            return None
        if origin_of(origin) != (scheme, name, port or DEFAULT_PORTS.get(scheme)):
            return f"a page from {origin[:100]} may not send commands to this service (its own page may)"
        return None


def origin_of(origin: str) -> tuple[str, str, int | None] | None:
    """An ``Origin`` header as (scheme, host, port with the default filled in); None for "null" or garbage."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # "http://[::1", a port past 65535
        return None
    if not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS.get(parts.scheme)
