"""惠工“服务项目集群”, public (annex 1, 信息共享制度: "公布惠工‘服务项目集群’"): the approved projects
of the 服务项目库 run by active 服务职工基地 and 关爱职工公益伙伴, by service field and district, with
each one's current grade. A page in Chinese for workers (no login, no script, through the front
door at /project-cluster/) and the same listing as JSON for the 惠工和畅 platform to embed.

Only organisations appear: a project's name, field and district, and its base's or partner's name,
district, grade and whether it is still on probation; nothing about any person. A project whose
provider is neither an active base nor an active partner (exited, revoked, or never registered as
one) is left out."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from huigong_events.forms import ServiceField
from huigong_events.grading import EvaluatedKind, Grade
from huigong_events.reference import ALL_AREAS, area_code, area_name
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import runtime_of

from ...domain.dates import BEIJING

router = APIRouter(tags=["服务项目集群"])

# A base's or partner's provider row matches a project by credit code, or by name where the base or
# partner has none (the 2022 cohort): the rule of domain/grading.py's `Subject.provides`.
QUERY: Final = """
WITH providers AS (
    SELECT 'service_base' AS kind, unit_id AS provider_id, name, area, credit_code, origin
      FROM units_view WHERE programme = 'service_base' AND status NOT IN ('revoked', 'exited')
    UNION ALL
    SELECT 'welfare_partner', partner_id, name, area, credit_code, origin
      FROM partners_view WHERE status = 'active'
)
SELECT s.project_id, s.name, s.field, s.area, s.listed_on,
       p.kind, p.provider_id, p.name AS provider_name, p.area AS provider_area, p.origin,
       g.grade, g.year AS grade_year, g.probation_ended
  FROM service_projects_view s
  JOIN providers p ON CASE WHEN p.credit_code IS NOT NULL THEN p.credit_code = s.provider_credit_code
                           ELSE p.name = s.provider END
  LEFT JOIN grades_view g ON g.subject_id = p.provider_id
 WHERE g.exited_on IS NULL
   AND ($1::text IS NULL OR s.field = $1)
   AND ($2::text IS NULL OR s.area = $2)
 ORDER BY s.field, s.area, s.listed_on, s.name
"""


def _project(row: Any) -> dict[str, Any]:
    kind = EvaluatedKind(row["kind"])
    grade = Grade(row["grade"]) if row["grade"] else None
    # New ones (from an application) are on probation until their first grade of C or better.
    probation = row["origin"] == "application" and not row["probation_ended"]
    return {
        "project_id": str(row["project_id"]),
        "name": row["name"],
        "field": row["field"],
        "field_label": ServiceField(row["field"]).label,
        "area": row["area"],
        "area_label": area_name(row["area"]),
        "listed_on": row["listed_on"].isoformat(),
        "provider": {
            "id": str(row["provider_id"]),
            "kind": kind.value,
            "kind_label": kind.label,
            "name": row["provider_name"],
            "area": row["provider_area"],
            "area_label": area_name(row["provider_area"]),
            "grade": grade.value if grade else None,
            "grade_label": grade.label if grade else "未评定",
            "grade_year": row["grade_year"],
            "on_probation": probation,
        },
    }


def chosen(field: str | None, area: str | None) -> tuple[ServiceField | None, str | None]:
    """The filters as given, by code or Chinese name; an empty choice is "all"."""
    errors = []
    service_field: ServiceField | None = None
    if field:
        try:
            service_field = ServiceField(field.strip())
        except ValueError:
            codes = "、".join(f"{f.value}（{f.label}）" for f in ServiceField)
            errors.append(FieldError("field", f"服务领域应为以下之一：{codes}", "not a known service field"))
    code = area_code(area) if area else None
    if code is not None and code not in ALL_AREAS:
        errors.append(
            FieldError("area", "区市应为区市代码或名称，如 370202 或 市南区", "not a known district or unit")
        )
    if errors:
        raise Refusal(*errors)
    return service_field, code


async def listing(request: Request, field: ServiceField | None, area: str | None) -> dict[str, Any]:
    rows = await runtime_of(request).pool.fetch(QUERY, field.value if field else None, area)
    projects = [_project(row) for row in rows]
    by_field: dict[str, int] = {}
    by_area: dict[str, int] = {}
    for project in projects:
        by_field[project["field"]] = by_field.get(project["field"], 0) + 1
        by_area[project["area"]] = by_area.get(project["area"], 0) + 1
    return {
        "title": "惠工“服务项目集群”",
        "as_of": datetime.now(BEIJING).date().isoformat(),
        "total": len(projects),
        "fields": [
            {"field": f.value, "field_label": f.label, "count": by_field.get(f.value, 0)}
            for f in ServiceField
        ],
        "areas": [{"area": a, "area_label": area_name(a), "count": n} for a, n in sorted(by_area.items())],
        "projects": projects,
    }


@router.get(
    "/project-cluster/projects.json",
    summary="惠工“服务项目集群”（公开，JSON）",
    description="在册服务职工基地和关爱职工公益伙伴的入库服务项目，按服务领域和区市，附各基地、伙伴当前等级；"
    "供“惠工和畅”平台嵌入。不含任何个人信息。",
)
async def cluster_json(request: Request, field: str | None = None, area: str | None = None) -> dict[str, Any]:
    return await listing(request, *chosen(field, area))


def _options(selected: str | None, choices: list[tuple[str, str]]) -> str:
    return "".join(
        f'<option value="{html.escape(value)}"{" selected" if value == selected else ""}>{html.escape(label)}</option>'
        for value, label in [("", "全部"), *choices]
    )


PAGE_STYLE: Final = """
body{font-family:"Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#b71c1c;color:#fff;padding:1.2rem 1.5rem}header h1{margin:0;font-size:1.5rem}
header p{margin:.3rem 0 0;opacity:.9}main{max-width:1100px;margin:0 auto;padding:1rem 1.5rem}
form{margin:.5rem 0 1rem;display:flex;gap:1rem;flex-wrap:wrap;align-items:end}
label{display:flex;flex-direction:column;font-size:.9rem}select,button{font-size:1rem;padding:.3rem}
section{background:#fff;border-radius:6px;margin-bottom:1rem;padding:.5rem 1rem}
h2{font-size:1.2rem;border-bottom:1px solid #e4e7eb;padding-bottom:.4rem}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #f0f0f0}
.grade{font-weight:bold}.probation{color:#8a6d3b;font-size:.85rem;margin-left:.4rem}
.empty{color:#7b8794}footer{color:#7b8794;font-size:.85rem;padding:1rem 1.5rem;text-align:center}
"""


def page(listing: dict[str, Any], field: ServiceField | None, area: str | None) -> str:
    sections = []
    for entry in listing["fields"]:
        projects = [p for p in listing["projects"] if p["field"] == entry["field"]]
        if not projects:
            continue
        rows = "".join(
            "<tr>"
            f"<td>{html.escape(p['name'])}</td>"
            f"<td>{html.escape(p['area_label'])}</td>"
            f"<td>{html.escape(p['provider']['name'])}（{html.escape(p['provider']['kind_label'])}）</td>"
            f'<td><span class="grade">{html.escape(p["provider"]["grade_label"])}</span>'
            + ('<span class="probation">试运行</span>' if p["provider"]["on_probation"] else "")
            + "</td>"
            f"<td>{html.escape(p['listed_on'])}</td>"
            "</tr>"
            for p in projects
        )
        sections.append(
            f"<section><h2>{html.escape(entry['field_label'])}（{len(projects)}个）</h2>"
            "<table><thead><tr><th>服务项目</th><th>区市</th><th>提供单位</th><th>当前等级</th><th>入库日期</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></section>"
        )
    body = "".join(sections) or '<p class="empty">暂无符合条件的服务项目。</p>'
    field_choices = [(f.value, f.label) for f in ServiceField]
    # Every district and unit, so that a worker can move from one filter to another.
    area_choices = list(ALL_AREAS.items())
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>惠工“服务项目集群” · 青岛市总工会</title><style>{PAGE_STYLE}</style></head>
<body><header><h1>惠工“服务项目集群”</h1>
<p>青岛市服务职工基地和关爱职工公益伙伴提供的服务项目，共 {listing["total"]} 个（截至 {listing["as_of"]}）</p></header>
<main><form method="get" action="">
<label>服务领域<select name="field">{_options(field.value if field else None, field_choices)}</select></label>
<label>区市<select name="area">{_options(area, area_choices)}</select></label>
<button type="submit">筛选</button> <a href="projects.json">JSON 数据</a></form>
{body}</main>
<footer>等级为最近一次年度绩效评估的结果（A 优秀、B 良好、C 合格、D 不合格）；新进入的基地和伙伴在首次评定为 C 及以上之前为试运行。</footer>
</body></html>"""


@router.get(
    "/project-cluster/",
    response_class=HTMLResponse,
    summary="惠工“服务项目集群”页面（公开）",
    description="按服务领域分组，可按区市筛选；前门地址 /project-cluster/。",
)
async def cluster_page(request: Request, field: str | None = None, area: str | None = None) -> HTMLResponse:
    service_field, code = chosen(field, area)
    return HTMLResponse(page(await listing(request, service_field, code), service_field, code))
