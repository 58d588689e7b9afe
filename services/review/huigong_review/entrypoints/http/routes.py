"""Review's HTTP API: reviewers' findings and clearances, panel scores, the chair's decision, the
review queue, the dossier of one application and its panel. Every write takes an
Idempotency-Key; a refusal is 4xx with field errors in Chinese and English.

Reviewers and the chair are the principals `reviewer:<area>/<name>` or `chair:<area>/<name>` of
their API keys (see `people.py`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from huigong_events.forms import SubmitterCode
from huigong_events.plausible import QueryYear
from huigong_events.reference import Programme
from huigong_platform.application import from_request
from huigong_platform.exports import (
    CSV_MEDIA_TYPE,
    EXPORT_MAX_ROWS,
    XLSX_MEDIA_TYPE,
    ExportFormat,
    exported,
)
from huigong_platform.principals import HEADER, Principal
from huigong_platform.refusals import FieldError, Forbidden
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...adapters.inputs import Loaded
from ...commands import (
    ClearanceRequest,
    ClearFinding,
    Decide,
    DecisionRequest,
    FindingRequest,
    RecordFinding,
    Score,
    ScoreRequest,
    Select,
    SelectionRequest,
)
from ...domain.scoring import ScoringPolicy, panel
from ...domain.state import QueueStage
from ...handlers import Review, not_found
from ...policy import Sight, sight, visible_submitter
from ...projections.queue import QUEUE_STAGES, STAGE_SQL, STATUS_SQL, Totals, summarise, totals_of
from .references import ApplicationRef, resolve
from .views import STAGE_LABELS, dossier, panel_view

router = APIRouter()


def review_of(request: Request) -> Review:
    handlers: Review = runtime_of(request).extras["review"]
    return handlers


# --- writes ------------------------------------------------------------------------------------


@router.post(
    "/applications/{application_id}/findings",
    status_code=201,
    tags=["不予受理情形"],
    summary="评审专家认定服务中心类不予受理情形（C1–C5）",
    description="评审专家对已受理、尚未作出建设决定的申报认定 C1–C5 之一，并写明理由（至少 10 个字符）。"
    "本区市或本单位的评审专家应当回避（403）；同一情形已有未排除的发现时拒绝（409）。"
    "未排除的发现会阻止批准建设。",
)
async def record_finding(
    application_id: ApplicationRef,
    body: FindingRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    found = await resolve(request, application_id)
    return await run(request, from_request(RecordFinding, body, application_id=found), caller, key)


@router.post(
    "/applications/{application_id}/findings/{finding_id}/clearance",
    tags=["不予受理情形"],
    summary="排除一项不予受理发现",
    description="发现经核实不成立或已整改完毕时，由评审专家或领导小组负责人写明理由予以排除（任何阶段均可，"
    "不会重新开启已不予受理或未获批准的申报）。未知发现 404，已排除 409。",
)
async def clear_finding(
    application_id: ApplicationRef,
    finding_id: uuid.UUID,
    body: ClearanceRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    found = await resolve(request, application_id)
    command = from_request(ClearFinding, body, application_id=found, finding_id=finding_id)
    return await run(request, command, caller, key)


@router.post(
    "/applications/{application_id}/scores",
    status_code=201,
    tags=["评审打分"],
    summary="评审专家对建设方案打分（五个方面，每人一次）",
    description="对已确定的建设单位报送的三年规划和首个年度实施方案（缺一 409）按总体思路、政策合规性、建设重点、资金投入、体制机制创新打分，每项附评语；"
    "按权重计算加权总分。每名评审专家对每份申报只能打分一次（409）；本区市或本单位的评审专家应当回避（403）。",
)
async def score(
    application_id: ApplicationRef, body: ScoreRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    found = await resolve(request, application_id)
    return await run(request, from_request(Score, body, application_id=found), caller, key)


@router.post(
    "/applications/{application_id}/decision",
    status_code=201,
    tags=["建设决定"],
    summary="领导小组负责人作出建设决定（批准建设或不予批准）",
    description="建设方案评审打分达到法定人数后，领导小组负责人批准三年建设（须填建设期开始日期）；"
    "有评分被标记（偏离过多）时须写明说明 flag_note（否则 409）。受理后任何时候均可写明理由不予批准，"
    "无需法定人数。决定不可更改：第二次决定 409。存在未排除的不予受理发现时不能批准（409）。",
)
async def decide(
    application_id: ApplicationRef,
    body: DecisionRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    found = await resolve(request, application_id)
    return await run(request, from_request(Decide, body, application_id=found), caller, key)


@router.post(
    "/applications/{application_id}/selection",
    status_code=201,
    tags=["确定建设单位"],
    summary="领导小组负责人确定建设单位（或写明理由不予确定）",
    description="从已受理的申报中确定建设单位（select），确定后该单位报送三年规划和首个年度实施方案，"
    "再由评审专家对方案打分；或写明理由（申报单位可见）不予确定（not_select）。"
    "每份申报只确定一次（409）；存在未排除的不予受理发现时不能确定（409）；本区市或本单位的负责人应当回避（403）。",
)
async def select(
    application_id: ApplicationRef,
    body: SelectionRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    found = await resolve(request, application_id)
    return await run(request, from_request(Select, body, application_id=found), caller, key)


# --- reads -------------------------------------------------------------------------------------


async def _loaded(request: Request, caller: Principal, application_id: uuid.UUID) -> Loaded:
    own = visible_submitter(caller)
    async with review_of(request).reads() as inputs:
        loaded = await inputs.load(application_id)
    if loaded.state is None or (own is not None and loaded.state.submitter != own):
        raise not_found()  # a district learns nothing about another's applications
    return loaded


@router.get(
    "/applications/{application_id}",
    tags=["查询"],
    summary="申报案卷：申报表、不予受理发现、打分、建设决定（含时间和操作主体）",
    description="一次返回一份申报在评审中的全部记录：现行申报表及其提交、修改、撤回记录；筛查结论；每项发现及其排除；"
    "部门报送的合规事实；每位评审专家的打分；评审汇总；建设决定；以及按时间排列的全部事件（事件编号、时间、操作主体、来源）。"
    "直接读取事件存储，强一致。区市和集团工会只能查看本单位的申报。",
)
async def get_dossier(application_id: ApplicationRef, request: Request, caller: Caller) -> dict[str, Any]:
    loaded = await _loaded(request, caller, await resolve(request, application_id))
    assert loaded.state is not None
    return dossier(loaded, review_of(request).policy, sight(caller, loaded.state.scores))


@router.get(
    "/applications/{application_id}/panel",
    tags=["评审打分"],
    summary="评审汇总：平均分、极差、标准差、各方面均分、偏离标记",
    description="加权总分的平均分、极差（最高减最低）、总体标准差和各方面均分；至少三人打分时，"
    "某位专家的总分与其他专家平均分相差超过阈值（默认 15 分）即标记。",
)
async def get_panel(application_id: ApplicationRef, request: Request, caller: Caller) -> dict[str, Any]:
    found = await resolve(request, application_id)
    loaded = await _loaded(request, caller, found)
    assert loaded.state is not None
    policy: ScoringPolicy = review_of(request).policy
    seen = sight(caller, loaded.state.scores)
    if seen is Sight.申报单位:
        raise Forbidden(
            FieldError(
                HEADER,
                "评审汇总（各评审专家的得分）对申报单位保密",
                "the panel's scores are confidential to the applicant",
            )
        )
    if seen is Sight.未打分评审:
        # Before their own score a reviewer learns only how far the panel has got.
        return {
            "application_id": str(found),
            "count": len(loaded.state.scores),
            "quorum": policy.quorum,
            "hidden": True,
            "hidden_reason": "提交本人评分后方可查看其他评审专家的评分 / others' scores are shown once yours is in",
        }
    return {"application_id": str(found), **panel_view(panel(loaded.state, policy), policy)}


class QueueItem(BaseModel):
    application_id: uuid.UUID
    receipt_no: str | None = Field(title="受理编号")
    year: int | None = Field(title="申报年度")
    programme: Programme | None = Field(title="工作任务")
    submitter: str | None = Field(title="申报区市或单位")
    name: str | None = Field(title="名称")
    unit_name: str | None = Field(title="建设单位")
    stage: str = Field(
        title="队列阶段",
        description="awaiting_screening 待筛查, awaiting_selection 待确定建设单位, awaiting_scores 待评分, "
        "awaiting_decision 待决定, decided 已办结",
    )
    stage_label: str = Field(title="队列阶段（中文）")
    status: str = Field(
        title="评审状态",
        description="pending 待筛查, accepted 已受理, selected 已确定建设单位, not_selected 未确定为建设单位, "
        "rejected 不予受理, withdrawn 已撤回, approved 建设中, declined 未获批准",
    )
    status_label: str = Field(title="评审状态（中文）")
    submitted_at: datetime | None = Field(title="提交时间")
    updated_at: datetime = Field(title="最近变化时间")
    scores: int = Field(title="已打分人数")
    average: Decimal | None = Field(title="加权总分平均分")
    spread: Decimal | None = Field(title="极差")
    flagged: list[str] = Field(title="偏离标记的评审专家")
    open_findings: int = Field(title="未排除的不予受理发现")


class QueuePage(BaseModel):
    total: int
    page: int
    page_size: int
    quorum: int = Field(title="决定所需打分人数")
    items: list[QueueItem]


STATUS_LABELS = {stage.value: label for stage, label in STAGE_LABELS.items()}


@router.get(
    "/queue",
    tags=["查询"],
    summary="评审队列（待筛查、待评分、待决定、已办结；分页）",
    description="按队列阶段、工作任务、区市或单位、年度筛选；每项含名称、已打分人数、平均分和偏离标记。"
    "由事件投影而成，最终一致（通常在一秒内）。区市和集团工会只能看到本单位的申报。"
    f"format=xlsx 或 csv 时不分页，导出全部符合条件的申报（最多{EXPORT_MAX_ROWS}行），保密规则相同。",
    response_model=QueuePage,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}}},
)
async def list_queue(
    request: Request,
    caller: Caller,
    stage: QueueStage | None = None,
    programme: Programme | None = None,
    submitter: Annotated[SubmitterCode | None, Query(description="区市或单位代码或名称")] = None,
    year: Annotated[QueryYear | None, Query(description="申报年度（2022–2100）")] = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=50, ge=1, le=500),
    format: Annotated[
        ExportFormat, Query(description="json（默认）、xlsx 或 csv（不分页导出）")
    ] = ExportFormat.json,
) -> QueuePage | Response:
    if format is not ExportFormat.json:
        page, page_size = 1, EXPORT_MAX_ROWS
    own = visible_submitter(caller)
    if own is not None:
        submitter = own
    policy: ScoringPolicy = review_of(request).policy
    args: list[Any] = [policy.quorum]
    where = ["true"]
    for column, value in (
        ("stage", stage.value if stage else None),
        ("programme", programme.value if programme else None),
        ("submitter", submitter),
        ("year", year),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    clause = " AND ".join(where)
    inner = f"""SELECT q.*, {STAGE_SQL} AS stage, {STATUS_SQL} AS status,
                   (SELECT count(*) FROM review_queue_findings f
                    WHERE f.application_id = q.application_id AND f.open) AS open_findings
                FROM review_queue q"""
    pool = runtime_of(request).pool
    total = await pool.fetchval(f"SELECT count(*) FROM ({inner}) x WHERE {clause}", *args)
    rows = await pool.fetch(
        f"""SELECT * FROM ({inner}) x WHERE {clause}
            ORDER BY submitted_at NULLS LAST, application_id
            LIMIT {page_size} OFFSET {(page - 1) * page_size}""",
        *args,
    )
    items = []
    for row in rows:
        totals = totals_of(row["totals"])
        summary = summarise(totals, policy.deviation_threshold)
        if sight(caller, totals) is not Sight.全部:
            # Confidential review: the applicant, and a reviewer before their own score, learn
            # how many have scored, not what or who was flagged.
            summary = Totals(summary.count, None, None, ())
        items.append(
            QueueItem(
                application_id=row["application_id"],
                receipt_no=row["receipt_no"],
                year=row["year"],
                programme=row["programme"],
                submitter=row["submitter"],
                name=row["name"],
                unit_name=row["unit_name"],
                stage=row["stage"],
                stage_label=QUEUE_STAGES[row["stage"]],
                status=row["status"],
                status_label=STATUS_LABELS[row["status"]],
                submitted_at=row["submitted_at"],
                updated_at=row["updated_at"],
                scores=row["score_count"],
                average=summary.mean,
                spread=summary.spread,
                flagged=list(summary.flagged),
                open_findings=row["open_findings"],
            )
        )
    if format is not ExportFormat.json:
        listed = [
            {
                **item.model_dump(),
                "stage": item.stage_label,
                "status": item.status_label,
                "flagged": "、".join(item.flagged),
            }
            for item in items
        ]
        return exported(request, listed, _QUEUE_COLUMNS, "评审队列", format)
    return QueuePage(total=total, page=page, page_size=page_size, quorum=policy.quorum, items=items)


_QUEUE_COLUMNS: Final = (
    ("receipt_no", "受理编号"),
    ("year", "申报年度"),
    ("programme", "工作任务"),
    ("submitter", "申报区市或单位"),
    ("name", "名称"),
    ("unit_name", "建设单位"),
    ("stage", "队列阶段"),
    ("status", "评审状态"),
    ("submitted_at", "提交时间"),
    ("updated_at", "最近变化时间"),
    ("scores", "已打分人数"),
    ("average", "加权总分平均分"),
    ("spread", "极差"),
    ("flagged", "偏离标记的评审专家"),
    ("open_findings", "未排除的不予受理发现"),
)
