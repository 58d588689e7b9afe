"""Events of the linked service system (联动服务), owned by the registry: the service catalogue
(服务事项目录) and the life of each service matter (服务事项) that the 11 service centres and the
服务职工基地 handle for workers (annex 1; 服务项目标准化 · 服务手段智能化 of programme 1).

Aggregates:
- "service-item": one entry of the catalogue: its category, the units (centres or service bases)
  that provide it, its time limit in working days (限时办结制) and its process steps;
- "matter": one worker's request, from its receipt at a centre's 综合服务窗口 to its closure and
  the worker's rating. The centre that received it (首问责任单位) is named on every later event's
  aggregate and stays responsible until it is closed (首问责任制).
- "duty-roster": one centre's 综合服务窗口: who is on duty on which weekdays from a day on, and the
  centre's public phone (服务电话) the catalogue lists; the first response names who was on duty.
- "working-calendar": one year's working days as the city published them.

Personal data: the requester's name, phone and the request in their words travel only sealed
(`requester_sealed`, AES-256-GCM under a per-matter data key the registry keeps outside the event
log, like the gig workers' data), so destroying that key (MatterRequesterErased) honours a
deletion request although the log is immutable. The free-text fields that are stored in clear
(reasons, notes, comments) refuse anything that looks like a mobile or ID number.

Overdue is not an event: it follows from the deadline recorded at receipt and the day one asks
about (see the registry's domain/matters.py), so "as of any date" needs no timer.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .base import DomainEvent
from .forms import AreaCode, KeyId, Name, SealedPersonal, ShortText
from .labels import Labelled, describe_pattern, relabel
from .reference import CITY_CODE, DISTRICTS

OWNER: Final = "registry"
_TYPE_TITLE: Final = "事件类型"

# --------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------


class ServiceCategory(Labelled):
    """服务事项的类别（市、区市职工服务中心和服务职工基地面向职工提供的服务）。"""

    法律援助 = "legal_aid"
    困难帮扶 = "hardship_relief"
    心理咨询 = "counselling"
    健康服务 = "health"
    托育服务 = "childcare"
    技能培训 = "training"
    婚恋交友 = "matchmaking"
    就业服务 = "employment"
    文体活动 = "culture_sports"
    权益维护 = "rights_protection"
    其他 = "other"


class Channel(Labelled):
    """受理渠道：综合服务窗口（现场）、服务电话或“齐鲁工惠”App。"""

    窗口 = "walk_in"
    电话 = "phone"
    App = "app"


relabel(Channel, {Channel.窗口: "综合服务窗口", Channel.电话: "服务电话", Channel.App: "“齐鲁工惠”App"})


class MatterOutcome(Labelled):
    """办结结果。"""

    已办结 = "resolved"  # 按流程办理完毕，诉求已解决
    不予办理 = "declined"  # 不符合条件，已向职工说明
    申请人撤回 = "withdrawn"
    转其他部门 = "referred"  # 不属工会职责，已转交其他部门并告知职工


class HandlerKind(Labelled):
    """承办单位的类型：市或区市职工服务中心，或服务职工基地。"""

    职工服务中心 = "centre"
    服务职工基地 = "service_base"


# --------------------------------------------------------------------------------------------
# Constrained types
# --------------------------------------------------------------------------------------------

# A mainland mobile number or an 18-character resident ID number, standing alone in a text.
_RAW_NUMBER: Final = re.compile(r"(?<![0-9])(?:1[3-9][0-9]{9}|[0-9]{17}[0-9Xx])(?![0-9])")


def _no_raw_numbers(value: str) -> str:
    if _RAW_NUMBER.search(re.sub(r"[\s-]", "", value)):
        raise ValueError(
            "请勿填写手机号或身份证号（looks like a phone or ID number; personal data is sealed）"
        )
    return value


ClearText = Annotated[ShortText, AfterValidator(_no_raw_numbers)]
"""Free text stored in clear in an event: a reason, a note, a comment; never a phone or ID number."""

TimeLimit = Annotated[int, Field(ge=1, le=60)]
# The bundled calendar starts in 2004; a year far ahead is a typing error, not a plan.
CalendarYear = Annotated[int, Field(ge=2004, le=2100)]
"""限时办结：working days from receipt."""


def _centre_area(code: str) -> str:
    if code != CITY_CODE and code not in DISTRICTS:
        raise ValueError(f"不是市或区市职工服务中心所在区市：{code!r}（not a service centre's area）")
    return code


CentreArea = Annotated[
    str,
    AfterValidator(_centre_area),
    Field(json_schema_extra={"enum": [CITY_CODE, *DISTRICTS]}),
]
"""The area of one of the 11 service centres: the city (370200) or a district."""


MatterNo = Annotated[
    str,
    StringConstraints(
        pattern=describe_pattern(
            r"^FW-20[0-9]{2}-[0-9]{6}-[0-9]{5,}$",
            "应为服务事项编号：FW-年份-区划代码-序号，如 FW-2027-370202-00001",
            "a matter number FW-year-area-sequence, like FW-2027-370202-00001",
        )
    ),
]
"""受理编号 FW-<年>-<首问中心区市代码>-<序号, at least five digits>, e.g. FW-2026-370202-00001."""


def _unique_steps(steps: list[str]) -> list[str]:
    if len(set(steps)) != len(steps):
        raise ValueError("办理环节重复（a step appears twice）")
    return steps


def _unique_units(units: list[UUID]) -> list[UUID]:
    if len(set(units)) != len(units):
        raise ValueError("提供单位重复（a provider appears twice）")
    return units


Steps = Annotated[list[Name], Field(min_length=1, max_length=20), AfterValidator(_unique_steps)]
"""The process steps of a service item, in order."""

Providers = Annotated[list[UUID], Field(min_length=1, max_length=200), AfterValidator(_unique_units)]
"""The registry units (service centres, service bases) that provide a service item."""


# --------------------------------------------------------------------------------------------
# aggregate "service-item" (服务事项目录)
# --------------------------------------------------------------------------------------------


class ServiceItemListed(DomainEvent):
    """服务事项已列入目录：一项服务的类别、提供单位、办结时限（工作日）和办理环节。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "service-item"

    type: Literal["ServiceItemListed"] = Field(
        default="ServiceItemListed", title=_TYPE_TITLE, description="服务事项已列入目录"
    )
    item_id: UUID = Field(title="服务事项编号", description="服务事项目录条目的唯一标识（聚合标识）")
    name: Name = Field(title="服务事项名称", description="服务事项的名称，如“劳动争议法律咨询”")
    category: ServiceCategory = Field(title="服务类别", description="服务事项所属类别")
    providers: Providers = Field(
        title="提供单位", description="提供该服务的市、区市职工服务中心或服务职工基地（登记单位编号）"
    )
    time_limit_days: TimeLimit = Field(
        title="办结时限（工作日）", description="限时办结制：自受理次日起计算的工作日数"
    )
    steps: Steps = Field(title="办理环节", description="按顺序列出的办理环节")
    commitment: ShortText | None = Field(
        default=None, title="服务承诺", description="服务承诺制：向职工公开承诺的内容，如有"
    )
    listed_on: date = Field(title="列入日期", description="列入服务事项目录的日期")


class ServiceItemChanged(DomainEvent):
    """服务事项已调整：目录条目的新内容（全部字段）；已受理的事项仍按受理时的时限和环节办理。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "service-item"

    type: Literal["ServiceItemChanged"] = Field(
        default="ServiceItemChanged", title=_TYPE_TITLE, description="服务事项已调整"
    )
    item_id: UUID = Field(title="服务事项编号", description="调整的服务事项")
    name: Name = Field(title="服务事项名称", description="调整后的名称")
    category: ServiceCategory = Field(title="服务类别", description="调整后的类别")
    providers: Providers = Field(title="提供单位", description="调整后的提供单位（登记单位编号）")
    time_limit_days: TimeLimit = Field(title="办结时限（工作日）", description="调整后的办结时限")
    steps: Steps = Field(title="办理环节", description="调整后的办理环节")
    commitment: ShortText | None = Field(default=None, title="服务承诺", description="调整后的服务承诺，如有")
    changed_on: date = Field(title="调整日期", description="调整生效的日期")
    reason: ClearText = Field(title="调整原因", description="调整目录条目的原因")


class ServiceItemWithdrawn(DomainEvent):
    """服务事项已撤出目录：不再受理新的事项；已受理的继续办理至办结。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "service-item"

    type: Literal["ServiceItemWithdrawn"] = Field(
        default="ServiceItemWithdrawn", title=_TYPE_TITLE, description="服务事项已撤出目录"
    )
    item_id: UUID = Field(title="服务事项编号", description="撤出的服务事项")
    reason: ClearText = Field(title="撤出原因", description="撤出目录的原因")
    withdrawn_on: date = Field(title="撤出日期", description="撤出目录的日期")


# --------------------------------------------------------------------------------------------
# aggregate "matter" (服务事项办理)
# --------------------------------------------------------------------------------------------

_MATTER_TITLE: Final = "事项编号"
_MATTER_DESCRIPTION: Final = "服务事项办理的唯一标识（聚合标识）"


class MatterReceived(DomainEvent):
    """服务事项已受理：职工的诉求在某职工服务中心综合服务窗口受理，该中心为首问责任单位。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterReceived"] = Field(
        default="MatterReceived", title=_TYPE_TITLE, description="服务事项已受理"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    matter_no: MatterNo = Field(
        title="受理编号", description="告知职工的受理编号：FW-年度-首问中心区市代码-序号"
    )
    item_id: UUID = Field(title="服务事项编号", description="所申请的服务事项（目录条目）")
    item_name: Name = Field(title="服务事项名称", description="受理时服务事项的名称")
    category: ServiceCategory = Field(title="服务类别", description="受理时服务事项的类别")
    centre_id: UUID = Field(title="首问责任中心", description="受理该事项的职工服务中心（登记单位编号）")
    centre_name: Name = Field(title="首问责任中心名称", description="受理该事项的职工服务中心名称")
    area: CentreArea = Field(title="所属区市", description="首问责任中心所在区市；市职工服务中心为 370200")
    channel: Channel = Field(title="受理渠道", description="窗口、电话或 App")
    requester_sealed: SealedPersonal = Field(
        title="加密个人信息",
        description="职工姓名、联系电话和诉求加密后的密文（base64，AEAD 含随机数和校验标签）",
    )
    key_id: KeyId = Field(
        title="密钥标识", description="加密个人信息所用数据密钥的标识（密钥保存在事件日志之外）"
    )
    received_on: date = Field(title="受理日期", description="受理的日期（北京时间）")
    time_limit_days: TimeLimit = Field(
        title="办结时限（工作日）", description="受理时该服务事项的办结时限，此后目录调整不影响"
    )
    steps: Steps = Field(title="办理环节", description="受理时该服务事项的办理环节")
    deadline: date = Field(title="办结期限", description="按工作日计算的最后办结日期（含法定节假日和调休）")
    deadline_provisional: bool = Field(
        default=False,
        title="期限暂定",
        description="期限跨入节假日日历尚未发布的年度，按周一至周五计算，日历更新后以实际安排为准",
    )

    @model_validator(mode="after")
    def _deadline_after_receipt(self) -> Self:
        if self.deadline <= self.received_on:
            raise ValueError("办结期限须晚于受理日期（deadline must be after received_on）")
        return self


class MatterTransferred(DomainEvent):
    """服务事项已转办：当前承办单位将事项转给另一职工服务中心或服务职工基地，须说明原因。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterTransferred"] = Field(
        default="MatterTransferred", title=_TYPE_TITLE, description="服务事项已转办"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    from_unit: UUID = Field(title="转出单位", description="转出事项的承办单位（登记单位编号）")
    from_name: Name = Field(title="转出单位名称", description="转出单位的名称")
    from_area: AreaCode = Field(title="转出单位所属区市", description="转出单位所在区市或单位")
    to_unit: UUID = Field(
        title="接收单位", description="接收事项的职工服务中心或服务职工基地（登记单位编号）"
    )
    to_name: Name = Field(title="接收单位名称", description="接收单位的名称")
    to_area: AreaCode = Field(title="接收单位所属区市", description="接收单位所在区市或单位")
    to_kind: HandlerKind = Field(title="接收单位类型", description="职工服务中心或服务职工基地")
    reason: ClearText = Field(title="转办原因", description="转办的原因，如“本中心不提供该服务”")
    transferred_on: date = Field(title="转办日期", description="转办的日期")

    @model_validator(mode="after")
    def _to_another_unit(self) -> Self:
        if self.to_unit == self.from_unit:
            raise ValueError("不能转给自己（cannot transfer to the same unit）")
        return self


class MatterAccepted(DomainEvent):
    """转办已接收：接收单位确认接收，成为当前承办单位。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterAccepted"] = Field(
        default="MatterAccepted", title=_TYPE_TITLE, description="转办已接收"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    unit_id: UUID = Field(title="接收单位", description="接收事项的单位（登记单位编号）")
    accepted_on: date = Field(title="接收日期", description="确认接收的日期")


class MatterTransferRefused(DomainEvent):
    """转办已退回：接收单位说明理由拒收转办，事项退回转出单位，由其继续办理。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterTransferRefused"] = Field(
        default="MatterTransferRefused", title=_TYPE_TITLE, description="转办已退回"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    unit_id: UUID = Field(title="拒收单位", description="拒收转办的接收单位（登记单位编号）")
    unit_area: AreaCode = Field(title="拒收单位所属区市", description="拒收单位所在区市或单位")
    back_to: UUID = Field(title="退回单位", description="事项退回的转出单位，继续承办（登记单位编号）")
    reason: ClearText = Field(title="退回原因", description="拒收的原因，如“本基地本月名额已满”")
    refused_on: date = Field(title="退回日期", description="拒收退回的日期")

    @model_validator(mode="after")
    def _back_to_another_unit(self) -> Self:
        if self.back_to == self.unit_id:
            raise ValueError("不能退回给自己（cannot send the matter back to the refusing unit）")
        return self


class MatterStepDone(DomainEvent):
    """办理环节已完成：当前承办单位完成服务事项的一个办理环节。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterStepDone"] = Field(
        default="MatterStepDone", title=_TYPE_TITLE, description="办理环节已完成"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    step: Name = Field(title="办理环节", description="完成的办理环节（受理时确定的环节之一）")
    unit_id: UUID = Field(title="承办单位", description="完成该环节的单位（登记单位编号）")
    note: ClearText | None = Field(default=None, title="办理说明", description="办理情况说明，如有")
    done_on: date = Field(title="完成日期", description="完成该环节的日期")


class MatterClosed(DomainEvent):
    """服务事项已办结：承办单位办结事项并记录结果；是否按期以受理时的办结期限为准。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterClosed"] = Field(
        default="MatterClosed", title=_TYPE_TITLE, description="服务事项已办结"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    unit_id: UUID = Field(title="承办单位", description="办结事项的单位（登记单位编号）")
    outcome: MatterOutcome = Field(title="办结结果", description="已办结、不予办理、申请人撤回或转其他部门")
    note: ClearText | None = Field(default=None, title="办结说明", description="办结情况说明，如有")
    closed_on: date = Field(title="办结日期", description="办结的日期")
    deadline: date = Field(title="办结期限", description="受理时确定的办结期限")
    on_time: bool = Field(title="是否按期办结", description="办结日期不晚于办结期限")

    @model_validator(mode="after")
    def _on_time_follows_the_dates(self) -> Self:
        if self.on_time != (self.closed_on <= self.deadline):
            raise ValueError("是否按期须与办结日期和期限一致（on_time must equal closed_on <= deadline）")
        return self


class MatterRated(DomainEvent):
    """职工已评价：职工对办结的服务事项给出满意度评价（1–5分）和意见。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterRated"] = Field(default="MatterRated", title=_TYPE_TITLE, description="职工已评价")
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    score: int = Field(ge=1, le=5, title="满意度", description="1（很不满意）至 5（很满意）")
    comment: ClearText | None = Field(default=None, title="评价意见", description="职工的意见，如有")
    rated_on: date = Field(title="评价日期", description="评价的日期")


class MatterRequesterErased(DomainEvent):
    """求助职工个人信息已删除：按删除请求销毁该事项的个人信息密钥，其密文不可再解密。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterRequesterErased"] = Field(
        default="MatterRequesterErased", title=_TYPE_TITLE, description="求助职工个人信息已删除"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    erased_on: date = Field(title="删除日期", description="执行删除的日期")
    request_ref: ClearText = Field(title="删除请求编号", description="个人信息删除请求的编号")


class MatterDeadlineRevised(DomainEvent):
    """办结期限已重算：期限曾按周一至周五暂定，该年度工作日安排发布后按实际安排重新计算。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "matter"

    type: Literal["MatterDeadlineRevised"] = Field(
        default="MatterDeadlineRevised", title=_TYPE_TITLE, description="办结期限已重算"
    )
    matter_id: UUID = Field(title=_MATTER_TITLE, description=_MATTER_DESCRIPTION)
    deadline: date = Field(title="办结期限", description="按新发布的工作日安排重新计算的最后办结日期")
    deadline_provisional: bool = Field(title="期限暂定", description="重算后是否仍跨入尚无工作日安排的年度")
    calendar_year: CalendarYear = Field(title="依据年度", description="引起重算的工作日安排所属年度")
    revised_on: date = Field(title="重算日期", description="工作日安排发布、期限重算的日期（北京时间）")


class WorkingCalendarPublished(DomainEvent):
    """工作日安排已发布：市总工会发布某年度的法定节假日和调休上班日，此后该年度的办结期限按此计算。

    同一年度再次发布时以最后一次为准；内置节假日日历已覆盖的年度也可发布，发布后以发布的为准。
    """

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "working-calendar"

    type: Literal["WorkingCalendarPublished"] = Field(
        default="WorkingCalendarPublished", title=_TYPE_TITLE, description="工作日安排已发布"
    )
    year: CalendarYear = Field(title="年度", description="工作日安排所属的年度")
    holidays: list[date] = Field(
        max_length=366, title="法定节假日", description="该年度放假的日期（含因调休放假的工作日）"
    )
    adjusted_workdays: list[date] = Field(
        max_length=366, title="调休上班日", description="该年度因调休上班的周六、周日"
    )
    reason: ClearText = Field(title="发布依据", description="如“国务院办公厅关于2027年部分节假日安排的通知”")

    @model_validator(mode="after")
    def _days_of_the_year(self) -> Self:
        for day in (*self.holidays, *self.adjusted_workdays):
            if day.year != self.year:
                raise ValueError(f"{day} 不在 {self.year} 年度（{day} is not in {self.year}）")
        if set(self.holidays) & set(self.adjusted_workdays):
            raise ValueError("同一日期不能既放假又上班（a day cannot be both a holiday and a working day）")
        return self


# --------------------------------------------------------------------------------------------
# aggregate "duty-roster" (综合服务窗口值班表), one per service centre
# --------------------------------------------------------------------------------------------

PublicPhone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=describe_pattern(
            r"^(0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?|[0-9]{5,6}|400-?[0-9]{3}-?[0-9]{4})$",
            "应为单位的公开服务电话：固定电话（如 0532-12345678）、服务热线（如 12351）或 400 电话",
            "a public service number: a landline like 0532-12345678, a hotline like 12351, or a 400 number",
        ),
    ),
]
"""A centre's public service phone: a landline, a short hotline or a 400 number, never a person's
mobile (the catalogue is public)."""


def _weekdays(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("值班日重复（a weekday appears twice）")
    return sorted(days)


Weekdays = Annotated[
    list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1, max_length=7), AfterValidator(_weekdays)
]
"""ISO weekdays, 1 = 周一 … 7 = 周日 (a weekend day matters when it is an adjusted working day)."""


class DutyShift(BaseModel):
    """一名工作人员在综合服务窗口的值班日。"""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    staff: Name = Field(title="值班人员", description="窗口工作人员姓名，如“王某某”")
    weekdays: Weekdays = Field(
        title="值班日", description="每周值班的日子：1 为周一……7 为周日（调休上班的周末按当天星期计）"
    )


class DutyRosterSet(DomainEvent):
    """综合服务窗口值班表已设定：某职工服务中心自某日起谁在哪些工作日值班，及中心的公开服务电话。

    首问受理时按受理日期和当时已设定的值班表写明当班人员；服务事项目录公开列出中心的服务电话。
    """

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "duty-roster"

    type: Literal["DutyRosterSet"] = Field(
        default="DutyRosterSet", title=_TYPE_TITLE, description="综合服务窗口值班表已设定"
    )
    centre_id: UUID = Field(title="职工服务中心", description="值班表所属的职工服务中心（登记单位编号）")
    centre_name: Name = Field(title="中心名称", description="职工服务中心名称")
    area: CentreArea = Field(title="所在区市", description="370200 为市职工服务中心")
    public_phone: PublicPhone = Field(title="服务电话", description="中心对外公开的服务电话")
    shifts: list[DutyShift] = Field(
        min_length=1, max_length=50, title="值班安排", description="每名值班人员及其每周值班日"
    )
    effective_from: date = Field(title="生效日期", description="自该日起按此值班表值班")
    reason: ClearText = Field(title="设定原因", description="如“2027年一季度排班”")
