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

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from huigong_platform.application import from_request
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...commands import EraseMember, MemberErasureRequest

router = APIRouter(tags=["会员名册"])
MemberKeyPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{64}$",
        title="成员标识",
        description="身份证号的 HMAC-SHA-256（64 位小写十六进制），受理服务回执中的 member_key",
    ),
]
STATUS_LABELS: Final = {"enrolled": "在册", "erased": "已删除"}


@router.post(
    "/members/{member_key}/erasure", status_code=201, summary="删除成员个人信息（销毁其个人信息密钥）"
)
async def erase_member(
    member_key: MemberKeyPath,
    body: MemberErasureRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    return await run(request, from_request(EraseMember, body, member_key=member_key), caller, key)


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
