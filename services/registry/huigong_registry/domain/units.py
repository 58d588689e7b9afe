"""Registering units and partners: each is registered once; a second registration of the same id
is a conflict, not a second unit."""

from __future__ import annotations

from huigong_events.base import DomainEvent
from huigong_events.registry import PartnerRegistered, UnitRegistered
from huigong_platform.refusals import Conflict, FieldError


def decide_register(version: int, event: UnitRegistered | PartnerRegistered) -> list[DomainEvent]:
    if version > 0:
        what = "单位" if isinstance(event, UnitRegistered) else "公益伙伴"
        raise Conflict(FieldError("id", f"该{what}已登记", "already registered"))
    return [event]
