"""Events owned by the intake service about a compliance fact after it was reported: the reporting
department corrects it or withdraws it, with a reason. Both belong to the fact's own stream
(aggregate `compliance-fact`, the fact's id), so a corrected fact keeps its identity and its
history: the first report, then each correction in order, then perhaps its withdrawal.

The unit (credit code), the reporting department and the report's date never change by a
correction: a fact about another enterprise or from another department is another fact (withdraw
this one, report that one)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from .base import DomainEvent
from .forms import CreditCode, Name, ShortText
from .reference import ComplianceFactKind

OWNER: Final = "intake"
AGGREGATE: Final = "compliance-fact"
_TYPE_TITLE: Final = "事件类型"


class ComplianceFactCorrected(DomainEvent):
    """合规事实已更正：报送部门更正此前报送的事实（类型、日期、文号等），并说明理由。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ComplianceFactCorrected"] = Field(
        default="ComplianceFactCorrected", title=_TYPE_TITLE, description="合规事实已更正"
    )
    fact_id: UUID = Field(title="事实编号", description="被更正的合规事实（编号不变）")
    credit_code: CreditCode = Field(
        title="统一社会信用代码", description="涉及单位的统一社会信用代码（与原报送相同，不可更正）"
    )
    unit_name: Name = Field(title="单位名称", description="更正后的单位名称")
    kind: ComplianceFactKind = Field(title="事实类型", description="更正后的事实类型")
    occurred_on: date = Field(title="发生日期", description="更正后的发生日期")
    settled_on: date | None = Field(
        default=None, title="已整改/结清日期", description="更正后的整改完毕或欠款结清日期；未结清时为空"
    )
    evidence_ref: ShortText = Field(title="证据编号/文号", description="更正后的证据编号或文号")
    note: ShortText | None = Field(default=None, title="备注", description="报送部门的补充说明")
    reason: ShortText = Field(title="更正理由", description="报送部门更正该事实的理由")
    corrected_on: date = Field(title="更正日期", description="报送部门更正的日期")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.settled_on and self.settled_on < self.occurred_on:
            raise ValueError("整改/结清日期早于发生日期（settled_on before occurred_on）")
        if self.corrected_on < self.occurred_on:
            raise ValueError("更正日期早于发生日期（corrected_on before occurred_on）")
        return self


class ComplianceFactWithdrawn(DomainEvent):
    """合规事实已撤回：报送部门撤回此前报送的事实（如处罚决定被撤销、报送有误），并说明理由。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["ComplianceFactWithdrawn"] = Field(
        default="ComplianceFactWithdrawn", title=_TYPE_TITLE, description="合规事实已撤回"
    )
    fact_id: UUID = Field(title="事实编号", description="被撤回的合规事实")
    credit_code: CreditCode = Field(title="统一社会信用代码", description="涉及单位的统一社会信用代码")
    reason: ShortText = Field(title="撤回理由", description="报送部门撤回该事实的理由")
    withdrawn_on: date = Field(title="撤回日期", description="报送部门撤回的日期")
