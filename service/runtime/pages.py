"""Where a phone finds the page: the addresses the wiring logs and Home Assistant links to."""

from __future__ import annotations

import contextlib
import socket


def page_urls(scheme: str, host: str, port: int) -> list[str]:
    """Addresses a phone on the same network can open."""
    if host not in ("0.0.0.0", "::", ""):
        return [f"{scheme}://{host}:{port}/"]
    urls = [f"{scheme}://{socket.gethostname()}.local:{port}/"]
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            address = str(info[4][0])
            url = f"{scheme}://{address}:{port}/"
            if not address.startswith("127.") and url not in urls:
                urls.append(url)
    urls.append(f"{scheme}://127.0.0.1:{port}/")
    return urls
