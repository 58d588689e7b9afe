"""Payloads shared by events and by the intake API: the three application forms (annexes 3–5),
the construction plans (工作安排 2), and the small constrained types every contract uses.

Only contract invariants live here: types, lengths, code membership, a period that does not end
before it starts, a form that matches its programme. Business rules (the 30 June deadline, the
“XXX—XXX建设” pattern of 试点名称, who may be 承担单位) belong to the intake service's domain.

The models are frozen and forbid unknown fields, so a form read back from an event is exactly
the form that was submitted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from .labels import Labelled, describe_pattern, relabel
from .reference import (
    ALL_AREAS,
    DISTRICTS,
    MANAGING_UNIT,
    SUBMITTERS,
    ComplianceFactKind,
    Programme,
)

# --------------------------------------------------------------------------------------------
# Constrained scalar types
# --------------------------------------------------------------------------------------------

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
"""A unit's, project's or facility's name."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
"""A reason, a note, an address: one or a few sentences."""

LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
"""A section of a form or plan: free prose, several paragraphs."""

# 统一社会信用代码 (GB 32100-2015): 18 characters of 0-9 and A-Z without I, O, S, V, Z; the
# 3rd–8th are the administrative-division code. The check digit is not verified here.
_CREDIT_CODE_PATTERN: Final = describe_pattern(
    r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    "应为18位统一社会信用代码（数字和除 I、O、S、V、Z 外的大写字母，第3至8位为行政区划代码），如 81370202MJD000002Y",
    "an 18-character unified social credit code (digits and capital letters except I, O, S, V, Z; "
    "characters 3 to 8 the division code), like 81370202MJD000002Y",
)


def _upper_stripped(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


CreditCode = Annotated[
    str,
    StringConstraints(min_length=18, max_length=18, pattern=_CREDIT_CODE_PATTERN),
    BeforeValidator(_upper_stripped),  # runs first: the constraints see the normalised code
]
"""统一社会信用代码, normalised to upper case without surrounding blanks."""

Year = Annotated[int, Field(ge=2022, le=2100)]
"""A calendar year of the programme (the plan starts in 2022)."""

YearMonth = Annotated[
    str,
    StringConstraints(
        pattern=describe_pattern(
            r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
            "应为 YYYY-MM 格式的年月，如 2027-03",
            "a year and month like 2027-03",
        )
    ),
]
"""A month written ``YYYY-MM`` (试点时间 is “××年××月至××年××月”)."""

Money = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]
"""An amount in 元 (yuan) with at most two decimals; JSON carries it as a string."""

Score = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
"""A review score on a 0–100 scale with at most two decimals."""

# The HMAC-SHA-256 of a gig worker's ID number under the enrolment key, lower-case hex. It is
# the only thing that identifies a member in an event; a raw ID number (18 characters) can
# never satisfy this shape.
MemberKey = Annotated[
    str,
    StringConstraints(
        min_length=64,
        max_length=64,
        pattern=describe_pattern(
            r"^[0-9a-f]{64}$",
            "应为64位小写十六进制字符（0-9、a-f）",
            "64 lower-case hexadecimal characters (0-9, a-f)",
        ),
    ),
]

KeyId = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=64,
        pattern=describe_pattern(
            r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
            "应以字母或数字开头，只含字母、数字和 . _ : -，如 key-2027",
            "letters, digits and . _ : - starting with a letter or digit, like key-2027",
        ),
    ),
]
"""The identifier of the key that produced a member key or sealed a ciphertext (not the key)."""

# An AEAD ciphertext (nonce + ciphertext + tag) is at least 12 + 1 + 16 bytes.
_MIN_SEALED_BYTES: Final = 29


def _check_sealed(value: str) -> str:
    """Base64 (standard or URL-safe alphabet, padded) of at least an AEAD nonce + tag."""
    if value.isdigit():
        raise ValueError("加密个人信息不能是纯数字（looks like a raw number, not a ciphertext）")
    if _SEALED_ALPHABET.fullmatch(value) is None or len(value) % 4:
        raise ValueError("加密个人信息必须是带填充的 base64 密文（padded base64 expected）")
    # The alphabet and padding are checked above, so the decoded length follows from the text
    # length; decoding every ciphertext just to count its bytes would slow replays down.
    decoded_length = len(value) // 4 * 3 - (len(value) - len(value.rstrip("=")))
    if decoded_length < _MIN_SEALED_BYTES:
        raise ValueError("加密个人信息过短，不是 AEAD 密文（too short for an AEAD ciphertext）")
    return value


_SEALED_ALPHABET: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")


SealedPersonal = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_check_sealed)]


def _member_of(codes: Mapping[str, str], what: str) -> Callable[[str], str]:
    def check(code: str) -> str:
        if code not in codes:
            raise ValueError(f"未知的{what}代码：{code!r}（unknown code）")
        return code

    return check


def _code_of(codes: Mapping[str, str]) -> Callable[[object], object]:
    """A caller may name a district or unit (市南区) instead of giving its code (370202)."""
    by_name = {name: code for code, name in codes.items()}

    def code(value: object) -> object:
        return by_name.get(value.strip(), value) if isinstance(value, str) else value

    return code


DistrictCode = Annotated[
    str,
    BeforeValidator(_code_of(DISTRICTS)),
    AfterValidator(_member_of(DISTRICTS, "区市")),
    Field(json_schema_extra={"enum": list(DISTRICTS)}),
]
"""One of the ten districts (GB/T 2260)."""

SubmitterCode = Annotated[
    str,
    BeforeValidator(_code_of(SUBMITTERS)),
    AfterValidator(_member_of(SUBMITTERS, "区市或单位")),
    Field(json_schema_extra={"enum": list(SUBMITTERS)}),
]
"""A district or a group union directly under the city: those who submit."""

AreaCode = Annotated[
    str,
    BeforeValidator(_code_of(ALL_AREAS)),
    AfterValidator(_member_of(ALL_AREAS, "区市或单位")),
    Field(json_schema_extra={"enum": list(ALL_AREAS)}),
]
"""A district, a group union, or the city itself (370200)."""


# --------------------------------------------------------------------------------------------
# Small enumerations used by several services (not in reference.py because they are not facts
# of the seed's targets; they are vocabularies of the forms and the data exchange)
# --------------------------------------------------------------------------------------------


class PartnerCategory(Labelled):
    """关爱职工公益伙伴的类型（方案“关爱职工公益伙伴纽带计划”所列社会力量）。"""

    智库 = "think_tank"  # 专业智库、研究机构、专家学者
    公益慈善 = "charity"  # 公益组织、慈善机构、志愿服务组织
    技术支持 = "tech_provider"  # 技术支持机构（科技企业）
    新闻媒体 = "media"
    爱心企业 = "caring_enterprise"
    其他 = "other"


PARTNER_CATEGORY_LABELS: Final = relabel(
    PartnerCategory,
    {
        PartnerCategory.智库: "专业智库、研究机构",
        PartnerCategory.公益慈善: "公益组织、慈善机构",
        PartnerCategory.技术支持: "技术支持机构",
        PartnerCategory.新闻媒体: "新闻媒体",
        PartnerCategory.爱心企业: "爱心企业",
        PartnerCategory.其他: "其他",
    },
)


class ServiceField(Labelled):
    """服务职工项目的服务领域（方案“建立一批服务职工的项目库”所列方面）。"""

    健康管理 = "health"
    养老托幼 = "elderly_childcare"
    家教培训 = "tutoring"
    旅游休闲 = "travel_leisure"
    婚恋交友 = "matchmaking"
    心理疏导 = "counselling"
    文化体育 = "culture_sports"
    法律援助 = "legal_aid"
    其他 = "other"


class ReportingDepartment(Labelled):
    """报送合规事实的部门（数据交换：民政、人社、卫健、住房等）。"""

    民政 = "civil_affairs"
    人社 = "human_resources_social_security"
    卫健 = "health_commission"
    住房 = "housing"
    应急 = "emergency_management"
    市场监管 = "market_regulation"
    生态环境 = "ecology_environment"
    其他 = "other"


REPORTING_DEPARTMENT_LABELS: Final = relabel(
    ReportingDepartment,
    {
        ReportingDepartment.民政: "民政部门",
        ReportingDepartment.人社: "人力资源和社会保障部门",
        ReportingDepartment.卫健: "卫生健康部门",
        ReportingDepartment.住房: "住房和城乡建设部门",
        ReportingDepartment.应急: "应急管理部门",
        ReportingDepartment.市场监管: "市场监督管理部门",
        ReportingDepartment.生态环境: "生态环境部门",
        ReportingDepartment.其他: "其他部门",
    },
)


# --------------------------------------------------------------------------------------------
# Building blocks of the forms
# --------------------------------------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Organisation(_Payload):
    """单位：名称及统一社会信用代码。合规事实按统一社会信用代码与申报单位、承担单位匹配。"""

    name: Name = Field(title="单位名称", description="单位全称，与营业执照或登记证书一致")
    credit_code: CreditCode = Field(
        title="统一社会信用代码",
        description="18 位统一社会信用代码（不校验校验位）；用于匹配数据交换报送的合规事实",
    )


class StageRow(_Payload):
    """计划工作步骤（一行）：时间、阶段工作内容、负责单位及参与单位。"""

    period: ShortText = Field(
        title="时间",
        description="时间进度，按申报表原文填写，如“2022年7月—2022年12月”",
    )
    start_month: YearMonth | None = Field(
        default=None,
        title="开始年月",
        description="该阶段开始的年月（YYYY-MM），可由“时间”解析得到；无法解析时为空",
    )
    end_month: YearMonth | None = Field(
        default=None,
        title="结束年月",
        description="该阶段结束的年月（YYYY-MM），可由“时间”解析得到；无法解析时为空",
    )
    content: LongText = Field(
        title="阶段工作内容",
        description="该阶段的工作内容（建设思路、重点任务、工作举措、规划设计、标准体系建立、"
        "组织实施标准、自查、申请验收等）",
    )
    responsible_units: ShortText = Field(title="负责单位及参与单位", description="该阶段的负责单位及参与单位")

    @model_validator(mode="after")
    def _months_in_order(self) -> Self:
        if self.start_month and self.end_month and self.end_month < self.start_month:
            raise ValueError("结束年月早于开始年月（end_month before start_month）")
        return self


class Opinion(_Payload):
    """单位意见：意见内容、盖章、负责人签名及日期（申报表第五/四/三部分）。"""

    unit_name: Name = Field(title="单位名称", description="出具意见的单位名称")
    text: LongText = Field(title="意见", description="单位意见的内容")
    sealed: bool = Field(title="盖章", description="意见是否已加盖单位公章")
    signatory: Name = Field(
        title="负责人（签名）", description="签署意见的单位负责人姓名（以其职务身份签署）"
    )
    signed_on: date = Field(title="日期", description="签署意见的日期（年月日）")


class Funding(_Payload):
    """经费保障情况：经费主要投入方向及经费来源。"""

    directions: LongText = Field(title="经费主要投入方向", description="经费主要投入的方向")
    sources: LongText = Field(title="经费来源", description="经费来源，包括当地政府、工会经费投入等")


class DeclaredFact(_Payload):
    """申报单位在申报表中声明的合规情况（如拖欠工资、重大事故），用于不予受理审查。"""

    kind: ComplianceFactKind = Field(
        title="事项类型", description="声明的事项类型，每类对应一项企业不予受理情形"
    )
    occurred_on: date | None = Field(default=None, title="发生日期", description="事项发生的日期；不详时为空")
    settled_on: date | None = Field(
        default=None,
        title="已整改/结清日期",
        description="已整改完毕或欠款已结清的日期；尚未整改或结清时为空",
    )
    note: ShortText | None = Field(default=None, title="说明", description="申报单位的补充说明")

    @model_validator(mode="after")
    def _settled_after_occurred(self) -> Self:
        if self.occurred_on and self.settled_on and self.settled_on < self.occurred_on:
            raise ValueError("整改/结清日期早于发生日期（settled_on before occurred_on）")
        return self


_MANAGING_UNIT_DESCRIPTION: Final = "管理单位，按填写说明为市总工会"
_DECLARATIONS_DESCRIPTION: Final = (
    "申报单位如实声明的劳动合同、工资、社保、工会经费、事故、劳动争议、亏损等情况；"
    "无声明事项时为空列表。主要适用于企业"
)
_ENTERPRISE_DESCRIPTION: Final = "承担（伙伴）单位是否为企业；企业须经不予受理情形审查"


# --------------------------------------------------------------------------------------------
# The three application forms
# --------------------------------------------------------------------------------------------


class PlatformEconomy(_Payload):
    """平台经济企业：申报幸福企业试点的平台企业，及其试点覆盖的关联企业劳动者。"""

    related_enterprises: list[Name] = Field(
        min_length=1,
        max_length=200,
        title="关联企业",
        description="试点覆盖的关联企业（配送站点、加盟商、劳务外包企业等）名称",
    )
    related_workers: int = Field(
        ge=1,
        le=10_000_000,
        title="覆盖关联企业劳动者人数",
        description="试点覆盖的关联企业劳动者（含新就业形态劳动者）人数",
    )


class PilotForm(_Payload):
    """附件3 服务职工综合体/幸福企业试点申报表：申报服务职工综合体或职工生活幸福型企业试点。"""

    form_kind: Literal["pilot"] = Field(
        default="pilot", title="申报表类型", description="附件3 服务职工综合体/幸福企业试点申报表"
    )
    pilot_name: Name = Field(
        title="试点名称",
        description="格式“XXX—XXX建设”，如“XXX区工会服务职工综合体建设”“XXX有限公司幸福企业建设”",
    )
    period_start: YearMonth = Field(title="试点时间（起）", description="试点开始的年月（YYYY-MM）")
    period_end: YearMonth = Field(title="试点时间（止）", description="试点结束的年月（YYYY-MM）")
    undertaking_unit: Organisation = Field(
        title="试点承担单位",
        description="综合体为市或区市总工会；幸福企业为建立工会组织、具有独立法人资格的企业或"
        "建立工会组织的工业园区",
    )
    participating_units: list[Organisation] = Field(
        min_length=1,
        title="试点参加单位",
        description="综合体为参与建设的有关单位；幸福企业为按照工会隶属关系的上级工会",
    )
    managing_unit: Name = Field(
        default=MANAGING_UNIT, title="试点管理单位", description=_MANAGING_UNIT_DESCRIPTION
    )
    applicant_unit: Organisation = Field(title="申报单位", description="填写申报表的申报单位")
    industry: Name = Field(title="所属行业", description="申报单位所属行业")
    current_status: LongText = Field(
        title="现状及与试点应具备条件符合性", description="单位现状，以及与试点应具备条件的符合情况"
    )
    current_work: LongText = Field(title="目前工作情况", description="目前开展的服务职工工作情况")
    expected_goals: LongText = Field(
        title="试点预期实现工作目标",
        description="包括标准体系建立、实施及实施效果等",
    )
    stages: list[StageRow] = Field(
        min_length=1,
        max_length=100,
        title="计划工作步骤",
        description="计划工作步骤、时间进度、阶段工作内容（三年规划及年度实施方案），每行一个阶段",
    )
    funding: Funding = Field(title="经费保障情况", description="经费主要投入方向及经费来源")
    undertaking_opinion: Opinion = Field(
        title="承担单位意见", description="试点承担单位意见（盖章），负责人签名及日期"
    )
    participating_opinion: Opinion = Field(
        title="参加单位意见", description="试点参加单位意见（盖章），负责人签名及日期"
    )
    # The city federation (管理单位) signs its opinion after it receives the form, so a form
    # as submitted by a district usually has none yet.
    managing_opinion: Opinion | None = Field(
        default=None,
        title="管理单位意见",
        description="管理单位（市总工会）意见（盖章）；市总工会收到申报表后签署，提交时可为空",
    )
    declarations: list[DeclaredFact] = Field(
        default_factory=list, title="声明事项", description=_DECLARATIONS_DESCRIPTION
    )
    platform_economy: PlatformEconomy | None = Field(
        default=None,
        title="平台经济企业",
        description="申报单位为平台经济企业时填写（仅幸福企业试点），其试点单独统计",
    )

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("试点时间的结束年月早于开始年月（period_end before period_start）")
        return self


class ServiceBaseForm(_Payload):
    """附件4 服务职工基地申报表：申报服务职工基地。"""

    form_kind: Literal["service_base"] = Field(
        default="service_base", title="申报表类型", description="附件4 服务职工基地申报表"
    )
    name: Name = Field(title="名称", description="服务职工基地名称")
    undertaking_unit: Organisation = Field(title="承担单位", description="服务职工基地的承担单位")
    participating_units: list[Organisation] = Field(
        min_length=1, title="参加单位", description="参与服务职工基地建设的单位"
    )
    managing_unit: Name = Field(
        default=MANAGING_UNIT, title="管理单位", description=_MANAGING_UNIT_DESCRIPTION
    )
    applicant_unit: Organisation = Field(title="申报单位", description="填写申报表的申报单位")
    basic_info: LongText = Field(title="服务职工基地基本情况", description="服务职工基地现况：基本情况")
    project_strengths: LongText = Field(
        title="现有服务职工项目的优势", description="现有服务职工项目和资源情况：项目的优势"
    )
    operations: LongText = Field(title="服务职工运营情况", description="现有服务职工项目和资源情况：运营情况")
    union_cooperation: LongText = Field(
        title="和工会已有合作的项目和效益", description="与工会已有合作的项目及其效益"
    )
    next_steps: LongText = Field(
        title="下一步工作思路、项目设计", description="下一步工作思路及服务职工项目设计"
    )
    undertaking_opinion: Opinion = Field(
        title="承担单位意见", description="承担单位意见（盖章），负责人签名及日期"
    )
    participating_opinion: Opinion = Field(
        title="参加单位意见", description="参加单位意见（盖章），负责人签名及日期"
    )
    # Signed by the city federation after receipt, see PilotForm.managing_opinion.
    managing_opinion: Opinion | None = Field(
        default=None,
        title="管理单位意见",
        description="管理单位（市总工会）意见（盖章）；市总工会收到申报表后签署，提交时可为空",
    )
    applicant_is_enterprise: bool = Field(title="是否为企业", description=_ENTERPRISE_DESCRIPTION)
    declarations: list[DeclaredFact] = Field(
        default_factory=list, title="声明事项", description=_DECLARATIONS_DESCRIPTION
    )


class WelfarePartnerForm(_Payload):
    """附件5 关爱职工公益伙伴申报表：申报关爱职工公益伙伴（公益合作伙伴）。"""

    form_kind: Literal["welfare_partner"] = Field(
        default="welfare_partner", title="申报表类型", description="附件5 关爱职工公益伙伴申报表"
    )
    name: Name = Field(title="名称", description="关爱职工公益伙伴（伙伴单位）名称")
    credit_code: CreditCode = Field(
        title="统一社会信用代码", description="伙伴单位的统一社会信用代码（18 位）"
    )
    applicant_unit: Organisation = Field(
        title="申报单位", description="推荐并申报该伙伴的单位（区市总工会或有关单位工会）"
    )
    managing_unit: Name = Field(
        default=MANAGING_UNIT, title="管理单位", description=_MANAGING_UNIT_DESCRIPTION
    )
    category: PartnerCategory = Field(
        title="类型", description="伙伴类型：专业智库、公益慈善、技术支持机构、新闻媒体、爱心企业等"
    )
    domain: ShortText = Field(title="领域", description="伙伴的工作领域，如社会救助、心理疏导")
    qualifications: LongText = Field(title="资质", description="伙伴单位具备的相关资质")
    representative_projects: LongText = Field(
        title="曾开展或承担的代表性项目", description="伙伴单位曾开展或承担的代表性项目"
    )
    past_worker_projects: LongText = Field(
        title="曾开展的服务职工项目", description="服务职工领域工作：曾开展的服务职工项目"
    )
    cooperation_mode: LongText = Field(
        title="与工会合作方式", description="服务职工领域工作：与工会的合作方式"
    )
    next_projects: LongText = Field(
        title="下一步服务职工项目计划", description="服务职工领域工作：下一步服务职工项目计划"
    )
    partner_opinion: Opinion = Field(
        title="伙伴单位意见", description="伙伴单位意见（盖章），负责人签名及日期"
    )
    applicant_opinion: Opinion = Field(
        title="申报单位意见", description="申报单位意见（盖章），负责人签名及日期"
    )
    # Signed by the city federation after receipt, see PilotForm.managing_opinion.
    managing_opinion: Opinion | None = Field(
        default=None,
        title="管理单位意见",
        description="管理单位（市总工会）意见（盖章）；市总工会收到申报表后签署，提交时可为空",
    )
    applicant_is_enterprise: bool = Field(title="是否为企业", description=_ENTERPRISE_DESCRIPTION)
    declarations: list[DeclaredFact] = Field(
        default_factory=list, title="声明事项", description=_DECLARATIONS_DESCRIPTION
    )


ApplicationForm = Annotated[
    PilotForm | ServiceBaseForm | WelfarePartnerForm, Field(discriminator="form_kind")
]
"""Any of the three application forms, told apart by ``form_kind``."""

# Which forms apply to which programme.
FORM_PROGRAMMES: Final[dict[str, frozenset[Programme]]] = {
    "pilot": frozenset({Programme.服务职工综合体, Programme.幸福企业}),
    "service_base": frozenset({Programme.服务职工基地}),
    "welfare_partner": frozenset({Programme.公益伙伴}),
}


def check_form_programme(
    programme: Programme, form: PilotForm | ServiceBaseForm | WelfarePartnerForm
) -> None:
    """ValueError when the form is not the one of the programme (e.g. 附件5 for a 幸福企业)."""
    if programme not in FORM_PROGRAMMES[form.form_kind]:
        raise ValueError(
            f"申报表类型 {form.form_kind} 与工作任务 {programme.label} 不符"
            "（form does not belong to the programme）"
        )
    if isinstance(form, PilotForm) and form.platform_economy and programme is not Programme.幸福企业:
        raise ValueError(
            "只有幸福企业试点可标为平台经济企业（platform_economy is for happy-enterprise pilots only）"
        )


# --------------------------------------------------------------------------------------------
# Construction plans (工作安排 2 报送建设方案)
# --------------------------------------------------------------------------------------------


class BudgetPlan(_Payload):
    """预算估算与资金筹措方案：三年规划中的预算总额、估算说明及资金筹措。"""

    total: Money = Field(title="预算总额", description="三年建设预算估算总额（元）")
    estimate: LongText = Field(title="预算估算", description="预算估算的构成与说明")
    financing: LongText = Field(
        title="资金筹措方案", description="资金来源与筹措方案（当地政府、工会经费、企业投入等）"
    )


class ThreeYearPlan(_Payload):
    """三年规划：建设单位按“三年规划、分年实施”编制的建设项目发展规划。"""

    plan_kind: Literal["three_year"] = Field(default="three_year", title="方案类型", description="三年规划")
    start_year: Year = Field(title="起始年度", description="三年规划的第一年")
    end_year: Year = Field(title="终止年度", description="三年规划的最后一年")
    basic_situation: LongText = Field(title="基本情况", description="建设单位的基本情况")
    goals_and_tasks: LongText = Field(title="目标任务", description="三年建设的目标任务")
    functional_layout: LongText = Field(title="功能布局", description="建设项目的功能布局")
    main_contents: LongText = Field(title="主要建设内容和任务", description="主要建设内容和任务")
    management_mechanism: LongText = Field(
        title="管理和运行体制机制", description="建设项目的管理和运行体制机制"
    )
    budget: BudgetPlan = Field(title="预算估算与资金筹措方案", description="预算估算（含总额）与资金筹措方案")
    policy_measures: LongText = Field(title="政策保障措施", description="政策保障措施")

    @model_validator(mode="after")
    def _years_in_order(self) -> Self:
        if self.end_year < self.start_year:
            raise ValueError("终止年度早于起始年度（end_year before start_year）")
        return self


class PlanProject(_Payload):
    """年度实施方案中落实的具体建设项目及项目实施主体。"""

    name: Name = Field(title="项目名称", description="具体建设项目的名称")
    implementing_unit: Name = Field(title="项目实施主体", description="承担该项目的单位（项目实施主体）")


class AnnualPlan(_Payload):
    """年度实施方案：在三年规划基础上细化的年度具体举措、建设任务、资金投入和建设项目。"""

    plan_kind: Literal["annual"] = Field(default="annual", title="方案类型", description="年度实施方案")
    year: Year = Field(title="实施年度", description="年度实施方案所属年度")
    measures: LongText = Field(title="年度具体举措", description="分解的年度具体举措")
    tasks: LongText = Field(title="建设任务", description="本年度的建设任务（重点任务）")
    funding: Money = Field(title="资金投入", description="本年度资金投入（经费安排，元）")
    projects: list[PlanProject] = Field(
        min_length=1,
        title="建设项目",
        description="本年度落实的具体建设项目和项目实施主体",
    )


ConstructionPlan = Annotated[ThreeYearPlan | AnnualPlan, Field(discriminator="plan_kind")]
"""A three-year plan or an annual implementation plan, told apart by ``plan_kind``."""
