"""Service matters over HTTP (联动服务): a centre's 综合服务窗口 receives a worker's request, the
handlers transfer, accept, do the steps and close it, the worker's rating is recorded; the first
responder, and the city federation's 联动运营部, follow every step.

Who acts: `district:<code>` for its district's service centre and service bases, `city:…` for the
city's centre (370200); the rules of domain/matters.py decide the rest. Every write carries an
Idempotency-Key and records the caller as the event's actor. Reads: districts see the matters
that passed through their district; the city federation, registrars, ops and viewers see all. The
requester's name, phone and request are shown only to callers acting for a unit the matter passed
through, and never once erased. A matter's page (`GET /matters/{id}`) is built from its event
stream, so it shows a step as soon as the step is recorded; the list reads the projection."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from huigong_events.base import DomainEvent
from huigong_events.forms import Name
from huigong_events.matters import (
    Channel,
    ClearText,
    MatterOutcome,
    MatterRated,
    MatterReceived,
    ServiceCategory,
)
from huigong_events.reference import CITY_CODE, DISTRICTS
from huigong_events.upcasting import decode
from huigong_platform import idempotency, logs
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Metadata
from huigong_platform.idempotency import MAX_KEY_LENGTH, Outcome
from huigong_platform.principals import Principal, Role, principal
from huigong_platform.refusals import Conflict, FieldError, Forbidden, Refusal
from huigong_platform.service import correlation_id_of, runtime_of

from ..adapters.matters import Loaded, allocate_matter_no, load_handler, load_item, load_matter
from ..adapters.requesters import Requester, vault_of
from ..domain import matters, workdays
from ..domain.cohort import SERVICE_CENTRES
from ..domain.matters import Acting, MatterState, MatterStatus
from .facilities import row
from .units import today

log = logs.get(__name__)

router = APIRouter(tags=["联动服务"])
Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH)]
Decide = Callable[[DbConnection, Loaded[MatterState]], Awaitable[list[DomainEvent]]]

# The 11 centres as huigong-seed registers them (stable ids): a caller's own centre by default.
CENTRE_OF_AREA: Final[dict[str, uuid.UUID]] = {entry.area: entry.id for entry in SERVICE_CENTRES}
STATUS_LABELS: Final = {
    MatterStatus.handling: "办理中",
    MatterStatus.transferring: "转办待接收",
    MatterStatus.closed: "已办结",
}
STEP_LABELS: Final = {
    "MatterReceived": "受理",
    "MatterTransferred": "转办",
    "MatterAccepted": "接收",
    "MatterStepDone": "办理",
    "MatterClosed": "办结",
    "MatterRated": "评价",
    "MatterRequesterErased": "删除个人信息",
}
ERASED: Final = "[已删除]"


def acting_of(caller: Principal) -> Acting:
    if caller.role is Role.DISTRICT:
        return Acting.district(caller.code)
    if caller.role is Role.CITY:
        return Acting.city()
    return Acting()


def reads_all(caller: Principal) -> bool:
    """The city federation (联动运营部), registrars, ops and viewers read every matter."""
    return caller.role in (Role.CITY, Role.REGISTRAR, Role.OPS, Role.VIEWER)


# --- requests ------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A mainland mobile number, or a landline with its area code (0532-8888 8888 written without
# blanks); the window takes whichever the worker can be called back on.
PHONE_PATTERN: Final = r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$"


class RequesterBody(_Body):
    """求助职工：姓名和联系电话，加密保存，仅经办单位可见。"""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = Field(
        title="姓名", description="求助职工的姓名"
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=PHONE_PATTERN)] = Field(
        title="联系电话", description="手机号，或带区号的固定电话（如 0532-88888888）"
    )


class ReceiptRequest(_Body):
    matter_id: uuid.UUID = Field(default_factory=uuid.uuid4, title="事项编号", description="默认新生成")
    centre: uuid.UUID | None = Field(
        default=None,
        title="受理中心",
        description="受理的职工服务中心（登记单位编号）；默认为调用方所在区市的中心",
    )
    item_id: uuid.UUID = Field(title="服务事项编号", description="所申请的服务事项（目录条目）")
    channel: Channel = Field(title="受理渠道", description="walk_in 窗口、phone 电话、app 齐鲁工惠App")
    requester: RequesterBody = Field(title="求助职工", description="姓名和联系电话（加密保存）")
    request: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        title="诉求", description="职工的诉求（加密保存，可删除）"
    )
    received_on: date | None = Field(default=None, title="受理日期", description="默认为今天（北京时间）")


class TransferRequest(_Body):
    to: uuid.UUID = Field(
        title="接收单位", description="提供该服务事项的职工服务中心或服务职工基地（登记单位编号）"
    )
    reason: ClearText = Field(title="转办原因", description="转办的原因")
    transferred_on: date | None = Field(default=None, title="转办日期", description="默认为今天（北京时间）")


class AcceptanceRequest(_Body):
    accepted_on: date | None = Field(default=None, title="接收日期", description="默认为今天（北京时间）")


class StepRequest(_Body):
    step: Name = Field(title="办理环节", description="受理时确定的办理环节之一，按顺序完成")
    note: ClearText | None = Field(default=None, title="办理说明", description="办理情况说明")
    done_on: date | None = Field(default=None, title="完成日期", description="默认为今天（北京时间）")


class ClosureRequest(_Body):
    outcome: MatterOutcome = Field(
        title="办结结果",
        description="resolved 已办结、declined 不予办理、withdrawn 申请人撤回、referred 转其他部门",
    )
    note: ClearText | None = Field(default=None, title="办结说明", description="办结情况说明")
    closed_on: date | None = Field(default=None, title="办结日期", description="默认为今天（北京时间）")


class RatingRequest(_Body):
    score: int = Field(ge=1, le=5, title="满意度", description="1（很不满意）至 5（很满意）")
    comment: ClearText | None = Field(default=None, title="评价意见", description="职工的意见")
    rated_on: date | None = Field(default=None, title="评价日期", description="默认为今天（北京时间）")


class ErasureRequest(_Body):
    request_ref: ClearText = Field(title="删除请求编号", description="个人信息删除请求的编号")


# --- writes ----------------------------------------------------------------------------------------


def _outcome(
    events: list[DomainEvent], recorded_id: uuid.UUID, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = events[-1].to_data()
    data.pop("requester_sealed", None)
    return {"type": events[-1].type, **data, **(extra or {}), "event_id": str(recorded_id)}


async def _respond(
    request: Request,
    caller: Principal,
    key: str,
    body: BaseModel,
    work: Callable[[DbConnection], Awaitable[Outcome]],
) -> JSONResponse:
    # The request as sent: a retry that leaves the id to the server gets a fresh default each
    # time, which must not make it a different request.
    fingerprint = idempotency.request_hash(
        {"path": request.url.path, "body": body.model_dump(mode="json", exclude_unset=True)}
    )
    outcome = await idempotency.once(runtime_of(request).pool, caller.id, key, fingerprint, work)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


async def _act(
    request: Request,
    caller: Principal,
    key: str,
    body: BaseModel,
    matter_id: uuid.UUID,
    decide: Decide,
    status: int = 201,
) -> JSONResponse:
    """Load the matter under its lock, decide, append, all in the idempotent transaction."""
    runtime = runtime_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))

    async def work(conn: DbConnection) -> Outcome:
        loaded = await load_matter(conn, runtime.store, matter_id)
        events = await decide(conn, loaded)
        recorded = await runtime.store.append(str(matter_id), events, loaded.version, meta, conn=conn)
        return Outcome(status, _outcome(events, recorded[-1].id))

    return await _respond(request, caller, key, body, work)


def _own_centre(caller: Principal) -> uuid.UUID | None:
    if caller.role is Role.DISTRICT:
        return CENTRE_OF_AREA.get(caller.code)
    if caller.role is Role.CITY:
        return CENTRE_OF_AREA[CITY_CODE]
    return None


@router.post("/matters", status_code=201, summary="受理服务事项（职工服务中心综合服务窗口）")
async def receive(
    body: ReceiptRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    runtime = runtime_of(request)
    vault = vault_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))
    centre_id = body.centre or _own_centre(caller)
    if centre_id is None:
        raise Forbidden(
            FieldError("centre", "只有职工服务中心可以受理", "only a service centre receives matters")
        )
    received_on = body.received_on or today()

    async def work(conn: DbConnection) -> Outcome:
        loaded = await load_matter(conn, runtime.store, body.matter_id)
        if loaded.version:
            raise Conflict(FieldError("matter_id", "该事项已受理", "the matter was received already"))
        centre = await load_handler(conn, runtime.store, centre_id)
        item = (await load_item(conn, runtime.store, body.item_id)).state
        matter_no = await allocate_matter_no(conn, received_on, centre.area if centre else "000000")
        key_id, sealed = await vault.seal(
            conn, body.matter_id, Requester(body.requester.name, body.requester.phone, body.request)
        )
        events = matters.decide_receive(
            matter_id=body.matter_id,
            matter_no=matter_no,
            item=item,
            item_id=body.item_id,
            centre=centre,
            acting=acting_of(caller),
            channel=body.channel,
            requester_sealed=sealed,
            key_id=key_id,
            received_on=received_on,
            today=today(),
        )
        received = events[0]
        assert isinstance(received, MatterReceived)
        if received.deadline_provisional:
            log.warning(
                "deadline provisional: the holiday calendar does not cover its year yet",
                matter_no=matter_no,
                deadline=received.deadline.isoformat(),
                calendar_last_year=workdays.LAST_YEAR,
            )
        recorded = await runtime.store.append(str(body.matter_id), events, 0, meta, conn=conn)
        return Outcome(201, _outcome(events, recorded[-1].id, {"matter_id": str(body.matter_id)}))

    return await _respond(request, caller, key, body, work)


@router.post("/matters/{matter_id}/transfers", status_code=201, summary="转办：转给提供该事项的中心或基地")
async def transfer(
    matter_id: uuid.UUID, body: TransferRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    store = runtime_of(request).store

    async def decide(conn: DbConnection, loaded: Loaded[MatterState]) -> list[DomainEvent]:
        target = await load_handler(conn, store, body.to)
        item = (await load_item(conn, store, loaded.state.item_id)).state if loaded.state else None
        return matters.decide_transfer(
            loaded.state,
            matter_id,
            acting_of(caller),
            to=body.to,
            target=target,
            item=item,
            reason=body.reason,
            on=body.transferred_on or today(),
            today=today(),
        )

    return await _act(request, caller, key, body, matter_id, decide)


@router.post("/matters/{matter_id}/acceptance", status_code=201, summary="接收转办")
async def accept(
    matter_id: uuid.UUID, body: AcceptanceRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: Loaded[MatterState]) -> list[DomainEvent]:
        return matters.decide_accept(
            loaded.state, matter_id, acting_of(caller), body.accepted_on or today(), today()
        )

    return await _act(request, caller, key, body, matter_id, decide)


@router.post("/matters/{matter_id}/steps", status_code=201, summary="完成一个办理环节")
async def step_done(
    matter_id: uuid.UUID, body: StepRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: Loaded[MatterState]) -> list[DomainEvent]:
        return matters.decide_step(
            loaded.state, matter_id, acting_of(caller), body.step, body.note, body.done_on or today(), today()
        )

    return await _act(request, caller, key, body, matter_id, decide)


@router.post("/matters/{matter_id}/closure", status_code=201, summary="办结")
async def close(
    matter_id: uuid.UUID, body: ClosureRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: Loaded[MatterState]) -> list[DomainEvent]:
        return matters.decide_close(
            loaded.state,
            matter_id,
            acting_of(caller),
            body.outcome,
            body.note,
            body.closed_on or today(),
            today(),
        )

    return await _act(request, caller, key, body, matter_id, decide)


@router.post("/matters/{matter_id}/rating", status_code=201, summary="记录职工满意度评价（1–5分）")
async def rate(
    matter_id: uuid.UUID, body: RatingRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: Loaded[MatterState]) -> list[DomainEvent]:
        return matters.decide_rate(
            loaded.state,
            matter_id,
            acting_of(caller),
            body.score,
            body.comment,
            body.rated_on or today(),
            today(),
        )

    return await _act(request, caller, key, body, matter_id, decide)


@router.post("/matters/{matter_id}/erasure", status_code=201, summary="删除求助职工的个人信息")
async def erase(
    matter_id: uuid.UUID, body: ErasureRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: Loaded[MatterState]) -> list[DomainEvent]:
        events = matters.decide_erase(loaded.state, matter_id, acting_of(caller), body.request_ref, today())
        # The key goes in the same transaction as the event that says so.
        await vault_of(request).erase(conn, matter_id)
        return events

    return await _act(request, caller, key, body, matter_id, decide)


# --- reads ---------------------------------------------------------------------------------------


def _unit(unit: matters.Unit | None) -> dict[str, str] | None:
    if unit is None:
        return None
    return {"unit_id": str(unit.unit_id), "name": unit.name, "area": unit.area}


def _lateness(deadline: date, received_on: date, closed_on: date | None, as_of: date) -> dict[str, Any]:
    """Overdue on `as_of`, and how many working days past the deadline: as of that day while it is
    overdue, at closure once closed late."""
    overdue = matters.overdue_on(deadline, received_on, closed_on, as_of)
    if overdue:
        late = workdays.working_days_between(deadline, as_of)
    elif closed_on is not None and closed_on > deadline:
        late = workdays.working_days_between(deadline, closed_on)
    else:
        late = 0
    return {"overdue": overdue, "working_days_late": late}


def _may_see_requester(caller: Principal, state: MatterState) -> bool:
    acting = acting_of(caller)
    return bool(acting.areas & state.involved_areas)


@router.get("/matters/{matter_id}", summary="一个服务事项：办理全过程（谁、何时、做了什么）")
async def get_matter(
    matter_id: uuid.UUID,
    request: Request,
    caller: Caller,
    as_of: Annotated[date | None, Query(description="判断是否超期所依据的日期，默认今天（北京时间）")] = None,
) -> dict[str, Any]:
    runtime = runtime_of(request)
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
        if _may_see_requester(caller, found) and not found.erased:
            clear = await vault_of(request).unseal(conn, matter_id, received.requester_sealed)
            if clear is not None:
                requester = {"name": clear.name, "phone": clear.phone, "request": clear.request}
    rating = next((e for e in events if isinstance(e, MatterRated)), None)
    as_of = as_of or today()
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
        "first_responder": _unit(found.first),
        "handler": _unit(found.handler),
        "pending_transfer": _unit(found.pending.to) if found.pending else None,
        "involved": [_unit(u) for u in found.involved.values()],
        "status": found.status.value,
        "status_label": STATUS_LABELS[found.status],
        "received_on": found.received_on.isoformat(),
        "time_limit_days": received.time_limit_days,
        "deadline": found.deadline.isoformat(),
        "deadline_provisional": received.deadline_provisional,
        "as_of": as_of.isoformat(),
        **_lateness(found.deadline, found.received_on, found.closed_on, as_of),
        "steps": [{"step": s, "done": s in found.done} for s in found.steps],
        "transfers": found.transfers,
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


@router.get("/matters", summary="服务事项列表：按区市、中心、状态筛选，可只看超期事项")
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
        date | None, Query(description="截至日期（默认今天，北京时间）：此前受理的事项及其是否超期")
    ] = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
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
    return {
        "as_of": as_of.isoformat(),
        "total": total,
        "page": page,
        "page_size": page_size,
        "items": [_list_item(r, as_of) for r in records],
    }


def _list_item(record: Any, as_of: date) -> dict[str, Any]:
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
    item.update(_lateness(record["deadline"], record["received_on"], record["closed_on"], as_of))
    return item
