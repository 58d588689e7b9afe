"""Events owned by the intake service: what districts and units submit (applications, plans,
facilities, service projects, gig-worker enrolments) and what other departments report
(compliance facts).

Gig-worker events carry no personal data in clear: only the keyed hash of the ID number
(`member_key`) and the sealed name and phone (`personal_sealed`).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from .base import DomainEvent
from .forms import (
    ApplicationForm,
    AreaCode,
    ConstructionPlan,
    CreditCode,
    KeyId,
    MemberKey,
    Name,
    ReportingDepartment,
    SealedPersonal,
    ServiceField,
    ShortText,
    SubmitterCode,
    Year,
    check_form_programme,
)
from .reference import ComplianceFactKind, FacilityKind, Occupation, Programme, StationHost

OWNER: Final = "intake"
_TYPE_TITLE: Final = "事件类型"

# --------------------------------------------------------------------------------------------
# aggregate "application"
# --------------------------------------------------------------------------------------------


class ApplicationSubmitted(DomainEvent):
    """申报已提交：区市总工会或有关单位工会报送一份申报表（附件3、4或5）。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "application"
    # v2 split 试点时间 into period_start/period_end; v3 added receipt_no; v4 the annex 3
    # form's platform_economy (see versions.py).
    schema_version: ClassVar[int] = 4

    type: Literal["ApplicationSubmitted"] = Field(
        default="ApplicationSubmitted", title=_TYPE_TITLE, description="申报已提交"
    )
    application_id: UUID = Field(title="申报编号", description="申报的唯一标识（申报聚合标识）")
    year: Year = Field(title="申报年度", description="申报所属的年度")
    programme: Programme = Field(
        title="工作任务", description="申报的工作任务：服务职工综合体、幸福企业、服务职工基地或公益伙伴"
    )
    submitter: SubmitterCode = Field(
        title="申报区市或单位",
        description="报送的区市总工会（GB/T 2260 代码）或市直、驻青单位工会（单位代码）",
    )
    receipt_no: str | None = Field(
        default=None,
        title="受理编号",
        description="受理时发给申报单位的编号，格式“年度-区市或单位代码-序号”，如 2024-370202-00012",
        max_length=40,
    )
    form: ApplicationForm = Field(
        title="申报表", description="完整的申报表内容，按 form_kind 区分附件3、4、5"
    )

    @model_validator(mode="after")
    def _form_matches_programme(self) -> Self:
        check_form_programme(self.programme, self.form)
        return self


class ApplicationAmended(DomainEvent):
    """申报已修改：申报单位以完整的新申报表替换原申报表。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "application"
    # v2 split 试点时间 into period_start/period_end; v3 the annex 3 form's platform_economy
    # (see versions.py).
    schema_version: ClassVar[int] = 3

    type: Literal["ApplicationAmended"] = Field(
        default="ApplicationAmended", title=_TYPE_TITLE, description="申报已修改"
    )
    application_id: UUID = Field(title="申报编号", description="被修改的申报")
    form: ApplicationForm = Field(
        title="申报表",
        description="修改后的完整申报表（整表替换，而非差异补丁）；类型须与原申报一致",
    )
    reason: ShortText = Field(title="修改原因", description="申报单位说明的修改原因")


class ApplicationWithdrawn(DomainEvent):
    """申报已撤回：申报单位撤回申报。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "application"

    type: Literal["ApplicationWithdrawn"] = Field(
        default="ApplicationWithdrawn", title=_TYPE_TITLE, description="申报已撤回"
    )
    application_id: UUID = Field(title="申报编号", description="被撤回的申报")
    reason: ShortText = Field(title="撤回原因", description="申报单位说明的撤回原因")


class PlanSubmitted(DomainEvent):
    """建设方案已报送：建设单位报送三年规划或年度实施方案（工作安排二）。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "application"

    type: Literal["PlanSubmitted"] = Field(
        default="PlanSubmitted", title=_TYPE_TITLE, description="建设方案已报送"
    )
    application_id: UUID = Field(title="申报编号", description="方案所属的申报")
    plan: ConstructionPlan = Field(title="建设方案", description="三年规划或年度实施方案，按 plan_kind 区分")


class PlanAmended(DomainEvent):
    """建设方案已修改：评审开始前，建设单位以新方案替换已报送的三年规划或同一年度的实施方案。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "application"

    type: Literal["PlanAmended"] = Field(
        default="PlanAmended", title=_TYPE_TITLE, description="建设方案已修改"
    )
    application_id: UUID = Field(title="申报编号", description="方案所属的申报")
    plan: ConstructionPlan = Field(title="建设方案", description="替换后的三年规划或年度实施方案")
    reason: ShortText = Field(title="修改理由", description="修改方案的理由")


# --------------------------------------------------------------------------------------------
# aggregate "facility-report"
# --------------------------------------------------------------------------------------------


class FacilityReported(DomainEvent):
    """设施建成已报送：区市或单位报送新建成的职工之家、惠工家、健康驿站、服务职工基地或新就业形态劳动者服务站点。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "facility-report"
    schema_version: ClassVar[int] = 2

    type: Literal["FacilityReported"] = Field(
        default="FacilityReported", title=_TYPE_TITLE, description="设施建成已报送"
    )
    report_id: UUID = Field(title="报送编号", description="本次报送的唯一标识")
    facility_kind: FacilityKind = Field(title="设施类型", description="目标任务统计的设施类型")
    name: Name = Field(title="名称", description="设施名称")
    area: AreaCode = Field(
        title="所属区市或单位",
        description="设施所属区市（GB/T 2260）；市职工服务中心的设施为 370200，"
        "市直集团工会所属企业的设施可为其单位代码",
    )
    host_unit: Name = Field(title="所在单位", description="设施所在的单位（职工服务中心、企业等）")
    host_credit_code: CreditCode | None = Field(
        default=None, title="所在单位统一社会信用代码", description="所在单位的统一社会信用代码，如有"
    )
    opened_on: date = Field(title="建成日期", description="设施建成（投入使用）的日期")
    address: ShortText | None = Field(default=None, title="地址", description="设施地址，如有")
    station_host: StationHost | None = Field(
        default=None,
        title="站点依托",
        description="新就业形态劳动者服务站点依托的园区、楼宇、商圈或社会机构；其他设施为空",
    )
    station_services: list[Name] = Field(
        default_factory=list,
        max_length=30,
        title="提供的服务",
        description="新就业形态劳动者服务站点提供的服务，如歇脚饮水、手机充电、热饭、法律咨询；其他设施为空",
    )

    @model_validator(mode="after")
    def _station_details(self) -> Self:
        # A station is only useful to a courier who knows what it offers and where it sits, so
        # both are required for it; other facilities have no such fields in their forms.
        if self.facility_kind is FacilityKind.新就业形态劳动者服务站点:
            if self.station_host is None:
                raise ValueError("服务站点须填写依托（station_host required for a gig-worker station）")
            if not self.station_services:
                raise ValueError(
                    "服务站点须填写提供的服务（station_services required for a gig-worker station）"
                )
        elif self.station_host is not None or self.station_services:
            raise ValueError(
                "只有新就业形态劳动者服务站点填写依托和服务"
                "（station_host and station_services are for gig-worker stations only）"
            )
        return self


# --------------------------------------------------------------------------------------------
# aggregate "project-proposal"
# --------------------------------------------------------------------------------------------


class ServiceProjectProposed(DomainEvent):
    """服务项目已推荐：推荐一个服务职工项目进入服务职工项目库。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "project-proposal"

    type: Literal["ServiceProjectProposed"] = Field(
        default="ServiceProjectProposed", title=_TYPE_TITLE, description="服务项目已推荐"
    )
    proposal_id: UUID = Field(title="推荐编号", description="本次推荐的唯一标识")
    name: Name = Field(title="项目名称", description="服务职工项目名称")
    field: ServiceField = Field(title="服务领域", description="项目所属的服务领域")
    provider: Name = Field(title="提供单位", description="提供服务项目的单位")
    provider_credit_code: CreditCode = Field(
        title="提供单位统一社会信用代码", description="提供单位的统一社会信用代码"
    )
    area: AreaCode = Field(
        title="所属区市或单位", description="推荐项目的区市或单位；面向全市的项目为 370200"
    )
    description: ShortText = Field(title="项目简介", description="服务内容、对象和方式的简要说明")


# --------------------------------------------------------------------------------------------
# aggregate "compliance-fact"
# --------------------------------------------------------------------------------------------


class ComplianceFactReported(DomainEvent):
    """合规事实已报送：民政、人社、卫健、住房等部门经数据交换报送的企业违规事实。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "compliance-fact"

    type: Literal["ComplianceFactReported"] = Field(
        default="ComplianceFactReported", title=_TYPE_TITLE, description="合规事实已报送"
    )
    fact_id: UUID = Field(title="事实编号", description="该合规事实的唯一标识")
    credit_code: CreditCode = Field(
        title="统一社会信用代码", description="涉及单位的统一社会信用代码，用于匹配申报单位和承担单位"
    )
    unit_name: Name = Field(title="单位名称", description="涉及单位的名称（以报送部门记录为准）")
    kind: ComplianceFactKind = Field(title="事实类型", description="事实类型，每类对应一项企业不予受理情形")
    occurred_on: date = Field(title="发生日期", description="事实发生的日期")
    settled_on: date | None = Field(
        default=None, title="已整改/结清日期", description="已整改完毕或欠款已结清的日期；未结清时为空"
    )
    reported_by: ReportingDepartment = Field(title="报送部门", description="报送该事实的部门")
    reported_on: date = Field(title="报送日期", description="部门报送的日期")
    evidence_ref: ShortText = Field(
        title="证据编号/文号", description="处罚决定书、仲裁文书、事故调查报告等的编号或文号"
    )
    note: ShortText | None = Field(default=None, title="备注", description="报送部门的补充说明")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.settled_on and self.settled_on < self.occurred_on:
            raise ValueError("整改/结清日期早于发生日期（settled_on before occurred_on）")
        if self.reported_on < self.occurred_on:
            raise ValueError("报送日期早于发生日期（reported_on before occurred_on）")
        return self


# --------------------------------------------------------------------------------------------
# aggregate "enrolment"
# --------------------------------------------------------------------------------------------


class EnrolmentRequested(DomainEvent):
    """入会已报送：区市报送一名新就业形态劳动者入会（报送表中的一行）。不含明文个人信息。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "enrolment"

    type: Literal["EnrolmentRequested"] = Field(
        default="EnrolmentRequested", title=_TYPE_TITLE, description="入会已报送"
    )
    enrolment_id: UUID = Field(title="入会报送编号", description="该行入会报送的唯一标识")
    batch_id: UUID = Field(title="批次编号", description="所属报送批次（一次上传的报送表）")
    row_number: int = Field(ge=1, title="行号", description="在报送表中的行号")
    member_key: MemberKey = Field(
        title="成员标识（身份证号密钥哈希）",
        description="身份证号的 HMAC-SHA-256（64 位小写十六进制）；事件中绝不出现明文身份证号",
    )
    personal_sealed: SealedPersonal = Field(
        title="加密个人信息",
        description="姓名和手机号加密后的密文（base64，AEAD 含随机数和校验标签）",
    )
    key_id: KeyId = Field(title="密钥标识", description="生成成员标识和加密个人信息所用密钥的标识")
    occupation: Occupation = Field(title="职业类别", description="新就业形态劳动者的职业类别")
    platform: Name = Field(title="平台企业", description="劳动者所服务的平台企业名称")
    district: SubmitterCode = Field(
        title="所属区市",
        description="报送入会的区市（GB/T 2260 代码）；由市直、驻青单位工会报送时为其单位代码",
    )
    joined_on: date = Field(title="入会日期", description="劳动者加入工会的日期")
    mutual_aid: bool = Field(title="是否参加互助保障", description="是否同时参加“新就业形态劳动者互助保障”")


class MutualAidRequested(DomainEvent):
    """互助保障已补报：已报送某劳动者入会的区市或单位，为其补报参加互助保障（报送表中的一行）。
    记在该劳动者首次由本单位报送入会的那份报送上，因而在其之后处理。不含明文个人信息。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "enrolment"

    type: Literal["MutualAidRequested"] = Field(
        default="MutualAidRequested", title=_TYPE_TITLE, description="互助保障已补报"
    )
    enrolment_id: UUID = Field(title="入会报送编号", description="本单位报送该劳动者入会的那份报送")
    batch_id: UUID = Field(title="批次编号", description="补报所在的报送批次（一次上传的报送表）")
    row_number: int = Field(ge=1, title="行号", description="在报送表中的行号")
    member_key: MemberKey = Field(
        title="成员标识（身份证号密钥哈希）",
        description="身份证号的 HMAC-SHA-256（64 位小写十六进制）；事件中绝不出现明文身份证号",
    )
    reported_by: SubmitterCode = Field(
        title="补报单位", description="补报的区市总工会（GB/T 2260 代码）或市直、驻青单位工会（单位代码）"
    )
    requested_on: date = Field(title="补报日期", description="补报之日（北京时间），即互助保障所属年度之日")


# --------------------------------------------------------------------------------------------
# aggregate "intake-cycle"
# --------------------------------------------------------------------------------------------


class SubmissionWindowOpened(DomainEvent):
    """例外申报窗口已开放：在每年6月底截止后，为某年度（可限某区市或单位）开放的补报窗口。"""

    owner: ClassVar[str] = OWNER
    aggregate_type: ClassVar[str] = "intake-cycle"

    type: Literal["SubmissionWindowOpened"] = Field(
        default="SubmissionWindowOpened", title=_TYPE_TITLE, description="例外申报窗口已开放"
    )
    year: Year = Field(title="申报年度", description="窗口所属的申报年度")
    opens_at: AwareDatetime = Field(title="开放时间", description="例外窗口开始时间（含时区）")
    closes_at: AwareDatetime = Field(title="关闭时间", description="例外窗口结束时间（含时区）")
    submitter: SubmitterCode | None = Field(
        default=None,
        title="申报区市或单位",
        description="仅对该区市或单位开放；为空时对所有区市和单位开放",
    )
    reason: ShortText = Field(title="原因", description="开放例外窗口的原因")

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        if self.closes_at <= self.opens_at:
            raise ValueError("关闭时间须晚于开放时间（closes_at must be after opens_at）")
        return self
