"""The metrics service's commands: the city federation changes a target, or sets the districts'
and group unions' shares of one at once, saying why. The platform's command path
(`huigong_platform.application`) runs them through `handlers.py`."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from huigong_events.forms import Year
from huigong_events.plausible import PlainText
from huigong_events.reference import CITY_CODE
from huigong_platform.application import Command

from .domain.targets import CUMULATIVE_DEADLINE


class TargetChangeRequest(Command):
    area: str = Field(default=CITY_CODE, title="区市或单位", description="370200 为全市目标（默认）")
    year: Year | None = Field(
        default=None,
        title="年度",
        description=f"目标所属年度；不填为至{CUMULATIVE_DEADLINE.year}年底的累计目标",
    )
    value: Decimal = Field(title="新目标值", description="数量为整数；比例为0到1之间的小数（0.6 即 60%）")
    reason: PlainText = Field(title="调整原因", description="调整目标的原因")


class ChangeTarget(TargetChangeRequest):
    metric: str


class TargetShare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str = Field(title="区市或集团工会", description="区市或集团工会的代码或名称，如 370283 或 平度市")
    value: Decimal = Field(title="分解目标值", description="该区市或集团工会承担的目标")


class TargetSharesRequest(Command):
    year: Year | None = Field(
        default=None,
        title="年度",
        description=f"目标所属年度；不填为至{CUMULATIVE_DEADLINE.year}年底的累计目标",
    )
    shares: list[TargetShare] = Field(
        min_length=1, max_length=64, title="分解目标", description="各区市、集团工会的目标；未列出的不变"
    )
    reason: PlainText = Field(title="分解原因", description="如：按各区市职工人数分解全市目标")


class ShareTarget(TargetSharesRequest):
    metric: str
