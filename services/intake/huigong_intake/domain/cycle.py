"""The yearly submission cycle (工作安排 1 确定建设单位): applications for a year are due by
30 June of that year, and the city federation may open exception windows (补报窗口) after it.

Pure: the caller passes the current instant and the windows opened so far
(`SubmissionWindowOpened` events of the "intake-cycle" aggregate).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from huigong_events.base import DomainEvent
from huigong_events.intake import SubmissionWindowOpened
from huigong_events.reference import SUBMITTERS
from huigong_platform.refusals import Conflict, FieldError, Refusal

# The plan is a Qingdao document: "30 June" means the end of that day on Beijing time, whatever
# time zone a district system's clock reports in.
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
# The work plan dates from 2022-06-28; no cycle exists before it.
FIRST_YEAR: Final = 2022
MIN_REASON_LENGTH: Final = 5
# forms.ShortText, which the event's reason must satisfy.
MAX_REASON_LENGTH: Final = 500


class DeadlinePassed(Refusal):
    """The yearly submission deadline has passed and no exception window is open (422)."""


def deadline(year: int) -> datetime:
    """The first instant at which submissions for `year` are late: 1 July 00:00 Beijing time.

    Returned as an exclusive bound so that "the end of 30 June" needs no 23:59:59.999999.
    """
    return datetime(year, 7, 1, tzinfo=SHANGHAI)


def local_year(now: datetime) -> int:
    """The calendar year in Qingdao at `now` (a UTC instant on 31 December may already be 1 January)."""
    _require_aware(now)
    return now.astimezone(SHANGHAI).year


def year_errors(year: int, now: datetime, field: str = "year") -> list[FieldError]:
    """A year before the plan, or more than one year ahead, is a typo rather than a real cycle."""
    if year < FIRST_YEAR:
        return [
            FieldError(
                field,
                f"申报年度 {year} 早于方案实施的 {FIRST_YEAR} 年",
                f"year {year} is before the plan started in {FIRST_YEAR}",
            )
        ]
    ahead = local_year(now) + 1
    if year > ahead:
        return [
            FieldError(
                field,
                f"申报年度 {year} 超前过多，最晚只能申报 {ahead} 年度",
                f"year {year} is too far ahead; the latest year open for submissions is {ahead}",
            )
        ]
    return []


def window_applies(window: SubmissionWindowOpened, year: int, submitter: str, now: datetime) -> bool:
    """Whether `window` lets `submitter` submit for `year` at `now` (closes_at is exclusive)."""
    return (
        window.year == year
        and window.submitter in (None, submitter)
        and window.opens_at <= now < window.closes_at
    )


def ensure_open(year: int, submitter: str, now: datetime, windows: Iterable[SubmissionWindowOpened]) -> None:
    """Refuse a submission for `year` by `submitter` at `now` unless the yearly deadline has not
    passed or an exception window for that year (and that submitter, or everyone) is open."""
    errors = year_errors(year, now)
    if errors:
        raise Refusal(*errors)
    if now < deadline(year):
        return
    if any(window_applies(window, year, submitter, now) for window in windows):
        return
    raise DeadlinePassed(
        FieldError(
            "year",
            f"{year}年度申报已于{year}年6月30日24时（北京时间）截止，且未开放补报窗口",
            f"submissions for {year} closed at the end of 30 June {year} (Asia/Shanghai) "
            "and no exception window is open",
        )
    )


@dataclass(frozen=True)
class OpenSubmissionWindow:
    """Open an exception window (补报窗口) for `year`, for one submitter or (None) for all."""

    year: int
    opens_at: datetime
    closes_at: datetime
    reason: str
    submitter: str | None = None


def decide_open_window(
    command: OpenSubmissionWindow, now: datetime, existing: Iterable[SubmissionWindowOpened]
) -> list[DomainEvent]:
    """The events that opening the window records; Refusal or Conflict when refused."""
    _require_aware(now)
    errors = year_errors(command.year, now)
    if command.submitter is not None and command.submitter not in SUBMITTERS:
        errors.append(
            FieldError(
                "submitter",
                f"未知的区市或单位代码：{command.submitter}",
                f"unknown district or unit code: {command.submitter}",
            )
        )
    errors += reason_errors(command.reason, minimum=MIN_REASON_LENGTH)
    times_aware = True
    for field in ("opens_at", "closes_at"):
        if getattr(command, field).tzinfo is None:
            times_aware = False
            errors.append(FieldError(field, "时间须带时区", f"{field} must carry a time zone offset"))
    if times_aware:
        if command.closes_at <= command.opens_at:
            errors.append(
                FieldError(
                    "closes_at",
                    "关闭时间须晚于开放时间",
                    "the window must close after it opens",
                )
            )
        elif command.closes_at <= now:
            errors.append(
                FieldError(
                    "closes_at",
                    "关闭时间须晚于当前时间，已过去的窗口无法补报",
                    "the window must close in the future; a window in the past lets nobody submit",
                )
            )
    if errors:
        raise Refusal(*errors)

    # Opening a window that an existing one already covers would change nothing, and is most
    # likely a double click or a retried request: refuse it rather than record a duplicate.
    for window in existing:
        if (
            window.year == command.year
            and window.submitter in (None, command.submitter)
            and window.opens_at <= command.opens_at
            and command.closes_at <= window.closes_at
        ):
            raise Conflict(
                FieldError(
                    "closes_at",
                    f"{command.year}年度已开放覆盖该时段的补报窗口"
                    f"（{_local(window.opens_at)}至{_local(window.closes_at)}）",
                    f"an exception window for {command.year} already covers this period "
                    f"({_local(window.opens_at)} to {_local(window.closes_at)})",
                )
            )
    return [
        SubmissionWindowOpened(
            year=command.year,
            opens_at=command.opens_at,
            closes_at=command.closes_at,
            submitter=command.submitter,
            reason=command.reason,
        )
    ]


def reason_errors(reason: str, *, minimum: int = 1, field: str = "reason") -> list[FieldError]:
    """A reason is kept in the event for auditors, so it must say something and fit ShortText."""
    length = len(reason.strip())
    if length < minimum:
        return [
            FieldError(
                field,
                f"请填写原因（至少 {minimum} 个字）",
                f"a reason of at least {minimum} characters is required",
            )
        ]
    if length > MAX_REASON_LENGTH:
        return [
            FieldError(
                field,
                f"原因不能超过 {MAX_REASON_LENGTH} 个字",
                f"the reason must not exceed {MAX_REASON_LENGTH} characters",
            )
        ]
    return []


def _local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _require_aware(now: datetime) -> None:
    # A naive clock reading is a bug in the caller, not a user's mistake: no 4xx for it.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
