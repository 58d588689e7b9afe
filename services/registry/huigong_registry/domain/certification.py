"""A unit's life after registration: assessment (评估), certification (认定), revocation (撤销) and
exit (退出). Pure: state from events, decisions as events or refusals.

Rules:
- Criteria per programme: the seven areas of a 幸福企业 and the eight lines of work of a 服务职工综合体
  (reference.py); a 服务职工基地 is assessed on `SERVICE_BASE_CRITERIA` below (the plan names no
  list; these restate what its 服务职工基地 paragraph asks of a base). A 公益伙伴 receives no title.
- An assessment may cover some criteria; a later assessment of a criterion replaces the earlier.
- Certification after building (经一定时间的创建达到认定标准的): a unit built from an approved
  application is certified only once its construction period has begun and the minimum building
  time (`min_building_years`, a setting, default one year) has passed since the later of the
  period's start and its registration, and with an assessment dated within the period; the
  refusal names the earliest date. An assessment is never dated before the approval (the unit's
  registration) nor in the future. The 2022 cohort and the service centres were certified or
  recorded as the annex lists them and are not held to it.
- Certification needs every criterion of the programme assessed and met; otherwise it is refused
  (422) with one error per criterion unmet or not assessed. Only a unit under construction
  (approved) can be assessed or certified; a certified unit is not certified twice, and a
  revoked or exited unit never again (409): a new cycle is a new application, hence a new unit.
- The title is exactly reference.TITLES of the programme; the certificate is valid for three
  years (the day before the third anniversary) and re-checked yearly (first on the anniversary).
- Revocation: of a certified unit only, by a registrar with a reason; a finding of review
  (ExclusionFound) against the unit's application suspends the title and opens a revocation
  case that a registrar decides (domain/revocation.py). A suspended unit (暂停) is revoked or
  restored through its case only.
- Exit (退出): a 服务职工基地 only, under construction or certified, with a reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.labels import Labelled, relabel
from huigong_events.reference import (
    HAPPY_ENTERPRISE_CRITERIA,
    SERVICE_COMPLEX_CRITERIA,
    TITLES,
    Programme,
)
from huigong_events.registry import (
    CertificationRevoked,
    CriterionResult,
    UnitApprovalAttached,
    UnitAssessed,
    UnitCertified,
    UnitExited,
    UnitOrigin,
    UnitRegistered,
)
from huigong_events.review import ConstructionApproved
from huigong_events.revocation import CertificationRestored, CertificationSuspended
from huigong_platform.refusals import Conflict, FieldError, NotFound, Refusal

from .dates import add_years, period_end

AGGREGATE: Final = "unit"
# The unit built from an approved application has id uuid5(APPLICATION_UNITS, application id).
APPLICATION_UNITS: Final = uuid.UUID("8a3f5c2e-6b1d-4e7a-9c0f-2d4b6e8a1c3f")
VALIDITY_YEARS: Final = 3
RECHECK_YEARS: Final = 1
MIN_BUILDING_YEARS: Final = 1  # the default of the registry's `min_building_years` setting

SERVICE_BASE_CRITERIA: Final[tuple[str, ...]] = (
    "服务场所和设施",  # a fixed place and facilities open to workers
    "服务项目和内容",  # services for workers: training, health, culture, legal aid…
    "服务制度和队伍",  # rules, staff and volunteers to run the services
    "职工满意度",  # workers' satisfaction (the exit mechanism's yardstick)
    "公益属性",  # free or low-cost, not mainly commercial
)

CRITERIA: Final[dict[Programme, tuple[str, ...]]] = {
    Programme.幸福企业: HAPPY_ENTERPRISE_CRITERIA,
    Programme.服务职工综合体: SERVICE_COMPLEX_CRITERIA,
    Programme.服务职工基地: SERVICE_BASE_CRITERIA,
}

# Certificate numbers: QDGH-<year of certification>-<programme code>-<4-digit sequence>, the
# sequence counted per year and programme from 0001 (e.g. QDGH-2027-FQ-0001).
CERTIFICATE_CODES: Final[dict[Programme, str]] = {
    Programme.幸福企业: "FQ",
    Programme.服务职工综合体: "ZH",
    Programme.服务职工基地: "JD",
}


class UnitStatus(Labelled):
    approved = "approved"  # 建设中
    certified = "certified"  # 已认定
    suspended = "suspended"  # 暂停（撤销审查中）
    revoked = "revoked"  # 已撤销
    exited = "exited"  # 已退出


relabel(
    UnitStatus,
    {
        UnitStatus.approved: "建设中",
        UnitStatus.certified: "已认定",
        UnitStatus.suspended: "暂停",
        UnitStatus.revoked: "已撤销",
        UnitStatus.exited: "已退出",
    },
)


@dataclass
class UnitState:
    unit_id: uuid.UUID
    name: str
    programme: Programme
    area: str
    origin: UnitOrigin
    application_id: uuid.UUID | None
    status: UnitStatus = UnitStatus.approved
    results: dict[str, CriterionResult] = field(default_factory=dict)
    certificate_no: str | None = None
    revoked_by_findings: set[uuid.UUID] = field(default_factory=set)
    registered_on: date | None = None
    period_start: date | None = None
    assessed_on: list[date] = field(default_factory=list)
    # Approved applications of the same centre or enterprise, attached instead of a second unit.
    attached: list[uuid.UUID] = field(default_factory=list)
    # A unit not held to a building time (a centre, the 2022 cohort) that takes an approval while
    # still to be certified builds under it: from the later of its period's start and the day it
    # was attached, as a unit registered from that application would.
    attached_building_from: date | None = None

    @property
    def building_from(self) -> date | None:
        """Building counts from the later of the approved period's start and the registration
        (units registered before the period was recorded: the registration)."""
        if self.origin is not UnitOrigin.申报:
            return self.attached_building_from
        starts = [d for d in (self.period_start, self.registered_on) if d is not None]
        return max(starts) if starts else None


def evolve(state: UnitState | None, event: DomainEvent) -> UnitState | None:
    match event:
        case UnitRegistered():
            return UnitState(
                event.unit_id,
                event.name,
                event.programme,
                event.area,
                event.origin,
                event.application_id,
                registered_on=event.registered_on,
                period_start=event.period_start,
            )
        case UnitAssessed() if state is not None:
            for result in event.results:
                state.results[result.criterion] = result
            state.assessed_on.append(event.assessed_on)
        case UnitCertified() if state is not None:
            state.status = UnitStatus.certified
            state.certificate_no = event.certificate_no
        case CertificationSuspended() if state is not None:
            state.status = UnitStatus.suspended
        case CertificationRestored() if state is not None:
            state.status = UnitStatus.certified
        case CertificationRevoked() if state is not None:
            state.status = UnitStatus.revoked
            if event.finding_id is not None:
                state.revoked_by_findings.add(event.finding_id)
        case UnitExited() if state is not None:
            state.status = UnitStatus.exited
        case UnitApprovalAttached() if state is not None:
            state.attached.append(event.application_id)
            if state.status is UnitStatus.approved and state.attached_building_from is None:
                state.attached_building_from = max(event.period_start, event.attached_on)
    return state


def fold(events: Iterable[DomainEvent]) -> UnitState | None:
    state: UnitState | None = None
    for event in events:
        state = evolve(state, event)
    return state


def unit_id_of_application(application_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(APPLICATION_UNITS, str(application_id))


def criteria_of(programme: Programme) -> tuple[str, ...]:
    return CRITERIA.get(programme, ())


def certificate_no(programme: Programme, year: int, sequence: int) -> str:
    return f"QDGH-{year}-{CERTIFICATE_CODES[programme]}-{sequence:04d}"


# --- from review's decisions -------------------------------------------------------------------


def decide_on_approval(exists: bool, approval: ConstructionApproved, on: date) -> list[DomainEvent]:
    """An approved application of a 幸福企业, 服务职工综合体 or 服务职工基地 becomes a unit, once
    (a 公益伙伴 becomes a partner: domain/applications.py and partners.py)."""
    if approval.programme is Programme.公益伙伴:
        raise ValueError("a 公益伙伴 is registered as a partner, never as a unit")
    if exists:
        return []
    return [
        UnitRegistered(
            unit_id=unit_id_of_application(approval.application_id),
            name=approval.unit_name,
            programme=approval.programme,
            area=approval.submitter,
            credit_code=approval.credit_code,
            origin=UnitOrigin.申报,
            application_id=approval.application_id,
            registered_on=on,
            period_start=approval.period_start,
        )
    ]


def decide_attach(existing: UnitState, approval: ConstructionApproved, on: date) -> list[DomainEvent]:
    """One unit per centre or enterprise: an approval for a centre or enterprise that is already
    a unit under construction or certified is attached to it (once), not registered again."""
    if approval.application_id in existing.attached:
        return []
    return [
        UnitApprovalAttached(
            unit_id=existing.unit_id,
            application_id=approval.application_id,
            programme=approval.programme,
            period_start=approval.period_start,
            attached_on=on,
        )
    ]


def takes_approvals(state: UnitState | None, programme: Programme) -> bool:
    """An existing unit an approval of `programme` attaches to: the same programme, still
    building, certified or suspended pending a hearing (a revoked or exited unit starts over as
    a new unit)."""
    return (
        state is not None
        and state.programme is programme
        and state.status in (UnitStatus.approved, UnitStatus.certified, UnitStatus.suspended)
    )


# --- registrars' commands ----------------------------------------------------------------------


def _existing(state: UnitState | None) -> UnitState:
    if state is None:
        raise NotFound(FieldError("unit_id", "没有该建设单位", "no such unit"))
    return state


def _under_construction(state: UnitState, action_zh: str, action_en: str) -> None:
    if state.status is UnitStatus.approved:
        return
    if state.status in (UnitStatus.certified, UnitStatus.suspended):
        raise Conflict(
            FieldError("status", f"该单位已认定，不能{action_zh}", f"already certified; cannot {action_en}")
        )
    raise Conflict(
        FieldError(
            "status",
            f"该单位称号已撤销或已退出，不能{action_zh}；重新认定须重新申报",
            f"the unit was revoked or exited; cannot {action_en}: a new cycle is a new application",
        )
    )


def decide_assess(
    state: UnitState | None, results: list[CriterionResult], assessed_on: date, today: date | None = None
) -> list[DomainEvent]:
    unit = _existing(state)
    _under_construction(unit, "评估", "assess")
    if unit.registered_on is not None and assessed_on < unit.registered_on:
        raise Refusal(
            FieldError(
                "assessed_on",
                f"评估日期不能早于批准建设（登记）日期 {unit.registered_on.isoformat()}",
                f"an assessment cannot be dated before the approval on {unit.registered_on.isoformat()}",
            )
        )
    if today is not None and assessed_on > today:
        raise Refusal(
            FieldError("assessed_on", "评估日期不能晚于今天", "an assessment cannot be dated in the future")
        )
    known = criteria_of(unit.programme)
    if not known:
        raise Conflict(
            FieldError(
                "programme", f"{unit.programme.label}没有认定称号", f"{unit.programme.value} is not certified"
            )
        )
    errors = [
        FieldError(
            f"results.{i}.criterion",
            f"{unit.programme.label}无此认定标准：{r.criterion}",
            "unknown criterion",
        )
        for i, r in enumerate(results)
        if r.criterion not in known
    ]
    if errors:
        raise Refusal(*errors)
    return [
        UnitAssessed(unit_id=unit.unit_id, programme=unit.programme, assessed_on=assessed_on, results=results)
    ]


def missing_criteria(state: UnitState) -> list[FieldError]:
    """Each criterion of the programme not assessed or not met, in the programme's order."""
    errors: list[FieldError] = []
    for criterion in criteria_of(state.programme):
        result = state.results.get(criterion)
        if result is None:
            errors.append(FieldError(f"criteria.{criterion}", f"未评估：{criterion}", "not assessed"))
        elif not result.met:
            errors.append(FieldError(f"criteria.{criterion}", f"未达到：{criterion}", "not met"))
    return errors


def earliest_certification(unit: UnitState, min_building_years: int = MIN_BUILDING_YEARS) -> date | None:
    """The first day a unit built from an application may be certified; None for units not held
    to a building time (the 2022 cohort and the service centres, until an approved application is
    attached to them)."""
    if unit.building_from is None:
        return None
    return add_years(unit.building_from, min_building_years)


def check_certifiable(
    state: UnitState | None, on: date | None = None, min_building_years: int = MIN_BUILDING_YEARS
) -> UnitState:
    """Refuses unless the unit may be certified on `on`; the number is allocated only after
    this."""
    unit = _existing(state)
    _under_construction(unit, "认定", "certify")
    earliest = earliest_certification(unit, min_building_years)
    if on is not None and earliest is not None:
        if on < earliest:
            raise Conflict(
                FieldError(
                    "certified_on",
                    f"建设期开始并经过至少 {min_building_years} 年创建后方可认定，最早 {earliest.isoformat()}",
                    f"a unit is certified after at least {min_building_years} year(s) of building from the "
                    f"start of its construction period; the earliest date is {earliest.isoformat()}",
                )
            )
        start = unit.building_from
        if not any(start is not None and start <= day <= on for day in unit.assessed_on):
            raise Conflict(
                FieldError(
                    "assessments",
                    "认定须有建设期内的评估记录，请先评估",
                    "certification needs an assessment dated within the construction period",
                )
            )
    if unit.programme not in TITLES:
        raise Conflict(
            FieldError(
                "programme", f"{unit.programme.label}没有认定称号", f"{unit.programme.value} is not certified"
            )
        )
    missing = missing_criteria(unit)
    if missing:
        raise Refusal(*missing)
    return unit


def decide_certify(
    state: UnitState | None, number: str, certified_on: date, min_building_years: int = MIN_BUILDING_YEARS
) -> list[DomainEvent]:
    unit = check_certifiable(state, certified_on, min_building_years)
    return [
        UnitCertified(
            unit_id=unit.unit_id,
            title=TITLES[unit.programme],
            certificate_no=number,
            certified_on=certified_on,
            valid_until=period_end(certified_on, VALIDITY_YEARS),
            recheck_due=add_years(certified_on, RECHECK_YEARS),
        )
    ]


def decide_revoke(state: UnitState | None, reason: str, on: date) -> list[DomainEvent]:
    unit = _existing(state)
    if unit.status is UnitStatus.suspended:
        raise Conflict(
            FieldError(
                "status",
                "该单位称号已暂停，撤销审查中：请在审查中决定撤销或不予撤销",
                "the title is suspended under a revocation case: confirm or dismiss the case",
            )
        )
    if unit.status is not UnitStatus.certified or unit.certificate_no is None:
        raise Conflict(
            FieldError("status", "只能撤销已认定单位的称号", "only a certified unit can be revoked")
        )
    return [
        CertificationRevoked(
            unit_id=unit.unit_id,
            certificate_no=unit.certificate_no,
            revoked_on=on,
            reason=reason,
            automatic=False,
        )
    ]


def decide_exit(state: UnitState | None, reason: str, on: date) -> list[DomainEvent]:
    unit = _existing(state)
    if unit.programme is not Programme.服务职工基地:
        raise Conflict(FieldError("programme", "只有服务职工基地可以退出", "only a service base can exit"))
    if unit.status in (UnitStatus.revoked, UnitStatus.exited):
        raise Conflict(FieldError("status", "该单位已撤销或已退出", "already revoked or exited"))
    if unit.registered_on is not None and on < unit.registered_on:
        raise Refusal(
            FieldError(
                "on",
                f"退出日期不能早于登记日期 {unit.registered_on.isoformat()}",
                f"the exit precedes the registration on {unit.registered_on.isoformat()}",
            )
        )
    return [UnitExited(unit_id=unit.unit_id, reason=reason, exited_on=on)]
