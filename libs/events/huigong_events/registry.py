"""Events owned by the registry service: the record of units under construction and certified,
facilities, public-welfare partners, the service-project library and gig-worker members.

Member events identify a person only by `member_key`; the registry keeps name and phone sealed
under a per-member key outside the event log, so that erasing that key honours a deletion
request although the log itself is immutable.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import DomainEvent
from .forms import (
    AreaCode,
    CreditCode,
    KeyId,
    MemberKey,
    Name,
    PartnerCategory,
    ServiceField,
    ShortText,
    SubmitterCode,
    Year,
)
from .labels import Labelled, relabel
from .reference import (
    HAPPY_ENTERPRISE_CRITERIA,
    SERVICE_COMPLEX_CRITERIA,
    TITLES,
    FacilityKind,
    Occupation,
    Programme,
    StationHost,
)

OWNER: Final = "registry"
_TYPE_TITLE: Final = "事件类型"

# 认定 criteria that the plan spells out; other programmes are assessed on free-text criteria.
_CRITERIA: Final[dict[Programme, tuple[str, ...]]] = {
    Programme.幸福企业: HAPPY_ENTERPRISE_CRITERIA,
    Programme.服务职工综合体: SERVICE_COMPLEX_CRITERIA,
}


class UnitOrigin(Labelled):
    """建设单位的来源。"""

    试点2022 = "pilot_2022"  # fixed in advance by annex 2
    申报 = "application"  # selected from an application
    职工服务中心 = "service_centre"  # the city and district 职工服务中心 (service complexes)


relabel(UnitOrigin, {UnitOrigin.试点2022: "2022年试点", UnitOrigin.申报: "申报确定"})


class PartnerOrigin(Labelled):
    """公益伙伴的来源。"""

    试点2022 = "pilot_2022"
    申报 = "application"


relabel(PartnerOrigin, {PartnerOrigin.试点2022: "2022年试点", PartnerOrigin.申报: "申报确定"})


# --------------------------------------------------------------------------------------------
# aggregate "unit"
# --------------------------------------------------------------------------------------------


class UnitRegistered(DomainEvent):
    """建设单位已登记：一个单位开始建设服务职工综合体、幸福企业或服务职工基地。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "unit"
    # v2 adds `period_start`, the approved construction period's start (certification waits for it).
    schema_version: ClassVar[int] = 2

    type: Literal["UnitRegistered"] = Field(
        default="UnitRegistered", title=_TYPE_TITLE, description="建设单位已登记"
    )
    unit_id: UUID = Field(title="建设单位编号", description="建设单位的唯一标识（单位聚合标识）")
    name: Name = Field(title="单位名称", description="建设单位名称")
    programme: Programme = Field(title="工作任务", description="该单位承担的工作任务")
    area: AreaCode = Field(
        title="所属区市或单位", description="所属区市（GB/T 2260）、市直集团工会代码，或市本级 370200"
    )
    credit_code: CreditCode | None = Field(
        default=None, title="统一社会信用代码", description="单位的统一社会信用代码，如有"
    )
    origin: UnitOrigin = Field(
        title="来源", description="2022年试点（附件2）、经申报批准，或市、区市职工服务中心"
    )
    application_id: UUID | None = Field(default=None, title="申报编号", description="来源为申报时对应的申报")
    registered_on: date = Field(title="登记日期", description="登记为建设单位的日期")
    period_start: date | None = Field(
        default=None,
        title="建设期开始日期",
        description="批准的三年建设期的开始日期（经申报批准的单位）；认定须在建设期开始并经过最短建设时间之后",
    )

    @model_validator(mode="after")
    def _application_when_applied(self) -> Self:
        if self.origin is UnitOrigin.申报 and self.application_id is None:
            raise ValueError("来源为申报时须填写申报编号（application_id required）")
        return self


class CriterionResult(BaseModel):
    """一项认定标准的评估结果。"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    criterion: Name = Field(
        title="认定标准",
        description="认定标准，如幸福企业七个方面、服务职工综合体八个方面之一",
    )
    met: bool = Field(title="是否达到", description="是否达到该项标准")
    evidence: ShortText = Field(title="佐证材料", description="评估所依据的佐证材料或说明")


class UnitAssessed(DomainEvent):
    """建设单位已评估：按认定标准逐项评估建设成效。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "unit"

    type: Literal["UnitAssessed"] = Field(
        default="UnitAssessed", title=_TYPE_TITLE, description="建设单位已评估"
    )
    unit_id: UUID = Field(title="建设单位编号", description="被评估的建设单位")
    programme: Programme = Field(title="工作任务", description="评估所依据的工作任务")
    assessed_on: date = Field(title="评估日期", description="完成评估的日期")
    results: list[CriterionResult] = Field(
        min_length=1, title="评估结果", description="各项认定标准的评估结果"
    )

    @model_validator(mode="after")
    def _known_criteria(self) -> Self:
        names = [result.criterion for result in self.results]
        if len(set(names)) != len(names):
            raise ValueError("认定标准重复（a criterion appears twice）")
        known = _CRITERIA.get(self.programme)
        if known is not None:
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(
                    f"{self.programme.label}无此认定标准：{'、'.join(unknown)}（unknown criteria）"
                )
        return self


class UnitCertified(DomainEvent):
    """已授予示范单位称号：建设达到认定标准，授予创建示范单位称号。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "unit"

    type: Literal["UnitCertified"] = Field(
        default="UnitCertified", title=_TYPE_TITLE, description="已授予示范单位称号"
    )
    unit_id: UUID = Field(title="建设单位编号", description="获授称号的单位")
    title: str = Field(
        title="称号",
        description="授予的称号，须为方案规定的三个称号之一",
        json_schema_extra={"enum": list(TITLES.values())},
    )
    certificate_no: Name = Field(title="证书编号", description="示范单位证书编号")
    certified_on: date = Field(title="认定日期", description="授予称号的日期")
    valid_until: date = Field(title="有效期至", description="称号有效期的最后一日")
    recheck_due: date = Field(title="年度复核日期", description="下一次年度复核的日期")

    @field_validator("title")
    @classmethod
    def _known_title(cls, value: str) -> str:
        if value not in TITLES.values():
            raise ValueError(f"未知的称号：{value!r}（unknown title）")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.valid_until <= self.certified_on:
            raise ValueError("有效期须晚于认定日期（valid_until must be after certified_on）")
        if self.recheck_due <= self.certified_on:
            raise ValueError("年度复核日期须晚于认定日期（recheck_due must be after certified_on）")
        return self


class CertificationRevoked(DomainEvent):
    """称号已撤销：因发现不予受理情形等原因撤销示范单位称号。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "unit"

    type: Literal["CertificationRevoked"] = Field(
        default="CertificationRevoked", title=_TYPE_TITLE, description="称号已撤销"
    )
    unit_id: UUID = Field(title="建设单位编号", description="被撤销称号的单位")
    certificate_no: Name = Field(title="证书编号", description="被撤销的证书编号")
    revoked_on: date = Field(title="撤销日期", description="撤销称号的日期")
    reason: ShortText = Field(title="撤销原因", description="撤销称号的原因")
    finding_id: UUID | None = Field(
        default=None, title="发现编号", description="据以撤销的不予受理情形发现，如有"
    )
    automatic: bool = Field(title="是否自动撤销", description="是否因认定后发现的不予受理情形由系统自动撤销")


class UnitExited(DomainEvent):
    """建设单位已退出：如服务职工基地按退出机制退出。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "unit"

    type: Literal["UnitExited"] = Field(default="UnitExited", title=_TYPE_TITLE, description="建设单位已退出")
    unit_id: UUID = Field(title="建设单位编号", description="退出的单位")
    reason: ShortText = Field(title="退出原因", description="退出的原因（如满意度评价不达标）")
    exited_on: date = Field(title="退出日期", description="退出的日期")


class UnitApprovalAttached(DomainEvent):
    """批准建设已归入已登记单位：获批的申报所指的职工服务中心或企业已是建设单位，归入该单位，不另登记。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "unit"

    type: Literal["UnitApprovalAttached"] = Field(
        default="UnitApprovalAttached", title=_TYPE_TITLE, description="批准建设已归入已登记单位"
    )
    unit_id: UUID = Field(title="建设单位编号", description="获批申报归入的已登记单位")
    application_id: UUID = Field(title="申报编号", description="获批建设的申报")
    programme: Programme = Field(title="工作任务", description="批准建设的工作任务")
    period_start: date = Field(title="建设期开始日期", description="批准的三年建设期的开始日期")
    attached_on: date = Field(title="归入日期", description="批准建设之日（北京时间）")


# --------------------------------------------------------------------------------------------
# aggregate "facility"
# --------------------------------------------------------------------------------------------


class FacilityOpened(DomainEvent):
    """设施已登记建成：一处职工之家、惠工家、健康驿站、服务职工基地或新就业形态劳动者服务站点计入统计。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "facility"
    schema_version: ClassVar[int] = 2

    type: Literal["FacilityOpened"] = Field(
        default="FacilityOpened", title=_TYPE_TITLE, description="设施已登记建成"
    )
    facility_id: UUID = Field(title="设施编号", description="设施的唯一标识（设施聚合标识）")
    kind: FacilityKind = Field(title="设施类型", description="目标任务统计的设施类型")
    name: Name = Field(title="名称", description="设施名称")
    area: AreaCode = Field(
        title="所属区市或单位", description="设施所属区市、市直集团工会代码，或市本级 370200"
    )
    host_unit: Name = Field(title="所在单位", description="设施所在的单位")
    host_credit_code: CreditCode | None = Field(
        default=None, title="所在单位统一社会信用代码", description="所在单位的统一社会信用代码，如有"
    )
    opened_on: date = Field(title="建成日期", description="设施建成（投入使用）的日期")
    report_id: UUID | None = Field(
        default=None, title="报送编号", description="据以登记的设施报送（FacilityReported），如有"
    )
    station_host: StationHost | None = Field(
        default=None,
        title="站点依托",
        description="新就业形态劳动者服务站点依托的园区、楼宇、商圈或社会机构；其他设施为空",
    )
    station_services: list[Name] = Field(
        default_factory=list,
        max_length=30,
        title="提供的服务",
        description="新就业形态劳动者服务站点提供的服务；其他设施为空",
    )


class FacilityClosed(DomainEvent):
    """设施已关闭：设施停止使用，不再计入目标统计。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "facility"

    type: Literal["FacilityClosed"] = Field(
        default="FacilityClosed", title=_TYPE_TITLE, description="设施已关闭"
    )
    facility_id: UUID = Field(title="设施编号", description="关闭的设施")
    closed_on: date = Field(title="关闭日期", description="设施停止使用的日期")
    reason: ShortText = Field(title="关闭原因", description="设施关闭的原因")


# --------------------------------------------------------------------------------------------
# aggregate "partner"
# --------------------------------------------------------------------------------------------


class PartnerRegistered(DomainEvent):
    """公益伙伴已登记：一家关爱职工公益合作伙伴纳入纽带计划。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "partner"

    type: Literal["PartnerRegistered"] = Field(
        default="PartnerRegistered", title=_TYPE_TITLE, description="公益伙伴已登记"
    )
    partner_id: UUID = Field(title="伙伴编号", description="公益伙伴的唯一标识（伙伴聚合标识）")
    name: Name = Field(title="名称", description="公益伙伴名称")
    category: PartnerCategory = Field(title="类型", description="公益伙伴的类型")
    area: AreaCode = Field(
        title="所属区市或单位", description="推荐该伙伴的区市或单位；市总工会直接联系的为 370200"
    )
    credit_code: CreditCode | None = Field(
        default=None,
        title="统一社会信用代码",
        description="公益伙伴的统一社会信用代码；2022年试点名单（附件2）未载明的为空，待补登",
    )
    registered_on: date = Field(title="登记日期", description="纳入纽带计划的日期")
    origin: PartnerOrigin = Field(title="来源", description="2022年试点（附件2）或经申报确定")
    application_id: UUID | None = Field(default=None, title="申报编号", description="来源为申报时对应的申报")

    @model_validator(mode="after")
    def _application_when_applied(self) -> Self:
        if self.origin is PartnerOrigin.申报 and self.application_id is None:
            raise ValueError("来源为申报时须填写申报编号（application_id required）")
        return self


class PartnerExited(DomainEvent):
    """公益伙伴已退出：一家关爱职工公益合作伙伴退出纽带计划，不再列为在册伙伴。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "partner"

    type: Literal["PartnerExited"] = Field(
        default="PartnerExited", title=_TYPE_TITLE, description="公益伙伴已退出"
    )
    partner_id: UUID = Field(title="伙伴编号", description="退出的公益伙伴")
    reason: ShortText = Field(title="退出原因", description="退出纽带计划的原因")
    exited_on: date = Field(title="退出日期", description="退出纽带计划的日期")


# --------------------------------------------------------------------------------------------
# aggregate "service-project"
# --------------------------------------------------------------------------------------------


class ServiceProjectListed(DomainEvent):
    """服务项目已入库：一个服务职工项目列入服务职工项目库（惠工“服务项目集群”）。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "service-project"

    type: Literal["ServiceProjectListed"] = Field(
        default="ServiceProjectListed", title=_TYPE_TITLE, description="服务项目已入库"
    )
    project_id: UUID = Field(title="项目编号", description="服务项目的唯一标识（项目聚合标识）")
    name: Name = Field(title="项目名称", description="服务职工项目名称")
    field: ServiceField = Field(title="服务领域", description="项目所属的服务领域")
    provider: Name = Field(title="提供单位", description="提供服务项目的单位")
    provider_credit_code: CreditCode = Field(
        title="提供单位统一社会信用代码", description="提供单位的统一社会信用代码"
    )
    area: AreaCode = Field(title="所属区市或单位", description="项目所属区市或单位；面向全市的项目为 370200")
    listed_on: date = Field(title="入库日期", description="列入项目库的日期")
    proposal_id: UUID | None = Field(
        default=None, title="推荐编号", description="据以入库的项目推荐（ServiceProjectProposed），如有"
    )


# --------------------------------------------------------------------------------------------
# aggregate "member" (identifier: member_key)
# --------------------------------------------------------------------------------------------

_MEMBER_KEY_TITLE: Final = "成员标识（身份证号密钥哈希）"
_MEMBER_KEY_DESCRIPTION: Final = "身份证号的 HMAC-SHA-256（64 位小写十六进制），成员聚合标识"


class MemberEnrolled(DomainEvent):
    """新就业形态劳动者已入会：首次报送的入会计入目标。不含任何个人信息。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "member"

    type: Literal["MemberEnrolled"] = Field(
        default="MemberEnrolled", title=_TYPE_TITLE, description="新就业形态劳动者已入会"
    )
    member_key: MemberKey = Field(title=_MEMBER_KEY_TITLE, description=_MEMBER_KEY_DESCRIPTION)
    key_id: KeyId = Field(
        title="密钥标识",
        description="登记服务为该成员加密个人信息所用密钥的标识（个人信息保存在事件日志之外）",
    )
    enrolment_id: UUID = Field(title="入会报送编号", description="据以登记的入会报送")
    district: SubmitterCode = Field(title="所属区市", description="报送入会的区市或单位")
    occupation: Occupation = Field(title="职业类别", description="新就业形态劳动者的职业类别")
    platform: Name = Field(title="平台企业", description="劳动者所服务的平台企业名称")
    joined_on: date = Field(title="入会日期", description="劳动者加入工会的日期")


class MemberReportedAgain(DomainEvent):
    """成员被重复报送：另一区市（或同一区市）再次报送已入会的成员，不重复计数。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "member"

    type: Literal["MemberReportedAgain"] = Field(
        default="MemberReportedAgain", title=_TYPE_TITLE, description="成员被重复报送"
    )
    member_key: MemberKey = Field(title=_MEMBER_KEY_TITLE, description=_MEMBER_KEY_DESCRIPTION)
    enrolment_id: UUID = Field(title="入会报送编号", description="重复的入会报送")
    district: SubmitterCode = Field(title="所属区市", description="再次报送的区市或单位")
    reported_on: date = Field(title="报送日期", description="再次报送的日期")


class MutualAidGranted(DomainEvent):
    """互助保障已赠送/参保：成员获得一年度的“新就业形态劳动者互助保障”。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "member"

    # v2 adds `paid_by_area`, the code of the federation that pays, to which the figures count the
    # grant (v1 had only its name, `paid_by`).
    schema_version: ClassVar[int] = 2

    type: Literal["MutualAidGranted"] = Field(
        default="MutualAidGranted", title=_TYPE_TITLE, description="互助保障已赠送/参保"
    )
    member_key: MemberKey = Field(title=_MEMBER_KEY_TITLE, description=_MEMBER_KEY_DESCRIPTION)
    policy_year: Year = Field(title="保障年度", description="互助保障所属年度")
    paid_by: Name = Field(title="出资方", description="互助保障的出资方，如“市总工会赠送”")
    granted_on: date = Field(title="参保日期", description="互助保障生效（赠送）的日期")
    paid_by_area: SubmitterCode | None = Field(
        default=None,
        title="出资区市或单位",
        description="出资的区市总工会或市直、驻青单位工会的代码；市总工会赠送时为空。统计按此计入",
    )


class MemberErased(DomainEvent):
    """成员个人信息已删除：按删除请求销毁该成员的个人信息密钥，其密文不可再解密。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "member"

    type: Literal["MemberErased"] = Field(
        default="MemberErased", title=_TYPE_TITLE, description="成员个人信息已删除"
    )
    member_key: MemberKey = Field(title=_MEMBER_KEY_TITLE, description=_MEMBER_KEY_DESCRIPTION)
    erased_on: date = Field(title="删除日期", description="执行删除的日期")
    request_ref: ShortText = Field(title="删除请求编号", description="个人信息删除请求的编号")
