"""The no-raw-identifiers scan's matchers (huigong_ops/personal.py): what counts as a raw
ID number or phone number in a record, a row or a log line, and what does not."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterable

from huigong_platform.raw_identifiers import Needles, Patterns, mask, masked
from huigong_simulator.data import fake_id_number, fake_mobile

RNG = random.Random(20221)
ID = fake_id_number(RNG, region_code="370202")
PHONE = fake_mobile(RNG)


def kinds(found: Iterable[tuple[str, str]]) -> list[str]:
    return sorted(kind for kind, _ in found)


def test_known_values_are_found_anywhere_even_inside_longer_digits() -> None:
    needles = Needles.of([ID.lower()], [PHONE])
    assert kinds(needles.find(f'{{"身份证号": "{ID}", "手机号": "{PHONE}"}}')) == ["id_number", "phone"]
    assert kinds(needles.find(f"ref=00{PHONE}77")) == ["phone"]
    assert kinds(needles.find(f"ab{ID}cd")) == ["id_number"]
    assert kinds(needles.find("12345678901234567890")) == []


def test_patterns_find_valid_numbers_standing_alone_and_not_hashes_or_credit_codes() -> None:
    patterns = Patterns()
    assert kinds(patterns.find(f"姓名 张三 身份证号 {ID} 电话 {PHONE}")) == ["id_number", "phone"]
    broken = ID[:17] + ("0" if ID[17] != "0" else "1")  # wrong check character
    assert kinds(patterns.find(broken)) == []
    digest = hashlib.sha256(ID.encode()).hexdigest()
    sealed = base64.b64encode(f"{ID}{PHONE}".encode()).decode()
    credit_code = "913702021234567890"
    assert kinds(patterns.find(f"{digest} {sealed} {credit_code} a{PHONE}b")) == []


def test_findings_are_reported_masked() -> None:
    assert mask(PHONE) == PHONE[:3] + "******" + PHONE[-2:]
    assert ID not in mask(ID) and len(mask(ID)) == 18


def test_free_text_is_shown_with_its_numbers_masked() -> None:
    # A database's refusal quotes the row: what an operator reads of it holds no number in clear.
    refused = f'new row violates check constraint "c" DETAIL: Failing row contains ({ID}, {PHONE}, 王五).'
    shown = masked(refused)
    assert ID not in shown and PHONE not in shown
    assert mask(ID) in shown and mask(PHONE) in shown and "王五" in shown
    assert masked("no numbers here") == "no numbers here"
