"""The service catalogue (服务事项目录, 服务项目标准化): which services workers can ask for, who
provides each, in how many working days it must be done (限时办结制), by which steps, and what is
promised (服务承诺制). Registrars keep it; it changes only by events. Pure.

Rules:
- An item is listed once (a second listing of its id is 409). Its providers are registered units
  that handle matters: the city and district 职工服务中心 (units of origin `service_centre`) and the
  服务职工基地, each under construction or certified (a revoked or exited unit provides nothing).
  Each provider that is not is refused with its position (`providers.<i>`).
- A change restates the whole entry, with a reason; matters already received keep the limit and
  steps they were received with.
- A withdrawn item takes no new matters (those in progress go on); it is not changed or withdrawn
  again (409). An unknown item is 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.labels import Labelled
from huigong_events.matters import (
    HandlerKind,
    ServiceCategory,
    ServiceItemChanged,
    ServiceItemListed,
    ServiceItemWithdrawn,
)
from huigong_events.reference import Programme
from huigong_events.registry import UnitOrigin
from huigong_platform.refusals import Conflict, FieldError, NotFound, Refusal

from .certification import UnitState, UnitStatus


class ItemStatus(Labelled):
    """Whether a service item is in the catalogue (目录) or was withdrawn from it."""

    在目录 = "listed"
    已撤出 = "withdrawn"


AGGREGATE: Final = "service-item"
_ACTIVE: Final = frozenset({UnitStatus.approved, UnitStatus.certified})


@dataclass(frozen=True)
class Handler:
    """A unit as a handler of service matters: a service centre or a service base."""

    unit_id: uuid.UUID
    name: str
    area: str
    kind: HandlerKind


def handler_of(unit: UnitState | None) -> Handler | None:
    """The unit as a handler, or None when it is not a centre or base, or no longer active."""
    if unit is None or unit.status not in _ACTIVE:
        return None
    if unit.origin is UnitOrigin.职工服务中心:
        kind = HandlerKind.职工服务中心
    elif unit.programme is Programme.服务职工基地:
        kind = HandlerKind.服务职工基地
    else:
        return None
    return Handler(unit.unit_id, unit.name, unit.area, kind)


@dataclass(frozen=True)
class ItemState:
    item_id: uuid.UUID
    name: str
    category: ServiceCategory
    providers: tuple[uuid.UUID, ...]
    time_limit_days: int
    steps: tuple[str, ...]
    commitment: str | None
    listed_on: date
    withdrawn_on: date | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_on is not None

    def provided_by(self, unit_id: uuid.UUID) -> bool:
        return unit_id in self.providers


def evolve(state: ItemState | None, event: DomainEvent) -> ItemState | None:
    match event:
        case ServiceItemListed():
            return ItemState(
                event.item_id,
                event.name,
                event.category,
                tuple(event.providers),
                event.time_limit_days,
                tuple(event.steps),
                event.commitment,
                event.listed_on,
            )
        case ServiceItemChanged() if state is not None:
            return replace(
                state,
                name=event.name,
                category=event.category,
                providers=tuple(event.providers),
                time_limit_days=event.time_limit_days,
                steps=tuple(event.steps),
                commitment=event.commitment,
            )
        case ServiceItemWithdrawn() if state is not None:
            return replace(state, withdrawn_on=event.withdrawn_on)
    return state


def fold(events: Iterable[DomainEvent]) -> ItemState | None:
    state: ItemState | None = None
    for event in events:
        state = evolve(state, event)
    return state


def _check_providers(providers: Sequence[uuid.UUID], units: Mapping[uuid.UUID, UnitState | None]) -> None:
    errors = []
    for index, unit_id in enumerate(providers):
        unit = units.get(unit_id)
        if handler_of(unit) is None:
            what = (
                "未登记" if unit is None else f"“{unit.name}”不是职工服务中心或服务职工基地，或已撤销、退出"
            )
            errors.append(
                FieldError(
                    f"providers.{index}",
                    f"提供单位{what}",
                    f"provider {unit_id} is not a registered, active service centre or service base",
                )
            )
    if errors:
        raise Refusal(*errors)


def _unknown(item_id: uuid.UUID) -> NotFound:
    return NotFound(FieldError("item_id", "服务事项目录中没有该事项", f"no service item {item_id}"))


def _withdrawn(state: ItemState) -> Conflict:
    on = state.withdrawn_on.isoformat() if state.withdrawn_on else ""
    return Conflict(
        FieldError("item_id", f"该服务事项已于 {on} 撤出目录", f"the service item was withdrawn on {on}")
    )


def decide_list(
    exists: bool, event: ServiceItemListed, units: Mapping[uuid.UUID, UnitState | None]
) -> list[DomainEvent]:
    if exists:
        raise Conflict(FieldError("item_id", "该服务事项已列入目录", "the service item is listed already"))
    _check_providers(event.providers, units)
    return [event]


def decide_change(
    state: ItemState | None, event: ServiceItemChanged, units: Mapping[uuid.UUID, UnitState | None]
) -> list[DomainEvent]:
    if state is None:
        raise _unknown(event.item_id)
    if state.withdrawn:
        raise _withdrawn(state)
    if event.changed_on < state.listed_on:
        raise Refusal(
            FieldError(
                "changed_on",
                f"调整日期不能早于列入日期 {state.listed_on.isoformat()}",
                f"changed_on precedes listed_on {state.listed_on.isoformat()}",
            )
        )
    _check_providers(event.providers, units)
    return [event]


def decide_withdraw(state: ItemState | None, item_id: uuid.UUID, reason: str, on: date) -> list[DomainEvent]:
    if state is None:
        raise _unknown(item_id)
    if state.withdrawn:
        raise _withdrawn(state)
    if on < state.listed_on:
        raise Refusal(
            FieldError(
                "withdrawn_on",
                f"撤出日期不能早于列入日期 {state.listed_on.isoformat()}",
                f"withdrawn_on precedes listed_on {state.listed_on.isoformat()}",
            )
        )
    return [ServiceItemWithdrawn(item_id=item_id, reason=reason, withdrawn_on=on)]
