"""What a person can plausibly send: the constrained input types every service's requests use,
declared once so that the registry, intake, review and metrics refuse the same nonsense the same
way (a 422 naming the field, in Chinese and English).

They constrain *input* only (request bodies, commands, query parameters). Events keep the looser
types of `forms.py`: a recorded event is never re-judged, so a stream written before a rule was
tightened still replays.

The rules:
- a day on which something happened (registered, assessed, certified, exited, closed, opened)
  lies between the programme's start (1 January 2022: the work plan is of 2022) and today in
  Beijing plus `FUTURE_MARGIN_DAYS`. The margin is zero: Beijing's clock is ahead of every
  district system's, so no honest caller dates a fact tomorrow, and a fact dated tomorrow would
  be counted by a reader asked "as of today" in one service and not in another;
- a day a facility was built (`opened_on`) is not in the future either, but may lie before the
  programme: facilities standing before 2022 are reported too (the earliest is the founding of the
  People's Republic, 1949-10-01, before which no facility of the federation's stands);
- a day a figure is asked about (`as_of`) lies between the programme's start and the end of 2100;
- a name or a text holds no control characters (tabs and line breaks are allowed in texts, not in
  names) and is not meaningless: it contains at least one letter of some script (汉字, Latin …),
  so "0", "-" or "…" are refused while "3号楼职工之家" passes;
- `stray_controls` finds control characters anywhere in a command (every string, however deeply
  nested): the platform's command path refuses them before any handler runs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Final, get_args

from pydantic import AfterValidator, BaseModel, Field

from .forms import Name, ShortText

PROGRAMME_START: Final = date(2022, 1, 1)
EARLIEST_FACILITY: Final = date(1949, 10, 1)
LAST_DAY: Final = date(2100, 12, 31)
FUTURE_MARGIN_DAYS: Final = 0
_BEIJING: Final = timezone(timedelta(hours=8))
# Line structure is allowed in texts; every other C0/C1 control and every format character
# (zero-width, bidirectional overrides) is refused: none belongs in a record a person reads.
_TEXT_LAYOUT: Final = frozenset("\t\n\r")
# The constraint that marks a field declared `forms.Name` (pydantic keeps it in the field's metadata).
_NAME: Final = get_args(Name)[1]


def beijing_today() -> date:
    return datetime.now(_BEIJING).date()


def latest_plausible_day() -> date:
    return beijing_today() + timedelta(days=FUTURE_MARGIN_DAYS)


def _control(ch: str, layout: frozenset[str]) -> bool:
    return unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} and ch not in layout


def _meaningful(value: str, layout: frozenset[str]) -> str:
    if any(_control(ch, layout) for ch in value):
        raise ValueError("不得含控制字符（must not contain control characters）")
    if not any(unicodedata.category(ch).startswith("L") for ch in value):
        raise ValueError("应包含文字，不能只是数字或符号（must contain words, not only digits or symbols）")
    return value


def _plain_name(value: str) -> str:
    return _meaningful(value, frozenset())


def _plain_text(value: str) -> str:
    return _meaningful(value, _TEXT_LAYOUT)


def _recorded_day(value: date) -> date:
    latest = latest_plausible_day()
    if not PROGRAMME_START <= value <= latest:
        raise ValueError(
            f"日期应在{PROGRAMME_START.isoformat()}至{latest.isoformat()}之间"
            f"（the date must lie between {PROGRAMME_START.isoformat()} and {latest.isoformat()}）"
        )
    return value


def _built_day(value: date) -> date:
    latest = latest_plausible_day()
    if not EARLIEST_FACILITY <= value <= latest:
        raise ValueError(
            f"日期应在{EARLIEST_FACILITY.isoformat()}至{latest.isoformat()}之间，不能晚于今天"
            f"（the date must lie between {EARLIEST_FACILITY.isoformat()} and {latest.isoformat()}: "
            "not in the future）"
        )
    return value


def _asked_day(value: date) -> date:
    if not PROGRAMME_START <= value <= LAST_DAY:
        raise ValueError(
            f"日期应在{PROGRAMME_START.isoformat()}至{LAST_DAY.isoformat()}之间"
            f"（the date must lie between {PROGRAMME_START.isoformat()} and {LAST_DAY.isoformat()}）"
        )
    return value


PlainName = Annotated[Name, AfterValidator(_plain_name)]
"""A name as a person sends it: no control characters, at least one letter."""

PlainText = Annotated[ShortText, AfterValidator(_plain_text)]
"""A reason or note as a person sends it: no control characters but line breaks, at least one letter."""

RecordedDay = Annotated[date, AfterValidator(_recorded_day)]
"""A day on which something happened: from the programme's start to today (Beijing) plus the margin."""

BuiltDay = Annotated[date, AfterValidator(_built_day)]
"""A day a facility was built: from 1949-10-01 to today (Beijing); never in the future."""

AsOfDay = Annotated[date, AfterValidator(_asked_day)]
"""A day figures or states are asked about (`as_of`): from the programme's start to 2100-12-31."""

QueryYear = Annotated[int, Field(ge=PROGRAMME_START.year, le=LAST_DAY.year)]
"""A year asked about in a query (`year=`): a year of the programme, 2022–2100."""

BuiltYear = Annotated[int, Field(ge=EARLIEST_FACILITY.year, le=LAST_DAY.year)]
"""The year of a facility's opening asked about in a query: 1949–2100."""


def _strings(
    value: object, path: tuple[str, ...], named: bool = False
) -> Iterator[tuple[tuple[str, ...], str, bool]]:
    """Every string of `value` with its field path, and whether its field is declared a name
    (`forms.Name`: a unit's, a signatory's, a project's)."""
    if isinstance(value, str):
        yield path, value, named
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from _strings(getattr(value, name), (*path, name), _NAME in field.metadata)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, str(index)), named)


def stray_controls(command: BaseModel) -> list[str]:
    """The field paths (`form.stages.0.content`) of every string in `command` holding a control
    character other than a tab or a line break. Free-form mappings (an enrolment batch's rows) are
    left to the rules that judge them row by row."""
    return [
        ".".join(path)
        for path, text, _ in _strings(command, ())
        if any(_control(ch, _TEXT_LAYOUT) for ch in text)
    ]


def meaningless_names(command: BaseModel) -> list[str]:
    """The field paths of every name in `command` (a field declared `forms.Name`, at any depth:
    an application form's units, signatories and projects too) holding no letter of any script,
    such as "0" or "—". The events keep their looser types, so history recorded before replays;
    only what is asked now is refused."""
    return [
        ".".join(path)
        for path, text, named in _strings(command, ())
        if named and not any(unicodedata.category(ch).startswith("L") for ch in text)
    ]
