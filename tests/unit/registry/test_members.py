"""The member roster's rules: one person, one member; mutual aid once per policy year, paid by
(and counted to) the federation that asked for it, also when it asks later."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from huigong_events.intake import EnrolmentRequested, MutualAidRequested
from huigong_events.registry import MemberEnrolled, MemberErased, MemberReportedAgain, MutualAidGranted
from huigong_platform.refusals import Conflict, NotFound
from huigong_registry.domain.members import (
    CITY_GIFT,
    decide_aid_request,
    decide_enrolment,
    decide_erasure,
    fold,
    payer,
    policy_year,
)

KEY = "a" * 64


def request(
    district: str = "370202", joined: date = date(2022, 7, 1), aid: bool = True
) -> EnrolmentRequested:
    return EnrolmentRequested(
        enrolment_id=uuid.uuid4(),
        batch_id=uuid.uuid4(),
        row_number=1,
        member_key=KEY,
        personal_sealed="c2VhbGVkc2VhbGVkc2VhbGVkc2VhbGVkc2VhbGVk",
        key_id="k1",
        occupation="快递员",
        platform="京东物流",
        district=district,
        joined_on=joined,
        mutual_aid=aid,
    )


def test_first_report_enrols_and_2022_aid_is_the_city_gift() -> None:
    events = decide_enrolment(fold([]), request(), date(2022, 7, 2))
    assert [type(e) for e in events] == [MemberEnrolled, MutualAidGranted]
    enrolled, aid = events
    assert isinstance(enrolled, MemberEnrolled) and enrolled.district == "370202"
    assert isinstance(aid, MutualAidGranted) and aid.policy_year == 2022 and aid.paid_by == CITY_GIFT
    assert "personal_sealed" not in enrolled.model_dump()


def test_a_second_district_is_recorded_not_counted_and_aid_is_not_granted_twice() -> None:
    first = decide_enrolment(fold([]), request(), date(2022, 7, 2))
    second = request(district="370203")
    events = decide_enrolment(fold(first), second, date(2022, 8, 1))
    assert len(events) == 1 and isinstance(events[0], MemberReportedAgain)
    assert events[0].district == "370203" and events[0].reported_on == date(2022, 8, 1)


def test_the_same_report_again_decides_nothing() -> None:
    once = request()
    first = decide_enrolment(fold([]), once, date(2022, 7, 2))
    assert decide_enrolment(fold(first), once, date(2022, 7, 2)) == []


def test_later_years_are_paid_by_the_reporting_federation_once_per_year() -> None:
    first = decide_enrolment(fold([]), request(joined=date(2024, 3, 1), aid=False), date(2024, 3, 2))
    assert [type(e) for e in first] == [MemberEnrolled]
    again = decide_enrolment(
        fold(first), request(district="370203", joined=date(2024, 5, 1)), date(2024, 5, 2)
    )
    assert [e.type for e in again] == ["MemberReportedAgain", "MutualAidGranted"]
    aid = again[1]
    assert isinstance(aid, MutualAidGranted) and aid.paid_by == "市北区总工会" and aid.policy_year == 2024
    assert aid.paid_by_area == "370203"  # counted to the federation that pays, not the member's
    third = decide_enrolment(fold([*first, *again]), request(joined=date(2024, 9, 1)), date(2024, 9, 2))
    assert [type(e) for e in third] == [MemberReportedAgain]


def test_a_group_unions_report_is_paid_by_the_group_whatever_district_its_row_names() -> None:
    events = decide_enrolment(fold([]), request(joined=date(2025, 3, 1)), date(2025, 3, 2), "G-HAIER")
    aid = events[1]
    assert isinstance(aid, MutualAidGranted)
    assert (aid.paid_by, aid.paid_by_area) == ("海尔集团工会", "G-HAIER")


def aid_request(on: date, reporter: str = "370202") -> MutualAidRequested:
    return MutualAidRequested(
        enrolment_id=uuid.uuid4(),
        batch_id=uuid.uuid4(),
        row_number=3,
        member_key=KEY,
        reported_by=reporter,
        requested_on=on,
    )


def test_mutual_aid_asked_for_later_is_granted_for_the_year_of_the_request_once() -> None:
    enrolled = decide_enrolment(fold([]), request(joined=date(2024, 3, 1), aid=False), date(2024, 3, 2))
    granted = decide_aid_request(fold(enrolled), aid_request(date(2026, 5, 6)))
    [aid] = granted
    assert isinstance(aid, MutualAidGranted)
    assert (aid.policy_year, aid.granted_on) == (2026, date(2026, 5, 6))
    assert (aid.paid_by, aid.paid_by_area) == ("市南区总工会", "370202")
    # Asked again the same year (or sent twice): the member is insured, nothing new.
    assert decide_aid_request(fold([*enrolled, *granted]), aid_request(date(2026, 9, 1))) == []
    # The next year is a new policy year.
    assert len(decide_aid_request(fold([*enrolled, *granted]), aid_request(date(2027, 1, 2)))) == 1


def test_mutual_aid_for_someone_not_on_the_roster_is_not_decided() -> None:
    with pytest.raises(ValueError, match="not on the roster"):
        decide_aid_request(fold([]), aid_request(date(2026, 5, 6)))


def test_payer_and_policy_year() -> None:
    assert payer(2022, "G-HAIER") == CITY_GIFT
    assert payer(2023, "G-HAIER") == "海尔集团工会"
    assert payer(2025, "370281") == "胶州市总工会"
    assert policy_year(date(2021, 12, 31)) == 2022


# --- erasure (个人信息删除) ------------------------------------------------------------------------


def test_erasure_is_recorded_once_and_a_later_report_counts_nothing_new() -> None:
    enrolled = decide_enrolment(fold([]), request(), date(2022, 7, 2))
    erased = decide_erasure(fold(enrolled), KEY, "SC-2024-0001", date(2024, 2, 1))
    assert len(erased) == 1 and isinstance(erased[0], MemberErased)
    assert erased[0].erased_on == date(2024, 2, 1) and erased[0].request_ref == "SC-2024-0001"
    state = fold([*enrolled, *erased])
    assert state.erased and state.enrolled and state.aid_years == {2022}
    with pytest.raises(Conflict):
        decide_erasure(state, KEY, "SC-2024-0002", date(2024, 2, 2))
    # The same person reported again after erasure: recorded, not enrolled or insured twice.
    again = decide_enrolment(state, request(district="370203"), date(2024, 3, 1))
    assert [type(e) for e in again] == [MemberReportedAgain]


def test_a_person_reported_again_after_erasure_can_be_erased_again() -> None:
    """The new report sealed their name and phone under a new key: that key must be destroyable."""
    enrolled = decide_enrolment(fold([]), request(), date(2022, 7, 2))
    erased = decide_erasure(fold(enrolled), KEY, "SC-2024-0001", date(2024, 2, 1))
    again = decide_enrolment(fold([*enrolled, *erased]), request(district="370203"), date(2024, 3, 1))
    second = decide_erasure(fold([*enrolled, *erased, *again]), KEY, "SC-2024-0009", date(2024, 4, 1))
    (erasure,) = second
    assert isinstance(erasure, MemberErased) and erasure.request_ref == "SC-2024-0009"
    with pytest.raises(Conflict):
        decide_erasure(fold([*enrolled, *erased, *again, *second]), KEY, "SC-2024-0010", date(2024, 4, 2))


def test_an_unknown_member_cannot_be_erased() -> None:
    with pytest.raises(NotFound):
        decide_erasure(fold([]), KEY, "SC-2024-0001", date(2024, 2, 1))
