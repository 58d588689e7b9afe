"""The commands a reporting department sends about a fact it reported: correct it, withdraw it
(each with a reason). Kept apart from commands.py: the data exchange sends them over HTTP only
(departments have no Kafka inbound topic)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from huigong_events.forms import Name, ShortText
from huigong_events.reference import ComplianceFactKind
from huigong_platform.application import Command


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
