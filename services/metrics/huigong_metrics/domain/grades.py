"""The dashboard's 分级评定 figures (pure): per district, the 服务职工基地 and 关爱职工公益伙伴 in the
register, their latest grades, those on probation (试运行: from an application, no grade of C or
better yet), under 整改 and proposed for exit. A base or partner that exited is not counted. The
figures are today's: grades are yearly, and the evaluation's own figures are in the registry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from huigong_events.reference import CITY_CODE, area_name

GRADES: Final = ("A", "B", "C", "D")
DEFINITIONS: Final[dict[str, str]] = {
    "bases": "在册的服务职工基地",
    "partners": "在册的关爱职工公益伙伴",
    "A": "最近一次年度评定为 A（优秀）",
    "B": "最近一次年度评定为 B（良好）",
    "C": "最近一次年度评定为 C（合格）",
    "D": "最近一次年度评定为 D（不合格）",
    "ungraded": "尚未评定",
    "probation": "经申报新进入、尚未评定为 C 及以上的（试运行）",
    "rectification": "评定为 D 后整改尚未完成的",
    "exit_proposed": "已提请退出、待登记人员决定的",
}


@dataclass(frozen=True)
class Resource:
    kind: str  # service_base | welfare_partner
    area: str
    from_application: bool
    grade: str | None
    probation_ended: bool
    rectification_open: bool
    exit_proposed: bool


@dataclass
class AreaGrades:
    area: str
    bases: int = 0
    partners: int = 0
    grades: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))
    ungraded: int = 0
    probation: int = 0
    rectification: int = 0
    exit_proposed: int = 0

    def add(self, resource: Resource) -> None:
        if resource.kind == "service_base":
            self.bases += 1
        else:
            self.partners += 1
        if resource.grade in self.grades:
            self.grades[resource.grade] += 1
        else:
            self.ungraded += 1
        self.probation += resource.from_application and not resource.probation_ended
        self.rectification += resource.rectification_open
        self.exit_proposed += resource.exit_proposed

    def to_json(self) -> dict[str, object]:
        return {
            "area": self.area,
            "area_name": "全市" if self.area == CITY_CODE else area_name(self.area),
            "bases": self.bases,
            "partners": self.partners,
            **self.grades,
            "ungraded": self.ungraded,
            "probation": self.probation,
            "rectification": self.rectification,
            "exit_proposed": self.exit_proposed,
        }


def by_area(resources: Iterable[Resource], areas: Sequence[str]) -> tuple[list[AreaGrades], AreaGrades]:
    """Each of `areas` (in that order, those with none too) and the whole city."""
    rows = {area: AreaGrades(area) for area in areas}
    total = AreaGrades(CITY_CODE)
    for resource in resources:
        rows.setdefault(resource.area, AreaGrades(resource.area)).add(resource)
        total.add(resource)
    return list(rows.values()), total
