"""Who is on duty at a service centre's 综合服务窗口 (annex 1: 首问责任制 names a person, not only
a centre), and the centre's public service phone the catalogue lists.

One aggregate per centre ("duty-roster", keyed by the centre's unit id). Each DutyRosterSet
replaces the roster from its `effective_from` on; on a day D the roster in force is the last one
recorded whose `effective_from` is D or earlier. A matter's first response names the staff on duty
at its receiving centre on its day of receipt by the rosters recorded before the receipt, so a
roster set later, even one dated back, never renames who answered a worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.matters import DutyRosterSet, DutyShift, HandlerKind
from huigong_platform.refusals import FieldError, Forbidden, NotFound, Refusal

from .catalogue import Handler

AGGREGATE: Final = "duty-roster"


def rosters(events: Iterable[DomainEvent]) -> list[DutyRosterSet]:
    return [event for event in events if isinstance(event, DutyRosterSet)]


def in_force(sets: Sequence[DutyRosterSet], day: date) -> DutyRosterSet | None:
    """The roster a centre works by on `day`: the last recorded one in effect by then."""
    found = [roster for roster in sets if roster.effective_from <= day]
    return found[-1] if found else None


def on_duty(sets: Sequence[DutyRosterSet], day: date) -> list[str]:
    """The staff on duty at the window on `day` (by its weekday; a weekend day counts when someone
    is rostered for it, as on an adjusted working day); empty without a roster."""
    roster = in_force(sets, day)
    if roster is None:
        return []
    return [shift.staff for shift in roster.shifts if day.isoweekday() in shift.weekdays]


def public_phone(sets: Sequence[DutyRosterSet], day: date) -> str | None:
    """The phone the catalogue lists on `day`: the roster's in force, else the first one set."""
    roster = in_force(sets, day) or (sets[0] if sets else None)
    return roster.public_phone if roster else None


def decide_roster(
    *,
    centre_id: uuid.UUID,
    centre: Handler | None,
    own: uuid.UUID | None,
    public_phone: str,
    shifts: Sequence[DutyShift],
    effective_from: date,
    today: date,
    reason: str,
) -> list[DomainEvent]:
    """The DutyRosterSet of a centre the caller acts for, or a refusal."""
    if centre is None or centre.kind is not HandlerKind.职工服务中心:
        raise NotFound(FieldError("centre_id", "没有该职工服务中心", f"no service centre {centre_id}"))
    if own != centre_id:
        raise Forbidden(
            FieldError(
                "centre_id",
                "只能设定本级职工服务中心的值班表",
                "a federation sets the duty roster of its own service centre only",
            )
        )
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, shift in enumerate(shifts):
        if shift.staff in seen:
            errors.append(
                FieldError(
                    f"shifts.{index}.staff", f"{shift.staff}重复列出", f"{shift.staff} is listed twice"
                )
            )
        seen.add(shift.staff)
    if (effective_from - today).days > 366:
        errors.append(
            FieldError("effective_from", "生效日期不能晚于一年以后", "the roster takes effect within a year")
        )
    if errors:
        raise Refusal(*errors)
    return [
        DutyRosterSet(
            centre_id=centre_id,
            centre_name=centre.name,
            area=centre.area,
            public_phone=public_phone,
            shifts=list(shifts),
            effective_from=effective_from,
            reason=reason,
        )
    ]
