"""Import jobs: an enrolment sheet too large for one request (above the synchronous limit, up to
1,000,000 rows) read in chunks by intake's import worker. Pure: the job's statuses, what a row's
outcome keeps of it (masked), and the estimate of time left.

A job's result sheet is kept until someone downloads it, long after the request: so it holds no
raw ID number, phone or name. Each is masked the way Chinese offices print them
(370202********1234, 138****5678, 张*), enough for staff to find the row in their own sheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from huigong_events.labels import Labelled

from .enrolments import Column


class ImportStatus(Labelled):
    """排队中 → 进行中 → 已完成, or 已取消 / 失败."""

    排队中 = "queued"
    进行中 = "running"
    已完成 = "completed"
    已取消 = "cancelled"
    失败 = "failed"


OPEN: Final = frozenset({ImportStatus.排队中, ImportStatus.进行中})

# Rows one file may hold (an Excel sheet holds 1,048,576 lines).
MAX_IMPORT_ROWS: Final = 1_000_000

# Lines of the file per chunk, each chunk one transaction: small enough that a chunk's events
# and its rows' results are a short transaction (and a restart repeats little), large enough that
# the per-transaction costs (the command path, the batch's member-key query, the district's
# notice) are spread over many rows.
CHUNK_LINES: Final = 5_000

ACCEPTED: Final = "accepted"
MUTUAL_AID: Final = "mutual_aid"
REJECTED: Final = "rejected"
RESULT_LABELS: Final[Mapping[str, str]] = {ACCEPTED: "已受理", MUTUAL_AID: "已受理", REJECTED: "未受理"}
LATER_AID: Final = "补报互助保障"


def mask_id_number(text: str) -> str:
    """The region (6) and the last 4 characters of an ID number; the birth date hidden."""
    return text[:6] + "*" * (len(text) - 10) + text[-4:] if len(text) > 10 else "*" * len(text)


def mask_phone(text: str) -> str:
    return text[:3] + "*" * (len(text) - 7) + text[-4:] if len(text) > 7 else "*" * len(text)


def mask_name(text: str) -> str:
    return text[:1] + "*" * (len(text) - 1) if text else text


_MASKS: Final = {
    Column.身份证号.value: mask_id_number,
    Column.手机号.value: mask_phone,
    Column.姓名.value: mask_name,
}


def cell_text(value: object) -> str:
    """A cell as staff would read it: a date as YYYY-MM-DD, a whole number without ".0"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def masked_cells(line: Sequence[object], keys: Sequence[str]) -> list[str]:
    """The cells of one line as text, with 姓名, 身份证号 and 手机号 masked."""
    cells = []
    for i, value in enumerate(line[: len(keys)]):
        text = cell_text(value)
        mask = _MASKS.get(keys[i])
        cells.append(mask(text) if mask is not None and text else text)
    return cells


@dataclass(frozen=True, slots=True)
class RowResult:
    row_number: int
    result: str
    reason: str
    cells: list[str]


def row_results(
    lines: Sequence[Sequence[object]], first_row: int, keys: Sequence[str], answer: Mapping[str, Any]
) -> list[RowResult]:
    """Each judged row of a chunk (the enrol command's answer for `lines`, numbered from
    `first_row`) with its outcome and masked cells; blank lines, which the command skips, have
    none."""
    outcomes: dict[int, tuple[str, str]] = {row["row"]: (ACCEPTED, "") for row in answer["accepted"]}
    for row in answer["mutual_aid"]:
        outcomes[row["row"]] = (MUTUAL_AID, LATER_AID)
    for row in answer["rejected"]:
        outcomes[row["row"]] = (REJECTED, "；".join(f"{e['field']}：{e['zh']}" for e in row["errors"]))
    results = []
    for index, line in enumerate(lines):
        number = first_row + index
        outcome = outcomes.get(number)
        if outcome is not None:
            results.append(RowResult(number, outcome[0], outcome[1], masked_cells(line, keys)))
    return results


def seconds_left(
    rows_total: int, rows_read: int, read_this_run: int, seconds_this_run: float
) -> float | None:
    """Time left at this run's pace; None before the pace is known."""
    if rows_read >= rows_total:
        return 0.0
    if read_this_run <= 0 or seconds_this_run <= 0:
        return None
    return (rows_total - rows_read) * seconds_this_run / read_this_run
