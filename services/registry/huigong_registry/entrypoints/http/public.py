"""Public reads: certificate verification (no authentication, no personal data) and member
counts (aggregates only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from huigong_events.labels import Labelled, relabel
from huigong_platform.service import runtime_of

router = APIRouter()

CERTIFICATE_STATUS_LABELS = {
    "certified": "有效",
    "suspended": "暂停",
    "revoked": "已撤销",
    "exited": "已退出",
}


@router.get("/certificates/{certificate_no}", tags=["证书核验"], summary="核验示范单位证书（公开）")
async def verify_certificate(certificate_no: str, request: Request) -> JSONResponse:
    row = await runtime_of(request).pool.fetchrow(
        "SELECT * FROM certificates_view WHERE certificate_no = $1", certificate_no.strip().upper()
    )
    if row is None:
        error = {"field": "certificate_no", "zh": "未找到该证书编号", "en": "no certificate with this number"}
        return JSONResponse({"errors": [error]}, status_code=404)
    return JSONResponse(
        {
            "certificate_no": row["certificate_no"],
            "unit_name": row["unit_name"],
            "programme": row["programme"],
            "title": row["title"],
            "certified_on": row["certified_on"].isoformat(),
            "valid_until": row["valid_until"].isoformat(),
            "status": row["status"],
            "status_label": CERTIFICATE_STATUS_LABELS.get(row["status"], row["status"]),
            # 暂停: the day only; why is for the revocation case's readers, not the public.
            "suspended_on": row["suspended_on"].isoformat() if row["suspended_on"] else None,
            "revoked_on": row["revoked_on"].isoformat() if row["revoked_on"] else None,
            "exited_on": row["exited_on"].isoformat() if row["exited_on"] else None,
        }
    )


class GroupBy(Labelled):
    district = "district"
    occupation = "occupation"
    platform = "platform"


relabel(GroupBy, {GroupBy.district: "区市", GroupBy.occupation: "职业类别", GroupBy.platform: "平台企业"})


@router.get("/members/counts", tags=["会员名册"], summary="新就业形态劳动者入会人数（去重）")
async def member_counts(request: Request, group_by: GroupBy = GroupBy.district) -> dict[str, Any]:
    column = group_by.value  # one of three fixed column names
    pool = runtime_of(request).pool
    rows = await pool.fetch(
        f"""SELECT m.{column} AS key, count(*) AS members, sum(m.reports - 1) AS reported_again,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM member_aid_view a WHERE a.member_key = m.member_key)) AS mutual_aid
            FROM members_view m GROUP BY m.{column} ORDER BY m.{column}"""
    )
    items = [
        {
            column: r["key"],
            "members": r["members"],
            "reported_again": int(r["reported_again"] or 0),
            "mutual_aid": r["mutual_aid"],
        }
        for r in rows
    ]
    total = sum(i["members"] for i in items)
    aid = await pool.fetchval("SELECT count(*) FROM member_aid_view")
    return {"group_by": column, "total": total, "mutual_aid_grants": aid, "items": items}
