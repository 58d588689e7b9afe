"""撤销审查 as the registry decides it: a finding suspends a certified title and opens a case; the
union's statement within the working-day window; a registrar's confirmation (after the union was
heard or its time passed) or dismissal; cleared findings restore the title."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from huigong_events.base import DomainEvent
from huigong_events.registry import CertificationRevoked
from huigong_events.review import ExclusionCleared
from huigong_events.revocation import (
    CertificationRestored,
    CertificationSuspended,
    RestorationGround,
    RevocationGroundCleared,
    RevocationStatementFiled,
)
from huigong_platform.refusals import Conflict, NotFound
from huigong_registry.domain import certification, revocation, workdays
from huigong_registry.domain.certification import UnitStatus

from .test_certification import LATER, ON, approval, finding, results

SUSPENDED_ON = date(2026, 9, 30)  # the day before the National Day holiday (1–8 October 2026)
DAYS = 5


def certified_unit() -> tuple[uuid.UUID, list[DomainEvent]]:
    application_id = uuid.uuid4()
    events: list[DomainEvent] = certification.decide_on_approval(False, approval(application_id), ON)
    events += certification.decide_assess(
        certification.fold(events), results(approval(application_id).programme), LATER
    )
    events += certification.decide_certify(certification.fold(events), "QDGH-2028-FQ-0001", LATER)
    return application_id, events


def on_finding(
    events: list[DomainEvent], application_id: uuid.UUID, on: date = SUSPENDED_ON
) -> list[DomainEvent]:
    return revocation.decide_on_finding(
        certification.fold(events), revocation.fold(events), finding(application_id), on, DAYS
    )


def test_a_finding_suspends_a_certified_title_and_opens_a_case_with_a_working_day_window() -> None:
    application_id, events = certified_unit()
    (suspended,) = on_finding(events, application_id)
    assert isinstance(suspended, CertificationSuspended)
    assert suspended.case_id == suspended.finding_id and suspended.suspended_on == SUSPENDED_ON
    # Five working days after 30 September 2026 skip the National Day holiday: 9–10 (the
    # Saturday worked), 12, 13 and 14 October… counted by the service matters' calendar.
    assert suspended.statement_due == workdays.deadline(SUSPENDED_ON, DAYS).day
    assert suspended.statement_due > date(2026, 10, 8)
    events.append(suspended)
    unit = certification.fold(events)
    assert unit is not None and unit.status is UnitStatus.suspended
    # The same finding again changes nothing; a second one joins the open case.
    same = revocation.decide_on_finding(
        unit,
        revocation.fold(events),
        finding(application_id).model_copy(update={"finding_id": suspended.finding_id}),
        SUSPENDED_ON,
        DAYS,
    )
    assert same == []
    (joined,) = on_finding(events, application_id, date(2026, 10, 9))
    assert isinstance(joined, CertificationSuspended)
    assert joined.case_id == suspended.case_id and joined.statement_due == suspended.statement_due


def test_a_unit_not_certified_is_not_suspended() -> None:
    application_id = uuid.uuid4()
    events: list[DomainEvent] = certification.decide_on_approval(False, approval(application_id), ON)
    assert on_finding(events, application_id) == []


def test_the_union_is_heard_within_its_window_then_a_registrar_revokes() -> None:
    application_id, events = certified_unit()
    events += on_finding(events, application_id)
    unit, cases = certification.fold(events), revocation.fold(events)
    due = cases.cases[0].statement_due
    # Not before the union was heard or its time passed.
    with pytest.raises(Conflict) as refused:
        revocation.decide_confirm(unit, cases, "欠薪属实", due)
    assert due.isoformat() in refused.value.errors[0].zh
    # A statement after the window is refused, naming the last day.
    with pytest.raises(Conflict) as late:
        revocation.decide_statement(unit, cases, "欠薪已结清", date(2026, 11, 2))
    assert due.isoformat() in late.value.errors[0].zh and due.isoformat() in late.value.errors[0].en
    (statement,) = revocation.decide_statement(unit, cases, "欠薪系分包单位所欠，已结清", due)
    assert isinstance(statement, RevocationStatementFiled)
    events.append(statement)
    unit, cases = certification.fold(events), revocation.fold(events)
    with pytest.raises(Conflict):
        revocation.decide_statement(unit, cases, "补充申诉", due)
    (revoked,) = revocation.decide_confirm(unit, cases, "经核实欠薪属实，申诉理由不成立", due)
    assert isinstance(revoked, CertificationRevoked)
    assert (
        not revoked.automatic and revoked.finding_id == cases.cases[0].case_id and revoked.revoked_on == due
    )
    events.append(revoked)
    unit, cases = certification.fold(events), revocation.fold(events)
    assert unit is not None and unit.status is UnitStatus.revoked
    assert cases.current is None and cases.cases[0].outcome == "revoked"
    with pytest.raises(NotFound):
        revocation.decide_dismiss(unit, cases, "误判", due)


def test_a_registrar_may_revoke_unheard_once_the_window_has_passed() -> None:
    application_id, events = certified_unit()
    events += on_finding(events, application_id)
    unit, cases = certification.fold(events), revocation.fold(events)
    after = date.fromordinal(cases.cases[0].statement_due.toordinal() + 1)
    (revoked,) = revocation.decide_confirm(unit, cases, "申诉期内未申诉，欠薪属实", after)
    assert isinstance(revoked, CertificationRevoked)


def test_a_dismissal_restores_the_title() -> None:
    application_id, events = certified_unit()
    events += on_finding(events, application_id)
    unit, cases = certification.fold(events), revocation.fold(events)
    (restored,) = revocation.decide_dismiss(unit, cases, "欠薪系误报", SUSPENDED_ON)
    assert isinstance(restored, CertificationRestored) and restored.ground is RestorationGround.不予撤销
    events.append(restored)
    unit = certification.fold(events)
    assert unit is not None and unit.status is UnitStatus.certified
    assert revocation.fold(events).current is None


def test_cleared_findings_leave_the_case_and_the_last_restores_the_title() -> None:
    application_id, events = certified_unit()
    events += on_finding(events, application_id)
    events += on_finding(events, application_id, date(2026, 10, 9))
    first, second = revocation.fold(events).cases[0].grounds
    cleared = revocation.decide_on_cleared(
        certification.fold(events),
        revocation.fold(events),
        ExclusionCleared(
            application_id=application_id, finding_id=first, reason="报送部门撤回该事实：复议撤销"
        ),
        date(2026, 10, 12),
    )
    assert [type(e) for e in cleared] == [RevocationGroundCleared]  # the other finding still stands
    events += cleared
    assert certification.fold(events).status is UnitStatus.suspended  # type: ignore[union-attr]
    last = revocation.decide_on_cleared(
        certification.fold(events),
        revocation.fold(events),
        ExclusionCleared(
            application_id=application_id,
            finding_id=second,
            reason="报送部门更正该事实，不再构成该情形：已结清",
        ),
        date(2026, 10, 13),
    )
    assert [type(e) for e in last] == [RevocationGroundCleared, CertificationRestored]
    restored = last[-1]
    assert isinstance(restored, CertificationRestored) and restored.ground is RestorationGround.事实撤回或更正
    events += last
    assert certification.fold(events).status is UnitStatus.certified  # type: ignore[union-attr]
    # A finding cleared that belongs to no open case changes nothing.
    assert (
        revocation.decide_on_cleared(
            certification.fold(events),
            revocation.fold(events),
            ExclusionCleared(application_id=application_id, finding_id=first, reason="再次排除"),
            date(2026, 10, 14),
        )
        == []
    )


def test_a_suspended_title_is_not_revoked_outside_its_case() -> None:
    application_id, events = certified_unit()
    events += on_finding(events, application_id)
    with pytest.raises(Conflict) as refused:
        certification.decide_revoke(certification.fold(events), "年度复核不合格", SUSPENDED_ON)
    assert "撤销审查" in refused.value.errors[0].zh
