"""The commands of a revocation case (撤销审查): the unit's union files its statement (申诉), a
registrar confirms the revocation (撤销) or dismisses the case (不予撤销), each with its text."""

from __future__ import annotations

import uuid

from pydantic import Field

from huigong_events.forms import LongText, ShortText
from huigong_platform.application import Command


class StatementRequest(Command):
    statement: LongText = Field(title="申诉内容", description="单位工会的陈述和申辩（可附证明材料的编号）")


class DecisionRequest(Command):
    reason: ShortText = Field(title="理由", description="决定撤销或不予撤销的理由")


class FileStatement(StatementRequest):
    """单位工会提交申诉。"""

    unit_id: uuid.UUID = Field(title="建设单位编号")


class ConfirmRevocation(DecisionRequest):
    """登记人员决定撤销称号。"""

    unit_id: uuid.UUID = Field(title="建设单位编号")


class DismissRevocation(DecisionRequest):
    """登记人员决定不予撤销，称号恢复。"""

    unit_id: uuid.UUID = Field(title="建设单位编号")
