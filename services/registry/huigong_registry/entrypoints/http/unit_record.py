"""One unit as a registrar reads it, by its id or its certificate number (证书编号): its record,
every assessment with its criteria, and what is still missing for certification. The same
resolution (`UnitId`) lets every route that takes a unit id take the certificate number instead."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request

from huigong_events.registry import UnitAssessed
from huigong_events.upcasting import decode
from huigong_platform.refusals import FieldError, NotFound, Refusal
from huigong_platform.service import runtime_of

from ...domain import certification

router = APIRouter(tags=["建设单位"])

# QDGH-<year>-<FQ|ZH|JD>-<NNNN>: what `adapters/units.allocate_certificate_no` hands out.
CERTIFICATE_NO: Final = re.compile(r"^QDGH-20[0-9]{2}-(FQ|ZH|JD)-[0-9]{4,}$")


async def unit_id_of(
    request: Request,
    unit_id: Annotated[
        str,
        Path(
            title="单位编号或证书编号",
            description="建设单位编号（UUID），或其示范单位证书编号（如 QDGH-2026-FQ-0001）",
        ),
    ],
) -> uuid.UUID:
    """The unit a path names, by id or certificate number; a number no unit holds is 404, anything
    else 422 (before the command path is entered)."""
    text = unit_id.strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        pass
    if not CERTIFICATE_NO.match(text.upper()):
        raise Refusal(
            FieldError(
                "unit_id",
                "应为建设单位编号（UUID）或证书编号（如 QDGH-2026-FQ-0001）",
                "expected a unit id (UUID) or a certificate number such as QDGH-2026-FQ-0001",
            )
        )
    found = await runtime_of(request).pool.fetchval(
        # Every certificate ever issued, revoked ones too: a revoked unit is still found by it.
        "SELECT unit_id FROM certificates_view WHERE certificate_no = $1",
        text.upper(),
    )
    if found is None:
        raise NotFound(
            FieldError("unit_id", f"没有证书编号为 {text} 的单位", f"no unit holds certificate {text}")
        )
    assert isinstance(found, uuid.UUID)
    return found


UnitId = Annotated[uuid.UUID, Depends(unit_id_of)]


@router.get("/units/{unit_id}", summary="一个建设单位：登记、评估（逐项标准）和认定情况")
async def get_unit(unit_id: UnitId, request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM units_view WHERE unit_id = $1", unit_id)
        stream = await runtime.store.read(certification.AGGREGATE, str(unit_id), conn=conn)
    if row is None and not stream.events:
        raise NotFound(FieldError("unit_id", "没有该建设单位", "no such unit"))
    events = [decode(record) for record in stream.events]
    state = certification.fold(events)
    if state is None:
        raise NotFound(FieldError("unit_id", "没有该建设单位", "no such unit"))
    criteria = certification.criteria_of(state.programme)
    assessments = [
        {
            "assessed_on": event.assessed_on.isoformat(),
            "recorded_at": record.recorded_at.isoformat(),
            "actor": record.actor,
            "results": [result.model_dump(mode="json") for result in event.results],
        }
        for record, event in zip(stream.events, events, strict=True)
        if isinstance(event, UnitAssessed)
    ]
    record = dict(row) if row is not None else {}
    return {
        "unit_id": str(state.unit_id),
        "name": state.name,
        "programme": state.programme.value,
        "programme_label": state.programme.label,
        "area": state.area,
        "origin": state.origin.value,
        "application_id": str(state.application_id) if state.application_id else None,
        # Approved applications of this same centre or enterprise, attached instead of a second unit.
        "applications": [str(a) for a in state.attached],
        "status": state.status.value,
        "status_label": state.status.label,  # the domain's labels: 暂停 included
        "registered_on": state.registered_on.isoformat() if state.registered_on else None,
        "period_start": state.period_start.isoformat() if state.period_start else None,
        "certificate_no": state.certificate_no,
        **{
            key: record[key].isoformat() if record.get(key) is not None else None
            for key in ("certified_on", "valid_until", "recheck_due", "revoked_on", "exited_on")
        },
        # The latest result per criterion (a later assessment replaces an earlier one), in the
        # order the programme lists its criteria; "未评估" where none was recorded yet.
        "criteria": [
            {
                "criterion": name,
                "met": state.results[name].met if name in state.results else None,
                "evidence": state.results[name].evidence if name in state.results else None,
                "label": ("达到" if state.results[name].met else "未达到")
                if name in state.results
                else "未评估",
            }
            for name in criteria
        ],
        "assessments": assessments,
    }
