"""Wiring of the registry service: settings, projections, routers; `huigong-registry` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_platform.service import build_app, serve
from huigong_platform.settings import Settings

from .api.catalogue import router as catalogue_router
from .api.facilities import router as facilities_router
from .api.matters import router as matters_router
from .api.members import router as members_router
from .api.public import router as public_router
from .api.routes import router
from .api.units import router as units_router
from .policy import POLICY
from .projections.facilities import FacilitiesProjection
from .projections.matters import MattersProjection
from .projections.members import RosterProjection
from .projections.units import UnitsProjection
from .reactions.members import MembersReaction
from .reactions.reports import ReportsReaction
from .reactions.review import ReviewDecisionsReaction
from .settings import RegistrySettings

TITLE = "惠工 · 登记与认定服务 (registry)"
DESCRIPTION = "单位、认定与撤销、设施、公益伙伴、服务项目库、会员名册，以及服务事项目录和联动服务。"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or RegistrySettings(service="registry")
    return build_app(
        settings,
        title=TITLE,
        description=DESCRIPTION,
        projections=[UnitsProjection(), RosterProjection(), FacilitiesProjection(), MattersProjection()],
        reactions=[MembersReaction(), ReviewDecisionsReaction(), ReportsReaction()],
        # members_router after public_router: GET /members/counts must match before /members/{member_key}.
        routers=[
            router,
            units_router,
            facilities_router,
            public_router,
            catalogue_router,
            matters_router,
            members_router,
        ],
        policy=POLICY,
    )


def main() -> None:
    settings = RegistrySettings(service="registry")
    serve(create_app(settings), settings)
