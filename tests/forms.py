"""Valid application forms of annexes 3–5, shared by the domain and API tests."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from huigong_events.forms import (
    AnnualPlan,
    BudgetPlan,
    Funding,
    Opinion,
    Organisation,
    PartnerCategory,
    PilotForm,
    PlanProject,
    ServiceBaseForm,
    StageRow,
    ThreeYearPlan,
    WelfarePartnerForm,
)
from huigong_simulator.forms import credit_code

ENTERPRISE_CODE = "91370200163562681G"
SOLE_TRADER_CODE = "92370200MA3C00001K"
UNION_CODE = "81370200MJD000001X"
DISTRICT_UNION_CODE = "81370202MJD000002Y"
CHARITY_CODE = "52370200MJD000003A"

M = TypeVar("M", bound=BaseModel)


def variant(model: M, **changes: Any) -> M:
    """A copy of `model` with `changes`, validated again like a form arriving over the API."""
    return type(model).model_validate({**dict(model), **changes})


def opinion(unit: str) -> Opinion:
    return Opinion(
        unit_name=unit, text="同意申报。", sealed=True, signatory="王某", signed_on=date(2024, 6, 20)
    )


def complex_form() -> PilotForm:
    return PilotForm(
        pilot_name="市南区工会服务职工综合体建设",
        period_start="2024-07",
        period_end="2027-06",
        undertaking_unit=Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE),
        participating_units=[Organisation(name="市南区职工服务中心", credit_code=UNION_CODE)],
        applicant_unit=Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE),
        industry="工会",
        current_status="区职工服务中心已运行五年，场地2000平方米。",
        current_work="开展职工法律援助、技能培训和困难帮扶。",
        expected_goals="建成服务职工综合体，形成服务事项目录。",
        stages=[
            StageRow(
                period="2024年7月—2024年12月",
                start_month="2024-07",
                end_month="2024-12",
                content="制定三年规划和年度实施方案。",
                responsible_units="市南区总工会",
            )
        ],
        funding=Funding(directions="中心功能改造", sources="区财政、工会经费"),
        undertaking_opinion=opinion("市南区总工会"),
        participating_opinion=opinion("市南区职工服务中心"),
    )


def happy_form() -> PilotForm:
    return variant(
        complex_form(),
        pilot_name="青岛某某有限公司幸福企业建设",
        undertaking_unit=Organisation(name="青岛某某有限公司", credit_code=ENTERPRISE_CODE),
        participating_units=[Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE)],
        applicant_unit=Organisation(name="青岛某某有限公司", credit_code=ENTERPRISE_CODE),
        industry="制造业",
        undertaking_opinion=opinion("青岛某某有限公司"),
        participating_opinion=opinion("市南区总工会"),
    )


def service_base_form() -> ServiceBaseForm:
    return ServiceBaseForm(
        name="青岛某某心理服务职工基地",
        undertaking_unit=Organisation(name="青岛某某心理咨询有限公司", credit_code=ENTERPRISE_CODE),
        participating_units=[Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE)],
        applicant_unit=Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE),
        basic_info="专业心理咨询机构，场地800平方米。",
        project_strengths="心理疏导团队专业。",
        operations="年服务职工3000人次。",
        union_cooperation="承接区总工会职工心理关爱项目。",
        next_steps="开发面向一线职工的心理服务项目。",
        undertaking_opinion=opinion("青岛某某心理咨询有限公司"),
        participating_opinion=opinion("市南区总工会"),
        applicant_is_enterprise=True,
    )


def partner_form() -> WelfarePartnerForm:
    return WelfarePartnerForm(
        name="青岛某某社会工作服务中心",
        credit_code=CHARITY_CODE,
        applicant_unit=Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE),
        category=PartnerCategory.公益慈善,
        domain="社会工作、困难职工帮扶",
        qualifications="民办非企业单位，4A级社会组织。",
        representative_projects="社区困难家庭帮扶项目。",
        past_worker_projects="一线职工子女暑期托管。",
        cooperation_mode="承接工会购买服务。",
        next_projects="新就业形态劳动者关爱项目。",
        partner_opinion=opinion("青岛某某社会工作服务中心"),
        applicant_opinion=opinion("市南区总工会"),
        applicant_is_enterprise=False,
    )


def three_year_plan(start: int = 2024) -> ThreeYearPlan:
    return ThreeYearPlan(
        start_year=start,
        end_year=start + 2,
        basic_situation="基本情况",
        goals_and_tasks="目标任务",
        functional_layout="功能布局",
        main_contents="主要建设内容和任务",
        management_mechanism="管理和运行体制机制",
        budget=BudgetPlan(total=Decimal("1500000.00"), estimate="设施改造100万元", financing="企业自筹"),
        policy_measures="政策保障措施",
    )


def annual_plan(year: int = 2024) -> AnnualPlan:
    return AnnualPlan(
        year=year,
        measures="建设职工智慧健康驿站",
        tasks="完成驿站建设",
        funding=Decimal("300000.50"),
        projects=[PlanProject(name="职工智慧健康驿站", implementing_unit="企业工会")],
    )


def with_fresh_undertaking_unit(form: PilotForm, division: str = "370202") -> PilotForm:
    """The same form from a unit of its own: a second application of one submitter for the same
    programme, unit and year is refused (409), and the run's modules share one database."""
    code = credit_code(random.Random(), "81", division)
    unit = form.undertaking_unit.model_copy(update={"credit_code": code})
    return form.model_copy(update={"undertaking_unit": unit})
