"""Events owned by the registry service: revocation with a person in the loop (撤销审查).

A disqualifying finding (review's ExclusionFound) against a certified unit suspends its title at
once and opens a revocation case (CertificationSuspended; the case's id is the opening finding's
id). Further findings while the case is open join it (CertificationSuspended again, the same
case). The unit's union may file a statement (申诉) within the case's window
(RevocationStatementFiled). A registrar then confirms (CertificationRevoked of registry.py, not
automatic, its `finding_id` the case's id) or dismisses (CertificationRestored, ground 不予撤销);
a finding cleared because its fact was withdrawn or corrected leaves the case
(RevocationGroundCleared), and the last one leaving restores the title (CertificationRestored,
ground 事实撤回或更正).

All of them belong to the unit's stream (aggregate `unit`)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Final, Literal
from uuid import UUID

from pydantic import Field

from .base import DomainEvent
from .forms import LongText, Name, ShortText
from .reference import ExclusionRule

OWNER: Final = "registry"
AGGREGATE: Final = "unit"
_TYPE_TITLE: Final = "事件类型"


class RestorationGround(StrEnum):
    """称号恢复的依据。"""

    不予撤销 = "dismissed"  # a registrar dismissed the case
    事实撤回或更正 = "grounds_cleared"  # every finding of the case was cleared (fact withdrawn/corrected)

    @property
    def label(self) -> str:
        return self.name


class CertificationSuspended(DomainEvent):
    """称号已暂停：认定后发现不予受理情形，称号暂停并立案撤销审查（或该情形并入已立案的审查）。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["CertificationSuspended"] = Field(
        default="CertificationSuspended", title=_TYPE_TITLE, description="称号已暂停"
    )
    unit_id: UUID = Field(title="建设单位编号", description="称号被暂停的单位")
    case_id: UUID = Field(title="撤销审查编号", description="撤销审查案件的编号（即立案所据发现的编号）")
    certificate_no: Name = Field(title="证书编号", description="被暂停的证书编号")
    finding_id: UUID = Field(title="发现编号", description="据以暂停的不予受理情形发现")
    rule: ExclusionRule = Field(title="不予受理情形", description="该项发现适用的情形代码")
    rule_text: ShortText = Field(title="情形表述", description="该情形的原文表述")
    suspended_on: date = Field(title="暂停日期", description="称号暂停（或该发现并入审查）的日期")
    statement_due: date = Field(
        title="申诉截止日期", description="单位工会可提交申诉的最后一日（立案日后若干个工作日）"
    )


class RevocationStatementFiled(DomainEvent):
    """申诉已提交：被暂停称号单位的工会在期限内提交陈述申辩。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["RevocationStatementFiled"] = Field(
        default="RevocationStatementFiled", title=_TYPE_TITLE, description="申诉已提交"
    )
    unit_id: UUID = Field(title="建设单位编号", description="提出申诉的单位")
    case_id: UUID = Field(title="撤销审查编号", description="申诉所针对的撤销审查")
    statement: LongText = Field(title="申诉内容", description="单位工会的陈述和申辩")
    filed_on: date = Field(title="提交日期", description="申诉提交的日期")


class RevocationGroundCleared(DomainEvent):
    """撤销依据已排除：撤销审查所据的一项发现因事实撤回或更正而排除。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["RevocationGroundCleared"] = Field(
        default="RevocationGroundCleared", title=_TYPE_TITLE, description="撤销依据已排除"
    )
    unit_id: UUID = Field(title="建设单位编号", description="涉及的单位")
    case_id: UUID = Field(title="撤销审查编号", description="涉及的撤销审查")
    finding_id: UUID = Field(title="发现编号", description="被排除的发现")
    reason: ShortText = Field(title="排除理由", description="评审服务排除该发现的理由")
    cleared_on: date = Field(title="排除日期", description="该发现被排除的日期")


class CertificationRestored(DomainEvent):
    """称号已恢复：撤销审查结案，不予撤销或所据事实已撤回、更正，暂停解除。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["CertificationRestored"] = Field(
        default="CertificationRestored", title=_TYPE_TITLE, description="称号已恢复"
    )
    unit_id: UUID = Field(title="建设单位编号", description="称号恢复的单位")
    case_id: UUID = Field(title="撤销审查编号", description="结案的撤销审查")
    certificate_no: Name = Field(title="证书编号", description="恢复的证书编号")
    ground: RestorationGround = Field(
        title="恢复依据", description="登记人员不予撤销（dismissed），或所据发现均已排除（grounds_cleared）"
    )
    reason: ShortText = Field(title="理由", description="不予撤销的理由，或排除发现的理由")
    restored_on: date = Field(title="恢复日期", description="称号恢复的日期")
