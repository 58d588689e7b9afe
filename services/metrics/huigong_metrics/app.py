"""Wiring of the metrics service: settings, projections, routers; `huigong-metrics` runs it."""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response

from huigong_platform import logs
from huigong_platform.application import CommandPath
from huigong_platform.service import Runtime, build_app, runtime_of, serve
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import postgres_units

from .adapters import store
from .adapters.gauges import business_gauges
from .adapters.matters import matter_gauges
from .domain.counting import METRIC_KINDS, YearMeasure
from .entrypoints.http.grades import router as grades_router
from .entrypoints.http.matters import router as matters_router
from .entrypoints.http.routes import router
from .entrypoints.http.warmth import router as warmth_router
from .handlers import HANDLERS
from .policy import POLICY
from .projections.actuals import ActualsProjection
from .projections.grades import GradesProjection
from .projections.targets import TargetsProjection
from .projections.warmth import WarmthProjection

TITLE = "惠工 · 统计服务 (metrics)"
DESCRIPTION = "按区市和年度跟踪工作方案的每一项目标，并提供看板。"
DASHBOARD_MODULE = "huigong_metrics.entrypoints.http.dashboard"
REFRESH_SECONDS = 1.0

log = logs.get(__name__)


def dashboard_routers() -> list[APIRouter]:
    """The dashboard page (`/` and its assets) when its module is present."""
    if importlib.util.find_spec(DASHBOARD_MODULE) is None:
        return []
    dashboard: APIRouter = importlib.import_module(DASHBOARD_MODULE).router
    return [dashboard]


async def load_targets(runtime: Runtime) -> None:
    await store.install_baseline(runtime.pool, store.read_targets_file())
    runtime.commands = CommandPath(
        POLICY, HANDLERS, postgres_units(runtime.pool, runtime.store, runtime.settings.service)
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service="metrics")
    app = build_app(
        settings,
        title=TITLE,
        description=DESCRIPTION,
        projections=[ActualsProjection(), TargetsProjection(), GradesProjection(), WarmthProjection()],
        routers=[router, matters_router, grades_router, warmth_router, *dashboard_routers()],
        on_start=load_targets,
        policy=POLICY,
        answer_labels={"year_measure": YearMeasure, "kind": METRIC_KINDS},
    )
    gauges = business_gauges()
    matters = matter_gauges()
    refreshed = [float("-inf")]

    @app.middleware("http")
    async def refresh_gauges(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # The business gauges are read from PostgreSQL at scrape time; should that fail, the
        # technical figures are still served, with the last business figures read. This runs
        # before the access guard, so only a request that presents a key (the guard then checks
        # it) reads the database, at most once a second.
        now = time.monotonic()
        if (
            request.url.path == "/metrics"
            and ("authorization" in request.headers or "x-api-key" in request.headers)
            and now - refreshed[0] >= REFRESH_SECONDS
        ):
            refreshed[0] = now
            try:
                async with runtime_of(request).pool.acquire() as conn:
                    await gauges.refresh(conn)
                    await matters.refresh(conn)
            except Exception as exc:
                log.warning("business gauges not refreshed", error=f"{type(exc).__name__}: {exc}")
        return await call_next(request)

    return app


def main() -> None:
    settings = Settings(service="metrics")
    serve(create_app(settings), settings)
