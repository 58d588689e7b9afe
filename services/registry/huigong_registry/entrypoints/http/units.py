"""Certification by registrars: assessment, certification, revocation and exit of a unit, each a
command of the registry's command path (handlers.py: the unit's lock, the pure domain, the
certificate number allocated in the same transaction)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from huigong_platform.application import from_request
from huigong_platform.web import Caller, IdempotencyKey, run

from ...commands import (
    AssessmentRequest,
    AssessUnit,
    CertificationRequest,
    CertifyUnit,
    ExitUnit,
    ReasonRequest,
    RevokeUnit,
)
from .unit_record import UnitId

router = APIRouter(tags=["认定"])


@router.post("/units/{unit_id}/assessment", status_code=201, summary="逐项评估建设单位")
async def assess(
    unit_id: UnitId, body: AssessmentRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(AssessUnit, body, unit_id=unit_id), caller, key)


@router.post("/units/{unit_id}/certification", status_code=201, summary="认定：授予示范单位称号")
async def certify(
    unit_id: UnitId, body: CertificationRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(CertifyUnit, body, unit_id=unit_id), caller, key)


@router.post("/units/{unit_id}/revocation", status_code=201, summary="撤销称号")
async def revoke(
    unit_id: UnitId, body: ReasonRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(RevokeUnit, body, unit_id=unit_id), caller, key)


@router.post("/units/{unit_id}/exit", status_code=201, summary="服务职工基地退出")
async def exit_unit(
    unit_id: UnitId, body: ReasonRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(ExitUnit, body, unit_id=unit_id), caller, key)
