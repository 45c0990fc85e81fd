"""The HTTP API in-process: httpx talking to the app through ASGI, no socket, no server.

For tests that drive a real ``Hub`` and want its routes as a phone sees them,
without the cost (and the port) of a ``potwatch`` process.
"""

from __future__ import annotations

import httpx

from service.api.app import AppSettings, create_app
from service.runtime.hub import Hub


def client_for(hub: Hub, settings: AppSettings | None = None) -> httpx.AsyncClient:
    """An httpx client on the app serving ``hub`` (settings: a token, parts' routes and health)."""
    app = create_app(hub, settings or AppSettings())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
