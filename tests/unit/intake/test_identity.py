"""ID numbers, mobiles and credit codes as union staff type them: which are accepted, how they are
normalised, and what a refusal says (without ever repeating the number)."""

from __future__ import annotations

from datetime import date

import pytest

from huigong_intake.domain.identity import (
    BadBirthDate,
    BadCharacters,
    BadCheckChar,
    BadLength,
    BadMobile,
    IdentityError,
    MemberKeyer,
    birth_date_of,
    check_credit_code,
    check_id_number,
    check_mobile,
    credit_check_char,
    id_check_char,
    member_key,
)

TODAY = date(2026, 6, 1)
PUBLISHED = "11010519491231002X"  # the example of GB 11643-1999 itself


def valid_id(first17: str) -> str:
    return first17 + id_check_char(first17)


def test_the_published_example_is_valid() -> None:
    assert id_check_char(PUBLISHED[:17]) == "X"
    assert check_id_number(PUBLISHED, today=TODAY) == PUBLISHED
    assert birth_date_of(PUBLISHED) == date(1949, 12, 31)


@pytest.mark.parametrize(
    "number",
    [
        PUBLISHED,
        "370202199003071233",  # Qingdao, worked by hand: weighted sum 251, 251 % 11 = 9 → "3"
    ],
)
def test_known_valid_numbers(number: str) -> None:
    assert id_check_char(number[:17]) == number[17]
    assert check_id_number(number, today=TODAY) == number


def test_the_textbook_example_born_in_1880_has_a_right_check_char_but_is_too_old() -> None:
    assert id_check_char("44052418800101001") == "4"
    with pytest.raises(BadBirthDate):
        check_id_number("440524188001010014", today=TODAY)


def test_lower_case_x_and_full_width_digits_are_normalised() -> None:
    assert check_id_number("11010519491231002x", today=TODAY) == PUBLISHED
    assert check_id_number(" 11010519491231002X\u3000", today=TODAY) == PUBLISHED
    assert check_id_number("１１０１０５１９４９１２３１００２ｘ", today=TODAY) == PUBLISHED


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("11010519491231002", BadLength),  # 17 characters
        ("110105194912310021X", BadLength),
        ("", BadLength),
        ("1101051949123100XX", BadCharacters),  # X only as the check character
        ("11010519491231002Y", BadCharacters),
        ("1101A519491231002X", BadCharacters),
        ("110105194913310028", BadBirthDate),  # month 13
        ("110105189912310028", BadBirthDate),  # born before 1900
        ("110105202712310028", BadBirthDate),  # born in the future
        ("110105199002300028", BadBirthDate),  # 30 February
        ("110105194912310021", BadCheckChar),
        ("11010519491231002 ", BadLength),  # trailing blank is trimmed: 17 left
    ],
)
def test_invalid_id_numbers_are_refused_with_the_reason(text: str, error: type[IdentityError]) -> None:
    with pytest.raises(error) as raised:
        check_id_number(text, today=TODAY)
    assert isinstance(raised.value, ValueError)
    assert raised.value.zh and raised.value.en
    if len(text) >= 17:
        assert text.strip() not in raised.value.zh + raised.value.en + str(raised.value)


def test_a_wrong_check_char_is_refused_for_every_wrong_char() -> None:
    number = valid_id("37021419850615301")
    assert check_id_number(number, today=TODAY) == number
    for wrong in "0123456789X":
        if wrong != number[-1]:
            with pytest.raises(BadCheckChar):
                check_id_number(number[:17] + wrong, today=TODAY)


def test_born_today_is_accepted_born_tomorrow_is_not() -> None:
    assert check_id_number(valid_id("37020220260601001"), today=TODAY)
    with pytest.raises(BadBirthDate):
        check_id_number(valid_id("37020220260602001"), today=TODAY)


def test_id_check_char_needs_17_digits() -> None:
    with pytest.raises(ValueError):
        id_check_char("1234")


# --------------------------------------------------------------------------------------------
# Mobiles
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "8613812345678",
        "86-138-1234-5678",
        "１３８１２３４５６７８",
    ],
)
def test_mobiles_are_normalised_to_11_digits(text: str) -> None:
    assert check_mobile(text) == "13812345678"


@pytest.mark.parametrize(
    "text",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "0532-88886666",
        "10086",
        "1381234567a",
        "",
        "+1 13812345678",
    ],
)
def test_bad_mobiles_are_refused(text: str) -> None:
    with pytest.raises(BadMobile) as raised:
        check_mobile(text)
    assert "13至19" in raised.value.zh
    if text:
        assert text not in raised.value.zh + raised.value.en


def test_every_second_digit_from_3_to_9_is_a_mobile() -> None:
    for second in "3456789":
        assert check_mobile(f"1{second}012345678") == f"1{second}012345678"


# --------------------------------------------------------------------------------------------
# Credit codes
# --------------------------------------------------------------------------------------------


def test_published_credit_code_is_valid() -> None:
    assert credit_check_char("91350100M000100Y4") == "3"
    assert check_credit_code("91350100M000100Y43") == "91350100M000100Y43"
    assert check_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"


def test_credit_codes_refused() -> None:
    with pytest.raises(BadCheckChar):
        check_credit_code("91350100M000100Y44")
    with pytest.raises(BadLength):
        check_credit_code("91350100M000100Y4")
    with pytest.raises(BadCharacters):
        check_credit_code("91350100M000100I43")  # I is not in the alphabet
    with pytest.raises(BadCharacters):
        check_credit_code("913A0100M000100Y43")  # the division code is digits


def test_credit_check_char_wraps_31_to_0() -> None:
    # Search a body whose weighted sum is a multiple of 31: its check character is "0".
    for n in range(10_000):
        body = f"9137020{n:010d}"
        if credit_check_char(body) == "0":
            assert check_credit_code(body + "0") == body + "0"
            break
    else:
        pytest.fail("no body with check character 0 found")


# --------------------------------------------------------------------------------------------
# Member key
# --------------------------------------------------------------------------------------------


def test_member_key_is_a_keyed_hash_of_the_normalised_number() -> None:
    key = member_key(PUBLISHED, b"secret-1")
    assert len(key) == 64 and all(c in "0123456789abcdef" for c in key)
    assert member_key("11010519491231002x", b"secret-1") == key
    assert member_key(PUBLISHED, b"secret-2") != key
    assert member_key(valid_id("37021419850615301"), b"secret-1") != key
    assert PUBLISHED not in key


def test_a_batch_keys_members_as_member_key_does() -> None:
    numbers = [
        PUBLISHED,
        "11010519491231002x",
        " １１０１０５１９４９１２３１００２Ｘ ",
        valid_id("37021419850615301"),
    ]
    # Secrets shorter than, as long as and longer than SHA-256's block (which HMAC hashes first).
    for secret in (b"s", b"k" * 32, b"b" * 64, b"L" * 65, bytes(range(200))):
        keyer = MemberKeyer(secret)
        assert [keyer(n) for n in numbers] == [member_key(n, secret) for n in numbers]
    with pytest.raises(ValueError):
        MemberKeyer(b"")


def test_member_key_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        member_key(PUBLISHED, b"")
