"""The dashboard's 分级评定 figures: each district's bases and partners in the register by their
latest grade, the ungraded, those on probation, under 整改 or proposed for exit, and the city's
total."""

from __future__ import annotations

from huigong_metrics.domain.grades import Resource, by_area


def resource(kind: str, area: str, grade: str | None, **flags: bool) -> Resource:
    return Resource(
        kind=kind,
        area=area,
        from_application=flags.get("from_application", False),
        grade=grade,
        probation_ended=flags.get("probation_ended", False),
        rectification_open=flags.get("rectification_open", False),
        exit_proposed=flags.get("exit_proposed", False),
    )


def test_each_district_counts_its_bases_and_partners_by_grade_and_standing() -> None:
    resources = [
        resource("service_base", "370202", "A"),
        resource("service_base", "370202", None, from_application=True),
        resource("welfare_partner", "370202", "C", from_application=True, probation_ended=True),
        resource("service_base", "370203", "D", rectification_open=True, exit_proposed=True),
        resource("welfare_partner", "G-HAIER", None),
    ]
    rows, total = by_area(resources, ["370202", "370203", "370211"])
    shinan, shibei, xihaian, haier = (r.to_json() for r in rows)
    assert (shinan["bases"], shinan["partners"], shinan["A"], shinan["C"], shinan["ungraded"]) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert shinan["probation"] == 1 and shinan["area_name"] == "市南区"  # the partner graded C left probation
    assert (shibei["D"], shibei["rectification"], shibei["exit_proposed"]) == (1, 1, 1)
    assert xihaian["bases"] == xihaian["partners"] == 0  # a district with none still has its row
    assert haier["area"] == "G-HAIER" and haier["partners"] == 1
    city = total.to_json()
    assert (city["area_name"], city["bases"], city["partners"], city["ungraded"]) == ("全市", 3, 2, 2)
