"""Events of 送温暖 (the registry's): the city federation sets each union's yearly 送温暖 budget,
district and group unions record what they delivered to gig-worker members, and the city
approves or declines the deliveries above the budget's approval threshold.

One aggregate "warmth-fund" per delivering union and year (id `<union code>:<year>`): its
budget, and every delivery that draws on it. A recipient is named by `member_key` only; the
name and phone the union gives are sealed (`recipient_sealed`) under the member's own data key,
the one their enrolment was sealed under, so erasing the member (MemberErased, which destroys
that key) makes every delivery's sealed data unreadable too, while the delivery stays counted.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from .base import DomainEvent
from .forms import KeyId, MemberKey, SealedPersonal, SubmitterCode, Year
from .labels import Labelled
from .matters import ClearText

OWNER: Final = "registry"
AGGREGATE: Final = "warmth-fund"
_TYPE_TITLE: Final = "事件类型"

Yuan = Annotated[int, Field(ge=0, le=100_000_000)]
"""An amount in whole yuan (元): 慰问金 and budgets are set and paid in whole yuan."""


class Occasion(Labelled):
    """送温暖的时机。"""

    遇到困难 = "hardship"
    重大疾病 = "serious_illness"
    重要节点 = "festival"


class Festival(Labelled):
    """重要节点：节日。"""

    元旦 = "new_year"
    春节 = "spring_festival"
    元宵节 = "lantern_festival"
    劳动节 = "labour_day"
    端午节 = "dragon_boat"
    中秋节 = "mid_autumn"
    国庆节 = "national_day"


class WarmthForm(Labelled):
    """送温暖的形式。"""

    慰问金 = "cash"
    实物 = "goods"
    服务 = "service"


class DeliveryStatus(Labelled):
    """送温暖记录的状态。"""

    待审批 = "pending"
    已批准 = "approved"
    未批准 = "declined"


def fund_id(union: str, year: int) -> str:
    """The aggregate id of a union's fund of a year."""
    return f"{union}:{year}"


class WarmthBudgetSet(DomainEvent):
    """送温暖预算已设定：市总工会设定某区市或单位工会一年的送温暖预算和须经审批的金额。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["WarmthBudgetSet"] = Field(
        default="WarmthBudgetSet", title=_TYPE_TITLE, description="送温暖预算已设定"
    )
    union: SubmitterCode = Field(title="工会", description="预算所属的区市总工会或单位工会（代码）")
    year: Year = Field(title="年度", description="预算年度")
    amount: Yuan = Field(title="预算金额（元）", description="本年度送温暖预算，整数元")
    approval_threshold: Yuan = Field(
        title="审批金额（元）", description="单笔金额超过此数的送温暖须经市总工会批准"
    )
    reason: ClearText = Field(title="原因", description="设定或调整预算的原因")
    set_on: date = Field(title="设定日期", description="设定预算的日期")


class WarmthDelivered(DomainEvent):
    """已送温暖：工会向一名成员送温暖（时机、形式、金额、佐证），姓名和电话加密保存。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["WarmthDelivered"] = Field(
        default="WarmthDelivered", title=_TYPE_TITLE, description="已送温暖"
    )
    delivery_id: UUID = Field(title="送温暖编号", description="本次送温暖的编号")
    union: SubmitterCode = Field(title="送温暖工会", description="送温暖的区市总工会或单位工会（代码）")
    year: Year = Field(title="年度", description="送温暖日期所在年度，即所用预算的年度")
    member_key: MemberKey = Field(
        title="成员标识（身份证号密钥哈希）", description="身份证号的 HMAC-SHA-256（64 位小写十六进制）"
    )
    key_id: KeyId = Field(title="密钥标识", description="加密姓名和电话所用的成员个人信息密钥的标识")
    recipient_sealed: SealedPersonal = Field(
        title="受助成员（密文）",
        description="姓名和手机号（AES-256-GCM，成员标识为附加数据），仅送温暖的工会可见",
    )
    occasion: Occasion = Field(title="时机", description="遇到困难、重大疾病或重要节点")
    festival: Festival | None = Field(default=None, title="节日", description="重要节点的节日")
    form: WarmthForm = Field(title="形式", description="慰问金、实物或服务")
    amount: Yuan = Field(title="金额（元）", description="慰问金金额，或实物、服务折合金额；动用预算")
    delivered_on: date = Field(title="送温暖日期", description="送达的日期")
    evidence_ref: ClearText = Field(title="佐证编号", description="签收单、照片等佐证材料的编号")
    status: DeliveryStatus = Field(
        title="状态", description="approved 已批准（未超审批金额），pending 待市总工会审批"
    )
    repeat_reason: ClearText | None = Field(
        default=None,
        title="重复说明",
        description="同一成员、同一时机、同一期间再次送温暖的原因（有此项即为重复记录）",
    )

    @model_validator(mode="after")
    def _festival_with_its_occasion(self) -> Self:
        if (self.occasion is Occasion.重要节点) != (self.festival is not None):
            raise ValueError(
                "重要节点须注明节日，其他时机不填节日（festival goes with the festival occasion）"
            )
        if self.year != self.delivered_on.year:
            raise ValueError("年度应为送温暖日期所在年度（year is the delivery's year）")
        return self


class WarmthDeliveryApproved(DomainEvent):
    """送温暖已批准：市总工会批准一笔超过审批金额的送温暖。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["WarmthDeliveryApproved"] = Field(
        default="WarmthDeliveryApproved", title=_TYPE_TITLE, description="送温暖已批准"
    )
    delivery_id: UUID = Field(title="送温暖编号", description="所批准的送温暖")
    approved_on: date = Field(title="批准日期", description="批准的日期")


class WarmthDeliveryDeclined(DomainEvent):
    """送温暖未获批准：市总工会不批准一笔送温暖，其金额退回预算。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = AGGREGATE

    type: Literal["WarmthDeliveryDeclined"] = Field(
        default="WarmthDeliveryDeclined", title=_TYPE_TITLE, description="送温暖未获批准"
    )
    delivery_id: UUID = Field(title="送温暖编号", description="未获批准的送温暖")
    declined_on: date = Field(title="决定日期", description="不予批准的日期")
    reason: ClearText = Field(title="理由", description="不予批准的理由")
