"""``POST /api/heaters/{id}/override``: the cook's hand on a heater (docs/heat.md, Override).

``off`` needs no token and passes without the same-origin check: it can only
make the kitchen safer, and a cook reaching for the page in a hurry must not
be stopped by a login. ``on`` and ``auto`` hand the heat to someone (or back
to the controller) and need what every other command needs; the guard's
verdict for them waits in the request's state (service/api/guard.py).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from service.api.guard import REFUSED
from service.api.models import BAD_BODY, COMMAND_ERRORS
from service.core.heat.events import OVERRIDE_WORDS
from service.runtime.hub import Hub


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "on", "auto"] = Field(
        ..., description='"off": forced off (no token needed); "on": forced on; "auto": back to the controller'
    )


class Overridden(BaseModel):
    heater: str
    mode: str


def heater_router(hub: Hub) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/heaters/{heater_id}/override",
        tags=["commands"],
        responses=COMMAND_ERRORS | BAD_BODY,
        status_code=202,
        response_model=Overridden,
    )
    async def override(heater_id: str, body: OverrideBody, request: Request) -> Any:
        """Force a heater off (anyone), on, or hand it back to the controller (token, like every command)."""
        refused = getattr(request.state, REFUSED, None)
        if body.mode != "off" and isinstance(refused, JSONResponse):
            return refused
        if not hub.heater_override(heater_id, OVERRIDE_WORDS[body.mode]):
            known = [h["id"] for h in hub.heater_views()]
            raise HTTPException(404, detail=f"no heater {heater_id!r} (known: {', '.join(known) or 'none'})")
        return Overridden(heater=heater_id, mode=str(OVERRIDE_WORDS[body.mode]))

    return router
