"""Compliance facts with provenance: the key's own department, its competence, and evidence
references that repeat."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from huigong_events.forms import ReportingDepartment as D
from huigong_events.intake import ComplianceFactReported
from huigong_events.reference import ComplianceFactKind as K
from huigong_intake.domain.facts import COMPETENCE, department_of_key, ensure_may_report, repeat_of
from huigong_platform.refusals import Forbidden
from huigong_simulator.forms import FACT_DEPARTMENTS

CODE = "91370202MA3C0001XH"


def fact(
    kind: K = K.拖欠工资, by: D = D.人社, ref: str = "青人社监察字〔2026〕12号", code: str = CODE
) -> ComplianceFactReported:
    return ComplianceFactReported(
        fact_id=uuid.uuid4(),
        credit_code=code,
        unit_name="青岛某某有限公司",
        kind=kind,
        occurred_on=date(2026, 3, 1),
        reported_by=by,
        reported_on=date(2026, 3, 5),
        evidence_ref=ref,
    )


def test_a_key_reports_as_its_own_department_only() -> None:
    assert department_of_key("housing") is D.住房 and department_of_key("hrss") is D.人社
    assert department_of_key("nobody") is None
    ensure_may_report(fact(), D.人社, city=False)
    with pytest.raises(Forbidden) as caught:
        ensure_may_report(fact(by=D.人社), D.住房, city=False)  # exchange:housing naming 人社
    assert caught.value.errors[0].field == "reported_by"
    with pytest.raises(Forbidden):
        ensure_may_report(fact(), None, city=False)


def test_a_department_reports_only_what_it_is_competent_for_and_the_city_relays_any() -> None:
    with pytest.raises(Forbidden) as caught:
        ensure_may_report(fact(K.重大伤亡事故, D.人社), D.人社, city=False)
    assert caught.value.errors[0].field == "kind" and "应急管理部门" in caught.value.errors[0].zh
    ensure_may_report(fact(K.重大伤亡事故, D.应急), D.应急, city=False)
    ensure_may_report(fact(K.职业病危害事故, D.卫健), None, city=True)  # naming the department it relays
    with pytest.raises(Forbidden):
        ensure_may_report(fact(K.职业病危害事故, D.人社), None, city=True)  # still a competent one


def test_every_fact_kind_has_a_competent_department_and_the_simulator_agrees() -> None:
    for kind in K:
        assert any(kind in kinds for kinds in COMPETENCE.values()), kind
        assert kind in COMPETENCE[FACT_DEPARTMENTS[kind]]


def test_the_same_evidence_reference_is_the_first_fact_again() -> None:
    first = fact()
    earlier = [("event-1", first)]
    again = repeat_of(fact(ref=" 青人社监察字〔2026〕12号 "), earlier)
    assert again is not None and again[1].fact_id == first.fact_id
    # Another reference, department, rule or unit is a fact of its own.
    assert repeat_of(fact(ref="青人社监察字〔2026〕13号"), earlier) is None
    assert repeat_of(fact(by=D.住房), earlier) is None
    assert repeat_of(fact(K.欠缴社保), earlier) is None
    assert repeat_of(fact(code="91370202MA3C0002XH"), earlier) is None
