"""The member roster over HTTP: one member by member key, and erasure of a member's personal data.

Erasure (个人信息删除) is a registrar's command: in one transaction the registry records
MemberErased and destroys the member's data key, which it holds (adapters/member_keys.py), so the
key is gone when the 201 is sent and their sealed name and phone cannot be opened any more. The
roster keeps the member, so every count stays as it was, and shows it as 已删除. The registry never
saw a name, phone or ID number in clear, so a member is shown with its key, district, occupation,
platform and dates only."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from huigong_events.matters import ClearText
from huigong_events.upcasting import decode
from huigong_platform import idempotency, logs
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Metadata
from huigong_platform.idempotency import MAX_KEY_LENGTH, Outcome
from huigong_platform.principals import Principal, principal
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import correlation_id_of, runtime_of

from ..adapters import member_keys
from ..adapters.units import lock
from ..domain.members import AGGREGATE, decide_erasure, fold
from .units import today

log = logs.get(__name__)

router = APIRouter(tags=["会员名册"])
Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH)]
MemberKeyPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{64}$",
        title="成员标识",
        description="身份证号的 HMAC-SHA-256（64 位小写十六进制），受理服务回执中的 member_key",
    ),
]
STATUS_LABELS: Final = {"enrolled": "在册", "erased": "已删除"}


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_ref: ClearText = Field(
        title="删除请求编号", description="职工个人信息删除请求的编号（不得含手机号或身份证号）"
    )


@router.post(
    "/members/{member_key}/erasure", status_code=201, summary="删除成员个人信息（销毁其个人信息密钥）"
)
async def erase_member(
    member_key: MemberKeyPath, body: ErasureRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    runtime = runtime_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))
    fingerprint = idempotency.request_hash({"path": request.url.path, "body": body.model_dump(mode="json")})

    shredded = False

    async def work(conn: DbConnection) -> Outcome:
        nonlocal shredded
        # The same lock the enrolment reaction takes: a report being decided finishes first.
        await lock(conn, AGGREGATE, member_key)
        stream = await runtime.store.read(AGGREGATE, member_key, conn=conn)
        state = fold(decode(record) for record in stream.events)
        events = decide_erasure(state, member_key, body.request_ref, today())
        recorded = await runtime.store.append(member_key, events, stream.version, meta, conn=conn)
        # Same transaction: the event and the key's destruction stand or fall together.
        shredded = await member_keys.destroy(conn, member_key)
        return Outcome(201, {**events[-1].model_dump(mode="json"), "event_id": str(recorded[-1].id)})

    outcome = await idempotency.once(runtime.pool, caller.id, key, fingerprint, work)
    if not outcome.replayed and outcome.status_code == 201:
        log.info("member erased", member_key=member_key, actor=caller.id, data_key_destroyed=shredded)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


@router.get("/members/{member_key}", summary="一名成员：所属区市、职业、平台、互助保障和删除状态")
async def get_member(member_key: MemberKeyPath, request: Request) -> dict[str, Any]:
    pool = runtime_of(request).pool
    row = await pool.fetchrow(
        """SELECT district, occupation, platform, joined_on, reports, erased_on, erasure_ref
           FROM members_view WHERE member_key = $1""",
        member_key,
    )
    if row is None:
        raise NotFound(FieldError("member_key", "没有该成员", "no such member"))
    aid = await pool.fetch(
        "SELECT policy_year, paid_by FROM member_aid_view WHERE member_key = $1 ORDER BY policy_year",
        member_key,
    )
    status = "erased" if row["erased_on"] else "enrolled"
    return {
        "member_key": member_key,
        "status": status,
        "status_label": STATUS_LABELS[status],
        "district": row["district"],
        "occupation": row["occupation"],
        "platform": row["platform"],
        "joined_on": _day(row["joined_on"]),
        "reports": row["reports"],
        "mutual_aid": [{"policy_year": a["policy_year"], "paid_by": a["paid_by"]} for a in aid],
        "erased_on": _day(row["erased_on"]),
        "erasure_ref": row["erasure_ref"],
    }
