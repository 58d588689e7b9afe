"""Every historical event shape and the step that brings it to the next version.

History so far:
- ApplicationSubmitted / ApplicationAmended v1 (2022 pilot intake): the annex 3 form's
  试点时间 was one free-text field `pilot_period`, written as on paper ("2022年7月至2025年6月").
  v2 splits it into `period_start` / `period_end` (YYYY-MM) so the period can be validated and
  compared. Annex 4 and 5 forms have no period and pass through unchanged.
- ApplicationSubmitted v3 (intake service, 2026): carries the 受理编号 issued at submission
  (`receipt_no`), so receipts are rebuilt by replay like everything else. Older submissions had
  none: they upcast with `receipt_no = None`.
- UnitRegistered v2 (registry, 2026): carries the approved construction period's start
  (`period_start`), from which the minimum building time before certification counts. Units
  registered before had none: `period_start = None`, and their registration date stands in.
- ConstructionApproved v2 (review, 2026): carries the chair's note on a flagged score the
  approval went over (`flag_note`). Approvals recorded before had no such rule: `flag_note = None`.
- MutualAidGranted v2 (registry, 2026): carries the code of the federation that pays
  (`paid_by_area`), to which the figures count the grant. v1 named the payer only (`paid_by`):
  the code is read back from that name; the city's 2022 gift has none.
- ApplicationSubmitted v4 / ApplicationAmended v3 (intake, 2026): an annex 3 form for a
  幸福企业 may mark the applicant as a 平台经济企业 with the related enterprises and workers its
  pilot covers (`form.platform_economy`). Forms before had no such mark: annex 3 forms upcast
  with `platform_economy = None`; annex 4 and 5 forms pass through unchanged.
- FacilityReported v2 (intake) and FacilityOpened v2 (registry), 2026: a facility may be a
  新就业形态劳动者服务站点, which names its host (`station_host`) and the services it offers
  (`station_services`). Facilities reported before were none: `station_host = None`,
  `station_services = []`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from .reference import DISTRICTS, GROUP_UNIONS
from .upcasting import UpcastError, upcaster

_PERIOD = re.compile(
    r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月?\s*(?:至|-|—|~|到)\s*(\d{4})\s*年\s*(\d{1,2})\s*月?\s*$"
)


def split_pilot_period(text: str) -> tuple[str, str]:
    """ "2022年7月至2025年6月" → ("2022-07", "2025-06")."""
    match = _PERIOD.match(text)
    if match is None:
        raise UpcastError(f"试点时间 {text!r} is not in the form YYYY年M月至YYYY年M月")
    y1, m1, y2, m2 = match.groups()
    return f"{y1}-{int(m1):02d}", f"{y2}-{int(m2):02d}"


def _form_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    form = dict(data["form"])
    if form.get("form_kind") == "pilot" and "pilot_period" in form:
        form["period_start"], form["period_end"] = split_pilot_period(form.pop("pilot_period"))
    return {**data, "form": form}


upcaster("ApplicationSubmitted", 1)(_form_v1_to_v2)
upcaster("ApplicationAmended", 1)(_form_v1_to_v2)


@upcaster("ApplicationSubmitted", 2)
def _submitted_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "receipt_no": None}


@upcaster("ConstructionApproved", 1)
def _approved_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "flag_note": None}


@upcaster("UnitRegistered", 1)
def _unit_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "period_start": None}


# The payer's name, as the registry wrote it into MutualAidGranted v1, → its code.
_PAYER_AREAS: Final = {
    **{f"{name}总工会": code for code, name in DISTRICTS.items()},
    **{f"{name}工会": code for code, name in GROUP_UNIONS.items()},
}


@upcaster("MutualAidGranted", 1)
def _aid_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 named the payer only: "市南区总工会" → 370202; the city's 2022 gift ("市总工会赠送") has
    # no area of its own and stays None, as v2 writes it.
    return {**data, "paid_by_area": _PAYER_AREAS.get(data["paid_by"])}


def _form_without_platform(data: dict[str, Any]) -> dict[str, Any]:
    form = dict(data["form"])
    if form.get("form_kind") == "pilot":
        form["platform_economy"] = None
    return {**data, "form": form}


upcaster("ApplicationSubmitted", 3)(_form_without_platform)
upcaster("ApplicationAmended", 2)(_form_without_platform)


@upcaster("FacilityReported", 1)
@upcaster("FacilityOpened", 1)
def _facility_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "station_host": None, "station_services": []}
