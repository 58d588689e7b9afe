"""Certification by registrars: assessment, certification, revocation and exit of a unit.

Every command names its caller (registrar or city), carries an Idempotency-Key, takes the unit's
advisory lock, decides in the pure domain and appends in one transaction (with the certificate
number allocated in that same transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from huigong_events.base import DomainEvent
from huigong_events.forms import ShortText
from huigong_events.registry import CriterionResult
from huigong_platform import idempotency
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Metadata
from huigong_platform.idempotency import MAX_KEY_LENGTH, Outcome
from huigong_platform.principals import Principal, principal
from huigong_platform.service import correlation_id_of, runtime_of

from ..adapters.units import LoadedUnit, allocate_certificate_no, load_unit
from ..domain.certification import (
    check_certifiable,
    decide_assess,
    decide_certify,
    decide_exit,
    decide_revoke,
)
from ..domain.dates import BEIJING
from .routes import registrar_only

router = APIRouter(tags=["认定"])
Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH)]


def today() -> date:
    return datetime.now(BEIJING).date()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssessmentRequest(_Body):
    results: list[CriterionResult] = Field(
        min_length=1, title="评估结果", description="各项认定标准：是否达到及佐证"
    )
    assessed_on: date | None = Field(default=None, title="评估日期", description="默认为今天（北京时间）")


class CertificationRequest(_Body):
    certified_on: date | None = Field(default=None, title="认定日期", description="默认为今天（北京时间）")


class ReasonRequest(_Body):
    reason: ShortText = Field(title="原因", description="撤销或退出的原因")
    on: date | None = Field(default=None, title="日期", description="默认为今天（北京时间）")


Decide = Callable[[DbConnection, LoadedUnit], Awaitable[list[DomainEvent]]]


async def command(
    request: Request, caller: Principal, key: str, unit_id: uuid.UUID, body: BaseModel, decide: Decide
) -> JSONResponse:
    registrar_only(caller)
    runtime = runtime_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))
    fingerprint = idempotency.request_hash(
        {"path": request.url.path, "unit_id": str(unit_id), "body": body.model_dump(mode="json")}
    )

    async def work(conn: DbConnection) -> Outcome:
        loaded = await load_unit(conn, runtime.store, unit_id)
        events = await decide(conn, loaded)
        recorded = await runtime.store.append(str(unit_id), events, loaded.version, meta, conn=conn)
        result = events[-1].model_dump(mode="json")
        return Outcome(201, {**result, "event_id": str(recorded[-1].id)})

    outcome = await idempotency.once(runtime.pool, caller.id, key, fingerprint, work)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.post("/units/{unit_id}/assessment", status_code=201, summary="逐项评估建设单位")
async def assess(
    unit_id: uuid.UUID, body: AssessmentRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: LoadedUnit) -> list[DomainEvent]:
        return decide_assess(loaded.state, body.results, body.assessed_on or today())

    return await command(request, caller, key, unit_id, body, decide)


@router.post("/units/{unit_id}/certification", status_code=201, summary="认定：授予示范单位称号")
async def certify(
    unit_id: uuid.UUID, body: CertificationRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: LoadedUnit) -> list[DomainEvent]:
        unit = check_certifiable(loaded.state)
        on = body.certified_on or today()
        number = await allocate_certificate_no(conn, unit.programme, on.year)
        return decide_certify(unit, number, on)

    return await command(request, caller, key, unit_id, body, decide)


@router.post("/units/{unit_id}/revocation", status_code=201, summary="撤销称号")
async def revoke(
    unit_id: uuid.UUID, body: ReasonRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: LoadedUnit) -> list[DomainEvent]:
        return decide_revoke(loaded.state, body.reason, body.on or today())

    return await command(request, caller, key, unit_id, body, decide)


@router.post("/units/{unit_id}/exit", status_code=201, summary="服务职工基地退出")
async def exit_unit(
    unit_id: uuid.UUID, body: ReasonRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: LoadedUnit) -> list[DomainEvent]:
        return decide_exit(loaded.state, body.reason, body.on or today())

    return await command(request, caller, key, unit_id, body, decide)
