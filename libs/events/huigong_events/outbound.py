"""What a district hears back: the notices on its outbound topic (`huigong.outbound.<code>`) and
its HTTP feed, one model per notice type.

A notice is not a fact of any service (those stay on the event topics, which districts cannot
read): it is what the platform tells one district about one of its own records, restated for
the district's systems. So it carries only what the district may see: rules and reasons, never
a reviewer's identity, score or comment, never a worker's ID number, name or phone.

On Kafka a notice travels like every event, in CloudEvents binary mode: `ce_type` is the notice
type, `ce_subject` and the record key are the district's record id (an application, a unit, an
inbound command), `ce_sequence` is the notice's place in the district's feed (the HTTP feed's
cursor), and the value is the notice as JSON.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .forms import ServiceField, SubmitterCode
from .matters import HandlerKind
from .reference import ExclusionRule, FacilityKind, Programme
from .review import EvidenceSource, FindingStage

CE_SOURCE: Final = "huigong/outbound"


class Notice(BaseModel):
    """Common to every notice: whose it is, which record it is about, and when it happened."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: ClassVar[int] = 1
    record_kind: ClassVar[str]

    district: SubmitterCode = Field(title="区市或单位", description="收到通知的区市或集团工会")
    record_id: str = Field(
        min_length=1,
        max_length=200,
        title="记录编号",
        description="该区市自己的记录编号（申报、单位、设施、服务项目、服务事项、报送批次或入站命令），即 Kafka 记录的键",
    )
    occurred_at: datetime = Field(title="发生时间", description="所通知的事实的业务时间")

    @classmethod
    def notice_type(cls) -> str:
        return cls.__name__


class ApplicationReceivedNotice(Notice):
    """申报已收到: the 受理编号 under which the district follows its application."""

    record_kind: ClassVar[str] = "application"

    application_id: UUID = Field(title="申报编号", description="申报的唯一标识")
    receipt_no: str = Field(title="受理编号", description="申报的受理编号")
    year: int = Field(title="年度", description="申报年度")
    programme: Programme = Field(title="工作任务", description="申报的工作任务")


class ApplicationAcceptedNotice(Notice):
    """已受理."""

    record_kind: ClassVar[str] = "application"

    application_id: UUID = Field(title="申报编号", description="被受理的申报")


class RejectionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: ExclusionRule = Field(title="不予受理情形", description="情形代码（E1–E7、C1–C5）")
    rule_text: str = Field(title="情形表述", description="情形原文表述")


class ApplicationRejectedNotice(Notice):
    """不予受理, with each rule that applied."""

    record_kind: ClassVar[str] = "application"

    application_id: UUID = Field(title="申报编号", description="不予受理的申报")
    rules: list[RejectionRule] = Field(min_length=1, title="不予受理情形", description="适用的情形及其表述")


class Decision(StrEnum):
    SELECTED = "selected"
    NOT_SELECTED = "not_selected"
    APPROVED = "approved"
    DECLINED = "declined"


DECISION_LABELS: Final[dict[Decision, str]] = {
    Decision.SELECTED: "已确定为建设单位",
    Decision.NOT_SELECTED: "未确定为建设单位",
    Decision.APPROVED: "批准建设",
    Decision.DECLINED: "不予批准",
}


class ApplicationDecidedNotice(Notice):
    """确定建设单位 and 批准建设: the decision and its reasons. Review's confidentiality rules
    hold here too: no reviewer, no score (not even the average), no comment."""

    record_kind: ClassVar[str] = "application"

    application_id: UUID = Field(title="申报编号", description="所决定的申报")
    decision: Decision = Field(title="决定", description="确定、未确定、批准或不予批准")
    decision_label: str = Field(title="决定（中文）", description="决定的中文表述")
    reasons: list[str] = Field(default_factory=list, title="理由", description="未确定或不予批准的理由")
    unit_name: str | None = Field(default=None, title="建设单位", description="确定或批准的建设单位名称")
    period_start: date | None = Field(
        default=None, title="建设期开始日期", description="批准建设时的建设期开始日期"
    )
    period_end: date | None = Field(
        default=None, title="建设期结束日期", description="批准建设时的建设期结束日期"
    )


class UnitStatus(StrEnum):
    CERTIFIED = "certified"
    REVOKED = "revoked"
    EXITED = "exited"


class UnitStatusNotice(Notice):
    """认定、撤销、退出 of one of the district's units, with the certificate number."""

    record_kind: ClassVar[str] = "unit"

    unit_id: UUID = Field(title="建设单位编号", description="单位的唯一标识")
    status: UnitStatus = Field(title="状态", description="认定、撤销或退出")
    title: str | None = Field(default=None, title="称号", description="认定授予的称号")
    certificate_no: str | None = Field(default=None, title="证书编号", description="认定或被撤销的证书编号")
    on: date = Field(title="日期", description="认定、撤销或退出的日期")
    valid_until: date | None = Field(
        default=None, title="有效期至", description="称号有效期的最后一日（认定时）"
    )
    reason: str | None = Field(default=None, title="原因", description="撤销或退出的原因")


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(title="字段", description="出错的字段或列")
    zh: str = Field(title="中文说明", description="错误的中文说明")
    en: str = Field(title="英文说明", description="错误的英文说明")


class InboundCommandRefusedNotice(Notice):
    """An inbound command that was dead-lettered: the reason and field errors, with personal
    fields masked. `record_id` is the command id when the record had a readable one, else the
    record's position on the inbound topic. (Refused rows of an enrolment batch are told in the
    batch's EnrolmentBatchNotice instead.)"""

    record_kind: ClassVar[str] = "inbound-command"

    command: str | None = Field(default=None, title="命令", description="命令名称，如可读")
    reason: str = Field(title="原因", description="未能受理的原因")
    errors: list[FieldProblem] = Field(default_factory=list, title="字段错误", description="逐字段的错误说明")
    offset: int = Field(title="入站位置", description="该命令在本区市入站主题上的位置（offset）")


class RefusedRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    row: int = Field(ge=1, title="行号", description="报送表中的行号")
    errors: list[FieldProblem] = Field(
        min_length=1, title="字段错误", description="该行逐列的错误（不含所填内容）"
    )


class EnrolmentBatchNotice(Notice):
    """One enrolment batch (an upload or an inbound `enrol` command): how many rows were taken and
    each refused row by its number and reason. Never a worker's ID number, name or phone: the
    district keeps its own sheet and finds the rows by number."""

    record_kind: ClassVar[str] = "enrolment-batch"

    batch_id: UUID = Field(title="批次编号", description="报送批次的唯一标识")
    rows: int = Field(ge=0, title="行数", description="本批的行数")
    accepted: int = Field(ge=0, title="受理行数", description="受理（将入会）的行数")
    refused: list[RefusedRow] = Field(
        default_factory=list, title="被拒绝的行", description="被拒绝的行及其原因"
    )


class EnrolmentOutcomeNotice(Notice):
    """What the registry made of an enrolment batch's taken rows, told once it has decided every
    one: intake takes a row when it is well formed, but only the registry knows whether the
    worker is a new member (counted in the targets) or already one, reported before by this or
    another federation (recorded, not counted again). Rows by their number only."""

    record_kind: ClassVar[str] = "enrolment-batch"

    batch_id: UUID = Field(title="批次编号", description="报送批次的唯一标识")
    accepted: int = Field(ge=1, title="受理行数", description="本批受理的行数（均已由登记服务处理）")
    enrolled: list[int] = Field(
        default_factory=list, title="新入会的行", description="新入会并计入目标的行号（升序）"
    )
    already_members: list[int] = Field(
        default_factory=list,
        title="已是会员的行",
        description="劳动者此前已由本单位或其他区市、集团工会报送入会的行号（升序）：予以记录，不重复计入目标",
    )


class FindingNotice(Notice):
    """不予受理情形 found about one of the district's applications, as the applicant may see it in
    the dossier: the rule, its wording, the stage and the stated reason. Never who found it, nor
    the department's records or the credit code behind a reported fact."""

    record_kind: ClassVar[str] = "application"

    application_id: UUID = Field(title="申报编号", description="涉及的申报")
    finding_id: UUID = Field(title="发现编号", description="该项发现的唯一标识")
    rule: ExclusionRule = Field(title="不予受理情形", description="情形代码（E1–E7、C1–C5）")
    rule_text: str = Field(title="情形表述", description="情形原文表述")
    stage: FindingStage = Field(title="发现阶段", description="受理前、受理后、建设中或认定后")
    source: EvidenceSource = Field(title="证据来源", description="申报声明、数据交换或评审认定")
    reason: str | None = Field(
        default=None, title="认定理由", description="评审认定该情形的理由（评审认定时）"
    )


class FindingClearedNotice(Notice):
    """A finding about one of the district's applications was cleared (排除), with the reason."""

    record_kind: ClassVar[str] = "application"

    application_id: UUID = Field(title="申报编号", description="涉及的申报")
    finding_id: UUID = Field(title="发现编号", description="被排除的发现")
    reason: str = Field(title="排除理由", description="排除该项发现的理由")


class PlanKind(StrEnum):
    THREE_YEAR = "three_year"
    ANNUAL = "annual"


class PlanReceivedNotice(Notice):
    """建设方案已收到: a three-year or annual plan of the district's application, first sent or
    replaced (with the reason)."""

    record_kind: ClassVar[str] = "application"

    application_id: UUID = Field(title="申报编号", description="方案所属的申报")
    plan_kind: PlanKind = Field(
        title="方案类型", description="三年规划（three_year）或年度实施方案（annual）"
    )
    plan_year: int | None = Field(default=None, title="实施年度", description="年度实施方案所属年度")
    amended: bool = Field(title="是否修改", description="替换已报送的方案时为 true")
    reason: str | None = Field(default=None, title="修改理由", description="修改方案的理由（修改时）")


class FacilityStatus(StrEnum):
    OPENED = "opened"
    CLOSED = "closed"


class FacilityNotice(Notice):
    """A facility of the district's area entered in the registry (建成登记, from the district's
    report when there was one) or closed."""

    record_kind: ClassVar[str] = "facility"

    facility_id: UUID = Field(title="设施编号", description="登记的设施")
    status: FacilityStatus = Field(title="状态", description="已登记建成（opened）或已关闭（closed）")
    report_id: UUID | None = Field(default=None, title="报送编号", description="据以登记的设施报送，如有")
    kind: FacilityKind | None = Field(default=None, title="设施类型", description="设施类型（登记时）")
    name: str | None = Field(default=None, title="名称", description="设施名称（登记时）")
    on: date = Field(title="日期", description="建成或关闭的日期")
    reason: str | None = Field(default=None, title="关闭原因", description="设施关闭的原因（关闭时）")


class ServiceProjectListedNotice(Notice):
    """A service project of the district's area listed in the 服务项目库 (from its proposal when
    there was one)."""

    record_kind: ClassVar[str] = "service-project"

    project_id: UUID = Field(title="项目编号", description="入库的服务项目")
    proposal_id: UUID | None = Field(default=None, title="推荐编号", description="据以入库的项目推荐，如有")
    name: str = Field(title="项目名称", description="服务职工项目名称")
    field: ServiceField = Field(title="服务领域", description="项目所属的服务领域")
    listed_on: date = Field(title="入库日期", description="列入项目库的日期")


class SuspensionStatus(StrEnum):
    SUSPENDED = "suspended"
    RESTORED = "restored"


class CertificationSuspensionNotice(Notice):
    """The title of one of the district's units suspended while a revocation case is open (the rule
    found and the last day for the unit's statement), or restored when the case closes without
    revocation (a revocation is a UnitStatusNotice)."""

    record_kind: ClassVar[str] = "unit"

    unit_id: UUID = Field(title="建设单位编号", description="单位的唯一标识")
    status: SuspensionStatus = Field(title="状态", description="已暂停（suspended）或已恢复（restored）")
    case_id: UUID = Field(title="撤销审查编号", description="撤销审查案件的编号")
    certificate_no: str = Field(title="证书编号", description="暂停或恢复的证书编号")
    on: date = Field(title="日期", description="暂停或恢复的日期")
    rule: ExclusionRule | None = Field(
        default=None, title="不予受理情形", description="据以暂停的情形（暂停时）"
    )
    rule_text: str | None = Field(default=None, title="情形表述", description="该情形的原文表述（暂停时）")
    statement_due: date | None = Field(
        default=None, title="申诉截止日期", description="单位工会可提交申诉的最后一日（暂停时）"
    )
    reason: str | None = Field(
        default=None, title="恢复理由", description="不予撤销或排除发现的理由（恢复时）"
    )


class MatterTransferredNotice(Notice):
    """A workers' service matter transferred to a service centre or base of the district's area:
    who sent it, to which of its units, and why. The worker's name, phone and request stay sealed
    in the registry."""

    record_kind: ClassVar[str] = "matter"

    matter_id: UUID = Field(title="服务事项编号", description="转办的服务事项")
    from_name: str = Field(title="转出单位名称", description="转出事项的承办单位")
    from_area: str = Field(title="转出单位所属区市", description="转出单位所在区市或单位代码")
    to_unit: UUID = Field(
        title="接收单位", description="接收事项的职工服务中心或服务职工基地（登记单位编号）"
    )
    to_name: str = Field(title="接收单位名称", description="接收单位的名称")
    to_kind: HandlerKind = Field(title="接收单位类型", description="职工服务中心或服务职工基地")
    reason: str = Field(title="转办原因", description="转办的原因")
    on: date = Field(title="转办日期", description="转办的日期")


NOTICE_TYPES: Final[dict[str, type[Notice]]] = {
    cls.notice_type(): cls
    for cls in (
        ApplicationReceivedNotice,
        ApplicationAcceptedNotice,
        ApplicationRejectedNotice,
        ApplicationDecidedNotice,
        UnitStatusNotice,
        EnrolmentBatchNotice,
        EnrolmentOutcomeNotice,
        InboundCommandRefusedNotice,
        FindingNotice,
        FindingClearedNotice,
        PlanReceivedNotice,
        FacilityNotice,
        ServiceProjectListedNotice,
        CertificationSuspensionNotice,
        MatterTransferredNotice,
    )
}
