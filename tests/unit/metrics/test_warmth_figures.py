"""送温暖 figures per union: deliveries and amounts summed over occasions and months, against the
budget the city federation had set by then (none set: no budget and nothing remaining)."""

from __future__ import annotations

from huigong_metrics.domain.warmth import MonthRow, by_union, month_json


def test_a_union_sums_its_months_and_occasions_against_its_budget() -> None:
    rows = [
        MonthRow("370202", "festival", "2026-02", 3, 1500),
        MonthRow("370202", "hardship", "2026-03", 1, 800),
        MonthRow("370203", "serious_illness", "2026-03", 1, 2000),
    ]
    unions = {u.union: u.to_json() for u in by_union(rows, {"370202": 5000, "G-HAIER": 1000})}
    assert unions["370202"] == {
        "area": "370202",
        "area_name": "市南区",
        "budget": 5000,
        "used": 2300,
        "remaining": 2700,
        "deliveries": 4,
        "amount": 2300,
    }
    assert (unions["370203"]["budget"], unions["370203"]["remaining"]) == (None, None)
    assert (unions["G-HAIER"]["deliveries"], unions["G-HAIER"]["remaining"]) == (0, 1000)


def test_a_month_row_names_its_area_and_occasion() -> None:
    shown = month_json(MonthRow("370203", "festival", "2026-09", 2, 600))
    assert (shown["area_name"], shown["occasion_label"]) == ("市北区", "重要节点")
