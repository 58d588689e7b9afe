"""The 2022 pilot cohort of annex 2 (2022年提升职工生活品质建设试点单位名单) and the 11 service
centres, as the seed loads them. Facts of the seed document only: names, programme and the
district or group union each belongs to (所属区市或单位); no credit codes are invented."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from huigong_events.reference import CITY_CODE, DISTRICTS, Programme

# Stable ids: the same unit gets the same id on every machine and every run, which is what makes
# loading the cohort idempotent.
NAMESPACE: Final = uuid.UUID("5f0c6a4e-2022-4628-9a8e-0d2b1c3e4f50")
PILOT_DATE: Final = "2022-06-28"  # the date of the work plan that fixed the cohort


@dataclass(frozen=True)
class CohortEntry:
    name: str
    programme: Programme
    area: str  # district code, group union code, or the city

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{self.programme.value}:{self.name}")


_HAPPY: Final = (
    ("山东港口青岛港集团有限公司", "G-QDPORT"),
    ("青岛国际机场集团有限公司", "G-QDAIRPORT"),
    ("海尔集团公司", "G-HAIER"),
    ("海信空调有限公司", "G-HISENSE"),
    ("青岛啤酒集团有限公司", "G-TSINGTAO"),
    ("澳柯玛股份有限公司", "G-AUCMA"),
    ("青岛海湾化学有限公司", "G-QDBAY"),
    ("邮储银行青岛分行", "G-PSBC-QD"),
    ("新中物业管理（中国）有限公司青岛分公司", "370202"),
    ("青岛中泰信实业有限公司", "370203"),
    ("青岛九州通医药有限公司", "370213"),
    ("青岛歌尔声学科技有限公司", "370212"),
    ("青特集团有限公司", "370214"),
    ("青岛真情巴士集团", "370211"),
    ("即发集团有限公司", "370215"),
    ("青岛软控机电工程有限公司", "370281"),
    ("青岛淄柴博洋柴油机股份有限公司", "370283"),
    ("青岛耐克森轮胎有限公司", "370285"),
)
_BASES: Final = (
    ("青岛新100创意文化产业园", "370202"),
    ("青岛市市北区时代国际广场", "370203"),
    ("青岛喵星教育集团有限公司", "370213"),
    ("青岛瑞阳心语心理学应用技术发展有限公司", "370214"),
    ("春暖华凯服务职工基地", "370281"),
    ("平度市星光职业培训学校", "370283"),
    ("莱西市妇幼保健计划生育服务中心", "370285"),
)
# As the seed lists it: 新阳光心理研究所 is a 市北区 institute placed under 崂山区.
_PARTNERS: Final = (
    ("青岛汇益港湾社会组织", "370213"),
    ("青岛市市北区新阳光心理研究所", "370212"),
    ("青岛红十字蓝天救援中心", "370214"),
    ("青岛市黄岛区一枝一叶公益服务社", "370211"),
    ("青岛市即墨区国立社会工作服务中心", "370215"),
)

HAPPY_ENTERPRISES: Final = tuple(CohortEntry(n, Programme.幸福企业, a) for n, a in _HAPPY)
SERVICE_BASES: Final = tuple(CohortEntry(n, Programme.服务职工基地, a) for n, a in _BASES)
PARTNERS: Final = tuple(CohortEntry(n, Programme.公益伙伴, a) for n, a in _PARTNERS)
# "市及区市职工服务中心统筹开展赋能增效，打造服务职工综合体": the city's and the ten districts' centres.
SERVICE_CENTRES: Final = (
    CohortEntry("青岛市职工服务中心", Programme.服务职工综合体, CITY_CODE),
    *(CohortEntry(f"{name}职工服务中心", Programme.服务职工综合体, code) for code, name in DISTRICTS.items()),
)

assert len(HAPPY_ENTERPRISES) == 18 and len(SERVICE_BASES) == 7 and len(PARTNERS) == 5
assert len(SERVICE_CENTRES) == 11
