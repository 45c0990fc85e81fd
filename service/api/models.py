"""Request bodies: closed models, so a typo in a field is a 422 naming it, not a silent default."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StartCookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str = Field(..., min_length=1, description="profile name, as listed by GET /api/profiles")
    probe: str = Field(..., min_length=1, description="probe id, as listed in GET /api/status")
    channel: str | None = Field(None, description="for a probe with several channels; default: the first seen")


class Acked(BaseModel):
    acked: list[str]


class Ended(BaseModel):
    cook: str
    outcome: str


class Problem(BaseModel):
    """An error's body: what is wrong, in words a cook or a script can show as they are."""

    detail: str


# The errors each route can answer with, for the OpenAPI schema (a 422 FastAPI documents itself).
# Always JSON, whatever the route's own media type (the CSV export's 404 is JSON too).
Responses = dict[int | str, dict[str, Any]]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": Problem.model_json_schema()}}}


UNAUTHORIZED: Responses = {401: _problem("a token is set and this request has a wrong one")}
FORBIDDEN: Responses = {403: _problem("no token is set and the request came from another site's page")}
TOO_LARGE: Responses = {413: _problem("the request body is over the cap (a few KiB)")}
NOT_FOUND: Responses = {404: _problem("no such cook, alert, probe or profile")}
CONFLICT: Responses = {409: _problem("not now: nothing is cooking, or the probe is busy")}
BAD_BODY: Responses = {400: _problem("the body could not be read as JSON")}
COMMAND_ERRORS: Responses = UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | TOO_LARGE
READ_ERRORS: Responses = NOT_FOUND | CONFLICT
