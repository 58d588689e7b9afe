"""Enrolment sheets as union staff notice them: which rows are accepted, which are rejected with
which column and reason, and that no rejection ever repeats an ID number, phone or name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import pytest

from huigong_events.reference import Occupation
from huigong_intake.domain.enrolments import (
    COLUMNS,
    MAX_BATCH_ROWS,
    OCCUPATION_SYNONYMS,
    AcceptedRow,
    BatchJudgement,
    Column,
    ParsedRow,
    RawRow,
    RowRejection,
    judge_batch,
    judge_read,
    may_report,
    parse_row,
    read_batch,
)
from huigong_intake.domain.identity import id_check_char, member_key
from huigong_platform.refusals import Refusal

TODAY = date(2026, 6, 1)
SECRET = b"test-enrolment-secret"
SHINAN = "370202"
SHIBEI = "370203"
HAIER = "G-HAIER"


def id_number(n: int, born: str = "19900307") -> str:
    first17 = f"370202{born}{n:03d}"
    return first17 + id_check_char(first17)


ALREADY = "该区市已报送此人（如需为其补报互助保障，请将“是否参加互助保障”填为“是”）"


def row(n: int, **cells: object) -> dict[str, object]:
    """A valid row of 市南区 for worker n; keyword cells override by Chinese header."""
    values: dict[str, object] = {
        "姓名": f"张{'伟芳娜敏静丽强磊军洋'[n % 10]}{'一二三四五六七八九十'[n // 10 % 10]}",
        "身份证号": id_number(n),
        "手机号": f"138{n:08d}",
        "职业类别": "外卖送餐员",
        "平台企业": "美团",
        "所属区市": "市南区",
        "入会日期": "2023-05-01",
        "是否参加互助保障": "是",
    }
    values.update(cells)
    return values


def judge(
    rows: Sequence[RawRow], *, submitter: str = SHINAN, enrolled: frozenset[str] = frozenset()
) -> BatchJudgement:
    return judge_batch(rows, submitter=submitter, secret=SECRET, already_enrolled=enrolled, today=TODAY)


def reasons(rejection: RowRejection) -> list[tuple[str, str]]:
    return [(error.field, error.zh) for error in rejection.errors]


def all_text(judgement: BatchJudgement) -> str:
    parts = [repr(judgement)]
    for rejection in judgement.rejected:
        for error in rejection.errors:
            parts += [error.field, error.zh, error.en]
    return "\n".join(parts)


def personal_values(rows: Sequence[RawRow]) -> set[str]:
    return {
        str(raw[column]).strip()
        for raw in rows
        for column in ("姓名", "身份证号", "手机号")
        if raw.get(column) not in (None, "")
    }


# --------------------------------------------------------------------------------------------
# A batch with one of each problem
# --------------------------------------------------------------------------------------------


def mixed_batch() -> list[dict[str, object]]:
    bad_check = id_number(2)[:17] + ("0" if id_number(2)[17] != "0" else "1")
    return [
        row(1),  # 1 accepted
        row(2, 身份证号=bad_check),  # 2 bad check character
        row(3, 手机号="12812345678"),  # 3 bad phone
        row(4, 身份证号=id_number(1), 姓名="张伟一"),  # 4 same person as row 1
        row(5, 所属区市="市北区"),  # 5 another district's worker
        row(6, 是否参加互助保障="否"),  # 6 already enrolled by 市南区
        row(7, 所属区市="370202", 入会日期="2023/5/1", 是否参加互助保障="N", 手机号="+86 138-0000-0007"),
        {column: None for column in COLUMNS},  # 8 blank row in between: skipped
        row(9, 职业类别="代驾司机", 入会日期="2027-01-01", 姓名=""),  # 9 several problems
        row(10, 身份证号=id_number(1).lower()),  # 10 row 1 again, written differently
    ]


def test_mixed_batch_accepts_and_rejects_exactly_the_expected_rows() -> None:
    rows = mixed_batch()
    judgement = judge(rows, enrolled=frozenset({member_key(id_number(6), SECRET)}))

    assert [accepted.row_number for accepted in judgement.accepted] == [1, 7]
    assert [rejection.row_number for rejection in judgement.rejected] == [2, 3, 4, 5, 6, 9, 10]
    by_row = {rejection.row_number: reasons(rejection) for rejection in judgement.rejected}
    assert by_row[2] == [("身份证号", "身份证号校验位错误，请核对号码是否录入有误")]
    assert by_row[3] == [("手机号", "手机号应为以13至19开头的11位数字")]
    assert by_row[4] == [("身份证号", "本批次中重复（与第1行相同）")]
    assert by_row[5] == [("所属区市", "所属区市与报送单位不符：区市总工会只能报送本区市的劳动者")]
    assert by_row[6] == [("身份证号", ALREADY)]
    assert [field for field, _ in by_row[9]] == ["姓名", "职业类别", "入会日期"]
    assert by_row[9][0][1] == "“姓名”未填写"
    assert "外卖送餐员" in by_row[9][1][1]
    assert by_row[9][2][1] == "入会日期不能晚于今天"
    assert by_row[10] == [("身份证号", "本批次中重复（与第1行相同）")]
    for rejection in judgement.rejected:
        assert all(error.en for error in rejection.errors)


def test_accepted_rows_carry_normalised_values_and_the_member_key() -> None:
    judgement = judge(mixed_batch())
    accepted = {row.row_number: row for row in judgement.accepted}
    assert list(accepted) == [1, 6, 7]
    first, seventh = accepted[1], accepted[7]
    assert first == AcceptedRow(
        row_number=1,
        member_key=member_key(id_number(1), SECRET),
        name=str(row(1)["姓名"]),
        phone="13800000001",
        occupation=Occupation.外卖送餐员,
        platform="美团",
        district=SHINAN,
        joined_on=date(2023, 5, 1),
        mutual_aid=True,
    )
    assert (seventh.district, seventh.joined_on, seventh.mutual_aid) == (SHINAN, date(2023, 5, 1), False)
    assert seventh.phone == "13800000007"


def test_no_rejection_or_repr_repeats_an_id_number_phone_or_name() -> None:
    rows = mixed_batch()
    judgement = judge(rows, enrolled=frozenset({member_key(id_number(6), SECRET)}))
    text = all_text(judgement)
    leaked = [value for value in personal_values(rows) if value in text]
    assert leaked == []
    for accepted in judgement.accepted:
        assert accepted.name not in repr(accepted) and accepted.phone not in repr(accepted)


def test_already_enrolled_may_be_a_callable() -> None:
    asked: list[str] = []

    def enrolled(key: str) -> bool:
        asked.append(key)
        return key == member_key(id_number(2), SECRET)

    judgement = judge_batch(
        [row(1), row(2, 是否参加互助保障="否")],
        submitter=SHINAN,
        secret=SECRET,
        already_enrolled=enrolled,
        today=TODAY,
    )
    assert [a.row_number for a in judgement.accepted] == [1]
    assert reasons(judgement.rejected[0]) == [("身份证号", ALREADY)]
    assert asked == [member_key(id_number(1), SECRET), member_key(id_number(2), SECRET)]


def test_a_group_union_enrols_workers_of_any_district_but_not_of_another_group() -> None:
    rows = [
        row(1, 所属区市="市北区"),
        row(2, 所属区市="莱西市"),
        row(3, 所属区市="海尔集团"),
        row(4, 所属区市="海信集团"),
    ]
    judgement = judge(rows, submitter=HAIER)
    assert [(a.row_number, a.district) for a in judgement.accepted] == [
        (1, SHIBEI),
        (2, "370285"),
        (3, HAIER),
    ]
    assert [r.row_number for r in judgement.rejected] == [4]
    assert may_report(HAIER, SHIBEI) and not may_report(SHIBEI, SHINAN) and not may_report(SHINAN, HAIER)


def test_a_district_may_not_enrol_for_a_group_union() -> None:
    judgement = judge([row(1, 所属区市="海尔集团")])
    assert reasons(judgement.rejected[0])[0][0] == "所属区市"


def test_a_batch_over_10000_rows_is_refused_as_a_whole() -> None:
    rows = [row(1)] * (MAX_BATCH_ROWS + 1)
    with pytest.raises(Refusal) as raised:
        judge(rows)
    assert raised.value.errors[0].field == "rows"
    assert "10000" in raised.value.errors[0].zh


def test_a_batch_of_exactly_10000_rows_is_judged() -> None:
    rows = [
        row(n % 1000, 身份证号=id_number(n % 1000, born=f"19{60 + n // 1000}0101")) for n in range(10_000)
    ]
    judgement = judge(rows)
    assert (len(judgement.accepted), len(judgement.rejected)) == (10_000, 0)


def test_an_empty_batch_and_an_unknown_submitter_are_refused() -> None:
    with pytest.raises(Refusal):
        judge([])
    with pytest.raises(Refusal):
        judge([{column: "" for column in COLUMNS}])
    with pytest.raises(Refusal):
        judge([row(1)], submitter="370200")


# --------------------------------------------------------------------------------------------
# One row
# --------------------------------------------------------------------------------------------


def parsed(raw: RawRow) -> ParsedRow:
    result = parse_row(1, raw, today=TODAY)
    assert isinstance(result, ParsedRow), result
    return result


def rejected(raw: RawRow) -> list[tuple[str, str]]:
    result = parse_row(1, raw, today=TODAY)
    assert isinstance(result, RowRejection), result
    return reasons(result)


def test_parse_row_normalises_every_column() -> None:
    result = parsed(row(1, 身份证号=f" {id_number(1)} ", 手机号="138-0000-0001", 姓名=" 张伟 "))
    assert result.id_number == id_number(1)
    assert (result.name, result.phone) == ("张伟", "13800000001")
    assert result.occupation is Occupation.外卖送餐员
    assert (result.platform, result.district, result.joined_on, result.mutual_aid) == (
        "美团",
        SHINAN,
        date(2023, 5, 1),
        True,
    )
    assert id_number(1) not in repr(result) and "张伟" not in repr(result)


@pytest.mark.parametrize(
    "cell",
    ["2023-05-01", "2023-5-1", "2023/05/01", "2023/5/1", "2023年5月1日", "2023年05月01日", "2023.5.1",
     "2023-05-01 00:00:00", "20230501", date(2023, 5, 1), datetime(2023, 5, 1, 0, 0)],
)  # fmt: skip
def test_joining_dates_in_every_way_staff_write_them(cell: object) -> None:
    assert parsed(row(1, 入会日期=cell)).joined_on == date(2023, 5, 1)


@pytest.mark.parametrize("cell", ["2023-02-30", "五月一日", "2023-13-01", "01/05/2023", 45047, "2023-05"])
def test_unparseable_joining_dates(cell: object) -> None:
    [(field, _)] = rejected(row(1, 入会日期=cell))
    assert field == "入会日期"


def test_joining_today_is_fine_tomorrow_is_not() -> None:
    assert parsed(row(1, 入会日期=TODAY)).joined_on == TODAY
    assert rejected(row(1, 入会日期=date(2026, 6, 2))) == [("入会日期", "入会日期不能晚于今天")]


def test_joining_before_16_is_refused() -> None:
    young = id_number(1, born="20080501")
    assert parsed(row(1, 身份证号=young, 入会日期="2024-05-01")).joined_on == date(2024, 5, 1)
    [(field, zh)] = rejected(row(1, 身份证号=young, 入会日期="2024-04-30"))
    assert field == "入会日期" and "16" in zh


def test_someone_born_on_29_february_may_join_on_their_16th_birthday() -> None:
    leapling = id_number(1, born="20080229")
    assert parsed(row(1, 身份证号=leapling, 入会日期="2024-02-29")).joined_on == date(2024, 2, 29)
    [(field, _)] = rejected(row(1, 身份证号=leapling, 入会日期="2024-02-28"))
    assert field == "入会日期"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("是", True), ("否", False), ("Y", True), ("n", False), ("true", True), ("FALSE", False), ("1", True),
     ("0", False), (1, True), (0, False), (True, True), (False, False)],
)  # fmt: skip
def test_mutual_aid_answers(cell: object, expected: bool) -> None:
    assert parsed(row(1, 是否参加互助保障=cell)).mutual_aid is expected


def test_mutual_aid_must_be_answered_yes_or_no() -> None:
    assert rejected(row(1, 是否参加互助保障="也许")) == [
        ("是否参加互助保障", "是否参加互助保障应填写“是”或“否”")
    ]


@pytest.mark.parametrize(
    ("cell", "code"),
    [("市南区", SHINAN), ("370202", SHINAN), (370202, SHINAN), ("青岛市市南区", SHINAN),
     ("西海岸新区", "370211"), ("黄岛区", "370211"), ("海尔集团", HAIER), ("G-HAIER", HAIER)],
)  # fmt: skip
def test_districts_by_name_or_code(cell: object, code: str) -> None:
    assert parsed(row(1, 所属区市=cell)).district == code


@pytest.mark.parametrize("cell", ["南区", "370200", "济南市", "37020"])
def test_unknown_districts(cell: str) -> None:
    [(field, zh)] = rejected(row(1, 所属区市=cell))
    assert field == "所属区市" and zh.startswith("所属区市无法识别")


def test_every_occupation_is_known_and_others_are_not() -> None:
    for occupation in Occupation:
        assert parsed(row(1, 职业类别=occupation.value)).occupation is occupation
    [(field, words)] = rejected(row(1, 职业类别="代驾司机"))
    assert field == "职业类别"
    assert all(occupation.value in words for occupation in Occupation)  # the list, in the message
    assert "代驾司机" not in words  # a refusal never repeats a cell


@pytest.mark.parametrize(
    ("written", "category"),
    [
        ("外卖配送员", Occupation.外卖送餐员),
        ("骑手", Occupation.外卖送餐员),
        ("外卖 骑手", Occupation.外卖送餐员),
        ("网约车司机", Occupation.网约车驾驶员),
        ("快递小哥", Occupation.快递员),
        ("货车驾驶员", Occupation.货车司机),
        ("其它", Occupation.其他),
    ],
)
def test_occupations_as_offices_write_them_read_as_their_category(written: str, category: Occupation) -> None:
    assert parsed(row(1, 职业类别=written)).occupation is category


def test_the_occupation_synonyms_name_one_category_each_and_never_a_category() -> None:
    synonyms = [name for names in OCCUPATION_SYNONYMS.values() for name in names]
    assert len(synonyms) == len(set(synonyms))
    assert not set(synonyms) & {occupation.value for occupation in Occupation}
    assert set(OCCUPATION_SYNONYMS) == set(Occupation)


def test_missing_columns_and_empty_cells_are_named() -> None:
    raw = row(1)
    del raw["手机号"], raw["平台企业"]
    raw["姓名"] = "  "
    assert rejected(raw) == [
        ("姓名", "“姓名”未填写"),
        ("手机号", "缺少“手机号”列"),
        ("平台企业", "缺少“平台企业”列"),
    ]


def test_names_between_1_and_50_characters_without_digits() -> None:
    assert parsed(row(1, 姓名="买买提·艾力")).name == "买买提·艾力"
    assert parsed(row(1, 姓名="张" * 50)).name == "张" * 50
    assert rejected(row(1, 姓名="张" * 51))[0][0] == "姓名"
    assert rejected(row(1, 姓名=id_number(1)))[0][0] == "姓名"  # columns shifted


def test_phone_stored_as_a_number_is_read() -> None:
    assert parsed(row(1, 手机号=13800000001)).phone == "13800000001"
    assert parsed(row(1, 手机号=13800000001.0)).phone == "13800000001"


@pytest.mark.parametrize("cell", [370202199003071233, 3.70202199003071e17, float(370202199003071233)])
def test_an_id_number_stored_as_a_number_is_refused_with_advice(cell: object) -> None:
    [(field, zh)] = rejected(row(1, 身份证号=cell))
    assert field == "身份证号"
    assert "文本格式" in zh
    assert "370202199003071" not in zh


def test_the_platform_is_at_most_100_characters() -> None:
    assert parsed(row(1, 平台企业="平" * 100)).platform == "平" * 100
    assert rejected(row(1, 平台企业="平" * 101))[0][0] == "平台企业"


def test_column_headers_are_the_chinese_ones() -> None:
    assert [column.value for column in Column] == [
        "姓名",
        "身份证号",
        "手机号",
        "职业类别",
        "平台企业",
        "所属区市",
        "入会日期",
        "是否参加互助保障",
    ]


def test_a_name_or_platform_of_blanks_is_an_empty_cell() -> None:
    # Blanks of every kind staff paste: spaces, the ideographic space, a no-break space, a tab.
    for blank in ("   ", "\u3000", "\u00a0", "\t"):
        assert rejected(row(1, 姓名=blank)) == [("姓名", "“姓名”未填写")]
        assert rejected(row(1, 平台企业=blank)) == [("平台企业", "“平台企业”未填写")]


def test_reading_first_and_judging_after_the_lookup_is_judge_batch() -> None:
    rows = mixed_batch()
    enrolled = frozenset({member_key(id_number(6), SECRET)})
    read = read_batch(rows, submitter=SHINAN, secret=SECRET, today=TODAY)
    # What to look up: each readable ID number once (rows 4 and 10 repeat row 1; row 2's check
    # character is wrong; row 8 is blank).
    assert read.member_keys == [member_key(id_number(n), SECRET) for n in (1, 3, 5, 6, 7, 9)]
    assert judge_read(read, enrolled) == judge(rows, enrolled=enrolled)
    # Judging leaves the read batch as it was: judged again, the answer is the same.
    assert judge_read(read, enrolled) == judge(rows, enrolled=enrolled)


def test_a_worker_enrolled_before_is_asked_mutual_aid_for_by_a_faultless_row_with_aid() -> None:
    enrolled = frozenset({member_key(id_number(n), SECRET) for n in (1, 2, 3)})
    rows = [row(1), row(2, 是否参加互助保障="否"), row(3, 手机号="123"), row(4)]
    judgement = judge(rows, enrolled=enrolled)
    assert [(a.row_number, a.member_key) for a in judgement.aid] == [(1, member_key(id_number(1), SECRET))]
    assert [a.row_number for a in judgement.accepted] == [4]
    by_row = {r.row_number: [field for field, _ in reasons(r)] for r in judgement.rejected}
    assert by_row == {2: ["身份证号"], 3: ["手机号", "身份证号"]}  # a faulty row is not taken for aid
