"""Gig-worker enrolment sheets (新就业形态劳动者入会报送表): reading one row as union staff write
it, and judging a whole batch from one district or group union.

Personal data stays here, at the edge: a parsed or accepted row holds the raw ID number, name
and phone in memory only (hidden from `repr`), and a rejection names the row and the column but
never repeats a cell's value. Not even harmless-looking columns are echoed, because staff do
paste an ID number into the wrong column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Final, NamedTuple, NoReturn, TypeVar

from huigong_events.reference import CITY_NAME, DISTRICTS, GROUP_UNIONS, SUBMITTERS, Occupation
from huigong_platform.refusals import FieldError, Refusal

from .identity import IdentityError, MemberKeyer, check_id_number, check_mobile, china_today


class Column(StrEnum):
    """The columns of an enrolment sheet, exactly as union staff head them."""

    姓名 = "姓名"
    身份证号 = "身份证号"
    手机号 = "手机号"
    职业类别 = "职业类别"
    平台企业 = "平台企业"
    所属区市 = "所属区市"
    入会日期 = "入会日期"
    是否参加互助保障 = "是否参加互助保障"


COLUMNS: Final[tuple[Column, ...]] = tuple(Column)
MAX_BATCH_ROWS: Final = 10_000
NAME_MAX_LENGTH: Final = 50
PLATFORM_MAX_LENGTH: Final = 100  # the events' Name type
MIN_WORKING_AGE: Final = 16  # 劳动法 第十五条: no one under 16 may be employed

RawRow = Mapping[str, object]
"""One row of a sheet: column header → cell value (str, number, bool, date or None)."""


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A row whose every cell is valid, with values normalised. Lives at the edge only."""

    row_number: int
    id_number: str = field(repr=False)
    name: str = field(repr=False)
    phone: str = field(repr=False)
    occupation: Occupation
    platform: str
    district: str  # the code in SUBMITTERS
    joined_on: date
    mutual_aid: bool


@dataclass(frozen=True, slots=True)
class RowRejection:
    """Why a row was not accepted: one FieldError per problem, `field` being the column header."""

    row_number: int
    errors: tuple[FieldError, ...]


# Not frozen: building a frozen dataclass costs several microseconds more per row (each field
# goes through object.__setattr__), a noticeable share of judging 10,000 rows; nothing changes an
# accepted row after judging.
@dataclass(slots=True)
class AcceptedRow:
    """A row that becomes an enrolment: the ID number is already replaced by its member key;
    name and phone are still in clear, to be sealed before they leave the edge."""

    row_number: int
    member_key: str
    name: str = field(repr=False)
    phone: str = field(repr=False)
    occupation: Occupation
    platform: str
    district: str
    joined_on: date
    mutual_aid: bool


@dataclass(frozen=True, slots=True)
class AidRow:
    """A row of a worker this submitter enrolled before, now asking for mutual aid (补报互助保障):
    the registry grants it for the year of the request."""

    row_number: int
    member_key: str


@dataclass(frozen=True, slots=True)
class BatchJudgement:
    accepted: list[AcceptedRow]
    rejected: list[RowRejection]
    aid: list[AidRow] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# One row
# --------------------------------------------------------------------------------------------


class _Refused(Exception):  # an internal signal, never leaves this module
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


def _refuse(zh: str, en: str) -> NoReturn:
    raise _Refused(zh, en)


@dataclass(slots=True)
class _Draft:
    """What could be read of a row; fields stay None where the cell was refused."""

    errors: list[FieldError] = field(default_factory=list)
    id_number: str | None = None
    name: str | None = None
    phone: str | None = None
    occupation: Occupation | None = None
    platform: str | None = None
    district: str | None = None
    joined_on: date | None = None
    mutual_aid: bool | None = None


def parse_row(row_number: int, raw: RawRow, *, today: date | None = None) -> ParsedRow | RowRejection:
    """Read one row; every problem of the row is reported at once, so staff fix it in one go."""
    draft = _parse(raw, today or china_today())
    if draft.errors:
        return RowRejection(row_number, tuple(draft.errors))
    assert draft.id_number is not None and draft.name is not None and draft.phone is not None
    assert draft.occupation is not None and draft.platform is not None and draft.district is not None
    assert draft.joined_on is not None and draft.mutual_aid is not None
    return ParsedRow(
        row_number=row_number,
        id_number=draft.id_number,
        name=draft.name,
        phone=draft.phone,
        occupation=draft.occupation,
        platform=draft.platform,
        district=draft.district,
        joined_on=draft.joined_on,
        mutual_aid=draft.mutual_aid,
    )


_MISSING: Final = object()
_T = TypeVar("_T")


def _cell(
    raw: RawRow, column: str, parse: Callable[[object, date], _T], today: date, errors: list[FieldError]
) -> _T | None:
    """One cell read with `parse`, or None with the reason added to `errors`. Every cell parser
    takes the day the sheet is judged on; only ID numbers and dates depend on it."""
    value = raw.get(column, _MISSING)
    if value is _MISSING:
        errors.append(FieldError(column, f"缺少“{column}”列", f"the column “{column}” is missing"))
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.append(FieldError(column, f"“{column}”未填写", f"“{column}” is empty"))
        return None
    try:
        return parse(value, today)
    except (_Refused, IdentityError) as refused:
        errors.append(FieldError(column, refused.zh, refused.en))
    return None


# The headers as plain text: reading a member of a StrEnum, and hashing it, cost more than the
# whole of some cell checks.
_姓名, _身份证号, _手机号, _职业类别, _平台企业, _所属区市, _入会日期, _是否参加互助保障 = (
    c.value for c in COLUMNS
)


def _parse(raw: RawRow, today: date) -> _Draft:
    draft = _read_whole(raw, today) or _read_cells(raw, today)
    _check_age(draft)
    return draft


class _Seen:
    """Cells of one sheet already read: a sheet repeats its occupations, platforms, districts,
    dates and yes/no answers thousands of times, and reading one costs more than looking it up.
    Text cells only, read without a refusal; kept for one sheet, never across sheets."""

    __slots__ = ("district", "joined_on", "mutual_aid", "occupation", "platform")

    def __init__(self) -> None:
        self.occupation: dict[str, Occupation] = {}
        self.platform: dict[str, str] = {}
        self.district: dict[str, str] = {}
        self.joined_on: dict[str, date] = {}
        self.mutual_aid: dict[str, bool] = {}


def _seen(seen: dict[str, _T], parse: Callable[[object, date], _T], value: object, today: date) -> _T:
    if type(value) is not str:
        return parse(value, today)
    found = seen.get(value)
    if found is None:
        found = seen[value] = parse(value, today)
    return found


def _read_whole(raw: RawRow, today: date, seen: _Seen | None = None) -> _Draft | None:
    """The common case in one go: every cell present and right. None when anything is missing,
    blank or refused; the row is then read cell by cell (`_read_cells`) to say what. Both use the
    same cell parsers, so a row reads the same either way; this way costs a third less, because
    the per-cell bookkeeping is only paid for rows that need it."""
    seen = seen or _Seen()
    try:
        name = _name(raw[_姓名])
        platform = _seen(seen.platform, _platform, raw[_平台企业], today)
        if not name or not platform:  # the two parsers that would take a blank cell
            return None
        return _Draft(
            [],
            name=name,
            id_number=_id_number(raw[_身份证号], today),
            phone=_phone(raw[_手机号]),
            occupation=_seen(seen.occupation, _occupation, raw[_职业类别], today),
            platform=platform,
            district=_seen(seen.district, _district, raw[_所属区市], today),
            joined_on=_seen(seen.joined_on, _joined_on, raw[_入会日期], today),
            mutual_aid=_seen(seen.mutual_aid, _mutual_aid, raw[_是否参加互助保障], today),
        )
    except (KeyError, _Refused, IdentityError):
        return None


def _read_cells(raw: RawRow, today: date) -> _Draft:
    """Every cell on its own, each problem noted against its column."""
    errors: list[FieldError] = []
    return _Draft(
        errors,
        name=_cell(raw, _姓名, _name, today, errors),
        id_number=_cell(raw, _身份证号, _id_number, today, errors),
        phone=_cell(raw, _手机号, _phone, today, errors),
        occupation=_cell(raw, _职业类别, _occupation, today, errors),
        platform=_cell(raw, _平台企业, _platform, today, errors),
        district=_cell(raw, _所属区市, _district, today, errors),
        joined_on=_cell(raw, _入会日期, _joined_on, today, errors),
        mutual_aid=_cell(raw, _是否参加互助保障, _mutual_aid, today, errors),
    )


def _check_age(draft: _Draft) -> None:
    if (
        draft.id_number is not None
        and draft.joined_on is not None
        and _as_number(draft.joined_on) < _sixteenth_birthday(draft.id_number)
    ):
        draft.errors.append(
            FieldError(
                _入会日期,
                "入会日期早于劳动者年满16周岁，请核对入会日期和身份证号",
                "the joining date is before the worker turned 16; please check it and the ID number",
            )
        )
        draft.joined_on = None


# Dates as the numbers YYYYMMDD, which order as the dates do: the ID number already holds the
# birth date so, and building date objects cost more than the rest of the check. Someone born on
# 29 February "turns 16" on YYYY0229 even in a year without that day; no date falls between
# YYYY0228 and YYYY0301 then, so 1 March is the first day they may join, as before.
def _as_number(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _sixteenth_birthday(id_number: str) -> int:
    """Of a number as `check_id_number` returns it (its birth date checked to be a real date)."""
    return int(id_number[6:14]) + MIN_WORKING_AGE * 10_000


def _text(value: object) -> str:
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip()
    _refuse("应填写文字", "should be text")


def _integral_digits(value: object) -> str | None:
    """The digits of a whole number a sheet stored as a number (Excel does so for long digit
    strings unless the column is formatted as text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _name(value: object, _today: date | None = None) -> str:
    # Chinese names carry no NFKC folding: keep exactly what was written, only trimmed.
    if not isinstance(value, str):
        _refuse("姓名应填写文字", "the name should be text")
    name = value.strip()
    if len(name) > NAME_MAX_LENGTH:
        _refuse(f"姓名不能超过{NAME_MAX_LENGTH}个字", f"a name has at most {NAME_MAX_LENGTH} characters")
    # Names registered in China have no digits; digits here mean the columns got shifted.
    if not name.isalpha() and any(char.isdigit() for char in name):  # isalpha: no digit, at C speed
        _refuse("姓名中不应有数字，请检查各列是否错位", "a name has no digits; are the columns shifted?")
    return name


# Excel keeps 15 significant digits; an 18-digit number typed into a number cell has lost its
# last digits, and guessing them back would enrol the wrong person.
_EXACT_DIGITS: Final = 15


def _id_number(value: object, today: date) -> str:
    if isinstance(value, str):
        return check_id_number(value, today=today)  # which normalises as _text does, and more
    digits = _integral_digits(value)
    if digits is not None and len(digits.lstrip("-")) > _EXACT_DIGITS:
        _refuse(
            "身份证号被存成了数字，末几位可能已丢失；请将“身份证号”列设置为文本格式后重新录入",
            "the ID number was stored as a number and may have lost its last digits; "
            "format the column as text and enter the numbers again",
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return check_id_number(digits or "", today=today)
    _refuse("应填写文字", "should be text")


def _phone(value: object, _today: date | None = None) -> str:
    if isinstance(value, str):
        return check_mobile(value)  # which normalises and drops every blank, inside or around
    digits = _integral_digits(value)
    return check_mobile(digits if digits is not None else _text(value))


# What offices write for each of the five categories (documented for districts in
# docs/services/intake.md; change both together). Each category's own name is accepted too.
OCCUPATION_SYNONYMS: Final[Mapping[Occupation, tuple[str, ...]]] = {
    Occupation.快递员: ("快递小哥", "快递派送员", "快递收派员", "快递配送员", "快递业务员"),
    Occupation.外卖送餐员: (
        "外卖配送员",
        "外卖员",
        "外卖骑手",
        "骑手",
        "送餐员",
        "外卖小哥",
        "网约配送员",
    ),
    Occupation.网约车驾驶员: ("网约车司机", "网约车驾驶人", "网约车车主", "专车司机", "快车司机"),
    Occupation.货车司机: ("货车驾驶员", "货运司机", "卡车司机", "网络货运司机", "货车驾驶人"),
    Occupation.其他: ("其它",),
}


def _occupation_names() -> dict[str, Occupation]:
    names = {occupation.value: occupation for occupation in Occupation}
    for occupation, synonyms in OCCUPATION_SYNONYMS.items():
        for synonym in synonyms:
            if names.setdefault(synonym, occupation) is not occupation:
                raise AssertionError(f"the occupation {synonym} names two categories")
    return names


_OCCUPATIONS: Final = _occupation_names()


def _occupation(value: object, _today: date | None = None) -> Occupation:
    # Blanks inside too: "外卖 配送员" is what a merged cell or a careless paste leaves.
    text = "".join(_text(value).split())
    try:
        return _OCCUPATIONS[text]
    except KeyError:
        allowed = "、".join(Occupation)
        _refuse(
            f"职业类别无法识别，应为{allowed}之一（也可写常用名称，如外卖配送员、骑手、网约车司机，见报送说明）",
            f"unknown occupation: it must be one of {', '.join(Occupation)} "
            "(or a usual name such as 外卖配送员, 骑手, 网约车司机, listed in the documentation)",
        )


def _platform(value: object, _today: date | None = None) -> str:
    platform = _text(value)
    if len(platform) > PLATFORM_MAX_LENGTH:
        _refuse(
            f"平台企业名称不能超过{PLATFORM_MAX_LENGTH}个字",
            f"a platform name has at most {PLATFORM_MAX_LENGTH} characters",
        )
    return platform


def _district_names() -> dict[str, str]:
    names = {code: code for code in SUBMITTERS}
    for code, name in SUBMITTERS.items():
        names[name] = code
        names[CITY_NAME + name] = code  # "青岛市市南区"
    # 西海岸新区 is the old 黄岛区 and is still often written so; the code never changed.
    names["黄岛区"] = names[CITY_NAME + "黄岛区"] = "370211"
    return names


_DISTRICT_NAMES: Final = _district_names()


def _district(value: object, _today: date | None = None) -> str:
    digits = _integral_digits(value)
    text = digits if digits is not None else _text(value)
    try:
        return _DISTRICT_NAMES[text]
    except KeyError:
        _refuse(
            "所属区市无法识别，请填写区市或单位名称（如“市南区”）或区划代码（如“370202”）",
            "unknown district: write its name (e.g. 市南区) or its code (e.g. 370202)",
        )


_DATE: Final = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # CSV exports of Excel dates add "0:00:00"
    r"|(\d{4})(\d{2})(\d{2})"
)


def _joined_on(value: object, today: date) -> date:
    if isinstance(value, datetime):
        joined = value.date()
    elif isinstance(value, date):
        joined = value
    elif isinstance(value, str):
        text = _text(value)
        # The ISO form most sheets use, without the regular expression; anything else takes it.
        if len(text) == 10 and text[4] == "-" == text[7] and text.isascii():
            try:
                joined = date.fromisoformat(text)
            except ValueError:
                joined = _parse_date(text)
        else:
            joined = _parse_date(text)
    else:
        _refuse(
            "入会日期应填写日期，如 2023-05-01（若为数字，请将该列设置为日期格式）",
            "the joining date should be a date such as 2023-05-01",
        )
    if joined > today:
        _refuse("入会日期不能晚于今天", "the joining date is in the future")
    return joined


def _parse_date(text: str) -> date:
    match = _DATE.fullmatch(text)
    if match:
        parts = match.groups()
        year, month, day = parts[:3] if parts[0] is not None else parts[3:]
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            pass
    _refuse(
        "入会日期无法识别，请按 2023-05-01、2023/5/1 或 2023年5月1日 的格式填写",
        "the joining date is not a valid date; write it as 2023-05-01, 2023/5/1 or 2023年5月1日",
    )


_YES: Final = frozenset({"是", "Y", "YES", "TRUE", "1"})
_NO: Final = frozenset({"否", "N", "NO", "FALSE", "0"})


def _mutual_aid(value: object, _today: date | None = None) -> bool:
    if isinstance(value, bool):
        return value
    digits = _integral_digits(value)
    text = (digits if digits is not None else _text(value)).upper()
    if text in _YES:
        return True
    if text in _NO:
        return False
    _refuse("是否参加互助保障应填写“是”或“否”", "mutual aid should be 是 (yes) or 否 (no)")


# --------------------------------------------------------------------------------------------
# A batch
# --------------------------------------------------------------------------------------------


_ALREADY_ENROLLED: Final = FieldError(
    Column.身份证号.value,
    "该区市已报送此人（如需为其补报互助保障，请将“是否参加互助保障”填为“是”）",
    "this submitter has already enrolled this worker (to add mutual aid, answer 是 in 是否参加互助保障)",
)


def may_report(submitter: str, district: str) -> bool:
    """Whether `submitter` may enrol a worker of `district`.

    A district federation enrols the workers of its own district only: the yearly targets are
    counted by district and two districts must not both claim one worker. Group unions (市直/
    中央、省驻青单位工会) are organised by employer, not by territory: their workers live and
    work all over the city, so their sheets name the worker's district (or the group itself),
    though never another group union.
    """
    if submitter in DISTRICTS:
        return district == submitter
    return submitter in GROUP_UNIONS and (district in DISTRICTS or district == submitter)


def is_blank(raw: RawRow) -> bool:
    """A row with nothing in it: spreadsheets keep such rows between and after the data."""
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in raw.values())


class _ReadRow(NamedTuple):
    row_number: int
    draft: _Draft
    member_key: str | None  # None when the ID number could not be read, or repeats an earlier row


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """A sheet whose every row has been read and checked on its own and against the other rows
    of the sheet; what is left to judge needs the record of who was enrolled before."""

    submitter: str
    rows: list[_ReadRow]

    @property
    def member_keys(self) -> list[str]:
        """The member key of every readable ID number, each once: what to look up before judging."""
        return [r.member_key for r in self.rows if r.member_key is not None]


def read_batch(
    rows: Sequence[RawRow],
    *,
    submitter: str,
    secret: bytes,
    today: date | None = None,
    first_row_number: int = 1,
) -> ReadBatch:
    """The first half of `judge_batch`: everything that does not depend on earlier enrolments.
    Raises Refusal when the batch as a whole cannot be taken."""
    if submitter not in SUBMITTERS:
        raise Refusal(FieldError("submitter", "报送单位不是区市总工会或市直单位工会", "unknown submitter"))
    if len(rows) > MAX_BATCH_ROWS:
        raise Refusal(
            FieldError(
                "rows",
                f"一次最多报送{MAX_BATCH_ROWS}行，本批次有{len(rows)}行，请分批报送",
                f"a batch has at most {MAX_BATCH_ROWS} rows, this one has {len(rows)}; split it",
            )
        )
    if all(is_blank(raw) for raw in rows):
        raise Refusal(FieldError("rows", "报送表中没有数据行", "the sheet has no rows"))
    if not secret:
        raise ValueError("judge_batch needs the member-key secret")
    day = today or china_today()

    read: list[_ReadRow] = []
    first_rows: dict[str, int] = {}  # member key → the row it first appeared in
    seen = _Seen()
    member_key = MemberKeyer(secret)
    for index, raw in enumerate(rows):
        row_number = first_row_number + index
        draft = _read_whole(raw, day, seen)
        if draft is None:
            if is_blank(raw):
                continue
            draft = _read_cells(raw, day)
        _check_age(draft)
        if draft.district is not None and not may_report(submitter, draft.district):
            draft.errors.append(
                FieldError(
                    Column.所属区市.value,
                    "所属区市与报送单位不符：区市总工会只能报送本区市的劳动者",
                    "the district is not the submitter's: a district can only enrol its own workers",
                )
            )
        key = member_key(draft.id_number) if draft.id_number is not None else None
        if key is not None:
            first = first_rows.setdefault(key, row_number)
            if first != row_number:
                draft.errors.append(
                    FieldError(
                        Column.身份证号.value,
                        f"本批次中重复（与第{first}行相同）",
                        f"duplicate within this batch (same as row {first})",
                    )
                )
                key = None
        read.append(_ReadRow(row_number, draft, key))
    return ReadBatch(submitter, read)


def judge_read(
    batch: ReadBatch, already_enrolled: Callable[[str], bool] | AbstractSet[str]
) -> BatchJudgement:
    """The second half of `judge_batch`: a row is accepted only if nothing is wrong with it and
    its submitter has not enrolled the worker before; a faultless row of a worker it did enrol
    that asks for mutual aid is an aid row (补报互助保障), any other such row is refused."""
    enrolled = (
        already_enrolled.__contains__ if isinstance(already_enrolled, AbstractSet) else already_enrolled
    )
    accepted: list[AcceptedRow] = []
    rejected: list[RowRejection] = []
    aid: list[AidRow] = []
    for row in batch.rows:
        draft, key = row.draft, row.member_key
        errors = draft.errors
        if key is not None and enrolled(key):
            if not errors and draft.mutual_aid:
                aid.append(AidRow(row.row_number, key))
                continue
            errors = [*errors, _ALREADY_ENROLLED]  # the read batch stays as it was read
        if errors:
            rejected.append(RowRejection(row.row_number, tuple(errors)))
            continue
        assert key is not None and draft.name is not None and draft.phone is not None
        assert draft.occupation is not None and draft.platform is not None and draft.district is not None
        assert draft.joined_on is not None and draft.mutual_aid is not None
        accepted.append(
            AcceptedRow(
                row.row_number,
                key,
                draft.name,
                draft.phone,
                draft.occupation,
                draft.platform,
                draft.district,
                draft.joined_on,
                draft.mutual_aid,
            )
        )
    return BatchJudgement(accepted, rejected, aid)


def judge_batch(
    rows: Sequence[RawRow],
    *,
    submitter: str,
    secret: bytes,
    already_enrolled: Callable[[str], bool] | AbstractSet[str],
    today: date | None = None,
    first_row_number: int = 1,
) -> BatchJudgement:
    """Judge every row of one uploaded sheet from `submitter`.

    Rows are numbered from `first_row_number` in the order given; blank rows keep their number
    but are neither accepted nor rejected. `already_enrolled` answers, for a member key, whether
    this submitter has enrolled that worker before. A row is accepted only if nothing is wrong
    with it; otherwise its rejection lists every problem found. Raises Refusal when the
    batch as a whole cannot be taken (unknown submitter, no rows, more than MAX_BATCH_ROWS).

    The same as `judge_read(read_batch(…), already_enrolled)`; a caller that looks enrolments up
    in a database reads first, looks up `member_keys` in one query, then judges.
    """
    read = read_batch(
        rows, submitter=submitter, secret=secret, today=today, first_row_number=first_row_number
    )
    return judge_read(read, already_enrolled)
