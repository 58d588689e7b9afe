"""The yearly cycle: the 30 June deadline on Beijing time, exception windows, and opening them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from huigong_events.intake import SubmissionWindowOpened
from huigong_intake.domain.cycle import (
    SHANGHAI,
    DeadlinePassed,
    OpenSubmissionWindow,
    deadline,
    decide_open_window,
    ensure_open,
)
from huigong_platform.refusals import Conflict, Refusal

BEIJING = timezone(timedelta(hours=8))
LAST_SECOND = datetime(2024, 6, 30, 23, 59, 59, tzinfo=BEIJING)
FIRST_LATE = datetime(2024, 7, 1, 0, 0, 0, tzinfo=BEIJING)


def window(
    submitter: str | None = "370202",
    opens_at: datetime = datetime(2024, 7, 10, 9, tzinfo=BEIJING),
    closes_at: datetime = datetime(2024, 7, 20, 18, tzinfo=BEIJING),
    year: int = 2024,
) -> SubmissionWindowOpened:
    return SubmissionWindowOpened(
        year=year, opens_at=opens_at, closes_at=closes_at, submitter=submitter, reason="防汛期间推迟报送"
    )


def fields(error: Refusal) -> list[str]:
    return [e.field for e in error.errors]


def assert_bilingual(error: Refusal) -> None:
    for e in error.errors:
        assert e.zh and e.en and e.zh != e.en


def test_deadline_is_the_end_of_30_june_beijing_time() -> None:
    assert deadline(2024) == FIRST_LATE
    assert deadline(2024).tzinfo is SHANGHAI
    assert deadline(2024) == datetime(2024, 6, 30, 16, tzinfo=UTC)


def test_last_second_of_30_june_is_on_time() -> None:
    ensure_open(2024, "370202", LAST_SECOND, [])


def test_same_instant_in_utc_is_judged_on_beijing_time() -> None:
    ensure_open(2024, "370202", datetime(2024, 6, 30, 15, 59, 59, tzinfo=UTC), [])
    with pytest.raises(DeadlinePassed):
        ensure_open(2024, "370202", datetime(2024, 6, 30, 16, 0, 0, tzinfo=UTC), [])


def test_midnight_of_1_july_is_late_and_names_the_deadline() -> None:
    with pytest.raises(DeadlinePassed) as refused:
        ensure_open(2024, "370202", FIRST_LATE, [])
    assert refused.value.status == 422
    [error] = refused.value.errors
    assert error.field == "year"
    assert "2024年6月30日24时（北京时间）截止" in error.zh
    assert "补报窗口" in error.zh
    assert "30 June 2024 (Asia/Shanghai)" in error.en
    assert "no exception window is open" in error.en


def test_a_window_for_the_submitter_reopens_submissions() -> None:
    inside = datetime(2024, 7, 15, 10, tzinfo=BEIJING)
    ensure_open(2024, "370202", inside, [window("370202")])


def test_a_window_for_another_submitter_does_not() -> None:
    inside = datetime(2024, 7, 15, 10, tzinfo=BEIJING)
    with pytest.raises(DeadlinePassed):
        ensure_open(2024, "370203", inside, [window("370202")])


def test_a_window_for_everyone_reopens_for_every_submitter() -> None:
    inside = datetime(2024, 7, 15, 10, tzinfo=BEIJING)
    ensure_open(2024, "370203", inside, [window(None)])
    ensure_open(2024, "G-HAIER", inside, [window(None)])


def test_a_window_is_open_from_its_opening_until_just_before_its_closing() -> None:
    w = window()
    ensure_open(2024, "370202", w.opens_at, [w])
    for outside in (w.opens_at - timedelta(seconds=1), w.closes_at):
        with pytest.raises(DeadlinePassed):
            ensure_open(2024, "370202", outside, [w])


def test_a_window_for_another_year_does_not_reopen_this_one() -> None:
    inside = datetime(2024, 7, 15, 10, tzinfo=BEIJING)
    with pytest.raises(DeadlinePassed):
        ensure_open(2024, "370202", inside, [window(year=2023)])


def test_next_year_may_be_submitted_ahead_but_not_the_year_after() -> None:
    now = datetime(2024, 12, 1, tzinfo=BEIJING)
    ensure_open(2025, "370202", now, [])
    with pytest.raises(Refusal) as refused:
        ensure_open(2026, "370202", now, [])
    assert fields(refused.value) == ["year"]
    assert_bilingual(refused.value)


def test_next_year_is_counted_on_beijing_time() -> None:
    # 31 Dec 2024 17:00 UTC is already 1 Jan 2025 in Qingdao, so 2026 is next year there.
    ensure_open(2026, "370202", datetime(2024, 12, 31, 17, tzinfo=UTC), [])


def test_years_before_the_plan_are_refused() -> None:
    with pytest.raises(Refusal) as refused:
        ensure_open(2021, "370202", datetime(2021, 3, 1, tzinfo=BEIJING), [])
    assert fields(refused.value) == ["year"]
    assert "2022" in refused.value.errors[0].zh


def test_a_naive_clock_is_a_bug_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ensure_open(2024, "370202", datetime(2024, 6, 1), [])


# --------------------------------------------------------------------------------------------
# Opening a window
# --------------------------------------------------------------------------------------------

NOW = datetime(2024, 7, 5, 9, tzinfo=BEIJING)


def open_command(**changes: object) -> OpenSubmissionWindow:
    values: dict[str, object] = {
        "year": 2024,
        "opens_at": datetime(2024, 7, 10, 9, tzinfo=BEIJING),
        "closes_at": datetime(2024, 7, 20, 18, tzinfo=BEIJING),
        "reason": "防汛期间推迟报送",
        "submitter": "370202",
    }
    values.update(changes)
    return OpenSubmissionWindow(**values)  # type: ignore[arg-type]


def test_opening_a_window_records_it() -> None:
    [event] = decide_open_window(open_command(), NOW, [])
    assert isinstance(event, SubmissionWindowOpened)
    assert (event.year, event.submitter, event.reason) == (2024, "370202", "防汛期间推迟报送")
    assert event.opens_at == datetime(2024, 7, 10, 9, tzinfo=BEIJING)
    assert event.closes_at == datetime(2024, 7, 20, 18, tzinfo=BEIJING)


def test_a_window_for_everyone_has_no_submitter() -> None:
    [event] = decide_open_window(open_command(submitter=None), NOW, [])
    assert isinstance(event, SubmissionWindowOpened)
    assert event.submitter is None


def test_a_window_may_already_have_opened() -> None:
    decide_open_window(open_command(opens_at=NOW - timedelta(hours=1)), NOW, [])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "推迟"}, "reason"),
        ({"reason": "    推迟报送    "}, "reason"),
        ({"reason": "长" * 501}, "reason"),
        ({"closes_at": datetime(2024, 7, 10, 9, tzinfo=BEIJING)}, "closes_at"),
        ({"closes_at": datetime(2024, 7, 9, 9, tzinfo=BEIJING)}, "closes_at"),
        (
            {
                "opens_at": datetime(2024, 7, 1, tzinfo=BEIJING),
                "closes_at": datetime(2024, 7, 5, 8, tzinfo=BEIJING),
            },
            "closes_at",
        ),
        ({"closes_at": datetime(2024, 7, 20, 18)}, "closes_at"),
        ({"opens_at": datetime(2024, 7, 10, 9)}, "opens_at"),
        ({"submitter": "370299"}, "submitter"),
        ({"year": 2021}, "year"),
        ({"year": 2026}, "year"),
    ],
)
def test_a_window_needs_a_reason_a_sane_period_and_a_known_submitter(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(Refusal) as refused:
        decide_open_window(open_command(**changes), NOW, [])
    assert fields(refused.value) == [field]
    assert_bilingual(refused.value)


def test_a_window_already_covered_is_a_conflict() -> None:
    existing = [window(None, opens_at=datetime(2024, 7, 8, tzinfo=BEIJING))]
    with pytest.raises(Conflict) as refused:
        decide_open_window(open_command(), NOW, existing)
    assert refused.value.status == 409
    assert fields(refused.value) == ["closes_at"]


def test_a_longer_or_other_window_is_not_a_conflict() -> None:
    existing = [window("370202"), window("370203", closes_at=datetime(2024, 8, 1, tzinfo=BEIJING))]
    decide_open_window(open_command(closes_at=datetime(2024, 7, 25, tzinfo=BEIJING)), NOW, existing)
    decide_open_window(open_command(submitter=None), NOW, existing)
