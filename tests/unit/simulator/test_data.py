"""Generated data as the simulator and the tests rely on it: valid where it should be, broken
exactly where asked, the same for the same seed, and fast enough for the 400,000 target."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest

from huigong_events.reference import DISTRICTS, Occupation
from huigong_intake.domain.enrolments import COLUMNS, ParsedRow, judge_batch, parse_row
from huigong_intake.domain.identity import birth_date_of, check_credit_code, check_id_number, check_mobile
from huigong_simulator.data import (
    OCCUPATION_PLATFORMS,
    enrolment_rows,
    fake_credit_code,
    fake_id_number,
    fake_mobile,
    fake_name,
)

TODAY = date(2026, 6, 1)
PLATFORMS = {
    "美团",
    "饿了么",
    "顺丰速运",
    "京东物流",
    "中通快递",
    "滴滴出行",
    "曹操出行",
    "货拉拉",
    "满帮",
    "其他本地平台",
}


def test_a_thousand_id_numbers_are_all_valid_and_from_qingdao() -> None:
    rng = random.Random(11643)
    for _ in range(1000):
        number = fake_id_number(rng)
        assert check_id_number(number, today=TODAY) == number
        assert number[:6] in DISTRICTS
        assert 1965 <= birth_date_of(number).year <= 2004


def test_id_numbers_follow_the_requested_region_and_years() -> None:
    rng = random.Random(1)
    numbers = [fake_id_number(rng, birth_year_range=(2000, 2000), region_code="370281") for _ in range(100)]
    assert all(n.startswith("3702812000") for n in numbers)
    assert all(check_id_number(n, today=TODAY) for n in numbers)


def test_mobiles_names_and_credit_codes_are_valid() -> None:
    rng = random.Random(32100)
    for _ in range(1000):
        mobile = fake_mobile(rng)
        assert check_mobile(mobile) == mobile
        code = fake_credit_code(rng)
        assert check_credit_code(code) == code
        assert code.startswith("91370")
        name = fake_name(rng)
        assert 2 <= len(name) <= 3 and all("\u4e00" <= char <= "\u9fff" for char in name)
    assert fake_credit_code(rng, "370200").startswith("91370200")


def test_the_same_seed_gives_the_same_data() -> None:
    assert enrolment_rows(500, "370203", random.Random(7), 0.1, 0.1) == enrolment_rows(
        500, "370203", random.Random(7), 0.1, 0.1
    )
    assert enrolment_rows(50, "370203", random.Random(7)) != enrolment_rows(50, "370203", random.Random(8))
    assert fake_credit_code(random.Random(3)) == fake_credit_code(random.Random(3))


def test_clean_rows_are_all_accepted_with_matching_platforms() -> None:
    rows = enrolment_rows(2000, "370213", random.Random(5))
    assert all(list(row) == [column.value for column in COLUMNS] for row in rows)
    judgement = judge_batch(rows, submitter="370213", secret=b"k", already_enrolled=set(), today=TODAY)
    assert (len(judgement.accepted), len(judgement.rejected)) == (2000, 0)
    for accepted in judgement.accepted:
        assert accepted.platform in OCCUPATION_PLATFORMS[accepted.occupation]
        assert date(2022, 1, 1) <= accepted.joined_on <= date(2025, 12, 31)
        assert accepted.district == "370213"
    assert {row["平台企业"] for row in rows} == PLATFORMS
    assert set(Counter(a.occupation for a in judgement.accepted)) == set(Occupation)


def test_group_union_rows_spread_over_the_districts() -> None:
    rows = enrolment_rows(500, "G-QDPORT", random.Random(5))
    judgement = judge_batch(rows, submitter="G-QDPORT", secret=b"k", already_enrolled=set(), today=TODAY)
    assert len(judgement.accepted) == 500
    assert {a.district for a in judgement.accepted} == set(DISTRICTS)


def test_duplicates_and_invalid_rows_are_injected_at_the_rates_asked() -> None:
    rows = enrolment_rows(10_000, "370202", random.Random(9), duplicate_rate=0.05, invalid_rate=0.1)
    judgement = judge_batch(rows, submitter="370202", secret=b"k", already_enrolled=set(), today=TODAY)
    kinds = Counter(error.zh[:6] for rejection in judgement.rejected for error in rejection.errors)
    assert set(kinds) == {"本批次中重复", "身份证号校验", "手机号应为以"}
    assert kinds["本批次中重复"] == pytest.approx(500, rel=0.15)
    assert kinds["身份证号校验"] + kinds["手机号应为以"] == pytest.approx(1000, rel=0.15)
    assert all(len(rejection.errors) == 1 for rejection in judgement.rejected)
    assert len(judgement.accepted) + len(judgement.rejected) == 10_000


def test_seen_ids_keep_valid_rows_unique_across_batches() -> None:
    seen: set[str] = set()
    rng = random.Random(2)
    first = enrolment_rows(3000, "370202", rng, seen_ids=seen)
    second = enrolment_rows(3000, "370202", rng, seen_ids=seen)
    assert len({row["身份证号"] for row in first + second}) == 6000 == len(seen)


def test_unknown_submitter_is_refused() -> None:
    with pytest.raises(ValueError):
        enrolment_rows(1, "370200", random.Random(1))


def test_a_hundred_thousand_rows_of_one_district_are_all_valid() -> None:
    rows = enrolment_rows(100_000, "370214", random.Random(400_000))
    assert len(rows) == 100_000
    assert isinstance(parse_row(len(rows), rows[-1], today=TODAY), ParsedRow)
