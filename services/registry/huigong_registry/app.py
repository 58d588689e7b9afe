"""Wiring of the registry service: settings, projections, routers; `huigong-registry` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_platform.service import build_app, serve
from huigong_platform.settings import Settings

from .api.facilities import router as facilities_router
from .api.public import router as public_router
from .api.routes import router
from .api.units import router as units_router
from .projections.facilities import FacilitiesProjection
from .projections.members import RosterProjection
from .projections.units import UnitsProjection
from .reactions.members import MembersReaction
from .reactions.reports import ReportsReaction
from .reactions.review import ReviewDecisionsReaction

TITLE = "惠工 · 登记与认定服务 (registry)"
DESCRIPTION = "单位、认定与撤销、设施、公益伙伴、服务项目库和会员名册。"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service="registry")
    return build_app(
        settings,
        title=TITLE,
        description=DESCRIPTION,
        projections=[UnitsProjection(), RosterProjection(), FacilitiesProjection()],
        reactions=[MembersReaction(), ReviewDecisionsReaction(), ReportsReaction()],
        routers=[router, units_router, facilities_router, public_router],
    )


def main() -> None:
    settings = Settings(service="registry")
    serve(create_app(settings), settings)
