"""Wiring of the registry service: settings, projections, routers; `huigong-registry` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_events.warmth import Festival, Occasion, WarmthForm
from huigong_platform.application import CommandPath
from huigong_platform.service import Runtime, build_app, serve
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import postgres_units

from .adapters.records import postgres_records
from .adapters.requesters import vault_for
from .adapters.warmth import postgres_recipients, sealer_for
from .domain import revocation
from .domain.catalogue import ItemStatus
from .domain.certification import UnitStatus
from .domain.facilities import FacilityStatus
from .domain.partners import PartnerStatus
from .entrypoints.http.catalogue import router as catalogue_router
from .entrypoints.http.cluster import router as cluster_router
from .entrypoints.http.facilities import router as facilities_router
from .entrypoints.http.grading import router as grading_router
from .entrypoints.http.matters import router as matters_router
from .entrypoints.http.members import router as members_router
from .entrypoints.http.public import router as public_router
from .entrypoints.http.revocation import router as revocation_router
from .entrypoints.http.routes import router
from .entrypoints.http.unit_record import router as unit_record_router
from .entrypoints.http.units import router as units_router
from .entrypoints.http.warmth import router as warmth_router
from .entrypoints.http.warmth_sheets import router as warmth_sheets_router
from .handlers import Registry
from .policy import POLICY
from .projections.facilities import FacilitiesProjection
from .projections.grading import GradingProjection
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

    async def on_start(runtime: Runtime) -> None:
        building = settings.min_building_years if isinstance(settings, RegistrySettings) else 1
        registry = Registry(
            postgres_records(runtime.store, lambda: vault_for(runtime)),
            building,
            recipients=postgres_recipients(lambda: sealer_for(runtime)),
        )
        runtime.commands = CommandPath(
            POLICY, registry.handlers(), postgres_units(runtime.pool, runtime.store, settings.service)
        )

    statement_days = (
        settings.revocation_statement_days
        if isinstance(settings, RegistrySettings)
        else revocation.STATEMENT_DAYS
    )
    return build_app(
        settings,
        title=TITLE,
        description=DESCRIPTION,
        projections=[
            UnitsProjection(),
            RosterProjection(),
            FacilitiesProjection(),
            MattersProjection(),
            GradingProjection(),
        ],
        reactions=[MembersReaction(), ReviewDecisionsReaction(statement_days), ReportsReaction()],
        # members_router after public_router: GET /members/counts must match before /members/{member_key}.
        routers=[
            router,
            units_router,
            revocation_router,
            unit_record_router,
            facilities_router,
            public_router,
            catalogue_router,
            matters_router,
            members_router,
            grading_router,
            cluster_router,
            warmth_sheets_router,
            warmth_router,
        ],
        on_start=on_start,
        policy=POLICY,
        # `closed` of a matter is 已办结, a 送温暖 delivery's `approved` 已批准: their answers label
        # their status themselves.
        answer_labels={
            "status": (UnitStatus, PartnerStatus, FacilityStatus, ItemStatus),
            "occasion": Occasion,
            "festival": Festival,
            "form": WarmthForm,
        },
    )


def main() -> None:
    settings = RegistrySettings(service="registry")
    serve(create_app(settings), settings)
