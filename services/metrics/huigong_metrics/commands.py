"""The metrics service's one command: the city federation changes a target, saying why. The
platform's command path (`huigong_platform.application`) runs it through `handlers.py`."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

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
