"""Registering units and partners by hand: each is registered once (a second registration of the
same id is a conflict, not a second unit); a 公益伙伴 is a partner, never a unit; and the 2022
cohort is closed: only annex 2's entries and the 11 service centres, exactly as the seed loads
them (`cohort.py`), under the seed's own principal, may carry the origins `pilot_2022` and
`service_centre`. Anything else a registrar registers is a unit from an application."""

from __future__ import annotations

from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.reference import Programme
from huigong_events.registry import PartnerOrigin, PartnerRegistered, UnitOrigin, UnitRegistered
from huigong_platform.refusals import Conflict, FieldError, Refusal

from .cohort import HAPPY_ENTERPRISES, PARTNERS, PILOT_DATE, SERVICE_BASES, SERVICE_CENTRES, CohortEntry

# The principal `huigong-seed` registers as (seed.py); no other registrar loads the cohort.
SEED_PRINCIPAL: Final = "registrar:seed-2022"

_UNIT_COHORT: Final[dict[UnitOrigin, tuple[CohortEntry, ...]]] = {
    UnitOrigin.试点2022: (*HAPPY_ENTERPRISES, *SERVICE_BASES),
    UnitOrigin.职工服务中心: SERVICE_CENTRES,
}


def _in_cohort(entries: tuple[CohortEntry, ...], event: UnitRegistered | PartnerRegistered) -> bool:
    entity_id = event.unit_id if isinstance(event, UnitRegistered) else event.partner_id
    programme = event.programme if isinstance(event, UnitRegistered) else Programme.公益伙伴
    return any(
        entry.id == entity_id
        and entry.name == event.name
        and entry.programme is programme
        and entry.area == event.area
        and event.registered_on.isoformat() == PILOT_DATE
        for entry in entries
    )


def _cohort_of(event: UnitRegistered | PartnerRegistered) -> tuple[CohortEntry, ...] | None:
    if isinstance(event, UnitRegistered):
        return _UNIT_COHORT.get(event.origin)
    return PARTNERS if event.origin is PartnerOrigin.试点2022 else None


def check_registrable(event: UnitRegistered | PartnerRegistered, principal: str) -> None:
    """Refuse (422) what a registrar may not register by hand."""
    if isinstance(event, UnitRegistered) and event.programme is Programme.公益伙伴:
        raise Refusal(
            FieldError(
                "programme",
                "关爱职工公益伙伴不登记为建设单位，应登记为公益伙伴（POST /partners）",
                "a welfare partner is never a unit: register it as a partner (POST /partners)",
            )
        )
    entries = _cohort_of(event)
    if entries is None:
        return
    if principal != SEED_PRINCIPAL:
        raise Refusal(
            FieldError(
                "origin",
                "2022年试点单位和职工服务中心只由载入程序（huigong-seed）按附件2登记",
                "the 2022 cohort and the service centres are loaded by huigong-seed only",
            )
        )
    if not _in_cohort(entries, event):
        raise Refusal(
            FieldError(
                "origin",
                f"附件2名单中没有该单位（编号、名称、所属区市和登记日期{PILOT_DATE}须与名单一致）：2022年试点名单不再增加",
                f"not an entry of annex 2 as listed (id, name, area and registered_on {PILOT_DATE}): "
                "the 2022 cohort is closed",
            )
        )


def decide_register(version: int, event: UnitRegistered | PartnerRegistered) -> list[DomainEvent]:
    if version > 0:
        what = "单位" if isinstance(event, UnitRegistered) else "公益伙伴"
        raise Conflict(FieldError("id", f"该{what}已登记", "already registered"))
    return [event]
