"""Reference data of the 2022 work plan (青岛工会提升职工生活品质工作方案).

Everything here is a fact of the seed document, kept as code so that validation, events and the
UI all speak the same words. Codes are GB/T 2260 for districts; group unions directly under the
city get stable ASCII codes of our own (they have no GB/T code) so that topics and keys stay
readable.
"""

from __future__ import annotations

import re
from typing import Final
from uuid import UUID

from .labels import Labelled, relabel

CITY_CODE: Final = "370200"
CITY_NAME: Final = "青岛市"

# 区市总工会: the ten district federations, in the order the plan lists them.
DISTRICTS: Final[dict[str, str]] = {
    "370202": "市南区",
    "370203": "市北区",
    "370213": "李沧区",
    "370212": "崂山区",
    "370214": "城阳区",
    "370211": "西海岸新区",
    "370215": "即墨区",
    "370281": "胶州市",
    "370283": "平度市",
    "370285": "莱西市",
}

# 市直/中央、省驻青单位工会 that annex 2 names as "所属区市或单位".
GROUP_UNIONS: Final[dict[str, str]] = {
    "G-QDPORT": "青岛港集团",
    "G-QDAIRPORT": "青岛机场集团",
    "G-HAIER": "海尔集团",
    "G-HISENSE": "海信集团",
    "G-TSINGTAO": "青啤集团",
    "G-AUCMA": "澳柯玛控股集团",
    "G-QDBAY": "青岛海湾集团",
    "G-PSBC-QD": "邮储银行青岛分行",
}

# Every code that may submit (a "source" of intake commands): districts and group unions.
SUBMITTERS: Final[dict[str, str]] = {**DISTRICTS, **GROUP_UNIONS}
# Every code a record can be attributed to, including the city itself.
ALL_AREAS: Final[dict[str, str]] = {CITY_CODE: CITY_NAME, **SUBMITTERS}

MANAGING_UNIT: Final = "市总工会"  # 管理单位 is always the city federation (annex 3 note 2, 3).


def area_name(code: str) -> str:
    """The Chinese name of a district, the city or a group union; KeyError when unknown."""
    return ALL_AREAS[code]


_AREA_CODES: Final[dict[str, str]] = {name: code for code, name in ALL_AREAS.items()}


def area_code(text: str) -> str:
    """The code of an area named by its code or its Chinese name (市南区 → 370202); the text as
    given when it is neither (the caller refuses it)."""
    return _AREA_CODES.get(text.strip(), text)


class Programme(Labelled):
    """The four kinds of application (annexes 3–5)."""

    服务职工综合体 = "service_complex"
    幸福企业 = "happy_enterprise"
    服务职工基地 = "service_base"
    公益伙伴 = "welfare_partner"


PROGRAMME_LABELS: Final = relabel(
    Programme,
    {
        Programme.服务职工综合体: "服务职工综合体",
        Programme.幸福企业: "职工生活幸福型企业",
        Programme.服务职工基地: "服务职工基地",
        Programme.公益伙伴: "关爱职工公益伙伴",
    },
)

# 认定: the exact titles a unit receives (工作安排 4). Partners receive no title in the plan.
TITLES: Final[dict[Programme, str]] = {
    Programme.服务职工综合体: "青岛市工会服务职工综合体创建示范单位",
    Programme.服务职工基地: "青岛市职工服务基地创建示范单位",
    Programme.幸福企业: "青岛市职工生活幸福型企业创建示范单位",
}


class FacilityKind(Labelled):
    """Facilities the targets count (programme 1 and 2)."""

    区域共享职工之家 = "shared_workers_home"  # 新时代区域共享职工之家
    青岛惠工家 = "huigong_home"  # "青岛·惠工家"
    智慧健康驿站_中心 = "health_station_centre"  # 职工智慧健康驿站 in a service centre
    智慧健康驿站_企业 = "health_station_enterprise"  # 职工智慧健康驿站 in an enterprise
    服务职工基地 = "service_base"
    # 新就业形态劳动者服务站点/服务综合体 (温暖行动 四.2): counted by district on their own, not
    # toward the programme 1 and 2 targets.
    新就业形态劳动者服务站点 = "gig_worker_station"


FACILITY_LABELS: Final = relabel(
    FacilityKind,
    {
        FacilityKind.区域共享职工之家: "新时代区域共享职工之家",
        FacilityKind.青岛惠工家: "“青岛·惠工家”",
        FacilityKind.智慧健康驿站_中心: "职工智慧健康驿站（职工服务中心）",
        FacilityKind.智慧健康驿站_企业: "职工智慧健康驿站（企业）",
        FacilityKind.服务职工基地: "服务职工基地",
        FacilityKind.新就业形态劳动者服务站点: "新就业形态劳动者服务站点（服务综合体）",
    },
)


class StationHost(Labelled):
    """Where a 新就业形态劳动者服务站点 is set up: the plan names parks, office buildings, shopping
    districts and social organisations."""

    园区 = "park"
    楼宇 = "building"
    商圈 = "business_district"
    社会机构 = "social_organisation"


class Occupation(Labelled):
    """职业类别 of a 新就业形态劳动者 as union staff write it in enrolment sheets."""

    快递员 = "快递员"
    外卖送餐员 = "外卖送餐员"
    网约车驾驶员 = "网约车驾驶员"
    货车司机 = "货车司机"
    其他 = "其他"


class ExclusionRule(Labelled):
    """不予受理 rules (工作安排 5). E* are facts about enterprises, C* are reviewers' judgements
    about service-centre projects."""

    E1_无劳动合同制度 = "E1"
    E2_拖欠工资 = "E2"
    E3_未缴社保 = "E3"
    E4_无工会或欠经费 = "E4"
    E5_重大事故 = "E5"
    E6_群体性劳动争议 = "E6"
    E7_严重亏损 = "E7"
    C1_未聚集主责主业 = "C1"
    C2_未以职工需求为导向 = "C2"
    C3_商业行为过多 = "C3"
    C4_社会效益不高 = "C4"
    C5_不符合职责或违法 = "C5"

    @property
    def text(self) -> str:
        return EXCLUSION_TEXTS[self]

    @property
    def is_enterprise_fact(self) -> bool:
        return self.value.startswith("E")


EXCLUSION_TEXTS: Final = relabel(
    ExclusionRule,
    {
        ExclusionRule.E1_无劳动合同制度: "不建立劳动合同制度和集体合同制度",
        ExclusionRule.E2_拖欠工资: "拖欠职工工资",
        ExclusionRule.E3_未缴社保: "未依法缴纳社会保险费",
        ExclusionRule.E4_无工会或欠经费: "未依法建立工会组织，拖欠工会经费",
        ExclusionRule.E5_重大事故: (
            "三年内发生重大伤亡事故、重大环保责任事故、重大质量事故、食品安全事故和职业病危害事故"
        ),
        ExclusionRule.E6_群体性劳动争议: "因企业原因发生重大群体性劳动争议纠纷",
        ExclusionRule.E7_严重亏损: "企业严重亏损",
        ExclusionRule.C1_未聚集主责主业: "未聚集工会主责主业",
        ExclusionRule.C2_未以职工需求为导向: "未以职工需求为导向",
        ExclusionRule.C3_商业行为过多: "建设项目商业行为过多",
        ExclusionRule.C4_社会效益不高: "社会效益不高",
        ExclusionRule.C5_不符合职责或违法: "项目内容不符合工会基本职责要求、违反相关法律法规",
    },
)


class ComplianceFactKind(Labelled):
    """Facts reported by the data exchange (民政、人社、卫健、住房) or declared in a form; each
    maps to exactly one enterprise exclusion rule."""

    无劳动合同制度 = "no_labour_contract_system"
    拖欠工资 = "wage_arrears"
    欠缴社保 = "social_insurance_arrears"
    无工会或欠经费 = "no_union_or_dues_owed"
    重大伤亡事故 = "accident_casualty"
    重大环保责任事故 = "accident_environmental"
    重大质量事故 = "accident_quality"
    食品安全事故 = "accident_food_safety"
    职业病危害事故 = "accident_occupational_disease"
    群体性劳动争议 = "collective_labour_dispute"
    严重亏损 = "severe_losses"

    @property
    def rule(self) -> ExclusionRule:
        return FACT_RULES[self]

    @property
    def is_accident(self) -> bool:
        return self.value.startswith("accident_")


FACT_RULES: Final[dict[ComplianceFactKind, ExclusionRule]] = {
    ComplianceFactKind.无劳动合同制度: ExclusionRule.E1_无劳动合同制度,
    ComplianceFactKind.拖欠工资: ExclusionRule.E2_拖欠工资,
    ComplianceFactKind.欠缴社保: ExclusionRule.E3_未缴社保,
    ComplianceFactKind.无工会或欠经费: ExclusionRule.E4_无工会或欠经费,
    ComplianceFactKind.重大伤亡事故: ExclusionRule.E5_重大事故,
    ComplianceFactKind.重大环保责任事故: ExclusionRule.E5_重大事故,
    ComplianceFactKind.重大质量事故: ExclusionRule.E5_重大事故,
    ComplianceFactKind.食品安全事故: ExclusionRule.E5_重大事故,
    ComplianceFactKind.职业病危害事故: ExclusionRule.E5_重大事故,
    ComplianceFactKind.群体性劳动争议: ExclusionRule.E6_群体性劳动争议,
    ComplianceFactKind.严重亏损: ExclusionRule.E7_严重亏损,
}

# 评审 dimensions (工作安排 3), in the plan's order.
REVIEW_DIMENSIONS: Final[tuple[str, ...]] = (
    "总体思路",
    "政策合规性",
    "建设重点",
    "资金投入",
    "体制机制创新",
)

# 认定 criteria per programme: the seven areas of a 幸福企业 and the eight lines of a 综合体.
HAPPY_ENTERPRISE_CRITERIA: Final[tuple[str, ...]] = (
    "改善生产生活条件",
    "完善困难帮扶机制",
    "保障职工福利待遇",
    "丰富服务资源供给",
    "开展职工健康服务",
    "加强职工人文关怀",
    "劳动关系和谐稳定",
)
SERVICE_COMPLEX_CRITERIA: Final[tuple[str, ...]] = (
    "服务功能一体化",
    "服务内容多元化",
    "服务方式社会化",
    "服务项目标准化",
    "服务手段智能化",
    "服务职工基地",
    "协作联动机制",
    "服务职工联合体",
)


# 受理编号 as intake issues them: "<year>-<submitter>-<five-digit sequence>", e.g. 2027-370202-00002
# or 2027-G-HAIER-00001. Every endpoint that names an application takes its id or this number.
RECEIPT_NO: Final = re.compile(r"^20[0-9]{2}-[0-9A-Z][0-9A-Z-]{0,30}-[0-9]{5}$")


def application_ref(text: str) -> UUID | str | None:
    """An application named by its id (a UUID) or its 受理编号 (the receipt, as given); None when
    `text` is neither."""
    try:
        return UUID(text)
    except ValueError:
        return text if RECEIPT_NO.match(text) else None
