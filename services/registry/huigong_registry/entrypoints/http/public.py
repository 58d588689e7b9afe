"""Public reads: certificate verification (no authentication, no personal data; a page for
browsers, JSON for API clients) and member counts (aggregates only); and the printable
certificate, for the issuing body."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from huigong_events.labels import Labelled, relabel
from huigong_platform import logs
from huigong_platform.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, ExportFormat, exported
from huigong_platform.refusals import Conflict, FieldError, NotFound
from huigong_platform.service import runtime_of

from ...adapters.certificate_pdf import CertificateFacts, FontMissing, certificate_pdf
from ...domain.dates import BEIJING
from ...domain.verification import Standing, standing
from ...settings import RegistrySettings
from .certificate_page import PAGE_HEADERS, certificate_page, not_found_page

log = logs.get(__name__)
router = APIRouter()

CERTIFICATE_STATUS_LABELS = {
    "certified": "有效",
    "suspended": "暂停",
    "revoked": "已撤销",
    "exited": "已退出",
}
_PDF: Final = "application/pdf"


def _wants_page(request: Request) -> bool:
    """A browser asks for HTML before anything else; an API client asks for JSON, or for
    anything (*/*), and gets JSON as before."""
    accept = request.headers.get("accept", "")
    page, json = accept.find("text/html"), accept.find("application/json")
    return page >= 0 and (json < 0 or page < json)


async def _certificate(request: Request, certificate_no: str) -> dict[str, Any] | None:
    row = await runtime_of(request).pool.fetchrow(
        "SELECT * FROM certificates_view WHERE certificate_no = $1", certificate_no.strip().upper()
    )
    if row is None:
        return None
    today = datetime.now(BEIJING).date()
    now = standing(row["status"], row["valid_until"], today)
    return {
        "certificate_no": row["certificate_no"],
        "unit_id": row["unit_id"],
        "unit_name": row["unit_name"],
        "programme": row["programme"],
        "title": row["title"],
        "certified_on": row["certified_on"].isoformat(),
        "valid_until": row["valid_until"].isoformat(),
        "status": row["status"],
        "status_label": CERTIFICATE_STATUS_LABELS.get(row["status"], row["status"]),
        # What the title is worth today: the status, or 已过期 once its validity has ended.
        "standing": now.value,
        "standing_label": now.label,
        # 暂停: the day only; why is for the revocation case's readers, not the public.
        "suspended_on": row["suspended_on"].isoformat() if row["suspended_on"] else None,
        "revoked_on": row["revoked_on"].isoformat() if row["revoked_on"] else None,
        "exited_on": row["exited_on"].isoformat() if row["exited_on"] else None,
    }


@router.get(
    "/certificates/{certificate_no}",
    tags=["证书核验"],
    summary="核验示范单位证书（公开）",
    description="按证书编号核验：有效、暂停、已撤销、已过期或已退出（standing），未找到答 404。"
    "浏览器（Accept 以 text/html 优先）得到一页中文说明，证书上的二维码即指向此页；其他调用得到 JSON。",
    responses={200: {"content": {"text/html": {}}, "description": "核验结果（JSON 或网页）"}},
)
async def verify_certificate(certificate_no: str, request: Request) -> Response:
    found = await _certificate(request, certificate_no)
    page = _wants_page(request)
    if found is None:
        if page:
            return HTMLResponse(not_found_page(certificate_no.strip()), status_code=404, headers=PAGE_HEADERS)
        error = {"field": "certificate_no", "zh": "未找到该证书编号", "en": "no certificate with this number"}
        return JSONResponse({"errors": [error]}, status_code=404, headers={"Vary": "Accept"})
    del found["unit_id"]  # the public learns the unit's name, not its record's id
    if page:
        return HTMLResponse(certificate_page(found), headers=PAGE_HEADERS)
    return JSONResponse(found, headers={"Vary": "Accept"})


@router.get(
    "/certificates/{certificate_no}/pdf",
    tags=["证书核验"],
    summary="打印示范单位证书（PDF）",
    description="有效证书的 PDF（A4 横向）：称号、单位名称、证书编号、认定日期、有效期、颁发单位，"
    "指向公开核验页的二维码，以及认定事件的哈希。证书暂停、撤销、过期或退出时答 409。",
    responses={200: {"content": {_PDF: {}}, "description": "证书 PDF"}},
)
async def certificate_file(certificate_no: str, request: Request) -> Response:
    found = await _certificate(request, certificate_no)
    if found is None:
        raise _no_certificate()
    if found["standing"] != Standing.有效:
        raise Conflict(
            FieldError(
                "certificate_no",
                f"该证书当前为“{found['standing_label']}”，只能打印有效的证书",
                f"the certificate is {found['standing']}; only a valid certificate is printed",
            )
        )
    runtime = runtime_of(request)
    event_hash = await runtime.pool.fetchval(
        """SELECT hash FROM events WHERE aggregate_type = 'unit' AND aggregate_id = $1
               AND type = 'UnitCertified' AND data->>'certificate_no' = $2
           ORDER BY position DESC LIMIT 1""",
        str(found["unit_id"]),
        found["certificate_no"],
    )
    settings = runtime.settings
    assert isinstance(settings, RegistrySettings)
    number = found["certificate_no"]
    if settings.public_url:
        verify_url = f"{settings.public_url.rstrip('/')}/certificates/{quote(number)}"
    else:
        verify_url = str(request.url_for("verify_certificate", certificate_no=number))
    facts = CertificateFacts(
        certificate_no=number,
        unit_name=found["unit_name"],
        title=found["title"],
        certified_on=datetime.fromisoformat(found["certified_on"]).date(),
        valid_until=datetime.fromisoformat(found["valid_until"]).date(),
        event_hash=event_hash or "",
    )
    try:
        body = certificate_pdf(facts, verify_url=verify_url, font=settings.certificate_font)
    except FontMissing as missing:
        log.error("certificate font missing", font=str(settings.certificate_font), error=str(missing))
        error = {
            "field": "certificate_no",
            "zh": "证书字体未安装，暂时无法生成证书，请联系运维人员",
            "en": "the certificate font is not installed; the PDF cannot be made now",
        }
        return JSONResponse({"errors": [error]}, status_code=503)
    disposition = f"attachment; filename=\"{number}.pdf\"; filename*=UTF-8''{quote(number)}.pdf"
    return Response(body, media_type=_PDF, headers={"Content-Disposition": disposition})


def _no_certificate() -> NotFound:
    return NotFound(FieldError("certificate_no", "未找到该证书编号", "no certificate with this number"))


class GroupBy(Labelled):
    district = "district"
    occupation = "occupation"
    platform = "platform"


relabel(GroupBy, {GroupBy.district: "区市", GroupBy.occupation: "职业类别", GroupBy.platform: "平台企业"})


@router.get(
    "/members/counts",
    tags=["会员名册"],
    summary="新就业形态劳动者入会人数（去重；可导出 Excel 或 CSV）",
    response_model=dict[str, Any],
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}}},
)
async def member_counts(
    request: Request,
    group_by: GroupBy = GroupBy.district,
    format: Annotated[ExportFormat, Query(description="json（默认）、xlsx 或 csv")] = ExportFormat.json,
) -> Any:
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
    if format is not ExportFormat.json:
        columns = (
            (column, group_by.label),
            ("members", "入会人数（去重）"),
            ("reported_again", "再次报送"),
            ("mutual_aid", "获得互助保障人数"),
        )
        return exported(request, items, columns, f"入会人数（按{group_by.label}）", format)
    total = sum(i["members"] for i in items)
    aid = await pool.fetchval("SELECT count(*) FROM member_aid_view")
    return {"group_by": column, "total": total, "mutual_aid_grants": aid, "items": items}
