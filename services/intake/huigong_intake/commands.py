"""The commands districts send, as request bodies: the same models validate an HTTP request and
a record on a district's Kafka inbound topic, and `dispatch` runs either through the handlers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from huigong_events.base import DomainEvent
from huigong_events.forms import ApplicationForm, ConstructionPlan, ShortText, SubmitterCode, Year
from huigong_events.intake import ComplianceFactReported, FacilityReported, ServiceProjectProposed
from huigong_events.reference import Programme
from huigong_platform.database import DbConnection
from huigong_platform.idempotency import Outcome
from huigong_platform.principals import Principal

from .handlers import Intake


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplicationRequest(Strict):
    """一份申报：附件3、4或5的申报表。"""

    application_id: uuid.UUID | None = Field(
        default=None, title="申报编号", description="可由区市系统指定；缺省时由平台生成"
    )
    year: Year = Field(title="申报年度")
    programme: Programme = Field(title="工作任务")
    submitter: SubmitterCode | None = Field(
        default=None, title="申报区市或单位", description="仅市总工会代为报送时填写"
    )
    form: ApplicationForm = Field(title="申报表")


class AmendRequest(Strict):
    form: ApplicationForm = Field(title="申报表", description="修改后的完整申报表")
    reason: ShortText = Field(title="修改原因")


class WithdrawRequest(Strict):
    reason: ShortText = Field(title="撤回原因")


class PlanRequest(Strict):
    plan: ConstructionPlan = Field(title="建设方案", description="三年规划或年度实施方案")


class WindowRequest(Strict):
    year: Year = Field(title="申报年度")
    opens_at: datetime = Field(title="开放时间")
    closes_at: datetime = Field(title="关闭时间")
    submitter: SubmitterCode | None = Field(
        default=None, title="区市或单位", description="缺省时对所有区市和单位开放"
    )
    reason: ShortText = Field(title="原因")


# Reports are the events themselves, with the id optional (generated when absent).
FacilityRequest = create_model(
    "FacilityRequest",
    __base__=FacilityReported,
    report_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="报送编号")),
)
ProjectRequest = create_model(
    "ProjectRequest",
    __base__=ServiceProjectProposed,
    proposal_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="推荐编号")),
)
FactRequest = create_model(
    "FactRequest",
    __base__=ComplianceFactReported,
    fact_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="事实编号")),
)


class EnrolmentBatch(Strict):
    rows: list[dict[str, Any]] = Field(
        title="入会报送行",
        description="每行以中文列名为键：姓名、身份证号、手机号、职业类别、平台企业、所属区市、入会日期、是否参加互助保障",
    )


# The tags of the form and plan unions, which pydantic would otherwise put in error paths.
UNION_TAGS = frozenset({"pilot", "service_base", "welfare_partner", "three_year", "annual"})


class InboundCommand(Strict):
    """A command on a district's Kafka inbound topic. The topic proves the sender."""

    command_id: str = Field(min_length=1, max_length=200, title="命令编号", description="幂等键")
    command: str = Field(title="命令", description="submit_application, amend_application, …, enrol")
    simulated: bool = Field(default=False, title="演示数据", description="区市模拟器发出的数据")
    application_id: uuid.UUID | None = Field(default=None, title="申报编号")
    body: dict[str, Any] = Field(title="请求体", description="与对应 HTTP 接口的请求体相同")


BODIES: dict[str, type[BaseModel]] = {
    "submit_application": ApplicationRequest,
    "amend_application": AmendRequest,
    "withdraw_application": WithdrawRequest,
    "submit_plan": PlanRequest,
    "report_facility": FacilityRequest,
    "propose_project": ProjectRequest,
    "report_fact": FactRequest,
    "enrol": EnrolmentBatch,
}

NEEDS_APPLICATION = frozenset({"amend_application", "withdraw_application", "submit_plan"})


async def dispatch(
    intake: Intake,
    conn: DbConnection,
    principal: Principal,
    correlation_id: str,
    name: str,
    body: BaseModel,
    application_id: uuid.UUID | None = None,
) -> Outcome:
    """Run one validated command through the handlers (HTTP and Kafka share this)."""
    match body:
        case ApplicationRequest():
            return await intake.submit_application(
                conn,
                principal,
                correlation_id,
                year=body.year,
                programme=body.programme,
                form=body.form,
                submitter=body.submitter,
                application_id=body.application_id,
            )
        case AmendRequest():
            assert application_id is not None
            return await intake.amend_application(
                conn, principal, correlation_id, application_id, body.form, body.reason
            )
        case WithdrawRequest():
            assert application_id is not None
            return await intake.withdraw_application(
                conn, principal, correlation_id, application_id, body.reason
            )
        case PlanRequest():
            assert application_id is not None
            return await intake.submit_plan(conn, principal, correlation_id, application_id, body.plan)
        case EnrolmentBatch():
            return await intake.enrol(conn, principal, correlation_id, body.rows)
        case FacilityReported() | ServiceProjectProposed() | ComplianceFactReported():
            event, aggregate_id = report_event(body)
            return await intake.report(conn, principal, correlation_id, event, aggregate_id)
        case _:
            raise TypeError(f"no handler for {name}")


def report_event(body: BaseModel) -> tuple[DomainEvent, str]:
    """The event a report request records (the request model extends it with an optional id)."""
    if isinstance(body, FacilityReported):
        facility = FacilityReported.model_validate(body.model_dump())
        return facility, str(facility.report_id)
    if isinstance(body, ServiceProjectProposed):
        project = ServiceProjectProposed.model_validate(body.model_dump())
        return project, str(project.proposal_id)
    if isinstance(body, ComplianceFactReported):
        fact = ComplianceFactReported.model_validate(body.model_dump())
        return fact, str(fact.fact_id)
    raise TypeError(f"{type(body).__name__} is not a report")
