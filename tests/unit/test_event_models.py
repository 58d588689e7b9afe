"""The event contracts: catalogue completeness, Chinese titles on every field, round trips through
stored data, and the personal-data guarantees of the gig-worker events. Pure unit tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any
from uuid import UUID, uuid5

import pytest
from pydantic import BaseModel, ValidationError

from huigong_events import (
    fact_corrections,
    grading,
    intake,
    matters,
    metrics,
    registry,
    review,
    revocation,
    warmth,
)
from huigong_events.base import DomainEvent
from huigong_events.catalogue import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    UnknownEventType,
    event_class,
    from_data,
)
from huigong_events.forms import (
    AnnualPlan,
    BudgetPlan,
    DeclaredFact,
    Funding,
    Opinion,
    Organisation,
    PartnerCategory,
    PilotForm,
    PlanProject,
    ReportingDepartment,
    ServiceBaseForm,
    ServiceField,
    StageRow,
    ThreeYearPlan,
    WelfarePartnerForm,
)
from huigong_events.reference import (
    EXCLUSION_TEXTS,
    HAPPY_ENTERPRISE_CRITERIA,
    MANAGING_UNIT,
    REVIEW_DIMENSIONS,
    TITLES,
    ComplianceFactKind,
    ExclusionRule,
    FacilityKind,
    Occupation,
    Programme,
)
from huigong_events.review import EvidenceSource, ExclusionEvidence, FindingStage

# Each module of events and the service that owns them (the registry's 联动服务 events have their own).
EVENT_MODULES: dict[ModuleType, str] = {
    intake: "intake",
    review: "review",
    registry: "registry",
    matters: "registry",
    fact_corrections: "intake",
    revocation: "registry",
    grading: "registry",
    warmth: "registry",
    metrics: "metrics",
}
CJK = re.compile(r"[\u4e00-\u9fff]")
NS = UUID("00000000-0000-0000-0000-000000000001")


def uid(label: str) -> UUID:
    return uuid5(NS, label)


# A raw 18-character resident ID number must never be where a member key goes.
RAW_ID_NUMBERS = ("370202199001011234", "37020219900101123X")
MEMBER_KEY = hmac.new(b"test-key", RAW_ID_NUMBERS[0].encode(), hashlib.sha256).hexdigest()
SEALED = base64.b64encode(bytes(range(60))).decode()  # stands in for an AEAD ciphertext
KEY_ID = "enrol-2022-01"

ENTERPRISE_CODE = "91370200163562681G"
UNION_CODE = "81370200MJD000001X"
DISTRICT_UNION_CODE = "81370202MJD000002Y"


def opinion(unit: str, day: date = date(2023, 6, 20)) -> Opinion:
    return Opinion(unit_name=unit, text="同意申报。", sealed=True, signatory="王某", signed_on=day)


def pilot_form() -> PilotForm:
    return PilotForm(
        pilot_name="青岛某某有限公司—幸福企业建设",
        period_start="2023-07",
        period_end="2026-06",
        undertaking_unit=Organisation(name="青岛某某有限公司", credit_code=ENTERPRISE_CODE),
        participating_units=[Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE)],
        applicant_unit=Organisation(name="青岛某某有限公司", credit_code=ENTERPRISE_CODE),
        industry="制造业",
        current_status="已建立工会组织，劳动用工规范。",
        current_work="已建成职工之家和健康驿站。",
        expected_goals="建立幸福企业标准体系并实施。",
        stages=[
            StageRow(
                period="2023年7月—2023年12月",
                start_month="2023-07",
                end_month="2023-12",
                content="制定三年规划和年度实施方案。",
                responsible_units="企业工会；市南区总工会",
            )
        ],
        funding=Funding(directions="职工健康服务、生活设施改善", sources="企业投入、工会经费"),
        undertaking_opinion=opinion("青岛某某有限公司"),
        participating_opinion=opinion("市南区总工会"),
        declarations=[
            DeclaredFact(
                kind=ComplianceFactKind.拖欠工资,
                occurred_on=date(2021, 3, 1),
                settled_on=date(2021, 5, 1),
                note="已全部结清。",
            )
        ],
    )


def service_base_form() -> ServiceBaseForm:
    return ServiceBaseForm(
        name="青岛某某心理服务职工基地",
        undertaking_unit=Organisation(name="青岛某某心理咨询有限公司", credit_code=ENTERPRISE_CODE),
        participating_units=[Organisation(name="城阳区总工会", credit_code=DISTRICT_UNION_CODE)],
        applicant_unit=Organisation(name="城阳区总工会", credit_code=DISTRICT_UNION_CODE),
        basic_info="专业心理咨询机构，场地800平方米。",
        project_strengths="心理疏导团队专业。",
        operations="年服务职工3000人次。",
        union_cooperation="承接区总工会职工心理关爱项目。",
        next_steps="开发面向一线职工的心理服务项目。",
        undertaking_opinion=opinion("青岛某某心理咨询有限公司"),
        participating_opinion=opinion("城阳区总工会"),
        managing_opinion=opinion(MANAGING_UNIT, date(2023, 7, 10)),
        applicant_is_enterprise=True,
    )


def welfare_partner_form() -> WelfarePartnerForm:
    return WelfarePartnerForm(
        name="青岛某某社会工作服务中心",
        credit_code="52370200MJD000003A",
        applicant_unit=Organisation(name="即墨区总工会", credit_code=DISTRICT_UNION_CODE),
        category=PartnerCategory.公益慈善,
        domain="社会工作、困难职工帮扶",
        qualifications="民办非企业单位，4A级社会组织。",
        representative_projects="社区困难家庭帮扶项目。",
        past_worker_projects="一线职工子女暑期托管。",
        cooperation_mode="承接工会购买服务。",
        next_projects="新就业形态劳动者关爱项目。",
        partner_opinion=opinion("青岛某某社会工作服务中心"),
        applicant_opinion=opinion("即墨区总工会"),
        applicant_is_enterprise=False,
    )


def sample_events() -> list[DomainEvent]:
    """One valid instance of every event type."""
    application = uid("application")
    return [
        intake.ApplicationSubmitted(
            application_id=application,
            year=2023,
            programme=Programme.幸福企业,
            submitter="370202",
            form=pilot_form(),
        ),
        intake.ApplicationAmended(application_id=application, form=pilot_form(), reason="补充计划工作步骤"),
        intake.ApplicationWithdrawn(application_id=application, reason="企业改制，暂缓申报"),
        intake.PlanSubmitted(
            application_id=application,
            plan=ThreeYearPlan(
                start_year=2023,
                end_year=2025,
                basic_situation="基本情况",
                goals_and_tasks="目标任务",
                functional_layout="功能布局",
                main_contents="主要建设内容和任务",
                management_mechanism="管理和运行体制机制",
                budget=BudgetPlan(
                    total=Decimal("1500000.00"), estimate="设施改造100万元", financing="企业自筹"
                ),
                policy_measures="政策保障措施",
            ),
        ),
        intake.PlanAmended(
            application_id=application,
            reason="按意见调整项目",
            plan=AnnualPlan(
                year=2024,
                measures="建设职工书屋",
                tasks="完成书屋建设",
                funding=Decimal("100000"),
                projects=[PlanProject(name="职工书屋", implementing_unit="企业工会")],
            ),
        ),
        intake.PlanSubmitted(
            application_id=application,
            plan=AnnualPlan(
                year=2023,
                measures="建设职工智慧健康驿站",
                tasks="完成驿站建设",
                funding=Decimal("300000.50"),
                projects=[PlanProject(name="职工智慧健康驿站", implementing_unit="企业工会")],
            ),
        ),
        intake.FacilityReported(
            report_id=uid("report"),
            facility_kind=FacilityKind.智慧健康驿站_企业,
            name="某某公司职工智慧健康驿站",
            area="370203",
            host_unit="青岛某某有限公司",
            host_credit_code=ENTERPRISE_CODE,
            opened_on=date(2022, 11, 30),
        ),
        intake.ServiceProjectProposed(
            proposal_id=uid("proposal"),
            name="职工子女暑期托管",
            field=ServiceField.养老托幼,
            provider="青岛某某社会工作服务中心",
            provider_credit_code="52370200MJD000003A",
            area="370215",
            description="暑期为一线职工子女提供托管和课业辅导。",
        ),
        intake.ComplianceFactReported(
            fact_id=uid("fact"),
            credit_code=ENTERPRISE_CODE,
            unit_name="青岛某某有限公司",
            kind=ComplianceFactKind.欠缴社保,
            occurred_on=date(2023, 1, 15),
            reported_by=ReportingDepartment.人社,
            reported_on=date(2023, 6, 1),
            evidence_ref="青人社监〔2023〕12号",
        ),
        intake.EnrolmentRequested(
            enrolment_id=uid("enrolment"),
            batch_id=uid("batch"),
            row_number=2,
            member_key=MEMBER_KEY,
            personal_sealed=SEALED,
            key_id=KEY_ID,
            occupation=Occupation.外卖送餐员,
            platform="某某外卖平台",
            district="370212",
            joined_on=date(2022, 8, 1),
            mutual_aid=True,
        ),
        intake.MutualAidRequested(
            enrolment_id=uid("enrolment"),
            batch_id=uid("batch-later"),
            row_number=5,
            member_key=MEMBER_KEY,
            reported_by="370212",
            requested_on=date(2026, 3, 2),
        ),
        intake.SubmissionWindowOpened(
            year=2023,
            opens_at=datetime(2023, 7, 1, tzinfo=UTC),
            closes_at=datetime(2023, 7, 15, 16, tzinfo=UTC),
            submitter="G-HAIER",
            reason="集团工会换届，延期报送",
        ),
        review.ExclusionFound(
            finding_id=uid("finding"),
            application_id=application,
            credit_code=ENTERPRISE_CODE,
            rule=ExclusionRule.E3_未缴社保,
            rule_text=EXCLUSION_TEXTS[ExclusionRule.E3_未缴社保],
            stage=FindingStage.受理前,
            evidence=ExclusionEvidence(
                source=EvidenceSource.数据交换,
                fact_id=uid("fact"),
                fact_kind=ComplianceFactKind.欠缴社保,
                reported_by=ReportingDepartment.人社,
                reported_on=date(2023, 6, 1),
                occurred_on=date(2023, 1, 15),
            ),
        ),
        review.ExclusionCleared(
            application_id=application, finding_id=uid("finding"), reason="已补缴，人社部门确认"
        ),
        review.ApplicationAccepted(
            application_id=application, programme=Programme.幸福企业, submitter="370202"
        ),
        review.ApplicationRejected(
            application_id=application,
            findings=[
                review.RejectionGround(
                    finding_id=uid("finding"),
                    rule=ExclusionRule.C3_商业行为过多,
                    rule_text=EXCLUSION_TEXTS[ExclusionRule.C3_商业行为过多],
                )
            ],
        ),
        review.ReviewScored(
            application_id=application,
            reviewer="expert-07",
            scores={
                dimension: review.DimensionScore(score=Decimal("85.5"), comment="思路清晰")
                for dimension in REVIEW_DIMENSIONS
            },
            weighted_total=Decimal("85.50"),
        ),
        review.ConstructionApproved(
            application_id=application,
            unit_name="青岛某某有限公司",
            credit_code=ENTERPRISE_CODE,
            programme=Programme.幸福企业,
            submitter="370202",
            period_start=date(2023, 9, 1),
            period_end=date(2026, 8, 31),
            score_average=Decimal("86.25"),
        ),
        review.ConstructionDeclined(
            application_id=application, reasons=["资金投入不足"], score_average=Decimal("58")
        ),
        review.ConstructionUnitSelected(
            application_id=application,
            unit_name="青岛某某有限公司",
            credit_code=ENTERPRISE_CODE,
            programme=Programme.幸福企业,
            submitter="370202",
            note="基础较好",
        ),
        review.ConstructionUnitNotSelected(application_id=application, reasons=["场地尚未落实"]),
        registry.UnitRegistered(
            unit_id=uid("unit"),
            name="海尔集团公司",
            programme=Programme.幸福企业,
            area="G-HAIER",
            origin=registry.UnitOrigin.试点2022,
            registered_on=date(2022, 6, 28),
        ),
        registry.UnitAssessed(
            unit_id=uid("unit"),
            programme=Programme.幸福企业,
            assessed_on=date(2025, 6, 1),
            results=[
                registry.CriterionResult(criterion=criterion, met=True, evidence="现场核查")
                for criterion in HAPPY_ENTERPRISE_CRITERIA
            ],
        ),
        registry.UnitCertified(
            unit_id=uid("unit"),
            title=TITLES[Programme.幸福企业],
            certificate_no="QDXF-2025-001",
            certified_on=date(2025, 7, 1),
            valid_until=date(2028, 6, 30),
            recheck_due=date(2026, 7, 1),
        ),
        registry.CertificationRevoked(
            unit_id=uid("unit"),
            certificate_no="QDXF-2025-001",
            revoked_on=date(2026, 3, 1),
            reason="认定后发现拖欠职工工资",
            finding_id=uid("finding"),
            automatic=True,
        ),
        registry.UnitExited(
            unit_id=uid("unit"), reason="职工满意度评价连续不达标", exited_on=date(2024, 12, 31)
        ),
        registry.UnitApprovalAttached(
            unit_id=uid("unit"),
            application_id=uid("application"),
            programme=Programme.服务职工综合体,
            period_start=date(2027, 3, 1),
            attached_on=date(2026, 12, 7),
        ),
        registry.FacilityOpened(
            facility_id=uid("facility"),
            kind=FacilityKind.青岛惠工家,
            name="某某街道“青岛·惠工家”",
            area="370213",
            host_unit="李沧区职工服务中心",
            opened_on=date(2022, 10, 1),
            report_id=uid("report"),
        ),
        registry.FacilityClosed(facility_id=uid("facility"), closed_on=date(2024, 1, 1), reason="场地拆迁"),
        registry.PartnerRegistered(
            partner_id=uid("partner"),
            name="青岛红十字蓝天救援中心",
            category=PartnerCategory.公益慈善,
            area="370214",
            credit_code="52370200MJD000003A",
            registered_on=date(2022, 6, 28),
            origin=registry.PartnerOrigin.试点2022,
        ),
        registry.PartnerExited(
            partner_id=uid("partner"), reason="经协商退出纽带计划", exited_on=date(2025, 12, 31)
        ),
        registry.ServiceProjectListed(
            project_id=uid("project"),
            name="职工子女暑期托管",
            field=ServiceField.养老托幼,
            provider="青岛某某社会工作服务中心",
            provider_credit_code="52370200MJD000003A",
            area="370200",
            listed_on=date(2023, 7, 1),
            proposal_id=uid("proposal"),
        ),
        registry.MemberEnrolled(
            member_key=MEMBER_KEY,
            key_id="member-kek-1",
            enrolment_id=uid("enrolment"),
            district="370212",
            occupation=Occupation.外卖送餐员,
            platform="某某外卖平台",
            joined_on=date(2022, 8, 1),
        ),
        registry.MemberReportedAgain(
            member_key=MEMBER_KEY,
            enrolment_id=uid("enrolment-2"),
            district="370214",
            reported_on=date(2022, 9, 1),
        ),
        registry.MutualAidGranted(
            member_key=MEMBER_KEY,
            policy_year=2022,
            paid_by="市总工会赠送",
            granted_on=date(2022, 8, 15),
        ),
        registry.MutualAidGranted(
            member_key=MEMBER_KEY,
            policy_year=2026,
            paid_by="市南区总工会",
            granted_on=date(2026, 3, 2),
            paid_by_area="370202",
        ),
        registry.MemberErased(member_key=MEMBER_KEY, erased_on=date(2024, 2, 1), request_ref="DEL-2024-0001"),
        *matter_samples(),
        *warmth_samples(),
        metrics.TargetChanged(
            metric="members_enrolled",
            area="370200",
            year=2025,
            old_value=Decimal("400000"),
            new_value=Decimal("420000"),
            reason="市总工会调整目标",
        ),
    ]


def warmth_samples() -> list[DomainEvent]:
    """送温暖: a fund set, a 春节 delivery above the threshold approved, a repeat declined."""
    return [
        warmth.WarmthBudgetSet(
            union="370202",
            year=2026,
            amount=200000,
            approval_threshold=2000,
            reason="2026年度送温暖预算",
            set_on=date(2026, 1, 5),
        ),
        warmth.WarmthDelivered(
            delivery_id=uid("warmth-1"),
            union="370202",
            year=2026,
            member_key=MEMBER_KEY,
            key_id=KEY_ID,
            recipient_sealed=SEALED,
            occasion=warmth.Occasion.重要节点,
            festival=warmth.Festival.春节,
            form=warmth.WarmthForm.慰问金,
            amount=3000,
            delivered_on=date(2026, 2, 10),
            evidence_ref="QD-SWN-2026-0001",
            status=warmth.DeliveryStatus.待审批,
        ),
        warmth.WarmthDeliveryApproved(delivery_id=uid("warmth-1"), approved_on=date(2026, 2, 11)),
        warmth.WarmthDelivered(
            delivery_id=uid("warmth-2"),
            union="370202",
            year=2026,
            member_key=MEMBER_KEY,
            key_id=KEY_ID,
            recipient_sealed=SEALED,
            occasion=warmth.Occasion.重要节点,
            festival=warmth.Festival.春节,
            form=warmth.WarmthForm.实物,
            amount=300,
            delivered_on=date(2026, 2, 12),
            evidence_ref="QD-SWN-2026-0002",
            status=warmth.DeliveryStatus.已批准,
            repeat_reason="补发米面油",
        ),
        warmth.WarmthDeliveryDeclined(
            delivery_id=uid("warmth-2"), declined_on=date(2026, 2, 13), reason="重复发放"
        ),
    ]


def matter_samples() -> list[DomainEvent]:
    """联动服务: a catalogue item, and one matter transferred to a base, closed, rated, erased."""
    steps = ["登记诉求", "律师咨询", "出具意见"]
    item = dict(
        item_id=uid("service-item"),
        name="劳动争议法律咨询",
        category=matters.ServiceCategory.法律援助,
        providers=[uid("centre-370202"), uid("base-370203")],
        time_limit_days=5,
        steps=steps,
    )
    matter = uid("matter")
    return [
        matters.ServiceItemListed(**item, commitment="五个工作日内给出书面意见", listed_on=date(2025, 1, 2)),
        matters.ServiceItemChanged(**item, changed_on=date(2025, 6, 1), reason="律师值班安排调整"),
        matters.ServiceItemWithdrawn(
            item_id=uid("service-item"), reason="并入综合服务", withdrawn_on=date(2026, 1, 1)
        ),
        matters.MatterReceived(
            matter_id=matter,
            matter_no="FW-2025-370202-00001",
            item_id=uid("service-item"),
            item_name="劳动争议法律咨询",
            category=matters.ServiceCategory.法律援助,
            centre_id=uid("centre-370202"),
            centre_name="市南区职工服务中心",
            area="370202",
            channel=matters.Channel.电话,
            requester_sealed=SEALED,
            key_id="mk-0011223344556677",
            received_on=date(2025, 9, 30),
            time_limit_days=5,
            steps=steps,
            deadline=date(2025, 10, 14),
        ),
        matters.MatterTransferred(
            matter_id=matter,
            from_unit=uid("centre-370202"),
            from_name="市南区职工服务中心",
            from_area="370202",
            to_unit=uid("base-370203"),
            to_name="青岛市市北区时代国际广场",
            to_area="370203",
            to_kind=matters.HandlerKind.服务职工基地,
            reason="本中心本周无值班律师",
            transferred_on=date(2025, 9, 30),
        ),
        matters.MatterTransferRefused(
            matter_id=matter,
            unit_id=uid("base-370203"),
            unit_area="370203",
            back_to=uid("centre-370202"),
            reason="本基地本月法律咨询名额已满",
            refused_on=date(2025, 10, 8),
        ),
        matters.MatterTransferred(
            matter_id=matter,
            from_unit=uid("centre-370202"),
            from_name="市南区职工服务中心",
            from_area="370202",
            to_unit=uid("base-370203"),
            to_name="青岛市市北区时代国际广场",
            to_area="370203",
            to_kind=matters.HandlerKind.服务职工基地,
            reason="基地下月名额已放出",
            transferred_on=date(2025, 10, 9),
        ),
        matters.WorkingCalendarPublished(
            year=2027,
            holidays=[date(2027, 1, 1), date(2027, 2, 8), date(2027, 2, 9)],
            adjusted_workdays=[date(2027, 2, 20)],
            reason="国务院办公厅关于2027年部分节假日安排的通知",
        ),
        matters.DutyRosterSet(
            centre_id=UUID("5f0c3a52-1f6e-5b8e-9a37-2f1f2b8a9c01"),
            centre_name="市南区职工服务中心",
            area="370202",
            public_phone="0532-82961234",
            shifts=[
                matters.DutyShift(staff="王某某", weekdays=[1, 3, 5]),
                matters.DutyShift(staff="李某某", weekdays=[2, 4, 6]),
            ],
            effective_from=date(2027, 1, 4),
            reason="2027年一季度综合服务窗口排班",
        ),
        matters.MatterDeadlineRevised(
            matter_id=matter,
            deadline=date(2025, 10, 14),
            deadline_provisional=False,
            calendar_year=2025,
            revised_on=date(2025, 10, 1),
        ),
        matters.MatterAccepted(matter_id=matter, unit_id=uid("base-370203"), accepted_on=date(2025, 10, 9)),
        matters.MatterStepDone(
            matter_id=matter,
            step="登记诉求",
            unit_id=uid("base-370203"),
            note=None,
            done_on=date(2025, 10, 9),
        ),
        matters.MatterClosed(
            matter_id=matter,
            unit_id=uid("base-370203"),
            outcome=matters.MatterOutcome.不予办理,
            note="不属于劳动争议",
            closed_on=date(2025, 10, 15),
            deadline=date(2025, 10, 14),
            on_time=False,
        ),
        matters.MatterRated(matter_id=matter, score=4, comment="说明清楚", rated_on=date(2025, 10, 16)),
        matters.MatterRequesterErased(
            matter_id=matter, erased_on=date(2026, 3, 1), request_ref="DEL-2026-0001"
        ),
        fact_corrections.ComplianceFactCorrected(
            fact_id=uid("fact-1"),
            credit_code=ENTERPRISE_CODE,
            unit_name="青岛某制造有限公司",
            kind=ComplianceFactKind.拖欠工资,
            occurred_on=date(2025, 11, 3),
            settled_on=date(2025, 12, 1),
            evidence_ref="青人社监察〔2025〕17号（更正）",
            reason="欠薪已于12月1日结清，补报结清日期",
            corrected_on=date(2025, 12, 2),
        ),
        fact_corrections.ComplianceFactWithdrawn(
            fact_id=uid("fact-1"),
            credit_code=ENTERPRISE_CODE,
            reason="处罚决定经行政复议撤销",
            withdrawn_on=date(2025, 12, 20),
        ),
        revocation.CertificationSuspended(
            unit_id=uid("unit-1"),
            case_id=uid("finding-1"),
            certificate_no="QDGH-2025-FQ-0001",
            finding_id=uid("finding-1"),
            rule=ExclusionRule.E2_拖欠工资,
            rule_text=EXCLUSION_TEXTS[ExclusionRule.E2_拖欠工资],
            suspended_on=date(2026, 3, 2),
            statement_due=date(2026, 3, 9),
        ),
        revocation.RevocationStatementFiled(
            unit_id=uid("unit-1"),
            case_id=uid("finding-1"),
            statement="欠薪系分包单位所欠，已由总包垫付结清，附付款凭证。",
            filed_on=date(2026, 3, 5),
        ),
        revocation.RevocationGroundCleared(
            unit_id=uid("unit-1"),
            case_id=uid("finding-1"),
            finding_id=uid("finding-1"),
            reason="报送部门撤回事实：处罚决定经行政复议撤销",
            cleared_on=date(2026, 3, 6),
        ),
        revocation.CertificationRestored(
            unit_id=uid("unit-1"),
            case_id=uid("finding-1"),
            certificate_no="QDGH-2025-FQ-0001",
            ground=revocation.RestorationGround.事实撤回或更正,
            reason="报送部门撤回事实：处罚决定经行政复议撤销",
            restored_on=date(2026, 3, 6),
        ),
        *grading_samples(),
    ]


def grading_samples() -> list[DomainEvent]:
    """绩效评估、分级评定: a year's scheme, a grade with its figures and sources, and what follows."""
    subject = uid("base-1")
    weights = grading.Weights(scale=30, efficiency=25, quality=30, social=15)
    bands = [
        grading.GradeBand(grade=g, min_score=Decimal(m))
        for g, m in (("A", 85), ("B", 75), ("C", 60), ("D", 0))
    ]
    scale = grading.DimensionResult(
        dimension=grading.Dimension.服务规模,
        score=Decimal("33.33"),
        figures=[
            grading.Figure(
                figure="matters_handled", label="承办服务事项数", value=Decimal(1), sources=[uid("m")]
            )
        ],
    )
    return [
        grading.EvaluationSchemeSet(
            year=2026,
            weights=weights,
            bands=bands,
            scale_targets=grading.ScaleTargets(matters=100, projects=3, facilities=1),
            rectification_days=90,
            reason="按领导小组意见调整",
            set_on=date(2026, 1, 5),
        ),
        grading.ResourceGraded(
            subject_id=subject,
            kind=grading.EvaluatedKind.服务职工基地,
            name="青岛市市北区时代国际广场",
            area="370203",
            year=2025,
            evaluated_on=date(2025, 12, 31),
            scheme_version=0,
            weights=weights,
            dimensions=[
                scale,
                grading.DimensionResult(dimension=grading.Dimension.服务效率, score=None),
                grading.DimensionResult(dimension=grading.Dimension.服务质量, score=None),
                grading.DimensionResult(
                    dimension=grading.Dimension.社会效应,
                    score=Decimal(10),
                    evidence="媒体报道",
                    entered_by="city:a",
                ),
            ],
            score=Decimal("25.00"),
            grade=grading.Grade.D,
            probation_ended=False,
        ),
        grading.RectificationOrdered(
            subject_id=subject, year=2025, ordered_on=date(2025, 12, 31), deadline=date(2026, 3, 31)
        ),
        grading.RectificationCompleted(
            subject_id=subject, year=2025, evidence="整改报告", completed_on=date(2026, 3, 1)
        ),
        grading.ExitProposed(
            subject_id=subject,
            ground=grading.ExitGround.连续两年评定为D,
            reason="连续两年评定为 D",
            proposed_on=date(2027, 1, 5),
        ),
        grading.ExitProposalConfirmed(
            subject_id=subject, reason="经核实服务已停止", confirmed_on=date(2027, 2, 1)
        ),
        grading.ExitProposalDismissed(
            subject_id=subject, reason="已更换运营团队", dismissed_on=date(2027, 2, 1)
        ),
        grading.GradingStatementFiled(
            subject_id=subject, year=2025, statement="场地装修，服务暂停三个月。", filed_on=date(2026, 1, 10)
        ),
    ]


SAMPLES = sample_events()


def declared_events() -> Iterator[type[DomainEvent]]:
    for module in EVENT_MODULES:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DomainEvent) and cls.__module__ == module.__name__:
                yield cls


# --- the catalogue -----------------------------------------------------------------------------


def test_catalogue_holds_every_event_class_once() -> None:
    declared = set(declared_events())
    assert declared == set(EVENT_TYPES.values())
    assert len(EVENT_TYPES) == len(declared)
    for name, cls in EVENT_TYPES.items():
        assert event_class(name) is cls
        assert cls.model_fields["type"].default == name


def test_every_event_type_has_a_sample() -> None:
    assert {event.type for event in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_event_class_declares_owner_aggregate_and_chinese_docstring(
    cls: type[DomainEvent],
) -> None:
    module_owner = next(o for m, o in EVENT_MODULES.items() if m.__name__ == cls.__module__)
    assert cls.owner == module_owner
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.aggregate_type)
    assert cls.schema_version >= 1
    assert cls.__doc__ and CJK.search(cls.__doc__)


def test_review_events_share_the_review_aggregate() -> None:
    assert {cls.aggregate_type for cls in declared_events() if cls.owner == "review"} == {"review"}


def test_unknown_type_raises_unknown_event_type() -> None:
    with pytest.raises(UnknownEventType) as caught:
        event_class("ApplicationTeleported")
    assert isinstance(caught.value, KeyError)
    assert "ApplicationTeleported" in str(caught.value)
    with pytest.raises(UnknownEventType):
        from_data("ApplicationTeleported", {})


# --- titles -------------------------------------------------------------------------------------


def walk_properties(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, property schema) of every object schema, nested definitions included."""
    if isinstance(schema, dict):
        for name, prop in schema.get("properties", {}).items():
            yield f"{path}.{name}", prop
        for key, value in schema.items():
            yield from walk_properties(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from walk_properties(item, f"{path}[{index}]")


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_every_field_has_a_chinese_title_and_description(cls: type[DomainEvent], mode: str) -> None:
    schema = cls.model_json_schema(mode=mode)  # type: ignore[arg-type]
    properties = list(walk_properties(schema))
    assert properties
    for path, prop in properties:
        # pydantic invents English titles ("Pilot Name") when none is given; ours are Chinese.
        assert CJK.search(prop.get("title", "")), f"{cls.__name__}{path} lacks a Chinese title"
        assert prop.get("description"), f"{cls.__name__}{path} lacks a description"


def test_nested_payload_models_are_documented_in_chinese() -> None:
    seen: set[type[BaseModel]] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        assert model.__doc__ and CJK.search(model.__doc__), model.__name__
        for field in model.model_fields.values():
            for arg in _model_args(field.annotation):
                visit(arg)

    for cls in EVENT_TYPES.values():
        visit(cls)
    assert {PilotForm, ServiceBaseForm, WelfarePartnerForm, Opinion, StageRow} <= seen


def _model_args(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _model_args(arg)
    for arg in getattr(annotation, "__metadata__", ()):
        yield from _model_args(arg)
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        yield from _model_args(origin)


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("event", SAMPLES, ids=[f"{e.type}-{i}" for i, e in enumerate(SAMPLES)])
def test_stored_data_round_trips_through_the_union(event: DomainEvent) -> None:
    data = event.to_data()
    assert "type" not in data
    text = json.dumps(data, ensure_ascii=False)  # JSON types only

    again = EVENT_ADAPTER.validate_python({**json.loads(text), "type": event.type})
    assert type(again) is type(event)
    assert again == event
    assert again.to_data() == data

    assert EVENT_ADAPTER.validate_json(json.dumps({**data, "type": event.type})) == event
    assert from_data(event.type, json.loads(text)) == event


def test_amounts_and_scores_are_json_strings_not_floats() -> None:
    plan = next(e for e in SAMPLES if isinstance(e, intake.PlanSubmitted))
    assert plan.to_data()["plan"]["budget"]["total"] == "1500000.00"
    scored = next(e for e in SAMPLES if isinstance(e, review.ReviewScored))
    assert scored.to_data()["weighted_total"] == "85.50"


def test_the_application_form_is_chosen_by_form_kind() -> None:
    for programme, form in [
        (Programme.服务职工综合体, pilot_form()),
        (Programme.服务职工基地, service_base_form()),
        (Programme.公益伙伴, welfare_partner_form()),
    ]:
        event = intake.ApplicationSubmitted(
            application_id=uid("a"), year=2024, programme=programme, submitter="370214", form=form
        )
        again = from_data(event.type, event.to_data())
        assert isinstance(again, intake.ApplicationSubmitted)
        assert type(again.form) is type(form)
        assert again.form.managing_unit == MANAGING_UNIT


def test_events_are_immutable() -> None:
    event = SAMPLES[0]
    with pytest.raises(ValidationError):
        event.year = 2030  # type: ignore[attr-defined]


# --- contract invariants ------------------------------------------------------------------------


def test_a_form_must_belong_to_its_programme() -> None:
    with pytest.raises(ValidationError, match="form does not belong"):
        intake.ApplicationSubmitted(
            application_id=uid("a"),
            year=2023,
            programme=Programme.公益伙伴,
            submitter="370202",
            form=pilot_form(),
        )


@pytest.mark.parametrize("submitter", ["370200", "370299", "G-UNKNOWN", ""])
def test_only_districts_and_group_unions_submit(submitter: str) -> None:
    with pytest.raises(ValidationError):
        review.ApplicationAccepted(application_id=uid("a"), programme=Programme.幸福企业, submitter=submitter)


@pytest.mark.parametrize("code", ["91370200163562681", "9137020016356268IO", "913702001635626!1G"])
def test_credit_codes_are_18_valid_characters(code: str) -> None:
    with pytest.raises(ValidationError):
        Organisation(name="某公司", credit_code=code)


def test_credit_codes_are_normalised_to_upper_case() -> None:
    assert Organisation(name="某公司", credit_code=" 91370200163562681g ").credit_code == (ENTERPRISE_CODE)


def test_the_pilot_period_cannot_end_before_it_starts() -> None:
    data = pilot_form().model_dump()
    with pytest.raises(ValidationError, match="period_end before period_start"):
        PilotForm.model_validate({**data, "period_start": "2026-01", "period_end": "2025-12"})
    with pytest.raises(ValidationError):
        PilotForm.model_validate({**data, "period_start": "2023-13"})


def test_review_scores_cover_exactly_the_five_dimensions() -> None:
    scores = {d: review.DimensionScore(score=Decimal(80)) for d in REVIEW_DIMENSIONS[:4]}
    with pytest.raises(ValidationError, match="exactly the five dimensions"):
        review.ReviewScored(application_id=uid("a"), reviewer="r", scores=scores, weighted_total=Decimal(80))
    with pytest.raises(ValidationError):
        review.DimensionScore(score=Decimal("100.01"))


def test_exclusion_evidence_must_match_its_source_and_rule() -> None:
    with pytest.raises(ValidationError, match="missing evidence"):
        ExclusionEvidence(source=EvidenceSource.数据交换, fact_kind=ComplianceFactKind.拖欠工资)
    with pytest.raises(ValidationError, match="missing evidence"):
        ExclusionEvidence(source=EvidenceSource.评审认定)
    with pytest.raises(ValidationError, match="fact kind does not match the rule"):
        review.ExclusionFound(
            finding_id=uid("f"),
            application_id=uid("a"),
            rule=ExclusionRule.E2_拖欠工资,
            rule_text=EXCLUSION_TEXTS[ExclusionRule.E2_拖欠工资],
            stage=FindingStage.受理前,
            evidence=ExclusionEvidence(
                source=EvidenceSource.申报声明, fact_kind=ComplianceFactKind.重大质量事故
            ),
        )


def test_only_the_plans_titles_can_be_certified() -> None:
    with pytest.raises(ValidationError, match="unknown title"):
        registry.UnitCertified(
            unit_id=uid("u"),
            title="青岛市关爱职工公益伙伴示范单位",
            certificate_no="X-1",
            certified_on=date(2025, 7, 1),
            valid_until=date(2028, 6, 30),
            recheck_due=date(2026, 7, 1),
        )


# --- personal data ------------------------------------------------------------------------------

MEMBER_EVENTS = [e for e in SAMPLES if "member_key" in type(e).model_fields]


@pytest.mark.parametrize("raw", [*RAW_ID_NUMBERS, MEMBER_KEY.upper(), MEMBER_KEY[:-1]])
@pytest.mark.parametrize("event", MEMBER_EVENTS, ids=[e.type for e in MEMBER_EVENTS])
def test_member_key_rejects_a_raw_id_number(event: DomainEvent, raw: str) -> None:
    with pytest.raises(ValidationError, match="member_key"):
        type(event).model_validate({**event.to_data(), "type": event.type, "member_key": raw})


@pytest.mark.parametrize("clear", ["张三", "13800138000", "张三 13800138000", "MTM4MDAxMzgwMDA="])
def test_personal_sealed_rejects_clear_text(clear: str) -> None:
    enrolment = next(e for e in SAMPLES if isinstance(e, intake.EnrolmentRequested))
    data = {**enrolment.to_data(), "type": enrolment.type, "personal_sealed": clear}
    with pytest.raises(ValidationError, match="personal_sealed"):
        intake.EnrolmentRequested.model_validate(data)


@pytest.mark.parametrize("field", ["name", "id_number", "phone"])
@pytest.mark.parametrize("event", MEMBER_EVENTS, ids=[e.type for e in MEMBER_EVENTS])
def test_member_events_have_no_place_for_personal_data(event: DomainEvent, field: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        type(event).model_validate({**event.to_data(), "type": event.type, field: RAW_ID_NUMBERS[0]})


def test_registry_member_events_carry_no_ciphertext() -> None:
    # The roster's events; a 送温暖 delivery carries the recipient sealed (next test).
    for cls in declared_events():
        if cls.owner == "registry" and cls.aggregate_type == "member":
            assert not [f for f in cls.model_fields if f.endswith("_sealed")], cls.__name__


@pytest.mark.parametrize("clear", ["张三", "13800138000", "张三 13800138000", "MTM4MDAxMzgwMDA="])
def test_a_warmth_delivery_carries_its_recipient_only_sealed(clear: str) -> None:
    delivered = next(e for e in SAMPLES if isinstance(e, warmth.WarmthDelivered))
    with pytest.raises(ValidationError, match="recipient_sealed"):
        warmth.WarmthDelivered.model_validate(
            {**delivered.to_data(), "type": delivered.type, "recipient_sealed": clear}
        )
    with pytest.raises(ValidationError, match="evidence_ref"):
        warmth.WarmthDelivered.model_validate(
            {**delivered.to_data(), "type": delivered.type, "evidence_ref": f"签收人电话 {RAW_ID_NUMBERS[0]}"}
        )


# --- 联动服务: the requester's personal data -------------------------------------------------------

MATTER_EVENTS = [e for e in SAMPLES if type(e).aggregate_type == "matter"]


@pytest.mark.parametrize("clear", ["张三", "13800138000", "张三 13800138000", "MTM4MDAxMzgwMDA="])
def test_a_matter_carries_its_requester_only_sealed(clear: str) -> None:
    received = next(e for e in MATTER_EVENTS if isinstance(e, matters.MatterReceived))
    with pytest.raises(ValidationError, match="requester_sealed"):
        matters.MatterReceived.model_validate(
            {**received.to_data(), "type": received.type, "requester_sealed": clear}
        )


@pytest.mark.parametrize("field", ["name", "phone", "requester", "id_number"])
@pytest.mark.parametrize("event", MATTER_EVENTS, ids=[e.type for e in MATTER_EVENTS])
def test_matter_events_have_no_place_for_personal_data(event: DomainEvent, field: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        type(event).model_validate({**event.to_data(), "type": event.type, field: "张三"})


@pytest.mark.parametrize("text", ["请回电 13800138000", "请回电 138-0013-8000", "身份证 370202199001011234"])
def test_clear_text_of_a_matter_refuses_phone_and_id_numbers(text: str) -> None:
    rated = next(e for e in MATTER_EVENTS if isinstance(e, matters.MatterRated))
    with pytest.raises(ValidationError, match="comment"):
        matters.MatterRated.model_validate({**rated.to_data(), "type": rated.type, "comment": text})
