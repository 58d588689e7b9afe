"""Wiring of the intake service: settings, projections, handlers and routers; `huigong-intake`
runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_platform import logs
from huigong_platform.application import CommandPath
from huigong_platform.service import Runtime, build_app, serve
from huigong_platform.unit_of_work import PostgresUnitOfWork, UnitOfWork, postgres_units

from .adapters.import_jobs import PostgresImportJobs
from .adapters.outbound import OutboundPublisher
from .adapters.records import PostgresRecords
from .adapters.vault import Vault, issue_unavailable
from .commands import UNION_TAGS
from .domain.import_jobs import CHUNK_LINES
from .entrypoints.http.enrolment_imports import router as imports_router
from .entrypoints.http.enrolment_sheets import router as sheets_router
from .entrypoints.http.facts import router as facts_router
from .entrypoints.http.feed import router as feed_router
from .entrypoints.http.routes import router
from .entrypoints.jobs.enrolment_imports import ImportWorker
from .entrypoints.kafka.inbound import InboundConsumer
from .handlers import Intake
from .policy import POLICY
from .projections.applications import STATUS_LABELS, ApplicationsProjection
from .projections.outbound import OutboundProjection
from .settings import IntakeSettings

log = logs.get(__name__)

TITLE = "惠工 · 受理服务 (intake)"
DESCRIPTION = (
    "区市总工会和集团工会报送申报表、建设方案、设施、服务项目、合规事实和新就业形态劳动者入会。"
    "每个写操作都需要 Idempotency-Key；字段错误以中文和英文返回。"
)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings(service="intake")

    async def on_start(runtime: Runtime) -> None:
        # The registry holds the members' data keys; without its function no enrolment can be
        # sealed. Said at start-up here, and by /readyz until it is there.
        async with runtime.pool.acquire() as conn:
            missing = await issue_unavailable(conn)
        if missing:
            log.error("member data keys unavailable", reason=missing)
        vault = Vault(settings.kek())
        runtime.extras["vault"] = vault  # the import routes seal an uploaded file with it

        def records(uow: UnitOfWork) -> PostgresRecords:
            assert isinstance(uow, PostgresUnitOfWork)
            return PostgresRecords(uow.conn, vault)

        def imports(uow: UnitOfWork) -> PostgresImportJobs:
            assert isinstance(uow, PostgresUnitOfWork)
            return PostgresImportJobs(uow.conn)

        intake = Intake(records, settings.member_secret(), settings.enrolment_batch_limit, imports)
        runtime.commands = CommandPath(
            POLICY, intake.handlers(), postgres_units(runtime.pool, runtime.store, settings.service)
        )
        inbound = InboundConsumer(
            runtime.commands,
            settings.kafka_bootstrap,
            settings.topic_prefix,
            runtime.pool,
            settings.consumer_session_seconds,
        )
        runtime.extras["inbound"] = inbound
        runtime.spawn("inbound", inbound.run(), inbound.stop)
        worker = ImportWorker(
            runtime.commands, runtime.pool, vault, min(CHUNK_LINES, settings.enrolment_batch_limit)
        )
        runtime.spawn("enrolment-imports", worker.run(), worker.stop)
        publisher = OutboundPublisher(runtime.pool, settings.kafka_bootstrap, settings.topic_prefix)
        runtime.extras["outbound"] = publisher
        runtime.spawn("outbound", publisher.run(), publisher.stop)

    return build_app(
        settings,
        title=TITLE,
        description=DESCRIPTION,
        projections=[ApplicationsProjection(), OutboundProjection()],
        database_checks=[issue_unavailable],
        routers=[router, sheets_router, imports_router, facts_router, feed_router],
        on_start=on_start,
        union_tags=UNION_TAGS,
        policy=POLICY,
        answer_labels={"status": STATUS_LABELS},
    )


def main() -> None:
    settings = IntakeSettings(service="intake")
    serve(create_app(settings), settings)
