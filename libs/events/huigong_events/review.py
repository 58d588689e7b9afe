"""Events owned by the review service (市总工会 and its 职工服务工作领导小组): screening against
the 不予受理 rules, acceptance, scoring on the five dimensions, and the decision to build.

All events belong to the aggregate "review", whose identifier is the application id.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import DomainEvent
from .forms import (
    CreditCode,
    Name,
    ReportingDepartment,
    Score,
    ShortText,
    SubmitterCode,
)
from .labels import Labelled
from .reference import (
    REVIEW_DIMENSIONS,
    ComplianceFactKind,
    ExclusionRule,
    Programme,
)

OWNER: Final = "review"
AGGREGATE: Final = "review"
_TYPE_TITLE: Final = "事件类型"


class EvidenceSource(Labelled):
    """不予受理情形的证据来源。"""

    申报声明 = "declared"  # declared by the applicant in the form
    数据交换 = "data_exchange"  # a ComplianceFactReported from another department
    评审认定 = "reviewer"  # a reviewer's judgement (the C* rules, or what a reviewer found)


class FindingStage(Labelled):
    """发现不予受理情形的阶段。"""

    受理前 = "before_acceptance"
    受理后 = "after_acceptance"
    建设中 = "during_construction"
    认定后 = "after_certification"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExclusionEvidence(_Part):
    """不予受理情形的证据：来自申报表声明、部门数据交换或评审认定。"""

    source: EvidenceSource = Field(
        title="证据来源", description="申报声明（declared）、数据交换（data_exchange）或评审认定（reviewer）"
    )
    fact_id: UUID | None = Field(
        default=None, title="事实编号", description="数据交换报送的合规事实编号（数据交换来源必填）"
    )
    fact_kind: ComplianceFactKind | None = Field(
        default=None, title="事实类型", description="声明或报送的事实类型（申报声明、数据交换来源必填）"
    )
    reported_by: ReportingDepartment | None = Field(
        default=None, title="报送部门", description="报送该事实的部门（数据交换来源必填）"
    )
    reported_on: date | None = Field(
        default=None, title="报送日期", description="部门报送的日期（数据交换来源必填）"
    )
    occurred_on: date | None = Field(default=None, title="发生日期", description="事实发生的日期")
    reason: ShortText | None = Field(
        default=None, title="认定理由", description="评审专家认定该情形的理由（评审认定来源必填）"
    )

    @model_validator(mode="after")
    def _complete_for_source(self) -> Self:
        missing: list[str] = []
        if self.source is EvidenceSource.数据交换:
            required = {
                "fact_id": self.fact_id,
                "fact_kind": self.fact_kind,
                "reported_by": self.reported_by,
                "reported_on": self.reported_on,
            }
            missing = [name for name, value in required.items() if value is None]
        elif self.source is EvidenceSource.申报声明 and self.fact_kind is None:
            missing = ["fact_kind"]
        elif self.source is EvidenceSource.评审认定 and self.reason is None:
            missing = ["reason"]
        if missing:
            raise ValueError(
                f"证据来源为 {self.source.value} 时缺少：{', '.join(missing)}（missing evidence）"
            )
        return self


class ExclusionFound(DomainEvent):
    """发现不予受理情形：在受理前、受理后、建设中或认定后发现一项不予受理情形。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ExclusionFound"] = Field(
        default="ExclusionFound", title=_TYPE_TITLE, description="发现不予受理情形"
    )
    finding_id: UUID = Field(title="发现编号", description="该项发现的唯一标识")
    application_id: UUID = Field(title="申报编号", description="涉及的申报")
    credit_code: CreditCode | None = Field(
        default=None,
        title="统一社会信用代码",
        description="涉及单位的统一社会信用代码（企业事实必有；评审认定可为空）",
    )
    rule: ExclusionRule = Field(title="不予受理情形", description="适用的不予受理情形代码（E1–E7、C1–C5）")
    rule_text: ShortText = Field(
        title="情形表述", description="发现时该情形的原文表述（保存原文，便于日后审计）"
    )
    stage: FindingStage = Field(title="发现阶段", description="受理前、受理后、建设中或认定后")
    evidence: ExclusionEvidence = Field(title="证据", description="该项发现的证据来源及内容")

    @model_validator(mode="after")
    def _fact_kind_matches_rule(self) -> Self:
        kind = self.evidence.fact_kind
        if kind is not None and kind.rule is not self.rule:
            raise ValueError(
                f"事实类型 {kind.value} 对应情形 {kind.rule.value}，与 {self.rule.value} 不符"
                "（fact kind does not match the rule）"
            )
        return self


class ExclusionCleared(DomainEvent):
    """不予受理情形已排除：此前的一项发现经核实不成立或已整改完毕。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ExclusionCleared"] = Field(
        default="ExclusionCleared", title=_TYPE_TITLE, description="不予受理情形已排除"
    )
    application_id: UUID = Field(title="申报编号", description="涉及的申报")
    finding_id: UUID = Field(title="发现编号", description="被排除的发现")
    reason: ShortText = Field(title="排除理由", description="排除该项发现的理由")


class ApplicationAccepted(DomainEvent):
    """申报已受理：未发现不予受理情形，申报进入评审。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ApplicationAccepted"] = Field(
        default="ApplicationAccepted", title=_TYPE_TITLE, description="申报已受理"
    )
    application_id: UUID = Field(title="申报编号", description="被受理的申报")
    programme: Programme = Field(title="工作任务", description="申报的工作任务")
    submitter: SubmitterCode = Field(title="申报区市或单位", description="报送申报的区市或单位")


class RejectionGround(_Part):
    """不予受理的一项依据：发现编号、情形代码及表述。"""

    finding_id: UUID = Field(title="发现编号", description="作为依据的发现")
    rule: ExclusionRule = Field(title="不予受理情形", description="情形代码")
    rule_text: ShortText = Field(title="情形表述", description="情形原文表述")


class ApplicationRejected(DomainEvent):
    """申报不予受理：存在一项或多项不予受理情形。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ApplicationRejected"] = Field(
        default="ApplicationRejected", title=_TYPE_TITLE, description="申报不予受理"
    )
    application_id: UUID = Field(title="申报编号", description="不予受理的申报")
    findings: list[RejectionGround] = Field(
        min_length=1, title="不予受理依据", description="据以不予受理的各项发现"
    )


class DimensionScore(_Part):
    """一个评审方面的得分与评语。"""

    score: Score = Field(title="得分", description="该方面得分（0–100）")
    comment: ShortText | None = Field(default=None, title="评语", description="评审专家的评语")


class ReviewScored(DomainEvent):
    """评审已打分：一名评审专家按总体思路、政策合规性、建设重点、资金投入、体制机制创新打分。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ReviewScored"] = Field(default="ReviewScored", title=_TYPE_TITLE, description="评审已打分")
    application_id: UUID = Field(title="申报编号", description="被评审的申报")
    reviewer: Name = Field(title="评审专家", description="评审专家的账号标识")
    scores: dict[str, DimensionScore] = Field(
        title="各方面得分",
        description="按评审方面（" + "、".join(REVIEW_DIMENSIONS) + "）给出的得分和评语，五项齐全",
        json_schema_extra={"propertyNames": {"enum": list(REVIEW_DIMENSIONS)}},
    )
    weighted_total: Score = Field(title="加权总分", description="按各方面权重计算的总分（0–100）")

    @field_validator("scores")
    @classmethod
    def _all_dimensions(cls, scores: dict[str, DimensionScore]) -> dict[str, DimensionScore]:
        if set(scores) != set(REVIEW_DIMENSIONS):
            raise ValueError(
                "评审方面须恰为：" + "、".join(REVIEW_DIMENSIONS) + "（exactly the five dimensions）"
            )
        return {dimension: scores[dimension] for dimension in REVIEW_DIMENSIONS}


class ConstructionUnitSelected(DomainEvent):
    """确定建设单位：市总工会从已受理的申报中确定建设单位，该单位随后报送三年规划和首个年度实施方案。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ConstructionUnitSelected"] = Field(
        default="ConstructionUnitSelected", title=_TYPE_TITLE, description="确定建设单位"
    )
    application_id: UUID = Field(title="申报编号", description="被确定为建设单位的申报")
    unit_name: Name = Field(title="建设单位", description="确定的建设单位名称")
    credit_code: CreditCode | None = Field(
        default=None, title="统一社会信用代码", description="建设单位的统一社会信用代码"
    )
    programme: Programme = Field(title="工作任务", description="申报的工作任务")
    submitter: SubmitterCode = Field(title="申报区市或单位", description="报送申报的区市或单位")
    note: ShortText | None = Field(default=None, title="说明", description="确定时的说明，如有")


class ConstructionUnitNotSelected(DomainEvent):
    """未确定为建设单位：已受理的申报未被确定为建设单位，附理由（告知申报单位）。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ConstructionUnitNotSelected"] = Field(
        default="ConstructionUnitNotSelected", title=_TYPE_TITLE, description="未确定为建设单位"
    )
    application_id: UUID = Field(title="申报编号", description="未被确定为建设单位的申报")
    reasons: list[ShortText] = Field(min_length=1, title="未确定理由", description="未确定为建设单位的理由")


class ConstructionApproved(DomainEvent):
    """批准建设：领导小组评审建设方案后，按“高标准、少而精、宁缺毋滥”批准该单位开展三年建设。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE
    # v2 adds `flag_note`: the chair's note on a flagged score an approval went over.
    schema_version: ClassVar[int] = 2

    type: Literal["ConstructionApproved"] = Field(
        default="ConstructionApproved", title=_TYPE_TITLE, description="批准建设"
    )
    application_id: UUID = Field(title="申报编号", description="被批准建设的申报")
    unit_name: Name = Field(title="建设单位", description="批准建设的单位名称")
    credit_code: CreditCode | None = Field(
        default=None, title="统一社会信用代码", description="建设单位的统一社会信用代码"
    )
    programme: Programme = Field(title="工作任务", description="批准建设的工作任务")
    submitter: SubmitterCode = Field(title="申报区市或单位", description="报送申报的区市或单位")
    period_start: date = Field(title="建设期开始日期", description="三年建设期的开始日期")
    period_end: date = Field(title="建设期结束日期", description="三年建设期的结束日期")
    score_average: Score = Field(title="评审平均分", description="各评审专家加权总分的平均值")
    flag_note: ShortText | None = Field(
        default=None,
        title="负责人对偏离评分的说明",
        description="批准时有评审专家评分偏离其他专家过多（被标记）的，负责人对此的书面说明；未标记时为空",
    )

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.period_end <= self.period_start:
            raise ValueError("建设期结束日期须晚于开始日期（period_end must be after period_start）")
        return self


class ConstructionDeclined(DomainEvent):
    """不予批准建设：已受理的申报经评审未获批准。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ConstructionDeclined"] = Field(
        default="ConstructionDeclined", title=_TYPE_TITLE, description="不予批准建设"
    )
    application_id: UUID = Field(title="申报编号", description="未获批准的申报")
    reasons: list[ShortText] = Field(min_length=1, title="未批准理由", description="未获批准的理由")
    score_average: Score | None = Field(
        default=None, title="评审平均分", description="各评审专家加权总分的平均值；未打分时为空"
    )
