"""What a long-running part of the service (MQTT, history, push) looks like to the wiring.

``attach`` registers the part's hooks on the hub (``on_input`` / ``on_output``),
its health on ``AppSettings.health`` and any HTTP routes, before anything runs.
``run`` is its task; it is cancelled at stop, after ``close`` had its chance to
finish in order (publish "offline", flush the last rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter

    from service.runtime.hub import Hub


class Part(Protocol):
    name: str

    def attach(self, hub: Hub) -> None: ...

    def routers(self) -> list[APIRouter]: ...

    def health(self) -> dict[str, object]: ...

    async def run(self) -> None: ...

    async def close(self) -> None: ...
