"""Events owned by the metrics service: changes to the yearly targets it tracks."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field, StringConstraints

from .base import DomainEvent
from .forms import AreaCode, ShortText, Year
from .labels import describe_pattern

OWNER: Final = "metrics"

MetricCode = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=64,
        pattern=describe_pattern(
            r"^[a-z][a-z0-9_.]*$",
            "应为以小写字母开头的指标代码（小写字母、数字、_ 和 .），如 shared_workers_homes",
            "a metric code of lower-case letters, digits, _ and . starting with a letter, like shared_workers_homes",
        ),
    ),
]
"""A metric's code as the metrics service defines it, e.g. ``members_enrolled``."""

TargetValue = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=4)]
"""A count (e.g. 400000) or a share (e.g. 0.6 for 60%)."""


class TargetChanged(DomainEvent):
    """目标已调整：某指标在某区市（或全市）某年度的目标值被调整。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "target"

    type: Literal["TargetChanged"] = Field(
        default="TargetChanged", title="事件类型", description="目标已调整"
    )
    metric: MetricCode = Field(title="指标代码", description="指标的代码（由指标服务定义）")
    area: AreaCode = Field(title="所属区市或单位", description="目标所属区市或单位；全市目标为 370200")
    year: Year | None = Field(
        default=None, title="年度", description="目标所属年度；为空时为至2025年底的累计目标"
    )
    old_value: TargetValue | None = Field(
        default=None, title="原目标值", description="调整前的目标值；首次设定时为空"
    )
    new_value: TargetValue = Field(title="新目标值", description="调整后的目标值（数量或比例）")
    reason: ShortText = Field(title="调整原因", description="调整目标的原因")
