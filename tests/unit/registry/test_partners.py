"""公益伙伴 (pure rules): an approved 公益伙伴 application becomes a partner with the type its
附件5 form gives, never a unit; an approval that comes before its application waits for it;
other programmes still become units; a partner exits once."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from huigong_events.forms import PartnerCategory
from huigong_events.intake import ApplicationAmended, ApplicationSubmitted, ApplicationWithdrawn
from huigong_events.reference import Programme
from huigong_events.registry import PartnerExited, PartnerOrigin, PartnerRegistered, UnitRegistered
from huigong_events.review import ConstructionApproved
from huigong_platform.refusals import Conflict, NotFound, Refusal
from huigong_registry.domain import applications, partners
from huigong_registry.domain.applications import Becomes, becomes
from huigong_registry.domain.certification import decide_on_approval as unit_on_approval

from ...forms import CHARITY_CODE, happy_form, partner_form, service_base_form, variant

APPROVED_ON = date(2027, 9, 1)


def submitted(
    programme: Programme = Programme.公益伙伴, category: PartnerCategory = PartnerCategory.技术支持
) -> ApplicationSubmitted:
    form = {
        Programme.公益伙伴: variant(partner_form(), category=category),
        Programme.服务职工基地: service_base_form(),
        Programme.幸福企业: happy_form(),
    }[programme]
    return ApplicationSubmitted(
        application_id=uuid.uuid4(), year=2027, programme=programme, submitter="370213", form=form
    )


def approval(application: ApplicationSubmitted) -> ConstructionApproved:
    return ConstructionApproved(
        application_id=application.application_id,
        unit_name="青岛某某社会工作服务中心",
        programme=application.programme,
        submitter=application.submitter,
        period_start=date(2027, 10, 1),
        period_end=date(2030, 9, 30),
        score_average="85.00",
    )


def known(
    *events: ApplicationSubmitted | ApplicationAmended | ApplicationWithdrawn,
) -> applications.KnownApplication:
    state: applications.KnownApplication | None = None
    for event in events:
        state = applications.evolve(state, event)
    assert state is not None
    return state


# --- what an approval becomes ------------------------------------------------------------------


def test_an_approved_partner_application_becomes_a_partner_with_the_type_of_its_form() -> None:
    application = submitted(category=PartnerCategory.技术支持)
    approved = approval(application)
    assert becomes(approved, known(application)) is Becomes.PARTNER

    (partner,) = partners.decide_on_approval(False, approved, known(application), APPROVED_ON)
    assert isinstance(partner, PartnerRegistered)
    assert partner.category is PartnerCategory.技术支持
    assert partner.name == "青岛某某社会工作服务中心" and partner.credit_code == CHARITY_CODE
    assert partner.area == "370213" and partner.registered_on == APPROVED_ON
    assert partner.origin is PartnerOrigin.申报 and partner.application_id == application.application_id
    assert partner.partner_id == partners.partner_id_of_application(application.application_id)
    # Once: a redelivered approval finds the partner registered.
    assert partners.decide_on_approval(True, approved, known(application), APPROVED_ON) == []


def test_a_partner_approval_is_never_registered_as_a_unit() -> None:
    with pytest.raises(ValueError, match="公益伙伴"):
        unit_on_approval(False, approval(submitted()), APPROVED_ON)


def test_a_partner_approval_before_its_application_waits_rather_than_guess() -> None:
    assert becomes(approval(submitted()), None) is Becomes.AWAIT


@pytest.mark.parametrize("programme", [Programme.幸福企业, Programme.服务职工基地])
def test_other_programmes_become_units_known_or_not(programme: Programme) -> None:
    application = submitted(programme)
    approved = approval(application)
    assert becomes(approved, None) is Becomes.UNIT
    assert becomes(approved, known(application)) is Becomes.UNIT
    (unit,) = unit_on_approval(False, approved, APPROVED_ON)
    assert isinstance(unit, UnitRegistered) and unit.programme is programme


def test_the_amended_form_is_the_one_that_counts() -> None:
    application = submitted(category=PartnerCategory.智库)
    amended = ApplicationAmended(
        application_id=application.application_id,
        form=variant(partner_form(), category=PartnerCategory.新闻媒体, name="青岛某某传媒中心"),
        reason="更正伙伴类型和名称",
    )
    record = known(application, amended)
    (partner,) = partners.decide_on_approval(False, approval(application), record, APPROVED_ON)
    assert isinstance(partner, PartnerRegistered)
    assert partner.category is PartnerCategory.新闻媒体 and partner.name == "青岛某某传媒中心"


def test_the_registry_keeps_only_what_it_needs_of_an_application() -> None:
    application = submitted(Programme.服务职工基地)
    record = known(application)
    assert record.programme is Programme.服务职工基地 and record.form_kind == "service_base"
    assert record.partner_category is None and not record.withdrawn
    withdrawn = ApplicationWithdrawn(application_id=application.application_id, reason="不再申报")
    assert known(application, withdrawn).withdrawn
    # An amendment of an application never seen keeps nothing.
    orphan = ApplicationAmended(application_id=uuid.uuid4(), form=partner_form(), reason="补充材料")
    assert applications.evolve(None, orphan) is None


# --- a partner's exit (退出) -------------------------------------------------------------------


def registered() -> list[PartnerRegistered]:
    application = submitted()
    events = partners.decide_on_approval(False, approval(application), known(application), APPROVED_ON)
    assert all(isinstance(e, PartnerRegistered) for e in events)
    return events  # type: ignore[return-value]


def test_a_partner_exits_once() -> None:
    events = list(registered())
    state = partners.fold(events)
    assert state is not None and state.status is partners.PartnerStatus.active

    (exited,) = partners.decide_exit(state, "连续两年未开展服务职工项目", date(2028, 12, 31))
    assert isinstance(exited, PartnerExited) and exited.partner_id == state.partner_id
    after = partners.fold([*events, exited])
    assert after is not None and after.status is partners.PartnerStatus.exited

    with pytest.raises(Conflict) as second:
        partners.decide_exit(after, "再次退出", date(2029, 1, 1))
    assert second.value.status == 409 and "2028-12-31" in second.value.errors[0].zh


def test_an_unknown_partner_cannot_exit_nor_before_it_was_registered() -> None:
    with pytest.raises(NotFound) as unknown:
        partners.decide_exit(None, "退出", APPROVED_ON)
    assert unknown.value.status == 404
    with pytest.raises(Refusal) as early:
        partners.decide_exit(partners.fold(registered()), "退出", date(2027, 8, 31))
    assert early.value.status == 422 and early.value.errors[0].field == "exited_on"
