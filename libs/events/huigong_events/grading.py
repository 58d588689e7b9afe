"""Events owned by the registry service: the yearly evaluation and grading (绩效评估、分级评定) of
服务职工基地 and 关爱职工公益伙伴, and what a grade brings (整改, 退出).

The city sets the weights of the four dimensions and the grade bands for a year
(EvaluationSchemeSet, aggregate `evaluation-scheme`, one stream per year). Each year a base or
partner is evaluated once (ResourceGraded): 服务规模, 服务效率 and 服务质量 are computed from the
events the registry holds, as of the evaluation date, each figure with the ids of the events it
counts; 社会效应 is entered by the city's staff with its evidence. A grade D orders 整改 with a
deadline (RectificationOrdered); two D grades in consecutive years, or a 整改 still open after its
deadline, propose exit (ExitProposed) to a registrar, who confirms it (ExitProposalConfirmed,
with UnitExited or PartnerExited on the base's or partner's own stream) or dismisses it
(ExitProposalDismissed). The unit's union may answer a grade (GradingStatementFiled).

All but the scheme belong to the evaluated base's or partner's grading stream (aggregate
`grading`, its id the unit's or partner's id)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .base import DomainEvent
from .forms import AreaCode, LongText, Name, Score, ShortText, Year
from .labels import Labelled, relabel

OWNER: Final = "registry"
GRADING: Final = "grading"
SCHEME: Final = "evaluation-scheme"
_TYPE_TITLE: Final = "事件类型"

# A figure's value: a count, a share in per cent or an average, to two decimal places.
FigureValue = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Weight = Annotated[int, Field(ge=0, le=100)]


class EvaluatedKind(Labelled):
    """被评估的服务职工社会资源。"""

    服务职工基地 = "service_base"
    关爱职工公益伙伴 = "welfare_partner"


class Grade(Labelled):
    """评定等级。"""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


relabel(Grade, {Grade.A: "A（优秀）", Grade.B: "B（良好）", Grade.C: "C（合格）", Grade.D: "D（不合格）"})


class Dimension(Labelled):
    """绩效评估的四个方面（方案：服务规模、服务效率、服务质量和社会效应）。"""

    服务规模 = "scale"
    服务效率 = "efficiency"
    服务质量 = "quality"
    社会效应 = "social"


class ExitGround(Labelled):
    """拟退出的依据。"""

    连续两年评定为D = "two_d_grades"
    整改逾期未完成 = "rectification_overdue"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Weights(_Part):
    """四个方面的权重（百分比，合计 100）。"""

    scale: Weight = Field(title="服务规模权重", description="百分比")
    efficiency: Weight = Field(title="服务效率权重", description="百分比")
    quality: Weight = Field(title="服务质量权重", description="百分比")
    social: Weight = Field(title="社会效应权重", description="百分比")

    @model_validator(mode="after")
    def _hundred(self) -> Self:
        if self.scale + self.efficiency + self.quality + self.social != 100:
            raise ValueError("四个方面的权重合计须为 100（the four weights must add up to 100）")
        return self

    def of(self, dimension: Dimension) -> int:
        value: int = getattr(self, dimension.value)
        return value


class GradeBand(_Part):
    """一个等级的最低综合得分。"""

    grade: Grade = Field(title="等级", description="A、B、C 或 D")
    min_score: Score = Field(title="最低得分", description="达到该等级的最低综合得分（0–100）")


def _in_order(bands: list[GradeBand]) -> list[GradeBand]:
    if [band.grade for band in bands] != [Grade.A, Grade.B, Grade.C, Grade.D]:
        raise ValueError("等级划分须依次为 A、B、C、D（bands must be A, B, C, D in order）")
    scores = [band.min_score for band in bands]
    if any(higher <= lower for higher, lower in pairwise(scores)):
        raise ValueError("等级的最低得分须逐级降低（each band's minimum must be below the one above）")
    if scores[-1] != 0:
        raise ValueError("D 级的最低得分须为 0（band D starts at 0）")
    return bands


# The four bands, A to D, each starting below the one above, D at 0.
Bands = Annotated[list[GradeBand], Field(min_length=4, max_length=4), AfterValidator(_in_order)]


class ScaleTargets(_Part):
    """服务规模各项数字的满分值：达到即得满分，不足按比例。"""

    matters: int = Field(ge=1, le=100_000, title="服务人次满分值", description="年度承办服务事项数")
    projects: int = Field(ge=1, le=1000, title="服务项目满分值", description="在库服务项目数")
    facilities: int = Field(ge=1, le=100, title="在用设施满分值", description="登记在用的服务职工基地设施数")


class EvaluationSchemeSet(DomainEvent):
    """评估办法已确定：市总工会确定某一年度评估的权重、等级划分和整改期限（只适用于尚未评估的年度）。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = SCHEME

    type: Literal["EvaluationSchemeSet"] = Field(
        default="EvaluationSchemeSet", title=_TYPE_TITLE, description="评估办法已确定"
    )
    year: Year = Field(title="评估年度", description="适用的评估年度")
    weights: Weights = Field(title="权重", description="服务规模、服务效率、服务质量、社会效应的权重")
    bands: Bands = Field(title="等级划分", description="A、B、C、D 各自的最低综合得分")
    scale_targets: ScaleTargets = Field(title="服务规模满分值", description="服务规模各项数字的满分值")
    rectification_days: int = Field(
        ge=1, le=365, title="整改期限（天）", description="评定为 D 后的整改期限，自评定之日起算"
    )
    reason: ShortText = Field(title="调整理由", description="确定或调整评估办法的理由")
    set_on: date = Field(title="确定日期", description="确定评估办法的日期")


class Figure(_Part):
    """一项评估数字及其来源。"""

    figure: Name = Field(title="数字", description="数字代码，如 matters_handled")
    label: Name = Field(title="名称", description="数字的中文名称")
    value: FigureValue = Field(title="数值", description="计数、百分比或平均值")
    sources: list[UUID] = Field(
        default_factory=list, title="来源事件", description="据以计算的事件编号（服务事项、评价、项目、设施）"
    )


class DimensionResult(_Part):
    """一个方面的得分：由平台数据计算，或由市总工会工作人员依佐证录入。"""

    dimension: Dimension = Field(title="方面", description="服务规模、服务效率、服务质量或社会效应")
    score: Score | None = Field(
        title="得分", description="0–100；无可计算的数据时为空，该方面的权重按比例分配给其他方面"
    )
    figures: list[Figure] = Field(default_factory=list, title="数字", description="计算所据的数字及来源")
    evidence: ShortText | None = Field(default=None, title="佐证", description="录入得分所依据的佐证材料")
    entered_by: Name | None = Field(default=None, title="录入人", description="录入得分的工作人员")


class ResourceGraded(DomainEvent):
    """年度绩效评估已评定：服务职工基地或公益伙伴按四个方面评估并评定等级。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = GRADING

    type: Literal["ResourceGraded"] = Field(
        default="ResourceGraded", title=_TYPE_TITLE, description="年度绩效评估已评定"
    )
    subject_id: UUID = Field(title="被评估单位编号", description="服务职工基地（建设单位编号）或公益伙伴编号")
    kind: EvaluatedKind = Field(title="类型", description="服务职工基地或关爱职工公益伙伴")
    name: Name = Field(title="名称", description="被评估单位的名称")
    area: AreaCode = Field(title="所属区市或单位", description="被评估单位所属区市或单位")
    year: Year = Field(title="评估年度", description="评估的年度")
    evaluated_on: date = Field(title="评估日期", description="评估截至的日期：平台数据按此日计算")
    scheme_version: int = Field(
        ge=0, title="评估办法版本", description="所用评估办法在该年度的版本；0 为默认办法"
    )
    weights: Weights = Field(title="权重", description="所用的权重")
    dimensions: list[DimensionResult] = Field(
        min_length=4, max_length=4, title="各方面得分", description="四个方面的得分、数字及来源"
    )
    score: Score = Field(title="综合得分", description="有得分的方面按权重加权平均")
    grade: Grade = Field(title="等级", description="按评估办法的等级划分评定")
    probation_ended: bool = Field(
        title="试运行期结束", description="新进入的基地或伙伴首次评定为 C 及以上，试运行期结束"
    )


class RectificationOrdered(DomainEvent):
    """已责令整改：评定为 D，限期整改。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = GRADING

    type: Literal["RectificationOrdered"] = Field(
        default="RectificationOrdered", title=_TYPE_TITLE, description="已责令整改"
    )
    subject_id: UUID = Field(title="被评估单位编号", description="整改的基地或伙伴")
    year: Year = Field(title="评估年度", description="评定为 D 的年度")
    ordered_on: date = Field(title="责令日期", description="责令整改的日期")
    deadline: date = Field(title="整改期限", description="整改完成的最后一日")


class RectificationCompleted(DomainEvent):
    """整改已完成：市总工会或登记人员依佐证确认整改完成。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = GRADING

    type: Literal["RectificationCompleted"] = Field(
        default="RectificationCompleted", title=_TYPE_TITLE, description="整改已完成"
    )
    subject_id: UUID = Field(title="被评估单位编号", description="完成整改的基地或伙伴")
    year: Year = Field(title="评估年度", description="所整改的评定年度")
    evidence: ShortText = Field(title="整改佐证", description="整改完成的佐证材料")
    completed_on: date = Field(title="完成日期", description="确认整改完成的日期")


class ExitProposed(DomainEvent):
    """已提请退出：连续两年评定为 D，或整改逾期未完成，提请登记人员决定退出。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = GRADING

    type: Literal["ExitProposed"] = Field(default="ExitProposed", title=_TYPE_TITLE, description="已提请退出")
    subject_id: UUID = Field(title="被评估单位编号", description="拟退出的基地或伙伴")
    ground: ExitGround = Field(title="依据", description="连续两年评定为 D，或整改逾期未完成")
    reason: ShortText = Field(title="理由", description="提请退出的理由")
    proposed_on: date = Field(title="提请日期", description="提请退出的日期")


class ExitProposalConfirmed(DomainEvent):
    """已决定退出：登记人员确认退出（基地或伙伴的退出记在其自身的流上）。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = GRADING

    type: Literal["ExitProposalConfirmed"] = Field(
        default="ExitProposalConfirmed", title=_TYPE_TITLE, description="已决定退出"
    )
    subject_id: UUID = Field(title="被评估单位编号", description="退出的基地或伙伴")
    reason: ShortText = Field(title="理由", description="决定退出的理由")
    confirmed_on: date = Field(title="决定日期", description="决定退出的日期")


class ExitProposalDismissed(DomainEvent):
    """不予退出：登记人员驳回退出提请，说明理由。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = GRADING

    type: Literal["ExitProposalDismissed"] = Field(
        default="ExitProposalDismissed", title=_TYPE_TITLE, description="不予退出"
    )
    subject_id: UUID = Field(title="被评估单位编号", description="保留的基地或伙伴")
    reason: ShortText = Field(title="理由", description="不予退出的理由")
    dismissed_on: date = Field(title="决定日期", description="驳回提请的日期")


class GradingStatementFiled(DomainEvent):
    """单位工会已提交说明：对某一年度的评定结果（或整改、退出提请）提出意见。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = GRADING

    type: Literal["GradingStatementFiled"] = Field(
        default="GradingStatementFiled", title=_TYPE_TITLE, description="单位工会已提交说明"
    )
    subject_id: UUID = Field(title="被评估单位编号", description="说明所涉的基地或伙伴")
    year: Year = Field(title="评估年度", description="说明所针对的评定年度")
    statement: LongText = Field(title="说明内容", description="单位工会的说明和意见")
    filed_on: date = Field(title="提交日期", description="提交说明的日期")
