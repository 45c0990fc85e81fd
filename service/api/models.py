"""Request bodies: closed models, so a typo in a field is a 422 naming it, not a silent default."""

from __future__ import annotations

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
