"""A service matter's life (联动服务, annex 1): received at a centre's 综合服务窗口, transferred
between centres and service bases, accepted, its steps done, closed, rated by the worker. Pure:
state from events (`evolve`), decisions as events or refusals (`decide_*`).

Rules:
- 首问责任制: the centre that receives a matter is its first responder and stays on record to the
  end; it may act on the matter while it handles it, sees every step, records the worker's rating
  and, with the city federation, honours a deletion request for the worker's personal data.
- Who acts for a unit: a district federation (`district:<code>`) for the centre and the service
  bases of its district, the city federation (`city:…`) for the city centre (370200). The city
  federation, whose 联动运营部 tracks transferred matters, also sees every matter.
- Receipt: at a service centre the caller acts for, of an item in the catalogue and not withdrawn,
  on a day not before the item was listed and not after today. The deadline (限时办结制) is the
  item's limit in working days after the day of receipt (domain/workdays.py); the limit, the steps
  and the deadline are fixed at receipt, so a later change of the catalogue does not move them.
- Transfer: by the current handler, to another active centre or service base that provides the
  item (422 naming the unit and the item otherwise), with a reason; one transfer is pending until
  the receiver accepts it or refuses it with a reason, and meanwhile nothing else happens to the
  matter (409). A refused matter goes back to the unit that sent it, which handles it again (and
  may transfer it elsewhere, or to the same unit once more); the refusal counts for the receiver.
- Steps: by the current handler, each step once, in the order of the item.
- Closure: by the current handler, with an outcome; "已办结" needs every step done. On time means
  closed on or before the deadline.
- Rating: 1–5 and a comment, once, of a closed matter only (an unknown matter is 404, one not yet
  closed 409), recorded by the first responder or the unit that closed it.
- Dates: no step is dated after today (Beijing) or before the previous one.
- Not found (404) also answers a caller that acts for none of the units involved and is not the
  city federation, so that a district learns nothing of another district's matters; an involved
  caller who is not the one to act gets 403 with who is.
- Overdue is not an event: a matter is overdue on day D when it was received by D, is not closed
  by the end of D and its deadline is before D. Computing it on read answers "as of any date" and
  needs no timer that would have to emit an event at midnight (and again on every replay).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.labels import Labelled, relabel
from huigong_events.matters import (
    Channel,
    HandlerKind,
    MatterAccepted,
    MatterClosed,
    MatterDeadlineRevised,
    MatterOutcome,
    MatterRated,
    MatterReceived,
    MatterRequesterErased,
    MatterStepDone,
    MatterTransferred,
    MatterTransferRefused,
)
from huigong_events.reference import CITY_CODE, DISTRICTS
from huigong_platform.refusals import Conflict, FieldError, Forbidden, NotFound, Refusal

from . import workdays
from .catalogue import Handler, ItemState

AGGREGATE: Final = "matter"


class MatterStatus(Labelled):
    handling = "handling"  # 办理中 (at the first responder, or accepted by a receiver)
    transferring = "transferring"  # 转办待接收
    closed = "closed"  # 已办结


relabel(
    MatterStatus,
    {MatterStatus.handling: "办理中", MatterStatus.transferring: "转办待接收", MatterStatus.closed: "已办结"},
)


@dataclass(frozen=True)
class Acting:
    """The areas whose units a caller acts for, and whether it is the city federation."""

    areas: frozenset[str] = frozenset()
    federation: bool = False

    def acts_for(self, area: str) -> bool:
        return area in self.areas

    @classmethod
    def district(cls, code: str) -> Acting:
        return cls(frozenset({code}))

    @classmethod
    def city(cls) -> Acting:
        return cls(frozenset({CITY_CODE}), federation=True)


@dataclass(frozen=True)
class Unit:
    unit_id: uuid.UUID
    name: str
    area: str


@dataclass(frozen=True)
class Pending:
    to: Unit
    kind: HandlerKind
    on: date


@dataclass
class MatterState:
    matter_id: uuid.UUID
    matter_no: str
    item_id: uuid.UUID
    item_name: str
    first: Unit
    handler: Unit
    steps: tuple[str, ...]
    received_on: date
    deadline: date
    last_on: date
    time_limit_days: int = 1
    provisional: bool = False  # counted Monday to Friday in a year with no arrangement yet
    pending: Pending | None = None
    done: list[str] = field(default_factory=list)
    involved: dict[uuid.UUID, Unit] = field(default_factory=dict)
    transfers: int = 0
    refusals: int = 0
    closed_on: date | None = None
    closed_by: Unit | None = None
    outcome: MatterOutcome | None = None
    rated_on: date | None = None
    erased: bool = False

    @property
    def status(self) -> MatterStatus:
        if self.closed_on is not None:
            return MatterStatus.closed
        return MatterStatus.transferring if self.pending is not None else MatterStatus.handling

    @property
    def involved_areas(self) -> frozenset[str]:
        return frozenset(unit.area for unit in self.involved.values())

    def next_step(self) -> str | None:
        remaining = [s for s in self.steps if s not in self.done]
        return remaining[0] if remaining else None


def _centre_area(area: str) -> bool:
    """The 11 centres are the city's and the districts' (a unit registered as a centre elsewhere is not one)."""
    return area == CITY_CODE or area in DISTRICTS


def overdue_on(deadline: date, received_on: date, closed_on: date | None, day: date) -> bool:
    """Overdue on `day`: received by then, not closed by the end of it, and past its deadline."""
    return received_on <= day and deadline < day and (closed_on is None or closed_on > day)


def evolve(state: MatterState | None, event: DomainEvent) -> MatterState | None:
    match event:
        case MatterReceived():
            first = Unit(event.centre_id, event.centre_name, event.area)
            return MatterState(
                matter_id=event.matter_id,
                matter_no=event.matter_no,
                item_id=event.item_id,
                item_name=event.item_name,
                first=first,
                handler=first,
                steps=tuple(event.steps),
                received_on=event.received_on,
                deadline=event.deadline,
                last_on=event.received_on,
                time_limit_days=event.time_limit_days,
                provisional=event.deadline_provisional,
                involved={first.unit_id: first},
            )
        case MatterDeadlineRevised() if state is not None:
            state.deadline = event.deadline
            state.provisional = event.deadline_provisional
        case MatterTransferred() if state is not None:
            to = Unit(event.to_unit, event.to_name, event.to_area)
            state.pending = Pending(to, event.to_kind, event.transferred_on)
            state.involved[to.unit_id] = to
            state.transfers += 1
            state.last_on = event.transferred_on
        case MatterAccepted() if state is not None and state.pending is not None:
            state.handler = state.pending.to
            state.pending = None
            state.last_on = event.accepted_on
        case MatterTransferRefused() if state is not None and state.pending is not None:
            # The sender never stopped being the handler: the matter simply stops waiting.
            state.pending = None
            state.refusals += 1
            state.last_on = event.refused_on
        case MatterStepDone() if state is not None:
            state.done.append(event.step)
            state.last_on = event.done_on
        case MatterClosed() if state is not None:
            state.closed_on = event.closed_on
            state.closed_by = state.handler
            state.outcome = event.outcome
            state.last_on = event.closed_on
        case MatterRated() if state is not None:
            state.rated_on = event.rated_on
        case MatterRequesterErased() if state is not None:
            state.erased = True
    return state


def fold(events: Iterable[DomainEvent]) -> MatterState | None:
    state: MatterState | None = None
    for event in events:
        state = evolve(state, event)
    return state


# --- refusals ------------------------------------------------------------------------------------


def _not_found(matter_id: uuid.UUID) -> NotFound:
    return NotFound(FieldError("matter_id", "没有这个服务事项", f"no service matter {matter_id}"))


def visible(state: MatterState | None, matter_id: uuid.UUID, acting: Acting) -> MatterState:
    """The matter, if the caller may know of it (see the module's rules), else 404."""
    if state is not None and (acting.federation or acting.areas & state.involved_areas):
        return state
    raise _not_found(matter_id)


def _open(state: MatterState) -> None:
    if state.closed_on is not None:
        raise Conflict(
            FieldError(
                "matter_id",
                f"事项已于 {state.closed_on.isoformat()} 办结",
                f"the matter was closed on {state.closed_on.isoformat()}",
            )
        )


def _not_pending(state: MatterState) -> None:
    if state.pending is not None:
        raise Conflict(
            FieldError(
                "matter_id",
                f"事项已转办至{state.pending.to.name}，等待接收",
                f"the matter awaits acceptance by {state.pending.to.name}",
            )
        )


def _by_handler(state: MatterState, acting: Acting) -> None:
    if not acting.acts_for(state.handler.area):
        raise Forbidden(
            FieldError(
                "principal",
                f"当前承办单位为{state.handler.name}，只有该单位可以办理",
                f"only the current handler, {state.handler.name}, acts on this matter",
            )
        )


def _dated(name: str, on: date, state: MatterState, today: date) -> None:
    if on > today:
        raise Refusal(FieldError(name, "日期不能晚于今天", f"{name} is after today"))
    if on < state.last_on:
        last = state.last_on.isoformat()
        raise Refusal(
            FieldError(
                name, f"日期不能早于上一环节的日期 {last}", f"{name} precedes the previous step ({last})"
            )
        )


# --- decisions -------------------------------------------------------------------------------------


def decide_receive(
    *,
    matter_id: uuid.UUID,
    matter_no: str,
    item: ItemState | None,
    item_id: uuid.UUID,
    centre: Handler | None,
    acting: Acting,
    channel: Channel,
    requester_sealed: str,
    key_id: str,
    received_on: date,
    today: date,
    published: workdays.Published = workdays.NONE_PUBLISHED,
) -> list[DomainEvent]:
    if centre is None or centre.kind is not HandlerKind.职工服务中心 or not _centre_area(centre.area):
        raise Refusal(
            FieldError(
                "centre", "受理单位须为已登记的市或区市职工服务中心", "not a registered service centre"
            )
        )
    if not acting.acts_for(centre.area):
        raise Forbidden(
            FieldError(
                "centre", f"无权以{centre.name}的名义受理", f"the caller does not act for {centre.name}"
            )
        )
    if item is None:
        raise Refusal(FieldError("item_id", "服务事项目录中没有该事项", f"no service item {item_id}"))
    if item.withdrawn_on is not None and item.withdrawn_on <= received_on:
        on = item.withdrawn_on.isoformat()
        raise Refusal(
            FieldError("item_id", f"该服务事项已于 {on} 撤出目录", f"the item was withdrawn on {on}")
        )
    if received_on > today:
        raise Refusal(FieldError("received_on", "受理日期不能晚于今天", "received_on is after today"))
    if received_on < item.listed_on:
        on = item.listed_on.isoformat()
        raise Refusal(
            FieldError(
                "received_on",
                f"受理日期不能早于该服务事项列入目录的日期 {on}",
                f"received_on precedes the item's listing ({on})",
            )
        )
    due = workdays.deadline(received_on, item.time_limit_days, published)
    return [
        MatterReceived(
            matter_id=matter_id,
            matter_no=matter_no,
            item_id=item.item_id,
            item_name=item.name,
            category=item.category,
            centre_id=centre.unit_id,
            centre_name=centre.name,
            area=centre.area,
            channel=channel,
            requester_sealed=requester_sealed,
            key_id=key_id,
            received_on=received_on,
            time_limit_days=item.time_limit_days,
            steps=list(item.steps),
            deadline=due.day,
            deadline_provisional=due.provisional,
        )
    ]


def decide_transfer(
    state: MatterState | None,
    matter_id: uuid.UUID,
    acting: Acting,
    *,
    to: uuid.UUID,
    target: Handler | None,
    item: ItemState | None,
    reason: str,
    on: date,
    today: date,
) -> list[DomainEvent]:
    state = visible(state, matter_id, acting)
    _open(state)
    _not_pending(state)
    _by_handler(state, acting)
    if target is None:
        raise Refusal(
            FieldError(
                "to",
                "接收单位须为已登记且在册的职工服务中心或服务职工基地",
                f"{to} is not a registered, active service centre or service base",
            )
        )
    if target.unit_id == state.handler.unit_id:
        raise Refusal(FieldError("to", "不能转办给本单位", "cannot transfer to the current handler"))
    if item is None or not item.provided_by(target.unit_id):
        raise Refusal(
            FieldError(
                "to",
                f"{target.name}不提供服务事项“{state.item_name}”，不能转办",
                f"{target.name} does not provide the service item {state.item_name!r}",
            )
        )
    _dated("transferred_on", on, state, today)
    return [
        MatterTransferred(
            matter_id=state.matter_id,
            from_unit=state.handler.unit_id,
            from_name=state.handler.name,
            from_area=state.handler.area,
            to_unit=target.unit_id,
            to_name=target.name,
            to_area=target.area,
            to_kind=target.kind,
            reason=reason,
            transferred_on=on,
        )
    ]


def decide_accept(
    state: MatterState | None, matter_id: uuid.UUID, acting: Acting, on: date, today: date
) -> list[DomainEvent]:
    state = visible(state, matter_id, acting)
    _open(state)
    if state.pending is None:
        raise Conflict(FieldError("matter_id", "没有待接收的转办", "no transfer awaits acceptance"))
    if not acting.acts_for(state.pending.to.area):
        raise Forbidden(
            FieldError(
                "principal",
                f"只有接收单位{state.pending.to.name}可以接收",
                f"only {state.pending.to.name} accepts this transfer",
            )
        )
    _dated("accepted_on", on, state, today)
    return [MatterAccepted(matter_id=state.matter_id, unit_id=state.pending.to.unit_id, accepted_on=on)]


def decide_refuse(
    state: MatterState | None,
    matter_id: uuid.UUID,
    acting: Acting,
    reason: str,
    on: date,
    today: date,
) -> list[DomainEvent]:
    state = visible(state, matter_id, acting)
    _open(state)
    if state.pending is None:
        raise Conflict(FieldError("matter_id", "没有待接收的转办", "no transfer awaits acceptance"))
    if not acting.acts_for(state.pending.to.area):
        raise Forbidden(
            FieldError(
                "principal",
                f"只有接收单位{state.pending.to.name}可以退回",
                f"only {state.pending.to.name} refuses this transfer",
            )
        )
    _dated("refused_on", on, state, today)
    return [
        MatterTransferRefused(
            matter_id=state.matter_id,
            unit_id=state.pending.to.unit_id,
            unit_area=state.pending.to.area,
            back_to=state.handler.unit_id,
            reason=reason,
            refused_on=on,
        )
    ]


def decide_step(
    state: MatterState | None,
    matter_id: uuid.UUID,
    acting: Acting,
    step: str,
    note: str | None,
    on: date,
    today: date,
) -> list[DomainEvent]:
    state = visible(state, matter_id, acting)
    _open(state)
    _not_pending(state)
    _by_handler(state, acting)
    if step not in state.steps:
        raise Refusal(
            FieldError(
                "step",
                f"该事项的办理环节为：{'、'.join(state.steps)}",
                f"not a step of this matter; its steps: {', '.join(state.steps)}",
            )
        )
    if step in state.done:
        raise Conflict(FieldError("step", f"环节“{step}”已完成", f"step {step!r} is done already"))
    expected = state.next_step()
    if step != expected:
        raise Refusal(FieldError("step", f"请先完成环节“{expected}”", f"step {expected!r} comes first"))
    _dated("done_on", on, state, today)
    return [
        MatterStepDone(
            matter_id=state.matter_id, step=step, unit_id=state.handler.unit_id, note=note, done_on=on
        )
    ]


def decide_close(
    state: MatterState | None,
    matter_id: uuid.UUID,
    acting: Acting,
    outcome: MatterOutcome,
    note: str | None,
    on: date,
    today: date,
) -> list[DomainEvent]:
    state = visible(state, matter_id, acting)
    _open(state)
    _not_pending(state)
    _by_handler(state, acting)
    remaining = [s for s in state.steps if s not in state.done]
    if outcome is MatterOutcome.已办结 and remaining:
        raise Refusal(
            FieldError(
                "outcome",
                f"尚有办理环节未完成：{'、'.join(remaining)}",
                f"steps not done yet: {', '.join(remaining)}",
            )
        )
    _dated("closed_on", on, state, today)
    return [
        MatterClosed(
            matter_id=state.matter_id,
            unit_id=state.handler.unit_id,
            outcome=outcome,
            note=note,
            closed_on=on,
            deadline=state.deadline,
            on_time=on <= state.deadline,
        )
    ]


def decide_rate(
    state: MatterState | None,
    matter_id: uuid.UUID,
    acting: Acting,
    score: int,
    comment: str | None,
    on: date,
    today: date,
) -> list[DomainEvent]:
    state = visible(state, matter_id, acting)
    if state.closed_on is None:
        raise Conflict(FieldError("matter_id", "事项尚未办结，不能评价", "the matter is not closed yet"))
    if state.rated_on is not None:
        raise Conflict(
            FieldError(
                "matter_id",
                f"该事项已于 {state.rated_on.isoformat()} 评价",
                f"the matter was rated on {state.rated_on.isoformat()}",
            )
        )
    closer = state.closed_by or state.handler
    if not (acting.acts_for(state.first.area) or acting.acts_for(closer.area)):
        raise Forbidden(
            FieldError(
                "principal",
                "评价由首问责任单位或办结单位记录",
                "the first responder or the unit that closed the matter records the rating",
            )
        )
    _dated("rated_on", on, state, today)
    return [MatterRated(matter_id=state.matter_id, score=score, comment=comment, rated_on=on)]


def decide_erase(
    state: MatterState | None, matter_id: uuid.UUID, acting: Acting, request_ref: str, on: date
) -> list[DomainEvent]:
    state = visible(state, matter_id, acting)
    if state.erased:
        raise Conflict(FieldError("matter_id", "该事项的个人信息已删除", "personal data already erased"))
    if not (acting.federation or acting.acts_for(state.first.area)):
        raise Forbidden(
            FieldError(
                "principal",
                "个人信息删除由首问责任单位或市总工会办理",
                "the first responder or the city federation erases personal data",
            )
        )
    return [MatterRequesterErased(matter_id=state.matter_id, erased_on=on, request_ref=request_ref)]
