"""Review's commands: the request bodies a reviewer or the chair sends, and the typed commands
they become with the application (and finding) their route names. The platform's command path
(`huigong_platform.application`) runs them through `handlers.py`."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from pydantic import Field

from huigong_events.labels import Labelled
from huigong_events.reference import REVIEW_DIMENSIONS, ExclusionRule
from huigong_platform.application import Command


class FindingRequest(Command):
    rule: ExclusionRule = Field(
        title="不予受理情形",
        description="服务中心类情形 C1–C5（评审判断）；E1–E7 由申报声明或部门数据交换确认，不能由评审专家认定",
    )
    reason: str = Field(max_length=2000, title="认定理由", description="至少 10 个字符，写明依据")


class ClearanceRequest(Command):
    reason: str = Field(max_length=2000, title="排除理由", description="该发现不成立或已整改的理由")


class DimensionInput(Command):
    score: Decimal = Field(title="得分", description="0 至满分（默认 100），最多两位小数")
    comment: str = Field(max_length=2000, title="评语", description="2 至 500 个字符")


class ScoreRequest(Command):
    scores: dict[str, DimensionInput] = Field(
        title="各方面得分",
        description="五个评审方面（" + "、".join(REVIEW_DIMENSIONS) + "）各一项得分和评语",
        json_schema_extra={"propertyNames": {"enum": list(REVIEW_DIMENSIONS)}},
    )


class Decision(Labelled):
    """The chair's decision on construction."""

    批准建设 = "approve"
    不予批准 = "decline"


class Selection(Labelled):
    """The city's selection of the construction units (确定建设单位)."""

    确定为建设单位 = "select"
    未确定为建设单位 = "not_select"


class DecisionRequest(Command):
    decision: Decision = Field(title="决定", description="approve 批准建设；decline 不予批准")
    period_start: date | None = Field(
        default=None, title="建设期开始日期", description="批准建设时必填；建设期三年，至第三个周年日前一天"
    )
    reasons: list[str] = Field(
        default_factory=list, max_length=20, title="未批准理由", description="不予批准时至少一条"
    )
    flag_note: str | None = Field(
        default=None,
        max_length=2000,
        title="对偏离评分的说明",
        description="有评审专家评分被标记（偏离其他专家过多）时，批准建设须写明说明（至少 10 个字符）",
    )


class SelectionRequest(Command):
    decision: Selection = Field(
        title="确定结果", description="select 确定为建设单位；not_select 未确定为建设单位"
    )
    note: str | None = Field(
        default=None, max_length=2000, title="说明", description="确定为建设单位时的说明，可选"
    )
    reasons: list[str] = Field(
        default_factory=list,
        max_length=20,
        title="未确定理由",
        description="未确定为建设单位时至少一条（每条至少 4 个字符），申报单位可见",
    )


class RecordFinding(FindingRequest):
    """评审专家认定服务中心类不予受理情形（C1–C5）。"""

    application_id: uuid.UUID


class ClearFinding(ClearanceRequest):
    """排除一项不予受理发现。"""

    application_id: uuid.UUID
    finding_id: uuid.UUID


class Score(ScoreRequest):
    """评审专家打分。"""

    application_id: uuid.UUID


class Decide(DecisionRequest):
    """领导小组负责人作出建设决定。"""

    application_id: uuid.UUID


class Select(SelectionRequest):
    """领导小组负责人确定（或不确定）建设单位。"""

    application_id: uuid.UUID
