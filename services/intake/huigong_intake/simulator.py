"""区市模拟器 / the district simulator: realistic traffic from the ten districts (and, on request,
the group unions) to the intake service, over HTTP or over the Kafka inbound topics, for demos,
tests and benchmarks.

What it sends: applications of all four programmes (with some amendments and withdrawals),
construction plans for approved applications, facilities, service projects, compliance facts of
the data exchange, and gig-worker enrolment sheets up to the 400,000 of the 2025 target.

Simulated data is always marked: over HTTP a district's commands are sent with the API key of
the principal ``simulator:<code>`` (the data exchange's, ``exchange:<department>``, carry
``X-Huigong-Simulated: true``), over Kafka every command carries ``"simulated": true``. The keys
come from a keyring file (``HUIGONG_KEYRING``, default ``.local/keyring.json``) that bin/run
writes with ``huigong keys create --keyring``.

The same seed gives the same traffic, command ids included: a rerun with the same seed is a
replay that the service answers from its idempotency records. The core is importable
(`send_applications`, `send_enrolments`, …) so that benchmarks need not go through the CLI; the
pure builders (`application_form`, `enrolment_commands`, `Command.kafka_record`, …) are what the
unit tests check.
"""

from __future__ import annotations

import asyncio
import csv
import email.utils
import io
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Final, Protocol, TypeVar

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

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
    SUBMITTERS,
    ComplianceFactKind,
    FacilityKind,
    Programme,
)
from huigong_events.topics import inbound_topic
from huigong_platform.credentials import Keyring, default_keyring_path

from .domain.applications import Form, Plan
from .domain.cycle import SHANGHAI, deadline
from .domain.enrolments import COLUMNS, MAX_BATCH_ROWS
from .domain.identity import china_today, credit_check_char
from .simulator_data import enrolment_rows, fake_credit_code, fake_name

DEFAULT_INTAKE_URL: Final = "http://127.0.0.1:8101"
DEFAULT_BOOTSTRAP: Final = "127.0.0.1:19092"
SIMULATED_HEADER: Final = "X-Huigong-Simulated"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
# Gateways and a service shedding load answer 502–504; everything else is the answer.
RETRY_STATUSES: Final = frozenset({502, 503, 504})
MAX_RETRY_WAIT: Final = 30.0  # seconds: a Retry-After beyond this is capped
FIRST_PLAN_YEAR: Final = date(2022, 7, 1)  # the work plan dates from 28 June 2022


T = TypeVar("T")


def principals() -> list[str]:
    """Every principal the simulator may send as over HTTP, i.e. the keys its keyring needs
    (bin/run issues them): each district and group union, and each reporting department."""
    return [f"simulator:{code}" for code in (*DISTRICTS, *GROUP_UNIONS)] + [
        f"exchange:{department.value}" for department in ReportingDepartment
    ]


class SimulatorError(RuntimeError):
    """The run cannot go on (intake or Kafka unreachable, a command the transport cannot carry)."""


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


def _pick_weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _locality(code: str, rng: random.Random) -> str:
    """The district whose streets a submitter's records are placed in (group unions: any)."""
    return code if code in DISTRICTS else rng.choice(tuple(DISTRICTS))


def _address(district: str, rng: random.Random) -> str:
    return f"青岛市{DISTRICTS[district]}{rng.choice(ROADS[district])}{rng.randint(1, 399)}号"


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _command_id(rng: random.Random) -> str:
    return f"sim-{_uuid(rng)}"


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


_AMEND_REASONS: Final = (
    "补充试点参加单位信息",
    "完善经费保障情况说明",
    "根据区总工会意见修改阶段工作内容",
    "更正单位名称和负责人签名日期",
)
_WITHDRAW_REASONS: Final = (
    "承担单位建设条件发生变化，暂缓申报",
    "经研究决定下一年度再申报",
    "场地调整，申请撤回",
)


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


def plan_commands(
    application_id: str, submitter: str, year: int, unit_name: str, rng: random.Random
) -> list[Command]:
    """The three-year plan and the first annual plan of a selected construction unit, in order."""
    plans: list[Plan] = [three_year_plan(rng, year, unit_name), annual_plan(rng, year, unit_name)]
    return [
        Command(
            CommandName.SUBMIT_PLAN,
            submitter,
            {"plan": plan.model_dump(mode="json")},
            _command_id(rng),
            application_id=application_id,
        )
        for plan in plans
    ]


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
    kind: FacilityKind = _pick_weighted(rng, FACILITY_WEIGHTS)
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
        report_id=_uuid(rng),
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
        proposal_id=_uuid(rng),
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
    kind: ComplianceFactKind = _pick_weighted(rng, FACT_WEIGHTS)
    department = FACT_DEPARTMENTS[kind]
    occurred = _date_between(rng, today - timedelta(days=3 * 365), today - timedelta(days=20))
    reported = _date_between(rng, occurred, min(today, occurred + timedelta(days=120)))
    settled = _date_between(rng, occurred, today) if rng.random() < 0.4 else None
    return ComplianceFactReported(
        fact_id=_uuid(rng),
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


# ============================================================================================
# Commands, as the HTTP API and the inbound topics carry them
# ============================================================================================


class CommandName(StrEnum):
    SUBMIT_APPLICATION = "submit_application"
    AMEND_APPLICATION = "amend_application"
    WITHDRAW_APPLICATION = "withdraw_application"
    SUBMIT_PLAN = "submit_plan"
    REPORT_FACILITY = "report_facility"
    PROPOSE_PROJECT = "propose_project"
    ENROL = "enrol"
    REPORT_FACT = "report_fact"  # HTTP only: the data exchange has no inbound topic


KAFKA_COMMANDS: Final = frozenset(CommandName) - {CommandName.REPORT_FACT}
_ROUTES: Final[dict[CommandName, tuple[str, str]]] = {
    CommandName.SUBMIT_APPLICATION: ("POST", "/applications"),
    CommandName.AMEND_APPLICATION: ("PUT", "/applications/{id}"),
    CommandName.WITHDRAW_APPLICATION: ("POST", "/applications/{id}/withdrawal"),
    CommandName.SUBMIT_PLAN: ("POST", "/applications/{id}/plans"),
    CommandName.REPORT_FACILITY: ("POST", "/facilities"),
    CommandName.PROPOSE_PROJECT: ("POST", "/service-projects"),
    CommandName.ENROL: ("POST", "/enrolments"),
    CommandName.REPORT_FACT: ("POST", "/compliance-facts"),
}


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Command:
    """One simulated command: who sends it, its name, and exactly the HTTP request body.

    `command_id` is the Idempotency-Key over HTTP and the record key over Kafka. A compliance
    fact has no submitter: the data exchange sends it, as the `department`.
    """

    name: CommandName
    submitter: str | None
    body: dict[str, Any]
    command_id: str
    application_id: str | None = None
    rows: int = 0  # enrolment rows carried
    department: ReportingDepartment | None = None

    @property
    def principal(self) -> str:
        if self.name is CommandName.REPORT_FACT:
            # Header values are ASCII on the wire (Starlette reads them as latin-1), so the
            # department is named by its code rather than 人社.
            department = self.department or ReportingDepartment.其他
            return f"exchange:{department.value}"
        return f"simulator:{self.submitter}"

    @property
    def route(self) -> tuple[str, str]:
        method, path = _ROUTES[self.name]
        return method, path.format(id=self.application_id)

    def kafka_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"command_id": self.command_id, "command": self.name.value, "simulated": True}
        if self.application_id is not None:
            value["application_id"] = self.application_id
        value["body"] = self.body
        return value

    def kafka_record(self, prefix: str = "") -> KafkaRecord:
        """The record on the submitter's inbound topic: key = command id, value = JSON command."""
        if self.name not in KAFKA_COMMANDS or self.submitter is None:
            raise SimulatorError(
                f"{self.name.value} 不能经 Kafka 报送，只能经 HTTP（no inbound topic carries it; use --via http）"
            )
        return KafkaRecord(
            inbound_topic(self.submitter).qualified(prefix),
            self.command_id.encode(),
            orjson.dumps(self.kafka_value()),
        )


Chain = Sequence[Command]
"""Commands that must arrive in order (submit, then amend or withdraw); chains are independent."""


def _event_body(event: FacilityReported | ServiceProjectProposed | ComplianceFactReported) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude={"type"})


def application_chains(
    count: int,
    year: int,
    submitters: Sequence[str],
    rng: random.Random,
    *,
    amend_rate: float = 0.1,
    withdraw_rate: float = 0.05,
    today: date | None = None,
) -> list[list[Command]]:
    """`count` applications spread over `submitters`, each a chain: the submission, then now and
    then an amendment or a withdrawal (never both). Happy enterprises are drawn without repeats
    while a submitter's enterprises last."""
    today = today or china_today()
    unused = {code: rng.sample(enterprises(code), len(enterprises(code))) for code in submitters}
    chains: list[list[Command]] = []
    for number in range(count):
        submitter = (
            submitters[number % len(submitters)] if number < len(submitters) else rng.choice(submitters)
        )
        weights = {
            p: w
            for p, w in PROGRAMME_WEIGHTS.items()
            if submitter in DISTRICTS or p is not Programme.服务职工综合体
        }
        programme: Programme = _pick_weighted(rng, weights)
        enterprise = None
        if programme is Programme.幸福企业:
            enterprise = unused[submitter].pop() if unused[submitter] else rng.choice(enterprises(submitter))
        form = application_form(programme, submitter, rng, year, today=today, enterprise=enterprise)
        application_id = str(_uuid(rng))
        chain = [
            Command(
                CommandName.SUBMIT_APPLICATION,
                submitter,
                {
                    "application_id": application_id,
                    "year": year,
                    "programme": programme.value,
                    "form": form.model_dump(mode="json"),
                },
                _command_id(rng),
            )
        ]
        draw = rng.random()
        if draw < withdraw_rate:
            body: dict[str, Any] = {"reason": rng.choice(_WITHDRAW_REASONS)}
            name = CommandName.WITHDRAW_APPLICATION
        elif draw < withdraw_rate + amend_rate:
            body = {"form": amended(form, rng).model_dump(mode="json"), "reason": rng.choice(_AMEND_REASONS)}
            name = CommandName.AMEND_APPLICATION
        else:
            chains.append(chain)
            continue
        chain.append(Command(name, submitter, body, _command_id(rng), application_id=application_id))
        chains.append(chain)
    return chains


def facility_commands(
    count: int, submitters: Sequence[str], rng: random.Random, today: date | None = None
) -> list[Command]:
    commands = []
    for number in range(count):
        submitter = submitters[number % len(submitters)]
        body = _event_body(facility_report(submitter, rng, today=today))
        commands.append(Command(CommandName.REPORT_FACILITY, submitter, body, _command_id(rng)))
    return commands


def project_commands(count: int, submitters: Sequence[str], rng: random.Random) -> list[Command]:
    commands = []
    for number in range(count):
        submitter = submitters[number % len(submitters)]
        body = _event_body(project_proposal(submitter, rng))
        commands.append(Command(CommandName.PROPOSE_PROJECT, submitter, body, _command_id(rng)))
    return commands


def fact_commands(
    count: int, areas: Sequence[str], rng: random.Random, today: date | None = None
) -> list[Command]:
    commands = []
    for _ in range(count):
        fact = compliance_fact(areas, rng, today=today)
        commands.append(
            Command(
                CommandName.REPORT_FACT,
                None,
                _event_body(fact),
                _command_id(rng),
                department=fact.reported_by,
            )
        )
    return commands


def spread(count: int, parts: int) -> list[int]:
    """`count` split into `parts` shares that differ by at most one, larger shares first."""
    base, extra = divmod(count, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def enrolment_commands(
    count: int,
    submitters: Sequence[str],
    rng: random.Random,
    *,
    batch: int = MAX_BATCH_ROWS,
    invalid_rate: float = 0.0,
    duplicate_rate: float = 0.0,
    seen_ids: set[str] | None = None,
) -> Iterator[Command]:
    """Enrolment sheets of `count` rows in all, spread evenly over `submitters`, at most `batch`
    rows a command, the submitters taking turns. Lazy: a batch is generated when it is wanted."""
    if not 1 <= batch <= MAX_BATCH_ROWS:
        raise ValueError(f"batch must be 1–{MAX_BATCH_ROWS} rows, not {batch}")
    remaining = dict(zip(submitters, spread(count, len(submitters)), strict=True))
    seen = seen_ids if seen_ids is not None else set()
    while any(remaining.values()):
        for submitter in submitters:
            size = min(batch, remaining[submitter])
            if size == 0:
                continue
            remaining[submitter] -= size
            rows = enrolment_rows(size, submitter, rng, duplicate_rate, invalid_rate, seen_ids=seen)
            yield Command(CommandName.ENROL, submitter, {"rows": rows}, _command_id(rng), rows=size)


def enrolment_csv(rows: Sequence[dict[str, object]]) -> bytes:
    """The rows as a UTF-8 CSV sheet with the Chinese column headers, as staff export it."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[c.value for c in COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


# ============================================================================================
# Transports
# ============================================================================================


class Via(StrEnum):
    HTTP = "http"
    KAFKA = "kafka"


class SheetFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True)
class Reply:
    ok: bool
    status: int | None = None  # HTTP status; None over Kafka
    body: Any = None
    replayed: bool = False
    error: str | None = None


class Transport(Protocol):
    via: Via

    async def send(self, command: Command) -> Reply: ...


@dataclass(frozen=True)
class Target:
    """Where the traffic goes. `http_transport` and `producer_factory` let tests and benchmarks
    put something else behind the client."""

    via: Via = Via.HTTP
    intake_url: str = DEFAULT_INTAKE_URL
    bootstrap: str = field(
        default_factory=lambda: os.environ.get("HUIGONG_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP)
    )
    topic_prefix: str = field(default_factory=lambda: os.environ.get("HUIGONG_TOPIC_PREFIX", ""))
    timeout: float = 60.0
    attempts: int = 5
    http_transport: httpx.AsyncBaseTransport | None = None
    producer_factory: Callable[[], Any] | None = None
    # API keys by principal; None: the keyring file (HUIGONG_KEYRING or .local/keyring.json).
    keyring: Mapping[str, str] | None = None

    def keys(self) -> Mapping[str, str]:
        return self.keyring if self.keyring is not None else Keyring.load(default_keyring_path())


class _Unavailable(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds the Retry-After header asks for (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _backoff(state: RetryCallState) -> float:
    """Honour Retry-After on 503 (capped); otherwise back off exponentially from 0.5 s."""
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    if isinstance(error, _Unavailable):
        asked = retry_after(error.response)
        if asked is not None:
            return min(asked, MAX_RETRY_WAIT)
    return float(min(0.5 * 2 ** (state.attempt_number - 1), 8.0))


_RETRYABLE_ERRORS: Final = (
    _Unavailable,
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.PoolTimeout,
)


class HttpTransport:
    """Commands as HTTP requests to intake. Retries 502–504 (honouring Retry-After) and broken
    connections, which the Idempotency-Key makes safe; never a 4xx."""

    via = Via.HTTP

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        attempts: int = 5,
        sheet_format: SheetFormat = SheetFormat.JSON,
        transport: httpx.AsyncBaseTransport | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        self.keys: Mapping[str, str] = keys if keys is not None else {}
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            headers={"User-Agent": "huigong-simulator"},
        )
        self.attempts = attempts
        self.sheet_format = sheet_format

    async def aclose(self) -> None:
        await self.client.aclose()

    def credentials(self, principal: str) -> dict[str, str]:
        """The Authorization header of `principal`'s API key; SimulatorError when the keyring
        has none (nothing is sent without a key)."""
        try:
            return {"Authorization": f"Bearer {self.keys[principal]}"}
        except KeyError:
            raise SimulatorError(
                f"密钥文件中没有 {principal} 的 API 密钥（no API key for {principal} in the keyring; run bin/run, "
                f"or huigong keys create --role {principal.replace(':', ' --code ', 1)} --actor <you> --keyring <file>）"
            ) from None

    def _request(self, command: Command) -> httpx.Request:
        method, path = command.route
        headers = {**self.credentials(command.principal), IDEMPOTENCY_HEADER: command.command_id}
        if command.name is CommandName.REPORT_FACT:
            headers[SIMULATED_HEADER] = "true"
        if command.name is CommandName.ENROL and self.sheet_format is SheetFormat.CSV:
            sheet = enrolment_csv(command.body["rows"])
            return self.client.build_request(
                method,
                "/enrolments/upload",
                headers=headers,
                files={"file": ("simulator.csv", sheet, "text/csv")},
            )
        headers["Content-Type"] = "application/json"
        return self.client.build_request(method, path, headers=headers, content=orjson.dumps(command.body))

    async def request(self, build: Callable[[], httpx.Request]) -> httpx.Response:
        """Send the request `build` makes, retrying as the class says. SimulatorError when intake
        cannot be reached at all."""
        response: httpx.Response | None = None
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_RETRYABLE_ERRORS),
                wait=_backoff,
                stop=stop_after_attempt(self.attempts),
                reraise=True,
            ):
                with attempt:
                    response = await self.client.send(build())
                    if response.status_code in RETRY_STATUSES:
                        raise _Unavailable(response)
        except _Unavailable as exc:
            return exc.response
        except httpx.TransportError as exc:
            raise SimulatorError(
                f"无法连接惠工受理服务 {self.client.base_url}（intake unreachable: {exc!r}）"
            ) from exc
        assert response is not None
        return response

    async def send(self, command: Command) -> Reply:
        response = await self.request(lambda: self._request(command))
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        ok = response.is_success
        return Reply(
            ok=ok,
            status=response.status_code,
            body=body,
            replayed=response.headers.get("Idempotent-Replayed") == "true",
            error=None if ok else _truncate(body),
        )

    async def get_json(self, path: str, principal: str, params: dict[str, Any]) -> Any:
        response = await self.request(
            lambda: self.client.build_request("GET", path, params=params, headers=self.credentials(principal))
        )
        if not response.is_success:
            raise SimulatorError(
                f"查询 {path} 失败（query failed）：HTTP {response.status_code} {_truncate(response.text)}"
            )
        return response.json()


def kafka_producer(bootstrap: str) -> Any:
    """An idempotent producer (acks=all) that takes 10,000-row commands: gzip shrinks one of
    about 2.3 MB to about 300 kB, under the broker's default 1 MB."""
    from aiokafka import AIOKafkaProducer

    from huigong_platform.kafka import client_options

    # Logs in as HUIGONG_KAFKA_USERNAME when the broker is secured: `simulator` on a development
    # stack, or one district's own principal, which may write only that district's topic.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="huigong-simulator",
        **client_options(),
        enable_idempotence=True,
        acks="all",
        compression_type="gzip",
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
    )


class KafkaTransport:
    """Commands as records on the submitters' inbound topics; `send` returns once acknowledged."""

    via = Via.KAFKA

    def __init__(self, producer: Any, prefix: str = "") -> None:
        self.producer = producer
        self.prefix = prefix

    async def send(self, command: Command) -> Reply:
        record = command.kafka_record(self.prefix)
        try:
            delivery = await self.producer.send(record.topic, value=record.value, key=record.key)
            metadata = await delivery
        except Exception as exc:  # a KafkaError: this record failed, the run goes on
            return Reply(ok=False, error=repr(exc))
        return Reply(
            ok=True, body={"topic": record.topic, "partition": metadata.partition, "offset": metadata.offset}
        )


@asynccontextmanager
async def connect(target: Target, sheet_format: SheetFormat = SheetFormat.JSON) -> AsyncIterator[Transport]:
    """An open transport to `target`, closed on exit."""
    if target.via is Via.HTTP:
        http = HttpTransport(
            target.intake_url,
            timeout=target.timeout,
            attempts=target.attempts,
            sheet_format=sheet_format,
            transport=target.http_transport,
            keys=target.keys(),
        )
        try:
            yield http
        finally:
            await http.aclose()
        return
    producer = (target.producer_factory or (lambda: kafka_producer(target.bootstrap)))()
    try:
        await producer.start()
    except Exception as exc:
        raise SimulatorError(f"无法连接 Kafka {target.bootstrap}（Kafka unreachable: {exc!r}）") from exc
    try:
        yield KafkaTransport(producer, target.topic_prefix)
    finally:
        await producer.stop()


# ============================================================================================
# Running: send chains with bounded concurrency and count what happened
# ============================================================================================

MAX_ERRORS_KEPT: Final = 10


def _truncate(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass
class Summary:
    """What one run sent and what came back; `as_dict()` is the one-line JSON of the CLI."""

    command: str
    via: str
    seed: int
    sent: int = 0  # commands sent (a chain stops at its first failure)
    ok: int = 0
    failed: int = 0
    replayed: int = 0
    skipped: int = 0  # commands not sent because an earlier one of their chain failed
    rows: int = 0  # enrolment rows sent
    accepted: int | None = None  # enrolment rows the service accepted (HTTP only)
    rejected: int | None = None
    seconds: float = 0.0
    generate_seconds: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)  # sent, by command name
    kinds: Counter[str] = field(default_factory=Counter)  # generated, by programme, field, …
    year: int | None = None  # the applications' year
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self, command: Command, reply: Reply) -> None:
        self.sent += 1
        self.rows += command.rows
        self.commands[command.name.value] += 1
        if not reply.ok:
            self.failed += 1
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(
                    {
                        "command": command.name.value,
                        "submitter": command.submitter,
                        "command_id": command.command_id,
                        "status": reply.status,
                        "error": reply.error,
                    }
                )
            return
        self.ok += 1
        self.replayed += reply.replayed
        if command.name is CommandName.ENROL and isinstance(reply.body, dict) and "accepted" in reply.body:
            self.accepted = (self.accepted or 0) + len(reply.body["accepted"])
            self.rejected = (self.rejected or 0) + len(reply.body.get("rejected", ()))

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def commands_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "command": self.command,
            "via": self.via,
            "seed": self.seed,
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "replayed": self.replayed,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "commands_per_second": round(self.commands_per_second, 1),
            "commands": dict(self.commands),
        }
        if self.kinds:
            summary["kinds"] = dict(self.kinds)
        if self.year is not None:
            summary["year"] = self.year
        if self.rows:
            summary |= {
                "rows": self.rows,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "rows_per_second": round(self.rows_per_second, 1),
                "generate_seconds": round(self.generate_seconds, 3),
            }
        if self.errors:
            summary["errors"] = self.errors
        if self.notes:
            summary["notes"] = self.notes
        return summary

    def to_json(self) -> str:
        return orjson.dumps(self.as_dict()).decode()


async def dispatch(
    chains: Iterable[Chain],
    transport: Transport,
    summary: Summary,
    *,
    concurrency: int,
    advance: Callable[[int], None] | None = None,
) -> None:
    """Send every chain, at most `concurrency` at once, each chain's commands in order.

    `chains` is drawn lazily: the next chain is built while `concurrency` others are in flight
    and then waits for a slot, so a generator of enrolment sheets keeps at most one sheet ready
    beyond those being sent. A chain stops at its first failed command.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    slots = asyncio.Semaphore(concurrency)

    async def run(chain: Chain) -> None:
        try:
            for position, command in enumerate(chain):
                reply = await transport.send(command)
                summary.record(command, reply)
                if advance is not None:
                    advance(command.rows or 1)
                if not reply.ok:
                    summary.skipped += len(chain) - position - 1
                    if advance is not None:
                        advance(sum(c.rows or 1 for c in chain[position + 1 :]))
                    return
        finally:
            slots.release()

    try:
        async with asyncio.TaskGroup() as group:
            for chain in chains:
                await slots.acquire()
                group.create_task(run(chain))
    except BaseExceptionGroup as group_error:
        fatal = group_error.subgroup(SimulatorError)
        if fatal is not None:
            raise fatal.exceptions[0] from None
        raise


def resolve_seed(seed: int | None) -> int:
    return seed if seed is not None else random.SystemRandom().randrange(2**31)


def _rng(seed: int, part: str) -> random.Random:
    """Each kind of traffic its own stream, so `applications --seed 1` and `facilities --seed 1`
    share no ids."""
    return random.Random(f"{seed}:{part}")


def default_year(now: datetime | None = None) -> int:
    """The year open for applications: this year until 30 June (Beijing time), then the next."""
    now = (now or datetime.now(UTC)).astimezone(SHANGHAI)
    return now.year if now < deadline(now.year) else now.year + 1


def default_concurrency(via: Via, bulk: bool) -> int:
    if via is Via.HTTP:
        return 2 if bulk else 8
    return 4 if bulk else 64


class _Timed:
    """Wraps a lazy iterable and adds up the time spent producing its items."""

    def __init__(self, items: Iterable[Command]) -> None:
        self.items = items
        self.seconds = 0.0

    def __iter__(self) -> Iterator[list[Command]]:
        iterator = iter(self.items)
        while True:
            started = time.perf_counter()
            item = next(iterator, None)
            self.seconds += time.perf_counter() - started
            if item is None:
                return
            yield [item]


@contextmanager
def _task(
    progress: Progress | None, description: str, total: int, unit: str
) -> Iterator[Callable[[int], None]]:
    if progress is None:
        yield lambda _: None
        return
    task = progress.add_task(description, total=total, unit=unit)
    yield lambda n: progress.advance(task, n)
    progress.stop_task(task)


async def _send(
    name: str,
    chains: Iterable[Chain],
    total: int,
    *,
    target: Target,
    seed: int,
    concurrency: int | None,
    bulk: bool = False,
    progress: Progress | None = None,
    description: str,
    unit: str = "条",
    sheet_format: SheetFormat = SheetFormat.JSON,
) -> Summary:
    summary = Summary(name, target.via.value, seed)
    started = time.perf_counter()
    async with connect(target, sheet_format) as transport:
        with _task(progress, description, total, unit) as advance:
            await dispatch(
                chains,
                transport,
                summary,
                concurrency=concurrency or default_concurrency(target.via, bulk),
                advance=advance,
            )
    summary.seconds = time.perf_counter() - started
    return summary


def _submitters(districts: Sequence[str] | None) -> list[str]:
    chosen = list(districts) if districts else list(DISTRICTS)
    unknown = [code for code in chosen if code not in SUBMITTERS]
    if unknown:
        raise ValueError(f"unknown district or group union codes: {', '.join(unknown)}")
    return chosen


async def send_applications(
    count: int,
    year: int | None = None,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    amend_rate: float = 0.1,
    withdraw_rate: float = 0.05,
    concurrency: int | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> Summary:
    """Submit `count` applications of the four programmes for `year` (default: the year open
    now), amending or withdrawing some of them."""
    target = target or Target()
    seed = resolve_seed(seed)
    year = year or default_year()
    rng = _rng(seed, "applications")
    chains = application_chains(
        count,
        year,
        _submitters(districts),
        rng,
        amend_rate=amend_rate,
        withdraw_rate=withdraw_rate,
        today=today,
    )
    summary = await _send(
        "applications",
        chains,
        sum(len(chain) for chain in chains),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="申报 applications",
    )
    for chain in chains:
        summary.kinds[chain[0].body["programme"]] += 1
    summary.year = year
    return summary


async def send_facilities(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> Summary:
    """Report `count` facilities built in the districts."""
    target = target or Target()
    seed = resolve_seed(seed)
    commands = facility_commands(count, _submitters(districts), _rng(seed, "facilities"), today)
    summary = await _send(
        "facilities",
        ([c] for c in commands),
        len(commands),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="设施 facilities",
    )
    summary.kinds.update(c.body["facility_kind"] for c in commands)
    return summary


async def send_projects(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Recommend `count` service projects for the project library."""
    target = target or Target()
    seed = resolve_seed(seed)
    commands = project_commands(count, _submitters(districts), _rng(seed, "projects"))
    summary = await _send(
        "projects",
        ([c] for c in commands),
        len(commands),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="服务项目 projects",
    )
    summary.kinds.update(c.body["field"] for c in commands)
    return summary


async def send_facts(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> Summary:
    """Report `count` compliance facts about the districts' enterprises, as the data exchange
    does (HTTP only: the exchange has no inbound topic)."""
    target = target or Target()
    if target.via is not Via.HTTP:
        raise SimulatorError(
            "合规事实只能经 HTTP 报送（compliance facts go over HTTP only: the data exchange has no inbound topic）"
        )
    seed = resolve_seed(seed)
    commands = fact_commands(count, _submitters(districts), _rng(seed, "facts"), today)
    summary = await _send(
        "facts",
        ([c] for c in commands),
        len(commands),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="合规事实 facts",
    )
    summary.kinds.update(c.body["kind"] for c in commands)
    summary.kinds["settled"] = sum(c.body["settled_on"] is not None for c in commands)
    return summary


async def send_enrolments(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    batch: int = MAX_BATCH_ROWS,
    invalid_rate: float = 0.01,
    duplicate_rate: float = 0.0,
    concurrency: int | None = None,
    sheet_format: SheetFormat = SheetFormat.JSON,
    progress: Progress | None = None,
) -> Summary:
    """Enrol `count` gig workers, spread over the districts in sheets of `batch` rows, at most
    `concurrency` sheets in flight (2 over HTTP by default). Over HTTP the summary counts the
    rows accepted and rejected; over Kafka the inbound consumer judges them later."""
    target = target or Target()
    seed = resolve_seed(seed)
    if not 0 <= invalid_rate + duplicate_rate <= 1:
        raise ValueError("invalid_rate + duplicate_rate must be between 0 and 1")
    timed = _Timed(
        enrolment_commands(
            count,
            _submitters(districts),
            _rng(seed, "enrolments"),
            batch=batch,
            invalid_rate=invalid_rate,
            duplicate_rate=duplicate_rate,
        )
    )
    summary = await _send(
        "enrolments",
        timed,
        count,
        target=target,
        seed=seed,
        concurrency=concurrency,
        bulk=True,
        progress=progress,
        description="入会 enrolments",
        unit="行",
        sheet_format=sheet_format,
    )
    summary.generate_seconds = timed.seconds
    return summary


# Plans are sent once the city selected the construction unit (确定建设单位); applications approved
# under the earlier flow, which sent plans after approval, may still have none.
PLANNING_STATUSES: Final = ("selected", "approved")


async def approved_applications(
    transport: HttpTransport, submitter: str, year: int | None = None
) -> list[dict[str, Any]]:
    """The submitter's applications that send plans (selected as construction units, or approved),
    read back from intake's query API."""
    found: list[dict[str, Any]] = []
    for status in PLANNING_STATUSES:
        page = 1
        while True:
            params: dict[str, Any] = {"status": status, "page": page, "page_size": 500}
            if year is not None:
                params["year"] = year
            answer = await transport.get_json("/applications", f"simulator:{submitter}", params)
            found += answer["items"]
            if page * answer["page_size"] >= answer["total"]:
                break
            page += 1
    return found


async def send_plans(
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    application_ids: Sequence[str] = (),
    year: int | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Send a three-year plan and the first annual plan for the selected construction units: the
    ids given (with exactly one district), or else every selected (or approved) application of the
    districts without plans yet, as intake's query API lists them (the query goes over HTTP either way)."""
    target = target or Target()
    seed = resolve_seed(seed)
    rng = _rng(seed, "plans")
    submitters = _submitters(districts)
    chains: list[list[Command]] = []
    already = 0
    if application_ids:
        if len(submitters) != 1:
            raise ValueError("give exactly one district with application ids")
        plan_year = year or default_year()
        for application_id in application_ids:
            chains.append(
                plan_commands(str(uuid.UUID(application_id)), submitters[0], plan_year, "建设单位", rng)
            )
    else:
        query = HttpTransport(
            target.intake_url, timeout=target.timeout, transport=target.http_transport, keys=target.keys()
        )
        try:
            for submitter in submitters:
                for receipt in await approved_applications(query, submitter, year):
                    if receipt["plans"]:
                        already += 1
                        continue
                    chains.append(
                        plan_commands(
                            receipt["application_id"], submitter, receipt["year"], receipt["name"], rng
                        )
                    )
        finally:
            await query.aclose()
    summary = await _send(
        "plans",
        chains,
        sum(len(c) for c in chains),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="建设方案 plans",
    )
    summary.kinds["applications"] = len(chains)
    summary.kinds["already_planned"] = already
    return summary


@dataclass(frozen=True)
class DemoCounts:
    applications: int = 20
    facilities: int = 30
    projects: int = 10
    facts: int = 5
    enrolments: int = 5_000


async def run_demo(
    counts: DemoCounts | None = None,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    year: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Summary]:
    """A small realistic mix of everything, in the order a year unfolds: facilities and
    projects, applications, the exchange's facts (HTTP only; skipped over Kafka), enrolments."""
    counts = counts or DemoCounts()
    target = target or Target()
    seed = resolve_seed(seed)
    common: dict[str, Any] = {"target": target, "districts": districts, "seed": seed, "progress": progress}
    results = {
        "facilities": await send_facilities(counts.facilities, **common),
        "projects": await send_projects(counts.projects, **common),
        "applications": await send_applications(counts.applications, year, **common),
    }
    if target.via is Via.HTTP:
        results["facts"] = await send_facts(counts.facts, **common)
    results["enrolments"] = await send_enrolments(counts.enrolments, **common)
    return results


def demo_summary(results: dict[str, Summary], seed: int, via: Via, seconds: float) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "command": "demo",
        "via": via.value,
        "seed": seed,
        "sent": sum(s.sent for s in results.values()),
        "ok": sum(s.ok for s in results.values()),
        "failed": sum(s.failed for s in results.values()),
        "seconds": round(seconds, 3),
        "parts": {name: s.as_dict() for name, s in results.items()},
    }
    if "facts" not in results:
        summary["notes"] = ["facts skipped: compliance facts go over HTTP only"]
    return summary


# ============================================================================================
# CLI
# ============================================================================================

app = typer.Typer(
    help="惠工区市模拟器：向受理服务发送模拟的申报、方案、设施、服务项目、合规事实和入会报送（均标记为模拟数据）。\n\n"
    "Huigong district simulator: sends simulated applications, plans, facilities, service projects, "
    "compliance facts and gig-worker enrolments to intake over HTTP or Kafka (always marked simulated). "
    "Each command ends with a one-line JSON summary on stdout.",
    no_args_is_help=True,
    add_completion=False,
)
_stderr = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Items per second, in the task's own unit (行/s, 条/s)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("–", style="progress.data.speed")
        return Text(f"{speed:,.0f} {task.fields.get('unit', '')}/s", style="progress.data.speed")


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_stderr,
        disable=not (show and _stderr.is_terminal),
    )


def _district_codes(values: list[str] | None) -> list[str]:
    """Codes from `--district` values, which may be codes (370213, g-haier) or names (李沧区)."""
    if not values:
        return list(DISTRICTS)
    by_name = {name: code for code, name in SUBMITTERS.items()}
    by_code = {code.upper(): code for code in SUBMITTERS}
    codes: list[str] = []
    for value in values:
        code = by_code.get(value.strip().upper()) or by_name.get(value.strip())
        if code is None:
            raise typer.BadParameter(
                f"未知的区市或单位：{value}（unknown district or group union; e.g. 370202, 李沧区, G-HAIER）",
                param_hint="--district",
            )
        if code not in codes:
            codes.append(code)
    return codes


ViaOption = Annotated[Via, typer.Option("--via", help="发送方式 / transport: http or kafka")]
UrlOption = Annotated[str, typer.Option("--intake-url", help="受理服务地址 / intake base URL")]
BootstrapOption = Annotated[
    str,
    typer.Option(
        "--bootstrap", envvar="HUIGONG_KAFKA_BOOTSTRAP", help="Kafka 地址 / Kafka bootstrap servers"
    ),
]
PrefixOption = Annotated[
    str, typer.Option("--topic-prefix", envvar="HUIGONG_TOPIC_PREFIX", help="主题前缀 / topic name prefix")
]
SeedOption = Annotated[
    int | None,
    typer.Option(
        "--seed", help="随机种子，相同种子生成相同数据 / seed: the same seed sends the same traffic"
    ),
]
DistrictOption = Annotated[
    list[str] | None,
    typer.Option(
        "--district",
        "-d",
        help="区市或单位代码或名称，可重复；缺省为全部十个区市 / district or group union (code or name), "
        "repeatable; default: all ten districts",
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        min=1,
        help="同时在途的请求数 / commands in flight (default: http 8, kafka 64; enrolments http 2, kafka 4)",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1.0, help="HTTP 超时秒数 / HTTP timeout in seconds")
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="显示进度条 / show progress bars (on a terminal)")
]
YearOption = Annotated[
    int | None,
    typer.Option(
        "--year", min=2022, help="申报年度，缺省为当前可申报年度 / year (default: the year open now)"
    ),
]


def _target(via: Via, intake_url: str, bootstrap: str, topic_prefix: str, timeout: float) -> Target:
    return Target(
        via=via, intake_url=intake_url, bootstrap=bootstrap, topic_prefix=topic_prefix, timeout=timeout
    )


def _finish(summary: Summary) -> None:
    typer.echo(summary.to_json())
    if summary.failed:
        _stderr.print(f"[red]{summary.failed} 条命令失败 / commands failed[/red]")
        raise typer.Exit(1)


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except SimulatorError as exc:
        _stderr.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except ValueError as exc:
        _stderr.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def applications(
    count: Annotated[
        int, typer.Option("--count", "-n", min=0, help="申报数量 / number of applications")
    ] = 20,
    year: YearOption = None,
    amend_rate: Annotated[
        float, typer.Option("--amend-rate", min=0.0, max=1.0, help="修改比例 / share amended")
    ] = 0.1,
    withdraw_rate: Annotated[
        float, typer.Option("--withdraw-rate", min=0.0, max=1.0, help="撤回比例 / share withdrawn")
    ] = 0.05,
    via: ViaOption = Via.HTTP,
    intake_url: UrlOption = DEFAULT_INTAKE_URL,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic_prefix: PrefixOption = "",
    seed: SeedOption = None,
    district: DistrictOption = None,
    concurrency: ConcurrencyOption = None,
    timeout: TimeoutOption = 60.0,
    progress: ProgressOption = True,
) -> None:
    """报送申报（四类工作任务，部分修改或撤回）/ submit applications of the four programmes, amending or
    withdrawing some."""
    codes = _district_codes(district)
    with _progress(progress) as bar:
        summary = _run(
            send_applications(
                count,
                year,
                target=_target(via, intake_url, bootstrap, topic_prefix, timeout),
                districts=codes,
                seed=seed,
                amend_rate=amend_rate,
                withdraw_rate=withdraw_rate,
                concurrency=concurrency,
                progress=bar,
            )
        )
    _finish(summary)


@app.command()
def plans(
    application_id: Annotated[
        list[str] | None,
        typer.Option(
            "--application-id",
            help="申报编号，可重复（须只指定一个区市）/ application id, repeatable (one district)",
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="只为该年度的申报报送 / only applications of this year")
    ] = None,
    via: ViaOption = Via.HTTP,
    intake_url: UrlOption = DEFAULT_INTAKE_URL,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic_prefix: PrefixOption = "",
    seed: SeedOption = None,
    district: DistrictOption = None,
    concurrency: ConcurrencyOption = None,
    timeout: TimeoutOption = 60.0,
    progress: ProgressOption = True,
) -> None:
    """为已批准建设的申报报送三年规划和年度实施方案 / send three-year and annual plans for approved
    applications (found via intake's query API unless ids are given)."""
    codes = _district_codes(district)
    with _progress(progress) as bar:
        summary = _run(
            send_plans(
                target=_target(via, intake_url, bootstrap, topic_prefix, timeout),
                districts=codes,
                application_ids=application_id or (),
                year=year,
                seed=seed,
                concurrency=concurrency,
                progress=bar,
            )
        )
    _finish(summary)


@app.command()
def facilities(
    count: Annotated[int, typer.Option("--count", "-n", min=0, help="设施数量 / number of facilities")] = 30,
    via: ViaOption = Via.HTTP,
    intake_url: UrlOption = DEFAULT_INTAKE_URL,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic_prefix: PrefixOption = "",
    seed: SeedOption = None,
    district: DistrictOption = None,
    concurrency: ConcurrencyOption = None,
    timeout: TimeoutOption = 60.0,
    progress: ProgressOption = True,
) -> None:
    """报送建成设施（职工之家、惠工家、健康驿站、服务职工基地）/ report facilities built."""
    codes = _district_codes(district)
    with _progress(progress) as bar:
        summary = _run(
            send_facilities(
                count,
                target=_target(via, intake_url, bootstrap, topic_prefix, timeout),
                districts=codes,
                seed=seed,
                concurrency=concurrency,
                progress=bar,
            )
        )
    _finish(summary)


@app.command()
def projects(
    count: Annotated[int, typer.Option("--count", "-n", min=0, help="项目数量 / number of projects")] = 10,
    via: ViaOption = Via.HTTP,
    intake_url: UrlOption = DEFAULT_INTAKE_URL,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic_prefix: PrefixOption = "",
    seed: SeedOption = None,
    district: DistrictOption = None,
    concurrency: ConcurrencyOption = None,
    timeout: TimeoutOption = 60.0,
    progress: ProgressOption = True,
) -> None:
    """推荐服务职工项目（项目库）/ recommend service projects for the project library."""
    codes = _district_codes(district)
    with _progress(progress) as bar:
        summary = _run(
            send_projects(
                count,
                target=_target(via, intake_url, bootstrap, topic_prefix, timeout),
                districts=codes,
                seed=seed,
                concurrency=concurrency,
                progress=bar,
            )
        )
    _finish(summary)


@app.command()
def facts(
    count: Annotated[int, typer.Option("--count", "-n", min=0, help="事实数量 / number of facts")] = 5,
    via: ViaOption = Via.HTTP,
    intake_url: UrlOption = DEFAULT_INTAKE_URL,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic_prefix: PrefixOption = "",
    seed: SeedOption = None,
    district: DistrictOption = None,
    concurrency: ConcurrencyOption = None,
    timeout: TimeoutOption = 60.0,
    progress: ProgressOption = True,
) -> None:
    """以数据交换身份报送合规事实（部分已整改，仅 HTTP）/ report compliance facts as the data exchange
    (some settled; HTTP only)."""
    codes = _district_codes(district)
    with _progress(progress) as bar:
        summary = _run(
            send_facts(
                count,
                target=_target(via, intake_url, bootstrap, topic_prefix, timeout),
                districts=codes,
                seed=seed,
                concurrency=concurrency,
                progress=bar,
            )
        )
    _finish(summary)


@app.command()
def enrolments(
    count: Annotated[int, typer.Option("--count", "-n", min=0, help="入会人数 / rows to enrol")] = 10_000,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=MAX_BATCH_ROWS, help="每批行数 / rows per sheet")
    ] = MAX_BATCH_ROWS,
    invalid_rate: Annotated[
        float, typer.Option("--invalid-rate", min=0.0, max=1.0, help="错误行比例 / share of invalid rows")
    ] = 0.01,
    duplicate_rate: Annotated[
        float, typer.Option("--duplicate-rate", min=0.0, max=1.0, help="重复行比例 / share of duplicate rows")
    ] = 0.0,
    sheet_format: Annotated[
        SheetFormat,
        typer.Option(
            "--format", help="HTTP 报送格式：JSON 或上传 CSV / over HTTP: JSON rows or a CSV upload"
        ),
    ] = SheetFormat.JSON,
    via: ViaOption = Via.HTTP,
    intake_url: UrlOption = DEFAULT_INTAKE_URL,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic_prefix: PrefixOption = "",
    seed: SeedOption = None,
    district: DistrictOption = None,
    concurrency: ConcurrencyOption = None,
    timeout: TimeoutOption = 120.0,
    progress: ProgressOption = True,
) -> None:
    """报送新就业形态劳动者入会（分批，分布于各区市）/ enrol gig workers in sheets spread over the districts."""
    codes = _district_codes(district)
    with _progress(progress) as bar:
        summary: Summary = _run(
            send_enrolments(
                count,
                target=_target(via, intake_url, bootstrap, topic_prefix, timeout),
                districts=codes,
                seed=seed,
                batch=batch,
                invalid_rate=invalid_rate,
                duplicate_rate=duplicate_rate,
                concurrency=concurrency,
                sheet_format=sheet_format,
                progress=bar,
            )
        )
    judged = (
        f"受理 accepted {summary.accepted:,}，拒绝 rejected {summary.rejected:,}"
        if summary.accepted is not None and summary.rejected is not None
        else "受理结果由入站消费者处理 / judged later by the inbound consumer"
    )
    _stderr.print(
        f"已发送 rows sent {summary.rows:,}，{judged}，用时 {summary.seconds:.1f} s，"
        f"{summary.rows_per_second:,.0f} 行/s rows/s"
    )
    _finish(summary)


@app.command()
def demo(
    applications: Annotated[int, typer.Option("--applications", min=0, help="申报 / applications")] = 20,
    facilities: Annotated[int, typer.Option("--facilities", min=0, help="设施 / facilities")] = 30,
    projects: Annotated[int, typer.Option("--projects", min=0, help="服务项目 / service projects")] = 10,
    facts: Annotated[int, typer.Option("--facts", min=0, help="合规事实 / compliance facts")] = 5,
    enrolments: Annotated[int, typer.Option("--enrolments", min=0, help="入会 / enrolments")] = 5_000,
    year: YearOption = None,
    via: ViaOption = Via.HTTP,
    intake_url: UrlOption = DEFAULT_INTAKE_URL,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic_prefix: PrefixOption = "",
    seed: SeedOption = None,
    district: DistrictOption = None,
    timeout: TimeoutOption = 120.0,
    progress: ProgressOption = True,
) -> None:
    """演示数据：少量各类报送的组合 / a small realistic mix of everything (facts only over HTTP)."""
    codes = _district_codes(district)
    chosen = resolve_seed(seed)
    counts = DemoCounts(applications, facilities, projects, facts, enrolments)
    started = time.perf_counter()
    with _progress(progress) as bar:
        results: dict[str, Summary] = _run(
            run_demo(
                counts,
                target=_target(via, intake_url, bootstrap, topic_prefix, timeout),
                districts=codes,
                seed=chosen,
                year=year,
                progress=bar,
            )
        )
    summary = demo_summary(results, chosen, via, time.perf_counter() - started)
    typer.echo(orjson.dumps(summary).decode())
    if summary["failed"]:
        _stderr.print(f"[red]{summary['failed']} 条命令失败 / commands failed[/red]")
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
