"""Service matters over HTTP (联动服务): a centre's 综合服务窗口 receives a worker's request, the
handlers transfer, accept, do the steps and close it, the worker's rating is recorded; the first
responder, and the city federation's 联动运营部, follow every step.

Who acts: `district:<code>` for its district's service centre and service bases, `city:…` for the
city's centre (370200); the rules of domain/matters.py decide the rest. Every write is a command
of the registry's command path and records the caller as the event's actor. Reads: districts see the matters
that passed through their district; the city federation, registrars, ops and viewers see all. The
requester's name, phone and request are shown only to callers acting for a unit the matter passed
through, and never once erased. A matter's page (`GET /matters/{id}`) is built from its event
stream, so it shows a step as soon as the step is recorded; the list reads the projection."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from huigong_events.matters import (
    CalendarYear,
    Channel,
    DutyRosterSet,
    MatterOutcome,
    MatterRated,
    MatterReceived,
    ServiceCategory,
)
from huigong_events.plausible import AsOfDay
from huigong_events.reference import CITY_CODE, DISTRICTS
from huigong_events.upcasting import decode
from huigong_platform.application import from_request
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Stream
from huigong_platform.exports import (
    CSV_MEDIA_TYPE,
    EXPORT_MAX_ROWS,
    XLSX_MEDIA_TYPE,
    ExportFormat,
    exported,
)
from huigong_platform.principals import Role
from huigong_platform.refusals import FieldError, Forbidden, NotFound, Refusal
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...adapters.matters import handling_events
from ...adapters.requesters import vault_of
from ...adapters.working_calendar import published, years_between
from ...commands import (
    AcceptanceRequest,
    AcceptMatter,
    CloseMatter,
    DoMatterStep,
    DutyRosterRequest,
    EraseRequester,
    MatterClosureRequest,
    PublishWorkingCalendar,
    RateMatter,
    RatingRequest,
    ReceiptRequest,
    ReceiveMatter,
    RefuseTransfer,
    RequesterErasureRequest,
    SetDutyRoster,
    StepRequest,
    TransferMatter,
    TransferRefusalRequest,
    TransferRequest,
    WorkingCalendarRequest,
)
from ...domain import duty, handling, matters, workdays, working_calendar
from ...domain.matters import MatterStatus
from ...handlers import today
from ...policy import acting_of, may_see_requester, reads_all
from .facilities import row

router = APIRouter(tags=["联动服务"])
STATUS_LABELS: Final = {status: status.label for status in MatterStatus}
STEP_LABELS: Final = {
    "MatterReceived": "受理",
    "MatterTransferred": "转办",
    "MatterAccepted": "接收",
    "MatterTransferRefused": "退回",
    "MatterStepDone": "办理",
    "MatterClosed": "办结",
    "MatterRated": "评价",
    "MatterRequesterErased": "删除个人信息",
    "MatterDeadlineRevised": "期限重算",
}
ERASED: Final = "[已删除]"


@router.post("/matters", status_code=201, summary="受理服务事项（职工服务中心综合服务窗口）")
async def receive(body: ReceiptRequest, request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    return await run(request, from_request(ReceiveMatter, body), caller, key)


@router.post("/matters/{matter_id}/transfers", status_code=201, summary="转办：转给提供该事项的中心或基地")
async def transfer(
    matter_id: uuid.UUID, body: TransferRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(TransferMatter, body, matter_id=matter_id), caller, key)


@router.post("/matters/{matter_id}/acceptance", status_code=201, summary="接收转办")
async def accept(
    matter_id: uuid.UUID, body: AcceptanceRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(AcceptMatter, body, matter_id=matter_id), caller, key)


@router.post("/matters/{matter_id}/refusal", status_code=201, summary="退回转办：接收单位说明理由拒收")
async def refuse(
    matter_id: uuid.UUID, body: TransferRefusalRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(RefuseTransfer, body, matter_id=matter_id), caller, key)


@router.post("/matters/{matter_id}/steps", status_code=201, summary="完成一个办理环节")
async def step_done(
    matter_id: uuid.UUID, body: StepRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(DoMatterStep, body, matter_id=matter_id), caller, key)


@router.post("/matters/{matter_id}/closure", status_code=201, summary="办结")
async def close(
    matter_id: uuid.UUID, body: MatterClosureRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(CloseMatter, body, matter_id=matter_id), caller, key)


@router.post("/matters/{matter_id}/rating", status_code=201, summary="记录职工满意度评价（1–5分）")
async def rate(
    matter_id: uuid.UUID, body: RatingRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(RateMatter, body, matter_id=matter_id), caller, key)


@router.post("/matters/{matter_id}/erasure", status_code=201, summary="删除求助职工的个人信息")
async def erase(
    matter_id: uuid.UUID, body: RequesterErasureRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(EraseRequester, body, matter_id=matter_id), caller, key)


@router.put(
    "/working-calendars/{year}",
    status_code=201,
    summary="发布某年度的工作日安排（法定节假日和调休上班日，市总工会）；未办结事项的办结期限随之重算",
)
async def publish_working_calendar(
    year: Annotated[CalendarYear, Path(title="年度", description="工作日安排所属的年度")],
    body: WorkingCalendarRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    return await run(request, from_request(PublishWorkingCalendar, body, year=year), caller, key)


@router.put(
    "/service-centres/{centre_id}/duty-roster",
    summary="设定职工服务中心综合服务窗口的值班表和公开服务电话（本级总工会）",
)
async def set_duty_roster(
    centre_id: uuid.UUID, body: DutyRosterRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(SetDutyRoster, body, centre_id=centre_id), caller, key)


# --- reads ---------------------------------------------------------------------------------------


async def duty_rosters(
    request: Request, conn: DbConnection, centre_id: uuid.UUID, recorded_by: datetime | None = None
) -> list[DutyRosterSet]:
    """A centre's rosters as set (those recorded by `recorded_by`, when given)."""
    stream = await runtime_of(request).store.read(duty.AGGREGATE, str(centre_id), conn=conn)
    return duty.rosters(
        decode(r) for r in stream.events if recorded_by is None or r.occurred_at <= recorded_by
    )


@router.get(
    "/service-centres/{centre_id}/duty-roster",
    summary="职工服务中心综合服务窗口的值班表：各次设定、某日在岗人员和公开服务电话",
)
async def get_duty_roster(
    centre_id: uuid.UUID,
    request: Request,
    on: Annotated[AsOfDay | None, Query(description="查询哪一天的在岗人员（默认今天，北京时间）")] = None,
) -> dict[str, Any]:
    on = on or today()
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        stream = await runtime.store.read(duty.AGGREGATE, str(centre_id), conn=conn)
    sets = [(r, e) for r, e in ((r, decode(r)) for r in stream.events) if isinstance(e, DutyRosterSet)]
    if not sets:
        raise NotFound(
            FieldError("centre_id", "该中心尚未设定值班表", f"no duty roster for centre {centre_id}")
        )
    rosters = [e for _, e in sets]
    return {
        "centre_id": str(centre_id),
        "centre_name": rosters[-1].centre_name,
        "area": rosters[-1].area,
        "public_phone": duty.public_phone(rosters, on),
        "on": on.isoformat(),
        "on_duty": duty.on_duty(rosters, on),
        "rosters": [
            {
                **e.model_dump(mode="json", exclude={"centre_id", "centre_name", "area"}),
                "set_by": r.actor,
                "set_at": r.occurred_at.isoformat(),
            }
            for r, e in sets
        ],
    }


async def calendars(request: Request, conn: DbConnection, first: date, last: date) -> workdays.Published:
    """The years from `first` to `last` the city has published (the package counts the others)."""
    runtime = runtime_of(request)

    async def read(aggregate_type: str, aggregate_id: str) -> Stream:
        return await runtime.store.read(aggregate_type, aggregate_id, conn=conn)

    return await published(read, years_between(first, last))


@router.get(
    "/working-calendars/{year}",
    summary="某年度的工作日安排：市总工会发布的（以最后一次为准），否则内置节假日日历的；都没有时按周一至周五暂定",
)
async def get_working_calendar(
    year: Annotated[CalendarYear, Path(title="年度", description="工作日安排所属的年度")],
    request: Request,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        stream = await runtime.store.read(working_calendar.AGGREGATE, str(year), conn=conn)
    records = list(stream.events)
    issued = working_calendar.publications(decode(r) for r in records)
    answer: dict[str, Any] = {"year": year, "provisional": False, "publications": len(issued)}
    if issued:
        last, record = issued[-1], records[-1]
        return {
            **answer,
            "source": "published",
            "source_label": "市总工会发布",
            "holidays": sorted(d.isoformat() for d in last.holidays),
            "adjusted_workdays": sorted(d.isoformat() for d in last.adjusted_workdays),
            "reason": last.reason,
            "published_by": record.actor,
            "published_at": record.occurred_at.isoformat(),
        }
    package = workdays.bundled(year)
    if package is not None:
        return {
            **answer,
            "source": "bundled",
            "source_label": "内置节假日日历（chinese-calendar）",
            "holidays": sorted(d.isoformat() for d in package.holidays),
            "adjusted_workdays": sorted(d.isoformat() for d in package.adjusted_workdays),
        }
    # Neither: deadlines reaching this year count Monday to Friday and are marked 期限暂定.
    return {
        **answer,
        "source": "weekdays",
        "source_label": "尚无安排，暂按周一至周五计算",
        "provisional": True,
        "holidays": [],
        "adjusted_workdays": [],
    }


def _unit(unit: matters.Unit | None) -> dict[str, str] | None:
    if unit is None:
        return None
    return {"unit_id": str(unit.unit_id), "name": unit.name, "area": unit.area}


def _lateness(
    deadline: date,
    received_on: date,
    closed_on: date | None,
    as_of: date,
    published: workdays.Published = workdays.NONE_PUBLISHED,
) -> dict[str, Any]:
    """Overdue on `as_of`, and how many working days past the deadline: as of that day while it is
    overdue, at closure once closed late; counted by the years the city has published, as the
    deadline was."""
    overdue = matters.overdue_on(deadline, received_on, closed_on, as_of)
    if overdue:
        late = workdays.working_days_between(deadline, as_of, published)
    elif closed_on is not None and closed_on > deadline:
        late = workdays.working_days_between(deadline, closed_on, published)
    else:
        late = 0
    return {"overdue": overdue, "working_days_late": late}


# Declared before /matters/{matter_id}, which would otherwise take "figures" for a matter id.
@router.get("/matters/figures", summary="各单位服务事项统计：首问受理与承办（含转入、退回、按期、超期）")
async def unit_figures(
    request: Request,
    area: Annotated[str | None, Query(description="只列该区市（或 370200 市级）的单位")] = None,
    as_of: Annotated[AsOfDay | None, Query(description="截至日期（默认今天，北京时间）")] = None,
) -> dict[str, Any]:
    as_of = as_of or today()
    async with runtime_of(request).pool.acquire() as conn:
        events = await handling_events(conn)
    units = handling.by_unit(events, as_of)
    rows = sorted(
        (figures for figures in units.values() if area is None or figures.unit.area == area),
        key=lambda figures: (figures.unit.area, figures.unit.name),
    )
    return {"as_of": as_of.isoformat(), "units": [figures.to_json() for figures in rows]}


@router.get("/matters/{matter_id}", summary="一个服务事项：办理全过程（谁、何时、做了什么）")
async def get_matter(
    matter_id: uuid.UUID,
    request: Request,
    caller: Caller,
    as_of: Annotated[
        AsOfDay | None, Query(description="判断是否超期所依据的日期，默认今天（北京时间）")
    ] = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
    as_of = as_of or today()
    async with runtime.pool.acquire() as conn:
        stream = await runtime.store.read(matters.AGGREGATE, str(matter_id), conn=conn)
        events = [decode(record) for record in stream.events]
        state = matters.fold(events)
        if reads_all(caller) and state is not None:
            found = state
        else:
            found = matters.visible(state, matter_id, acting_of(caller))
        received = events[0]
        assert isinstance(received, MatterReceived)
        requester: dict[str, str] | None = None
        if may_see_requester(caller, found) and not found.erased:
            clear = await vault_of(request).unseal(conn, matter_id, received.requester_sealed)
            if clear is not None:
                requester = {"name": clear.name, "phone": clear.phone, "request": clear.request}
        arrangements = await calendars(request, conn, found.deadline, max(as_of, found.closed_on or as_of))
        # 首问: who was on duty at the receiving centre's window that day, by the rosters set
        # before the receipt was recorded.
        on_duty = duty.on_duty(
            await duty_rosters(request, conn, received.centre_id, stream.events[0].occurred_at),
            received.received_on,
        )
    rating = next((e for e in events if isinstance(e, MatterRated)), None)
    path = []
    for record, event in zip(stream.events, events, strict=True):
        data = event.to_data()
        data.pop("requester_sealed", None)
        path.append(
            {
                "version": record.aggregate_version,
                "type": record.type,
                "label": STEP_LABELS.get(record.type, record.type),
                "occurred_at": record.occurred_at.isoformat(),
                "recorded_at": record.recorded_at.isoformat(),
                "actor": record.actor,
                "source": record.source,
                "correlation_id": record.correlation_id,
                "event_id": str(record.id),
                "hash": record.hash,
                "data": data,
            }
        )
    return {
        "matter_id": str(found.matter_id),
        "matter_no": found.matter_no,
        "item": {
            "item_id": str(found.item_id),
            "name": found.item_name,
            "category": received.category.value,
            "category_label": received.category.label,
        },
        "channel": received.channel.value,
        "channel_label": received.channel.label,
        "first_responder": {**(_unit(found.first) or {}), "on_duty": on_duty},
        "handler": _unit(found.handler),
        "pending_transfer": _unit(found.pending.to) if found.pending else None,
        "involved": [_unit(u) for u in found.involved.values()],
        "status": found.status.value,
        "status_label": STATUS_LABELS[found.status],
        "received_on": found.received_on.isoformat(),
        "time_limit_days": received.time_limit_days,
        "deadline": found.deadline.isoformat(),
        "deadline_provisional": found.provisional,
        "as_of": as_of.isoformat(),
        **_lateness(found.deadline, found.received_on, found.closed_on, as_of, arrangements),
        "steps": [{"step": s, "done": s in found.done} for s in found.steps],
        "transfers": found.transfers,
        "refused_transfers": found.refusals,
        "closed_on": found.closed_on.isoformat() if found.closed_on else None,
        "outcome": found.outcome.value if found.outcome else None,
        "outcome_label": found.outcome.label if found.outcome else None,
        "on_time": (found.closed_on <= found.deadline) if found.closed_on else None,
        "score": rating.score if rating else None,
        "comment": rating.comment if rating else None,
        "rated_on": rating.rated_on.isoformat() if rating else None,
        "requester_erased": found.erased,
        "requester": requester,
        "path": path,
    }


_MATTER_COLUMNS: Final = (
    ("matter_no", "受理编号"),
    ("item_name", "服务事项"),
    ("category", "服务类别"),
    ("channel", "受理渠道"),
    ("first_responder", "首问责任中心"),
    ("handler", "当前承办单位"),
    ("status", "状态"),
    ("received_on", "受理日期"),
    ("deadline", "办结时限"),
    ("closed_on", "办结日期"),
    ("outcome", "办理结果"),
    ("overdue", "是否超期"),
    ("working_days_late", "超期工作日"),
    ("score", "评价分"),
)


@router.get(
    "/matters",
    summary="服务事项列表：按区市、中心、状态筛选，可只看超期事项（可导出 Excel 或 CSV）",
    description=f"format=xlsx 或 csv 时不分页，导出全部符合条件的事项（最多{EXPORT_MAX_ROWS}行），"
    "区市只能导出本区市经办的事项；不含求助人信息。",
    response_model=dict[str, Any],
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}}},
)
async def list_matters(
    request: Request,
    caller: Caller,
    area: Annotated[str | None, Query(description="首问责任中心所在区市（370200 为市中心）")] = None,
    centre: Annotated[uuid.UUID | None, Query(description="首问责任中心（登记单位编号）")] = None,
    handler: Annotated[uuid.UUID | None, Query(description="当前承办单位（登记单位编号）")] = None,
    status: MatterStatus | None = None,
    overdue: Annotated[bool | None, Query(description="true：只列截至日期超期未办结的事项")] = None,
    item_id: uuid.UUID | None = None,
    category: ServiceCategory | None = None,
    as_of: Annotated[
        AsOfDay | None, Query(description="截至日期（默认今天，北京时间）：此前受理的事项及其是否超期")
    ] = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=100, ge=1, le=500),
    format: Annotated[
        ExportFormat, Query(description="json（默认）、xlsx 或 csv（不分页导出）")
    ] = ExportFormat.json,
) -> Any:
    if format is not ExportFormat.json:
        page, page_size = 1, EXPORT_MAX_ROWS
    as_of = as_of or today()
    where, args = ["received_on <= $1"], [as_of]

    def add(clause: str, value: Any) -> None:
        args.append(value)
        where.append(clause.format(f"${len(args)}"))

    if not reads_all(caller):
        if caller.role is not Role.DISTRICT:
            raise Forbidden(FieldError("principal", "无权查看服务事项", "may not read service matters"))
        if area is not None and area != caller.code:
            raise Forbidden(
                FieldError("area", "只能查看本区市经办的事项", "a district reads only its own matters")
            )
        add("{} = ANY(involved_areas)", caller.code)
    if area is not None:
        if area != CITY_CODE and area not in DISTRICTS:
            raise Refusal(FieldError("area", "不是市或区市代码", "not 370200 or a district code"))
        add("first_area = {}", area)
    for column, value in (
        ("first_unit", centre),
        ("handler_unit", handler),
        ("status", status.value if status else None),
        ("item_id", item_id),
        ("category", category.value if category else None),
    ):
        if value is not None:
            add(f"{column} = {{}}", value)
    if overdue is not None:
        late = "(deadline < $1 AND (closed_on IS NULL OR closed_on > $1))"
        where.append(late if overdue else f"NOT {late}")
    clause = " AND ".join(where)
    pool = runtime_of(request).pool
    total = await pool.fetchval(f"SELECT count(*) FROM matters_view WHERE {clause}", *args)
    order = "deadline, matter_no" if overdue else "received_on DESC, matter_no DESC"
    records = await pool.fetch(
        f"SELECT * FROM matters_view WHERE {clause} ORDER BY {order} "
        f"LIMIT {page_size} OFFSET {(page - 1) * page_size}",
        *args,
    )
    arrangements: workdays.Published = workdays.NONE_PUBLISHED
    if records:
        first = min(r["deadline"] for r in records)
        last = max([as_of, *(r["closed_on"] for r in records if r["closed_on"])])
        async with pool.acquire() as conn:
            arrangements = await calendars(request, conn, first, last)
    items = [_list_item(r, as_of, arrangements) for r in records]
    if format is not ExportFormat.json:
        return exported(request, [_as_exported(item) for item in items], _MATTER_COLUMNS, "服务事项", format)
    return {"as_of": as_of.isoformat(), "total": total, "page": page, "page_size": page_size, "items": items}


def _as_exported(item: dict[str, Any]) -> dict[str, Any]:
    """A list item with its labels in place of codes and units by name (a file shows people)."""
    return {
        **item,
        "category": item["category_label"],
        "channel": item["channel_label"],
        "status": item["status_label"],
        "outcome": item["outcome_label"],
        "first_responder": item["first_responder"]["name"],
        "handler": item["handler"]["name"],
    }


def _list_item(record: Any, as_of: date, published: workdays.Published) -> dict[str, Any]:
    item = row(record)
    for prefix in ("first", "handler", "pending"):
        unit = item.pop(f"{prefix}_unit")
        name, area = item.pop(f"{prefix}_name"), item.pop(f"{prefix}_area")
        key = {"first": "first_responder", "handler": "handler", "pending": "pending_transfer"}[prefix]
        item[key] = {"unit_id": unit, "name": name, "area": area} if unit else None
    item["involved_units"] = [str(u) for u in record["involved_units"]]
    item["status_label"] = STATUS_LABELS[MatterStatus(record["status"])]
    item["category_label"] = ServiceCategory(record["category"]).label
    item["channel_label"] = Channel(record["channel"]).label
    item["outcome_label"] = MatterOutcome(record["outcome"]).label if record["outcome"] else None
    item.update(_lateness(record["deadline"], record["received_on"], record["closed_on"], as_of, published))
    return item
