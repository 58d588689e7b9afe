"""The commands districts send: the same typed commands are built from an HTTP request (the body
and the ids in its path) and from a record on a district's Kafka inbound topic, and the
platform's command path (`huigong_platform.application`) runs either through `handlers.py`.

The request bodies (`…Request`) are what a caller sends; a command whose route names the
application in its path extends its body with `application_id`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, create_model

from huigong_events.forms import ApplicationForm, ConstructionPlan, Name, ShortText, SubmitterCode, Year
from huigong_events.intake import ComplianceFactReported, FacilityReported, ServiceProjectProposed
from huigong_events.plausible import BuiltDay, PlainName, PlainText
from huigong_events.reference import ComplianceFactKind, Programme
from huigong_platform.application import Command, from_request


class ApplicationRequest(Command):
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


class AmendRequest(Command):
    form: ApplicationForm = Field(title="申报表", description="修改后的完整申报表")
    reason: PlainText = Field(title="修改原因")


class WithdrawRequest(Command):
    reason: PlainText = Field(title="撤回原因")


class PlanRequest(Command):
    plan: ConstructionPlan = Field(title="建设方案", description="三年规划或年度实施方案")


class PlanAmendmentRequest(Command):
    plan: ConstructionPlan = Field(
        title="建设方案", description="替换已报送的三年规划，或同一年度的年度实施方案"
    )
    reason: PlainText = Field(title="修改理由")


class WindowRequest(Command):
    year: Year = Field(title="申报年度")
    opens_at: datetime = Field(title="开放时间")
    closes_at: datetime = Field(title="关闭时间")
    submitter: SubmitterCode | None = Field(
        default=None, title="区市或单位", description="缺省时对所有区市和单位开放"
    )
    reason: ShortText = Field(title="原因")


# Reports are the events themselves, with the id optional (generated when absent).
# Names and the opening day are held to what a person can plausibly send
# (`huigong_events.plausible`): a facility opened "next year" is not yet a facility, and would be
# counted by one reader and not another.
FacilityRequest = create_model(
    "FacilityRequest",
    __base__=FacilityReported,
    report_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="报送编号")),
    name=(PlainName, Field(title="名称", description="设施名称")),
    host_unit=(PlainName, Field(title="所在单位", description="设施所在的单位（职工服务中心、企业等）")),
    opened_on=(
        BuiltDay,
        Field(title="建成日期", description="设施建成（投入使用）的日期：不晚于今天（北京时间）"),
    ),
)
ProjectRequest = create_model(
    "ProjectRequest",
    __base__=ServiceProjectProposed,
    proposal_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="推荐编号")),
    name=(PlainName, Field(title="项目名称", description="服务职工项目名称")),
    provider=(PlainName, Field(title="提供单位", description="提供服务项目的单位")),
)
FactRequest = create_model(
    "FactRequest",
    __base__=ComplianceFactReported,
    fact_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="事实编号")),
    unit_name=(PlainName, Field(title="单位名称", description="涉及单位的名称（以报送部门记录为准）")),
)


class EnrolmentBatch(Command):
    rows: list[dict[str, Any]] = Field(
        title="入会报送行",
        description="每行以中文列名为键：姓名、身份证号、手机号、职业类别、平台企业、所属区市、入会日期、是否参加互助保障",
    )
    first_row: int = Field(
        default=1,
        ge=1,
        le=1_048_576,  # the last row of an Excel sheet
        title="首行行号",
        description="第一行的行号，答复中的行号由此起算（默认1）；从表格读出的行可填其在 Excel 中的行号",
    )


# The tags of the form and plan unions, which pydantic would otherwise put in error paths.
UNION_TAGS = frozenset({"pilot", "service_base", "welfare_partner", "three_year", "annual"})


class SubmitApplication(ApplicationRequest):
    """报送申报表。"""


class AmendApplication(AmendRequest):
    application_id: uuid.UUID = Field(title="申报编号")


class WithdrawApplication(WithdrawRequest):
    application_id: uuid.UUID = Field(title="申报编号")


class AmendPlan(PlanAmendmentRequest):
    application_id: uuid.UUID = Field(title="申报编号")


class SubmitPlan(PlanRequest):
    application_id: uuid.UUID = Field(title="申报编号")


class OpenSubmissionWindow(WindowRequest):
    """开放补报窗口（市总工会）。"""


class Enrol(EnrolmentBatch):
    """批量报送入会。"""


class StartEnrolmentImport(Command):
    """开始入会导入任务（超过同步上限的大文件，由受理服务分块读取）。"""

    job_id: uuid.UUID = Field(title="任务编号")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", title="文件摘要", description="上传文件的 SHA-256")


class CancelEnrolmentImport(Command):
    """取消入会导入任务：已受理的行保留，其余不再读取。"""

    job_id: uuid.UUID = Field(title="任务编号")


class EnrolImportChunk(EnrolmentBatch):
    """导入任务的一块：文件第 start_line 至 next_line 行（不含）之前，由受理服务的导入进程以上传者的身份报送。"""

    job_id: uuid.UUID = Field(title="任务编号")
    start_line: int = Field(ge=0, title="起始行", description="文件中的行位置（从0起），即任务的游标")
    next_line: int = Field(ge=0, title="下一行", description="本块之后的行位置")


# Reports are the events themselves, with the id optional (generated when absent).
ReportFacility = FacilityRequest
ProposeProject = ProjectRequest
ReportFact = FactRequest


class InboundCommand(Command):
    """A command on a district's Kafka inbound topic. The topic proves the sender."""

    command_id: str = Field(min_length=1, max_length=200, title="命令编号", description="幂等键")
    command: str = Field(title="命令", description="submit_application, amend_application, …, enrol")
    simulated: bool = Field(default=False, title="演示数据", description="区市模拟器发出的数据")
    application_id: uuid.UUID | None = Field(default=None, title="申报编号")
    body: dict[str, Any] = Field(title="请求体", description="与对应 HTTP 接口的请求体相同")


# The commands a district may send on its Kafka inbound topic, by name: the body's model, and the
# command it becomes (with the record's application_id where the HTTP route has it in its path).
BODIES: dict[str, type[BaseModel]] = {
    "submit_application": ApplicationRequest,
    "amend_application": AmendRequest,
    "withdraw_application": WithdrawRequest,
    "submit_plan": PlanRequest,
    "amend_plan": PlanAmendmentRequest,
    "report_facility": FacilityRequest,
    "propose_project": ProjectRequest,
    "report_fact": FactRequest,
    "enrol": EnrolmentBatch,
}
COMMANDS: dict[str, type[BaseModel]] = {
    "submit_application": SubmitApplication,
    "amend_application": AmendApplication,
    "withdraw_application": WithdrawApplication,
    "submit_plan": SubmitPlan,
    "amend_plan": AmendPlan,
    "report_facility": ReportFacility,
    "propose_project": ProposeProject,
    "report_fact": ReportFact,
    "enrol": Enrol,
}

NEEDS_APPLICATION = frozenset({"amend_application", "withdraw_application", "submit_plan", "amend_plan"})


def command_of(name: str, body: BaseModel, application_id: uuid.UUID | None = None) -> BaseModel:
    """The command a validated body becomes, with the application it names."""
    command = COMMANDS[name]
    if command is type(body):
        return body
    path = {"application_id": application_id} if name in NEEDS_APPLICATION else {}
    return from_request(command, body, **path)


# --- a reporting department's corrections and withdrawals of its facts (HTTP only: departments
# have no Kafka inbound topic) ------------------------------------------------------------------


class FactCorrectionRequest(Command):
    """更正合规事实：只填写要更正的项，并说明理由。"""

    unit_name: Name | None = Field(default=None, title="单位名称", description="更正后的单位名称")
    kind: ComplianceFactKind | None = Field(default=None, title="事实类型", description="更正后的事实类型")
    occurred_on: date | None = Field(default=None, title="发生日期", description="更正后的发生日期")
    settled_on: date | None = Field(
        default=None,
        title="已整改/结清日期",
        description="更正后的整改完毕或欠款结清日期；写 null 表示尚未结清",
    )
    evidence_ref: ShortText | None = Field(default=None, title="证据编号/文号", description="更正后的文号")
    note: ShortText | None = Field(default=None, title="备注", description="更正后的补充说明")
    reason: ShortText = Field(title="更正理由", description="为什么更正")

    def changes(self) -> dict[str, object]:
        """The fields the department named (a `settled_on` sent as null clears the date; other
        fields sent as null are left as they were)."""
        named = self.model_fields_set - {"reason", "fact_id"}
        return {
            name: getattr(self, name)
            for name in named
            if getattr(self, name) is not None or name == "settled_on"
        }


class FactWithdrawalRequest(Command):
    reason: ShortText = Field(title="撤回理由", description="为什么撤回（如处罚决定被撤销、报送有误）")


class CorrectFact(FactCorrectionRequest):
    """更正合规事实（报送部门）。"""

    fact_id: uuid.UUID = Field(title="事实编号")


class WithdrawFact(FactWithdrawalRequest):
    """撤回合规事实（报送部门）。"""

    fact_id: uuid.UUID = Field(title="事实编号")
