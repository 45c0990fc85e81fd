"""``create_app``: the FastAPI application, given its collaborators (no work at import)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client.registry import Collector
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from service import __version__
from service.api.cooks import cooks_router, held_cook
from service.api.guard import CommandGuard
from service.api.heaters import heater_router
from service.api.json_body import StrictJsonRoute
from service.api.limits import BodyLimit
from service.api.metrics import metrics_text
from service.api.models import BAD_BODY, COMMAND_ERRORS, Acked, Ended, StartCookBody
from service.api.origin import SameOrigin
from service.api.sse import event_stream
from service.core.cook import Cook
from service.core.events import Acknowledge, AdvanceStep, CommandRefused, Output, StartCook, StopCook
from service.core.profile import BoilStep, HoldStep, Profile, ReachStep
from service.history.reader import HistoryReader
from service.resources import NotInstalled, page_dir
from service.runtime.hub import Hub
from service.runtime.qr import qr_svg
from service.runtime.views import (
    ApiStatus,
    CookView,
    HealthView,
    ProfileView,
    StepInfo,
    SugarStageInfo,
    both,
    cook_json,
)
from service.runtime.words import page_module


@dataclass
class AppSettings:
    token: str = ""
    secure: bool = False
    # names this service answers to besides its own (a reverse proxy's), for the same-origin check
    allowed_hosts: list[str] = field(default_factory=list)
    shutdown: anyio.Event = field(default_factory=anyio.Event)
    # each part's health, asked at every /healthz (recording, mqtt…)
    health: list[Callable[[], dict[str, Any]]] = field(default_factory=list)
    # the recorded cooks behind GET /api/cooks… (None: only this run's, from the hub)
    history: HistoryReader | None = None
    # routes of parts; one that claims a method and path already served is refused
    routers: list[APIRouter] = field(default_factory=list)
    # the page's best address for another phone (set by the wiring once it listens); empty: the asked one
    page_url: str = ""
    # parts' own /metrics (the alarm channels' counters), collected at scrape time
    collectors: list[Collector] = field(default_factory=list)


class RevalidatedStaticFiles(StaticFiles):
    """The page's files are revalidated on every load (ETag): after an upgrade a phone
    must never run an old app.js against a new index.html."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _refused(outputs: list[Output]) -> None:
    for out in outputs:
        if isinstance(out, CommandRefused):
            raise HTTPException(404 if out.missing else 409, detail=out.reason)


def _field_error(field_name: str, message: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["body", field_name], "msg": message, "type": "value_error"}])


def profile_json(profile: Profile) -> ProfileView:
    steps: list[StepInfo] = []
    for step in profile.steps:
        item = StepInfo(kind=step.kind, name=step.name)
        if isinstance(step, ReachStep):
            item["target_c"], item["target_f"] = both(step.target_c)
            item["overshoot_c"], item["overshoot_f"] = both(step.overshoot_at_c)
            item["stages"] = [
                SugarStageInfo(name=s.name, from_c=both(s.from_c)[0], from_f=both(s.from_c)[1])
                for s in step.sugar_stages
            ]
        elif isinstance(step, HoldStep):
            item["low_c"], item["low_f"] = both(step.low_c)
            item["high_c"], item["high_f"] = both(step.high_c)
            item["duration_s"] = step.duration_s
        elif isinstance(step, BoilStep):
            item["steady_s"] = step.steady_s
        steps.append(item)
    return ProfileView(name=profile.name, title=profile.title, description=profile.description, steps=steps)


def installed_page() -> Path | None:
    """The page's folder; a missing one is served as a 503 that says so, not as a crash at start."""
    try:
        folder = page_dir()
    except NotInstalled:
        return None
    return folder if (folder / "index.html").is_file() else None


def create_app(hub: Hub, settings: AppSettings) -> FastAPI:
    app = FastAPI(
        title="potwatch",
        version=__version__,
        description="A kitchen thermometer that follows the recipe. See docs/api.md.",
    )
    # bodies are parsed as strict JSON (no NaN, no lone surrogates, bounded depth)
    app.router.route_class = StrictJsonRoute
    # outermost last: who may send a command is decided before any body is read, then the body is capped
    app.add_middleware(BodyLimit)
    app.add_middleware(CommandGuard, token=settings.token, origin=SameOrigin(settings.allowed_hosts))
    kitchen = hub.kitchen
    app.include_router(cooks_router(hub, settings.history))
    app.include_router(heater_router(hub))
    for router in settings.routers:
        app.include_router(router)

    @app.get("/api/status", tags=["read"])
    def status() -> ApiStatus:
        """Probes, the current cook with its ETA, and the alerts."""
        return ApiStatus(
            **hub.status(), version=__version__, auth_required=bool(settings.token), secure=settings.secure
        )

    @app.get("/api/events", tags=["read"], response_class=Response)
    async def events(
        last_event_id: Annotated[int | None, Query(description="resume after this event id")] = None,
        last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> Response:
        """Server-sent events: reading, probe, cook, stage, alert, ack, cook_ended, calibrated, heartbeat."""
        start = last_event_id
        header = (last_event_id_header or "").strip()
        if header.isdecimal() and len(header) <= 18:  # an id this run could have sent: no 5,000-digit int()
            start = int(header)
        return event_stream(hub.bus, hub.clock, start, settings.shutdown)

    @app.post("/api/alerts/{alert_id}/ack", tags=["commands"], responses=COMMAND_ERRORS)
    async def ack(alert_id: str) -> Acked:
        """Acknowledge one alert, or every active one with ``all``."""
        outputs = await hub.request(Acknowledge(hub.clock.monotonic(), alert_id))
        _refused(outputs)
        return Acked(acked=[o.alert_id for o in outputs if hasattr(o, "alert_id")])

    @app.post("/api/cooks", tags=["commands"], responses=COMMAND_ERRORS | BAD_BODY, status_code=201)
    async def start_cook(body: StartCookBody) -> CookView:
        """Start a cook of a profile on a probe."""
        profile = hub.profiles.get(body.profile)
        if profile is None:
            raise _field_error("profile", f"no profile {body.profile!r} (known: {', '.join(sorted(hub.profiles))})")
        if body.probe not in kitchen.probes:
            raise _field_error("probe", f"no probe {body.probe!r} (known: {', '.join(sorted(kitchen.probes))})")
        outputs = await hub.request(StartCook(hub.clock.monotonic(), profile, body.probe, body.channel))
        _refused(outputs)
        cook_id = next(o.cook_id for o in outputs if hasattr(o, "cook_id"))
        return cook_json(kitchen, kitchen.cooks[cook_id], hub.clock)

    @app.post("/api/cooks/{cook_id}/advance", tags=["commands"], responses=COMMAND_ERRORS)
    async def advance(cook_id: str) -> CookView:
        """Move a cook to its next step (``current``: the newest running cook)."""
        cook = _running(cook_id)
        _refused(await hub.request(AdvanceStep(hub.clock.monotonic(), cook.id)))
        return cook_json(kitchen, cook, hub.clock)

    @app.post("/api/cooks/{cook_id}/stop", tags=["commands"], responses=COMMAND_ERRORS)
    async def stop(cook_id: str) -> Ended:
        """Stop a cook (``current``: the newest running cook)."""
        cook = _running(cook_id)
        _refused(await hub.request(StopCook(hub.clock.monotonic(), cook.id)))
        return Ended(cook=cook.id, outcome=cook.outcome or "stopped")

    def _running(cook_id: str) -> Cook:
        cook = held_cook(hub, cook_id)
        if cook is None:
            raise HTTPException(404, detail=f"no cook {cook_id!r}")
        return cook

    @app.post(
        "/api/probes/{probe_id}/calibrate",
        tags=["commands"],
        responses=COMMAND_ERRORS,
        status_code=202,
    )
    async def calibrate(probe_id: str) -> CookView:
        """Start measuring where this probe says water boils (put it in a pot at a rolling boil)."""
        if probe_id not in kitchen.probes:
            raise HTTPException(404, detail=f"no probe {probe_id!r}")
        profile = hub.profiles.get("boil")
        if profile is None:
            raise HTTPException(409, detail="the boil profile is missing")
        outputs = await hub.request(StartCook(hub.clock.monotonic(), profile, probe_id))
        _refused(outputs)
        cook_id = next(o.cook_id for o in outputs if hasattr(o, "cook_id"))
        return cook_json(kitchen, kitchen.cooks[cook_id], hub.clock)

    @app.get("/api/profiles", tags=["read"])
    def profiles() -> list[ProfileView]:
        return [profile_json(p) for _, p in sorted(hub.profiles.items())]

    @app.get("/healthz", tags=["read"])
    def healthz() -> HealthView:
        """Always 200 while the service runs; says which parts are degraded."""
        probes = {h.id: h.state.value for h in kitchen.probes.values()}
        body: dict[str, Any] = {"status": "ok", "version": __version__, "probes": probes}
        for part_health in settings.health:
            body.update(part_health())
        return cast(HealthView, body)

    @app.get("/metrics", tags=["read"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        body, content_type = metrics_text(hub, settings.collectors)
        return PlainTextResponse(body, media_type=content_type)

    static = installed_page()

    @app.get("/words.js", include_in_schema=False)
    def words() -> Response:
        # the stage and alert words, from the one table the service holds (service/runtime/words.py)
        return Response(page_module(), media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/qr.svg", include_in_schema=False)
    def qr(request: Request) -> Response:
        # the page's LAN address as a QR code, for the second phone at the stove (docs/page.md)
        url = settings.page_url or str(request.base_url)
        return Response(qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        if static is None:
            return PlainTextResponse("potwatch: the phone page is not installed", status_code=503)
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    one_route_each(app)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; a path served by
            # two routers (GET /api/cooks here, POST in the app) must list every method
            allowed = allowed_methods(app, request)
            exc = StarletteHTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": allowed})
        return await http_exception_handler(request, exc)

    if static is not None:
        app.mount("/", RevalidatedStaticFiles(directory=static), name="static")
    return app


def one_route_each(app: FastAPI) -> None:
    """Refuse to serve two routes for one method and path.

    Starlette answers with the first one included and never says so: that is
    how ``/api/cooks`` once had two contracts, picked by the wiring order.
    """
    seen: set[tuple[str, str]] = set()
    for route in _api_routes(app.routes):
        for method in sorted(route.methods or ()):
            key = (method, route.path)
            if key in seen:
                raise ValueError(f"two routes answer {method} {route.path}: give each one home")
            seen.add(key)


def allowed_methods(app: FastAPI, request: Request) -> str:
    """Every method some route serves at this request's path, for a 405's ``Allow``."""
    methods: set[str] = set()
    for route in _api_routes(app.routes):
        matched, _ = route.matches(request.scope)
        if matched is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # newer FastAPI keeps an included router whole instead of copying its routes (we include without prefix)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)
