"""What the districts fill in: application forms of the four programmes (annexes 3–5), plans,
facilities, service projects and the data exchange's compliance facts, with the streets, roads
and firms that make each district look like itself. Everything is drawn from the seeded
`random.Random` passed in, and every form passes intake's own rules (the unit tests check it)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from huigong_events.forms import (
    AnnualPlan,
    BudgetPlan,
    DeclaredFact,
    Funding,
    Opinion,
    Organisation,
    PartnerCategory,
    PilotForm,
    PlanProject,
    ReportingDepartment,
    ServiceBaseForm,
    ServiceField,
    StageRow,
    ThreeYearPlan,
    WelfarePartnerForm,
)
from huigong_events.intake import ComplianceFactReported, FacilityReported, ServiceProjectProposed
from huigong_events.reference import (
    CITY_CODE,
    DISTRICTS,
    GROUP_UNIONS,
    ComplianceFactKind,
    FacilityKind,
    Programme,
)
from huigong_intake.domain.applications import Form
from huigong_intake.domain.identity import china_today, credit_check_char

from .data import fake_credit_code, fake_name

FIRST_PLAN_YEAR: Final = date(2022, 7, 1)  # the work plan dates from 28 June 2022


# ============================================================================================
# Vocabulary: streets, roads and names that make districts look like themselves
# ============================================================================================

# 街道 and main roads of each district (a few of each; enough for varied names and addresses).
STREETS: Final[dict[str, tuple[str, ...]]] = {
    "370202": (
        "八大关街道",
        "湛山街道",
        "香港中路街道",
        "八大峡街道",
        "中山路街道",
        "江苏路街道",
        "金门路街道",
    ),
    "370203": (
        "台东街道",
        "辽宁路街道",
        "登州路街道",
        "浮山新区街道",
        "合肥路街道",
        "四方街道",
        "敦化路街道",
    ),
    "370213": ("李村街道", "虎山路街道", "浮山路街道", "振华路街道", "沧口街道", "楼山街道", "九水街道"),
    "370212": ("中韩街道", "沙子口街道", "王哥庄街道", "北宅街道", "金家岭街道"),
    "370214": ("城阳街道", "流亭街道", "夏庄街道", "惜福镇街道", "棘洪滩街道", "上马街道", "河套街道"),
    "370211": ("黄岛街道", "辛安街道", "薛家岛街道", "长江路街道", "灵珠山街道", "珠海街道", "隐珠街道"),
    "370215": ("通济街道", "环秀街道", "潮海街道", "北安街道", "龙山街道", "龙泉街道"),
    "370281": ("阜安街道", "中云街道", "三里河街道", "九龙街道", "胶东街道", "胶北街道"),
    "370283": ("东阁街道", "李园街道", "同和街道", "凤台街道", "白沙河街道"),
    "370285": ("水集街道", "望城街道", "沽河街道", "梅花山街道"),
}
ROADS: Final[dict[str, tuple[str, ...]]] = {
    "370202": ("香港中路", "山东路", "东海西路", "南京路", "中山路", "闽江路"),
    "370203": ("辽阳西路", "台东一路", "延吉路", "敦化路", "重庆南路", "南京路"),
    "370213": ("京口路", "书院路", "九水东路", "黑龙江中路", "重庆中路", "金水路"),
    "370212": ("海尔路", "株洲路", "松岭路", "苗岭路", "深圳路", "香港东路"),
    "370214": ("正阳路", "长城路", "春阳路", "青威路", "双元路"),
    "370211": ("长江中路", "井冈山路", "江山中路", "滨海大道", "前湾港路"),
    "370215": ("鹤山路", "蓝鳌路", "烟青路", "振华街", "天山二路"),
    "370281": ("福州南路", "广州北路", "扬州路", "兰州东路", "常州路"),
    "370283": ("红旗路", "扬州路", "人民路", "杭州路"),
    "370285": ("烟台路", "威海路", "石岛路", "重庆路"),
}
# Districts' names without 区/市, as firms put them in their names (青岛李沧…有限公司).
SHORT_NAMES: Final[dict[str, str]] = {
    code: "西海岸" if code == "370211" else name[:-1] for code, name in DISTRICTS.items()
}
_BRAND_CHARS: Final = "恒瑞泰鑫宏华盛诚德海嘉昌鼎丰达润信安康佳源航远兴隆明广博立新正元和裕通锦祥永益金汇"
# (word in the firm's name, 所属行业 on the form)
_INDUSTRIES: Final[tuple[tuple[str, str], ...]] = (
    ("机械", "制造业"),
    ("电子", "制造业"),
    ("食品", "制造业"),
    ("纺织", "制造业"),
    ("橡胶", "制造业"),
    ("智能装备", "制造业"),
    ("汽车零部件", "制造业"),
    ("海洋生物", "制造业"),
    ("新材料", "制造业"),
    ("医药", "制造业"),
    ("电力设备", "制造业"),
    ("物流", "交通运输、仓储和邮政业"),
    ("港口服务", "交通运输、仓储和邮政业"),
    ("建设工程", "建筑业"),
    ("软件", "信息传输、软件和信息技术服务业"),
    ("酒店管理", "住宿和餐饮业"),
    ("商贸", "批发和零售业"),
    ("水产", "农、林、牧、渔业"),
)
_SUFFIXES: Final = ("有限公司",) * 7 + ("股份有限公司",) * 2 + ("集团有限公司",)


def _brand(rng: random.Random) -> str:
    first, second = rng.sample(_BRAND_CHARS, 2)
    return first + second


def pick_weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _locality(code: str, rng: random.Random) -> str:
    """The district whose streets a submitter's records are placed in (group unions: any)."""
    return code if code in DISTRICTS else rng.choice(tuple(DISTRICTS))


def _address(district: str, rng: random.Random) -> str:
    return f"青岛市{DISTRICTS[district]}{rng.choice(ROADS[district])}{rng.randint(1, 399)}号"


def seeded_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def command_id(rng: random.Random) -> str:
    return f"sim-{seeded_uuid(rng)}"


def _date_between(rng: random.Random, first: date, last: date) -> date:
    if last <= first:
        return first
    return date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


# ============================================================================================
# Units: federations, unions, enterprises, service providers, each with a credit code
# ============================================================================================


def credit_code(rng: random.Random, prefix: str, division: str) -> str:
    """A valid unified social credit code registered by `prefix` (91 enterprise, 81 union,
    12 public institution, 51/52/53 social organisation, 31 law firm) in `division`."""
    organisation = fake_credit_code(rng, division)[8:17]  # the 组织机构代码 and its check char
    first17 = f"{prefix}{division}{organisation}"
    return first17 + credit_check_char(first17)


@lru_cache(maxsize=64)
def _stable_unit(name: str, prefix: str, division: str) -> Organisation:
    """A unit whose credit code is the same on every run (a federation does not re-register)."""
    return Organisation(name=name, credit_code=credit_code(random.Random(f"unit:{name}"), prefix, division))


def district_federation(code: str) -> Organisation:
    """区市总工会: the federation of a district, e.g. 李沧区总工会."""
    return _stable_unit(f"{DISTRICTS[code]}总工会", "81", code)


def group_union(code: str) -> Organisation:
    """The union of a group directly under the city, e.g. 海尔集团工会."""
    return _stable_unit(f"{GROUP_UNIONS[code]}工会", "81", CITY_CODE)


def superior_union(submitter: str) -> Organisation:
    """The union a submitter's enterprises report to: its district federation or group union."""
    return district_federation(submitter) if submitter in DISTRICTS else group_union(submitter)


def street_union(district: str, street: str) -> Organisation:
    return _stable_unit(f"{DISTRICTS[district]}{street}总工会", "81", district)


def service_centre(district: str) -> Organisation:
    """The district's 职工服务中心, a public institution (事业单位, code 12…)."""
    return _stable_unit(f"{DISTRICTS[district]}职工服务中心", "12", district)


@dataclass(frozen=True)
class Enterprise:
    name: str
    credit_code: str
    industry: str  # 所属行业
    trade: str  # the word in its name: 机械, 物流, …
    district: str

    @property
    def organisation(self) -> Organisation:
        return Organisation(name=self.name, credit_code=self.credit_code)


ENTERPRISES_PER_AREA: Final = 80


@lru_cache(maxsize=32)
def enterprises(area: str) -> tuple[Enterprise, ...]:
    """The enterprises of a district or group union: the same on every run, so that compliance
    facts of one run can hit the applicants of another."""
    rng = random.Random(f"enterprises:{area}")
    found: dict[str, Enterprise] = {}
    while len(found) < ENTERPRISES_PER_AREA:
        district = _locality(area, rng)
        trade, industry = rng.choice(_INDUSTRIES)
        if area in GROUP_UNIONS:
            group = GROUP_UNIONS[area].removesuffix("青岛分行").removesuffix("控股集团").removesuffix("集团")
            city = "" if group.startswith("青岛") else "青岛"
            name = f"{city}{group}{_brand(rng)}{trade}有限公司"
        else:
            # 青岛市南… would read as the city's name; those two districts' firms leave it out.
            named = district not in ("370202", "370203") and rng.random() < 0.3
            place = SHORT_NAMES[district] if named else ""
            name = f"青岛{place}{_brand(rng)}{trade}{rng.choice(_SUFFIXES)}"
        found.setdefault(name, Enterprise(name, credit_code(rng, "91", district), industry, trade, district))
    return tuple(found.values())


# ============================================================================================
# Application forms (annexes 3–5)
# ============================================================================================

_OPINIONS: Final = (
    "同意申报。",
    "经研究，同意申报，并保障建设所需经费和人员。",
    "情况属实，同意推荐申报。",
    "同意参加建设，按分工做好相关工作。",
    "经单位班子会议研究，同意申报。",
)
_COMPLEX_STATUS: Final = (
    "{d}职工服务中心已运行{y}年，建筑面积{a}平方米，设有法律援助、困难帮扶、就业创业、技能培训等服务窗口。",
    "{d}总工会现有职工服务中心1处、街道（镇）职工服务站{k}处，年服务职工{v}人次。",
    "依托{s}职工服务阵地，整合工会、人社、卫健等部门资源，已具备建设服务职工综合体的场地和队伍条件。",
)
_COMPLEX_WORK: Final = (
    "开展职工法律援助、技能培训、困难帮扶和心理关爱，每年举办职工文体活动{k}场。",
    "建立“职工点单、工会派单、部门接单”服务机制，年受理职工诉求{v}件，办结率{p}%。",
    "联合辖区企业和社会组织开展新就业形态劳动者入会和关爱服务，建成“青岛·惠工家”{k}处。",
)
_COMPLEX_GOALS: Final = (
    "建成服务功能一体化、服务内容多元化、服务方式社会化的服务职工综合体，形成服务事项目录和服务标准体系。",
    "三年内实现服务项目标准化、服务手段智能化，年服务职工{v}人次以上，职工满意度达到{p}%以上。",
    "建立服务职工联合体和协作联动机制，带动辖区建成服务职工基地{k}个。",
)
_HAPPY_STATUS: Final = (
    "企业现有职工{n}人，其中一线职工占{p}%，已建立工会组织，工会会员{m}人，依法签订集体合同。",
    "企业主营{t}，近三年经营状况良好，未发生重大安全生产事故和群体性劳动争议。",
    "企业建有职工食堂、职工书屋、母婴室和职工健身场所，职工年度体检覆盖率{p}%。",
)
_HAPPY_WORK: Final = (
    "坚持每年召开职工代表大会，开展工资集体协商，建立困难职工帮扶基金。",
    "开展劳动技能竞赛和“师带徒”活动，年培训职工{v}人次，设立职工创新工作室{k}个。",
    "落实带薪休假和职工疗休养制度，开展职工子女暑期托管和“金秋助学”活动。",
)
_HAPPY_GOALS: Final = (
    "改善职工生产生活条件，完善困难帮扶机制，建立职工生活幸福型企业标准体系并组织实施。",
    "职工收入随企业效益同步增长，职工满意度达到{p}%以上，劳动关系和谐稳定。",
    "健全职工健康服务和人文关怀机制，形成可复制推广的幸福企业建设经验。",
)
_FUNDING_DIRECTIONS: Final = (
    "服务阵地功能改造和设施设备购置",
    "服务项目购买和专业人才培训",
    "职工健康服务和文体活动",
    "信息化服务平台建设",
    "困难职工帮扶和职工子女托管",
)
_FUNDING_SOURCES: Final = ("区财政专项资金", "工会经费", "企业自筹资金", "社会捐赠", "上级工会补助")
_STAGE_FIRST: Final = "制定三年规划和年度实施方案，明确建设思路、重点任务和工作举措，完成规划设计。"
_STAGE_MIDDLE: Final = (
    "建立服务标准体系，按标准组织实施，完善服务设施和服务项目。",
    "推进重点任务落实，开展阶段评估，优化服务流程和运行机制。",
)
_STAGE_LAST: Final = "对照创建标准开展自查，总结建设成效，提出验收申请。"
# (topic in the base's name, the provider's trade, the provider's registration prefix)
_BASE_TOPICS: Final[tuple[tuple[str, str, str], ...]] = (
    ("心理", "心理咨询有限公司", "91"),
    ("健康", "健康管理有限公司", "91"),
    ("托育", "托育服务有限公司", "91"),
    ("养老", "养老服务有限公司", "91"),
    ("技能培训", "职业培训学校", "52"),
    ("法律", "律师事务所", "31"),
    ("文体", "体育文化发展有限公司", "91"),
    ("疗休养", "旅游发展有限公司", "91"),
    ("心理", "社会工作服务中心", "52"),
)
_DECLARED_KINDS: Final = (
    ComplianceFactKind.欠缴社保,
    ComplianceFactKind.拖欠工资,
    ComplianceFactKind.严重亏损,
    ComplianceFactKind.群体性劳动争议,
)


def _text(rng: random.Random, templates: Sequence[str], **names: str) -> str:
    """Two or three sentences of `templates` with plausible numbers."""
    chosen = rng.sample(list(templates), k=min(len(templates), rng.randint(2, 3)))
    values = {
        "n": str(rng.randint(150, 6000)),
        "y": str(rng.randint(3, 12)),
        "a": str(rng.randrange(800, 6000, 100)),
        "k": str(rng.randint(3, 30)),
        "v": f"{rng.randrange(2000, 60000, 100):,}",
        "p": str(rng.randint(85, 99)),
        "m": str(rng.randint(120, 5000)),
        **names,
    }
    return "".join(sentence.format(**values) for sentence in chosen)


def _opinion(rng: random.Random, unit: Organisation, signed_on: date) -> Opinion:
    return Opinion(
        unit_name=unit.name,
        text=rng.choice(_OPINIONS),
        sealed=True,
        signatory=fake_name(rng),
        signed_on=signed_on,
    )


def _signing_date(rng: random.Random, year: int, today: date) -> date:
    """Opinions are signed in the weeks before the form is filed: before 30 June of `year` and
    never after today."""
    last = min(today, date(year, 6, 25))
    return _date_between(rng, last - timedelta(days=60), last)


def _month(index: int) -> str:
    return f"{index // 12}-{index % 12 + 1:02d}"


def _month_index(year_month: str) -> int:
    year, month = year_month.split("-")
    return int(year) * 12 + int(month) - 1


def _stages(rng: random.Random, start: str, end: str, responsible: str) -> list[StageRow]:
    """One stage per calendar year of the period: plan, build, check and apply for acceptance."""
    first, last = _month_index(start), _month_index(end)
    bounds: list[tuple[int, int]] = []
    cursor = first
    while cursor <= last:
        year_end = min(last, (cursor // 12) * 12 + 11)
        bounds.append((cursor, year_end))
        cursor = year_end + 1
    rows = []
    for number, (a, b) in enumerate(bounds):
        if number == 0:
            content = _STAGE_FIRST
        elif number == len(bounds) - 1:
            content = _STAGE_LAST
        else:
            content = rng.choice(_STAGE_MIDDLE)
        rows.append(
            StageRow(
                period=f"{a // 12}年{a % 12 + 1}月—{b // 12}年{b % 12 + 1}月",
                start_month=_month(a),
                end_month=_month(b),
                content=content,
                responsible_units=responsible,
            )
        )
    return rows


def _period(rng: random.Random, year: int) -> tuple[str, str]:
    """试点时间: from July (sometimes later) of the year for 24 or 36 months (the plan's horizon)."""
    start = year * 12 + rng.choice((6, 6, 6, 7, 8))
    months = rng.choice((36, 36, 36, 24))
    return _month(start), _month(start + months - 1)


def _funding(rng: random.Random) -> Funding:
    return Funding(
        directions="、".join(rng.sample(_FUNDING_DIRECTIONS, 2)) + "。",
        sources="、".join(rng.sample(_FUNDING_SOURCES, rng.randint(2, 3))) + "。",
    )


def _declarations(rng: random.Random, year: int, today: date, probability: float) -> list[DeclaredFact]:
    """Now and then an enterprise declares an old matter it has since put right."""
    if rng.random() >= probability:
        return []
    occurred = _date_between(rng, date(year - 3, 1, 1), min(today, date(year, 3, 1)) - timedelta(days=90))
    settled = _date_between(rng, occurred + timedelta(days=10), occurred + timedelta(days=80))
    return [
        DeclaredFact(
            kind=rng.choice(_DECLARED_KINDS),
            occurred_on=occurred,
            settled_on=settled,
            note="已整改完毕，相关款项已结清。",
        )
    ]


def complex_form(submitter: str, rng: random.Random, year: int, today: date) -> PilotForm:
    """附件3 for a 服务职工综合体, undertaken by the district's own federation."""
    if submitter not in DISTRICTS:
        raise ValueError(f"only a district federation builds a service complex, not {submitter!r}")
    district = DISTRICTS[submitter]
    federation = district_federation(submitter)
    street = rng.choice(STREETS[submitter])
    pilot_name = rng.choice(
        (
            f"{district}工会服务职工综合体建设",
            f"{district}工会服务职工综合体建设",
            f"{district}总工会——服务职工综合体建设",
            f"{district}{street}服务职工综合体建设",
        )
    )
    participating = [service_centre(submitter), street_union(submitter, street)][: rng.randint(1, 2)]
    start, end = _period(rng, year)
    signed = _signing_date(rng, year, today)
    return PilotForm(
        pilot_name=pilot_name,
        period_start=start,
        period_end=end,
        undertaking_unit=federation,
        participating_units=participating,
        applicant_unit=federation,
        industry="工会",
        current_status=_text(rng, _COMPLEX_STATUS, d=district, s=f"{district}{street}"),
        current_work=_text(rng, _COMPLEX_WORK),
        expected_goals=_text(rng, _COMPLEX_GOALS),
        stages=_stages(rng, start, end, "、".join([federation.name, *(u.name for u in participating)])),
        funding=_funding(rng),
        undertaking_opinion=_opinion(rng, federation, signed),
        participating_opinion=_opinion(rng, participating[0], signed),
    )


def happy_form(
    submitter: str, rng: random.Random, year: int, today: date, enterprise: Enterprise
) -> PilotForm:
    """附件3 for a 幸福企业: an enterprise with its own union, its superior union taking part."""
    company = enterprise.organisation
    superior = superior_union(submitter)
    participating = [superior]
    if submitter in DISTRICTS and rng.random() < 0.4:
        participating.append(street_union(submitter, rng.choice(STREETS[submitter])))
    start, end = _period(rng, year)
    signed = _signing_date(rng, year, today)
    return PilotForm(
        pilot_name=f"{company.name}幸福企业建设" if rng.random() < 0.8 else f"{company.name}——幸福企业建设",
        period_start=start,
        period_end=end,
        undertaking_unit=company,
        participating_units=participating,
        applicant_unit=company if rng.random() < 0.7 else superior,
        industry=enterprise.industry,
        current_status=_text(rng, _HAPPY_STATUS, t=enterprise.trade),
        current_work=_text(rng, _HAPPY_WORK),
        expected_goals=_text(rng, _HAPPY_GOALS),
        stages=_stages(rng, start, end, f"{company.name}工会、{superior.name}"),
        funding=_funding(rng),
        undertaking_opinion=_opinion(rng, company, signed),
        participating_opinion=_opinion(rng, superior, signed),
        declarations=_declarations(rng, year, today, 0.1),
    )


def service_base_form(submitter: str, rng: random.Random, year: int, today: date) -> ServiceBaseForm:
    """附件4: a provider's base, put forward by the district federation or group union."""
    district = _locality(submitter, rng)
    topic, trade, prefix = rng.choice(_BASE_TOPICS)
    brand = _brand(rng)
    if prefix == "91":
        provider_name = f"青岛{brand}{trade}"
    elif prefix == "31":
        provider_name = f"山东{brand}{trade}"
    else:
        provider_name = f"青岛市{SHORT_NAMES[district]}{brand}{trade}"
    provider = Organisation(name=provider_name, credit_code=credit_code(rng, prefix, district))
    applicant = superior_union(submitter)
    enterprise = prefix == "91"
    signed = _signing_date(rng, year, today)
    return ServiceBaseForm(
        name=f"青岛{brand}{topic}服务职工基地",
        undertaking_unit=provider,
        participating_units=[applicant],
        applicant_unit=applicant,
        basic_info=f"{provider_name}成立于{rng.randint(2008, 2021)}年，服务场地{rng.randrange(300, 3000, 50)}平方米，"
        f"专职服务人员{rng.randint(8, 80)}人，位于{_address(district, rng)}。",
        project_strengths=f"{topic}服务团队专业，具备相关资质，服务项目覆盖一线职工和新就业形态劳动者。",
        operations=f"年服务职工{rng.randrange(1000, 30000, 100):,}人次，职工满意度{rng.randint(88, 99)}%。",
        union_cooperation=f"承接{applicant.name}职工{topic}服务项目，累计服务职工{rng.randrange(500, 9000, 50):,}人次。",
        next_steps=f"开发面向一线职工的{topic}服务项目，进企业、进园区、进社区开展服务。",
        undertaking_opinion=_opinion(rng, provider, signed),
        participating_opinion=_opinion(rng, applicant, signed),
        applicant_is_enterprise=enterprise,
        declarations=_declarations(rng, year, today, 0.05) if enterprise else [],
    )


# (name pattern, registration prefix, 领域)
_PARTNERS: Final[dict[PartnerCategory, tuple[str, str, str]]] = {
    PartnerCategory.智库: ("青岛{b}职工发展研究院", "52", "职工队伍建设和劳动关系研究"),
    PartnerCategory.公益慈善: ("青岛市{p}{b}社会工作服务中心", "52", "困难职工帮扶、社会救助"),
    PartnerCategory.技术支持: ("青岛{b}信息技术有限公司", "91", "智慧工会平台建设、数据服务"),
    PartnerCategory.新闻媒体: ("青岛{b}文化传媒有限公司", "91", "职工文化宣传、劳模工匠故事传播"),
    PartnerCategory.爱心企业: ("", "91", "职工关爱、爱心捐赠"),
    PartnerCategory.其他: ("青岛市{p}{b}志愿服务协会", "51", "志愿服务、社区职工关爱"),
}


def partner_form(submitter: str, rng: random.Random, year: int, today: date) -> WelfarePartnerForm:
    """附件5: a partner recommended by the district federation or group union."""
    district = _locality(submitter, rng)
    category = rng.choice(tuple(_PARTNERS))
    pattern, prefix, domain = _PARTNERS[category]
    if category is PartnerCategory.爱心企业:
        enterprise = rng.choice(enterprises(submitter))
        name, code = enterprise.name, enterprise.credit_code
    else:
        name = pattern.format(b=_brand(rng), p=SHORT_NAMES[district])
        code = credit_code(rng, prefix, district)
    applicant = superior_union(submitter)
    signed = _signing_date(rng, year, today)
    partner = Organisation(name=name, credit_code=code)
    return WelfarePartnerForm(
        name=name,
        credit_code=code,
        applicant_unit=applicant,
        category=category,
        domain=domain,
        qualifications=rng.choice(("依法登记，年检合格。", "4A级社会组织。", "高新技术企业，信用等级良好。")),
        representative_projects=f"{domain}项目{rng.randint(2, 12)}个，服务群众{rng.randrange(1000, 50000, 100):,}人次。",
        past_worker_projects=rng.choice(
            (
                "一线职工子女暑期托管。",
                "新就业形态劳动者关爱行动。",
                "困难职工家庭帮扶。",
                "职工心理健康讲座进企业。",
            )
        ),
        cooperation_mode=rng.choice(
            ("承接工会购买服务。", "与工会共建服务项目。", "提供志愿服务和专业支持。")
        ),
        next_projects=rng.choice(
            ("新就业形态劳动者关爱项目。", "职工健康服务进园区。", "劳模工匠宣传和职工文化项目。")
        ),
        partner_opinion=_opinion(rng, partner, signed),
        applicant_opinion=_opinion(rng, applicant, signed),
        applicant_is_enterprise=prefix == "91",
    )


# How often districts file each programme; group unions build no district complex.
PROGRAMME_WEIGHTS: Final[dict[Programme, int]] = {
    Programme.服务职工综合体: 1,
    Programme.幸福企业: 4,
    Programme.服务职工基地: 3,
    Programme.公益伙伴: 2,
}


def application_form(
    programme: Programme,
    submitter: str,
    rng: random.Random,
    year: int,
    *,
    today: date | None = None,
    enterprise: Enterprise | None = None,
) -> Form:
    """A valid form of `programme` as `submitter` would file it for `year` (it passes
    `form_errors`). A happy enterprise is drawn from the submitter's enterprises unless given."""
    today = today or china_today()
    if programme is Programme.服务职工综合体:
        return complex_form(submitter, rng, year, today)
    if programme is Programme.幸福企业:
        return happy_form(submitter, rng, year, today, enterprise or rng.choice(enterprises(submitter)))
    if programme is Programme.服务职工基地:
        return service_base_form(submitter, rng, year, today)
    return partner_form(submitter, rng, year, today)


def amended(form: Form, rng: random.Random) -> Form:
    """The form with one section rewritten, as a district amends before review starts."""
    if isinstance(form, PilotForm):
        goals = form.expected_goals + rng.choice(
            ("同步建立服务质量评价机制。", "按季度向市总工会报送建设进展。")
        )
        return form.model_copy(update={"expected_goals": goals})
    if isinstance(form, ServiceBaseForm):
        return form.model_copy(update={"next_steps": form.next_steps + "建立服务台账，定期评估服务效果。"})
    return form.model_copy(update={"next_projects": form.next_projects + "每季度开展一次服务活动。"})


# ============================================================================================
# Plans, facilities, service projects, compliance facts
# ============================================================================================


def three_year_plan(rng: random.Random, year: int, unit_name: str) -> ThreeYearPlan:
    total = Decimal(rng.randrange(50, 900) * 10_000)
    return ThreeYearPlan(
        start_year=year,
        end_year=year + 2,
        basic_situation=f"{unit_name}现有服务阵地{rng.randrange(500, 5000, 100)}平方米，服务职工{rng.randint(2, 60)}千人。",
        goals_and_tasks="三年规划、分年实施，建成标准化服务阵地，形成服务事项目录和服务标准体系。",
        functional_layout="设置综合服务区、健康服务区、技能培训区和职工活动区。",
        main_contents="阵地功能改造、服务项目开发、服务队伍建设和信息化平台建设。",
        management_mechanism="成立建设领导小组，实行项目化管理，定期调度建设进展。",
        budget=BudgetPlan(
            total=total,
            estimate=f"预算总额{total:,.0f}元，其中设施改造约占{rng.randint(40, 60)}%，服务项目约占{rng.randint(20, 40)}%。",
            financing="、".join(rng.sample(_FUNDING_SOURCES, 3)) + "共同筹措。",
        ),
        policy_measures="落实工会经费保障，争取地方财政支持，建立考核激励机制。",
    )


def annual_plan(rng: random.Random, year: int, unit_name: str) -> AnnualPlan:
    return AnnualPlan(
        year=year,
        measures=f"{year}年完成服务阵地改造，开展服务项目{rng.randint(5, 20)}个。",
        tasks="完善服务设施，建立服务台账，开展职工需求调查。",
        funding=Decimal(rng.randrange(10, 300) * 10_000),
        projects=[
            PlanProject(name=f"{unit_name}职工服务阵地改造", implementing_unit=unit_name),
            PlanProject(name="职工健康服务项目", implementing_unit=unit_name),
        ][: rng.randint(1, 2)],
    )


FACILITY_WEIGHTS: Final[dict[FacilityKind, int]] = {
    FacilityKind.区域共享职工之家: 3,
    FacilityKind.青岛惠工家: 3,
    FacilityKind.智慧健康驿站_中心: 1,
    FacilityKind.智慧健康驿站_企业: 2,
    FacilityKind.服务职工基地: 1,
}


def facility_report(submitter: str, rng: random.Random, *, today: date | None = None) -> FacilityReported:
    """A facility built in the submitter's area (a group union's in one of its enterprises)."""
    today = today or china_today()
    district = _locality(submitter, rng)
    street = rng.choice(STREETS[district])
    kind: FacilityKind = pick_weighted(rng, FACILITY_WEIGHTS)
    host: Organisation
    if kind is FacilityKind.区域共享职工之家:
        host = street_union(district, street) if submitter in DISTRICTS else group_union(submitter)
        name = f"{street}{rng.choice(('', '商圈', '产业园', '社区'))}新时代区域共享职工之家"
    elif kind is FacilityKind.青岛惠工家:
        host = street_union(district, street) if submitter in DISTRICTS else group_union(submitter)
        name = f"“青岛·惠工家”{street}第{rng.randint(1, 30)}服务站"
    elif kind is FacilityKind.智慧健康驿站_中心:
        host = service_centre(district)
        name = f"{host.name}职工智慧健康驿站"
    elif kind is FacilityKind.智慧健康驿站_企业:
        host = rng.choice(enterprises(submitter)).organisation
        name = f"{host.name}职工智慧健康驿站"
    else:
        topic, trade, _ = rng.choice(_BASE_TOPICS[:4])
        brand = _brand(rng)
        host = Organisation(name=f"青岛{brand}{trade}", credit_code=credit_code(rng, "91", district))
        name = f"青岛{brand}{topic}服务职工基地"
    return FacilityReported(
        report_id=seeded_uuid(rng),
        facility_kind=kind,
        name=name,
        area=submitter,
        host_unit=host.name,
        host_credit_code=host.credit_code,
        opened_on=_date_between(rng, FIRST_PLAN_YEAR, today),
        address=_address(district, rng),
    )


_PROJECTS: Final[dict[ServiceField, tuple[str, ...]]] = {
    ServiceField.健康管理: ("职工健康体检与慢病管理", "一线职工健康服务进企业"),
    ServiceField.养老托幼: ("职工子女暑期托管班", "职工爱心托育驿站"),
    ServiceField.家教培训: ("职工子女课后辅导", "职工家庭教育讲堂"),
    ServiceField.旅游休闲: ("劳模工匠疗休养", "职工周末亲子游"),
    ServiceField.婚恋交友: ("单身职工联谊会", "青年职工交友活动"),
    ServiceField.心理疏导: ("职工心理健康关爱", "新就业形态劳动者心理疏导"),
    ServiceField.文化体育: ("职工趣味运动会", "职工文化艺术节"),
    ServiceField.法律援助: ("劳动法律援助进企业", "新就业形态劳动者权益维护"),
    ServiceField.其他: ("新就业形态劳动者爱心驿站", "职工技能提升培训"),
}


# Who provides a project of each field: (the provider's trade, its registration prefix).
_FIELD_PROVIDERS: Final[dict[ServiceField, tuple[str, str]]] = {
    ServiceField.健康管理: ("健康管理有限公司", "91"),
    ServiceField.养老托幼: ("托育服务有限公司", "91"),
    ServiceField.家教培训: ("教育咨询有限公司", "91"),
    ServiceField.旅游休闲: ("国际旅行社有限公司", "91"),
    ServiceField.婚恋交友: ("青年志愿服务协会", "51"),
    ServiceField.心理疏导: ("心理咨询有限公司", "91"),
    ServiceField.文化体育: ("体育文化发展有限公司", "91"),
    ServiceField.法律援助: ("律师事务所", "31"),
    ServiceField.其他: ("社会工作服务中心", "52"),
}


def project_proposal(submitter: str, rng: random.Random) -> ServiceProjectProposed:
    """A service project a district or group union recommends for the project library."""
    district = _locality(submitter, rng)
    service_field = rng.choice(tuple(_PROJECTS))
    title = rng.choice(_PROJECTS[service_field])
    if rng.random() < 0.3:
        provider = rng.choice(enterprises(submitter)).organisation
    else:
        trade, prefix = _FIELD_PROVIDERS[service_field]
        provider = Organisation(
            name=f"青岛{_brand(rng)}{trade}", credit_code=credit_code(rng, prefix, district)
        )
    place = SHORT_NAMES[district] if submitter in DISTRICTS else GROUP_UNIONS[submitter]
    return ServiceProjectProposed(
        proposal_id=seeded_uuid(rng),
        name=f"{place}{title}项目",
        field=service_field,
        provider=provider.name,
        provider_credit_code=provider.credit_code,
        area=submitter,
        description=f"由{provider.name}提供，面向{rng.choice(('一线职工', '新就业形态劳动者', '困难职工家庭', '职工子女'))}，"
        f"全年开展服务{rng.randint(6, 60)}场次。",
    )


# Which department reports which kind of fact, and how its documents are numbered.
FACT_DEPARTMENTS: Final[dict[ComplianceFactKind, ReportingDepartment]] = {
    ComplianceFactKind.无劳动合同制度: ReportingDepartment.人社,
    ComplianceFactKind.拖欠工资: ReportingDepartment.人社,
    ComplianceFactKind.欠缴社保: ReportingDepartment.人社,
    ComplianceFactKind.无工会或欠经费: ReportingDepartment.其他,
    ComplianceFactKind.重大伤亡事故: ReportingDepartment.应急,
    ComplianceFactKind.重大环保责任事故: ReportingDepartment.生态环境,
    ComplianceFactKind.重大质量事故: ReportingDepartment.市场监管,
    ComplianceFactKind.食品安全事故: ReportingDepartment.市场监管,
    ComplianceFactKind.职业病危害事故: ReportingDepartment.卫健,
    ComplianceFactKind.群体性劳动争议: ReportingDepartment.人社,
    ComplianceFactKind.严重亏损: ReportingDepartment.其他,
}
_DOCUMENT_PREFIXES: Final[dict[ReportingDepartment, str]] = {
    ReportingDepartment.人社: "青人社监察字",
    ReportingDepartment.应急: "青应急罚字",
    ReportingDepartment.生态环境: "青环罚字",
    ReportingDepartment.市场监管: "青市监罚字",
    ReportingDepartment.卫健: "青卫职罚字",
    ReportingDepartment.其他: "青工会经审字",
}


def _document_prefix(kind: ComplianceFactKind) -> str:
    if kind is ComplianceFactKind.严重亏损:
        return "青财监字"  # a finance department's finding
    return _DOCUMENT_PREFIXES[FACT_DEPARTMENTS[kind]]


FACT_WEIGHTS: Final[dict[ComplianceFactKind, int]] = {
    ComplianceFactKind.拖欠工资: 5,
    ComplianceFactKind.欠缴社保: 5,
    ComplianceFactKind.无劳动合同制度: 2,
    ComplianceFactKind.群体性劳动争议: 2,
    ComplianceFactKind.无工会或欠经费: 2,
    ComplianceFactKind.重大伤亡事故: 1,
    ComplianceFactKind.重大环保责任事故: 1,
    ComplianceFactKind.重大质量事故: 1,
    ComplianceFactKind.食品安全事故: 1,
    ComplianceFactKind.职业病危害事故: 1,
    ComplianceFactKind.严重亏损: 1,
}


def compliance_fact(
    areas: Sequence[str], rng: random.Random, *, today: date | None = None
) -> ComplianceFactReported:
    """A fact the data exchange reports about one of the areas' enterprises; about 40% settled."""
    today = today or china_today()
    enterprise = rng.choice(enterprises(rng.choice(tuple(areas))))
    kind: ComplianceFactKind = pick_weighted(rng, FACT_WEIGHTS)
    department = FACT_DEPARTMENTS[kind]
    occurred = _date_between(rng, today - timedelta(days=3 * 365), today - timedelta(days=20))
    reported = _date_between(rng, occurred, min(today, occurred + timedelta(days=120)))
    settled = _date_between(rng, occurred, today) if rng.random() < 0.4 else None
    return ComplianceFactReported(
        fact_id=seeded_uuid(rng),
        credit_code=enterprise.credit_code,
        unit_name=enterprise.name,
        kind=kind,
        occurred_on=occurred,
        settled_on=settled,
        reported_by=department,
        reported_on=reported,
        evidence_ref=f"{_document_prefix(kind)}〔{occurred.year}〕第{rng.randint(1, 999)}号",
        note="已责令限期整改。" if settled is None else "已整改完毕。",
    )
