"""Identity numbers that intake checks at its edge: the resident ID number (公民身份号码,
GB 11643-1999), the mainland mobile number and the unified social credit code (统一社会信用代码,
GB 32100-2015), and the keyed hash that stands for a gig worker everywhere past the edge.

Every refusal is a `ValueError` subclass carrying a Chinese message for union staff and an English
one for integrators. The messages never repeat the value that was refused: they end up in
rejections, logs and dead letters, where a raw ID number or phone must never appear.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from typing import Final

# Dates people write (birth, joining) are Beijing dates; a server clock in UTC is still on
# yesterday between 00:00 and 08:00 in Qingdao.
CHINA_TIME: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_today() -> date:
    """Today's date in Qingdao."""
    return datetime.now(CHINA_TIME).date()


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


class IdentityError(ValueError):
    """A refused identity number; `zh` and `en` explain why without quoting the value."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh}（{en}）")
        self.zh = zh
        self.en = en


class BadLength(IdentityError):
    """The number has the wrong number of characters."""


class BadCharacters(IdentityError):
    """The number contains characters its standard does not allow."""


class BadBirthDate(IdentityError):
    """The date of birth inside an ID number is not a real, plausible date."""


class BadCheckChar(IdentityError):
    """The check character does not match the others: usually a typing error."""


class BadMobile(IdentityError):
    """Not a mainland mobile number."""


# --------------------------------------------------------------------------------------------
# 公民身份号码 GB 11643-1999
# --------------------------------------------------------------------------------------------

ID_LENGTH: Final = 18
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_ZERO_WEIGHT: Final = ord("0") * sum(_ID_WEIGHTS)
_EARLIEST_BIRTH: Final = date(1900, 1, 1)


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and letters (１２３Ｘ), which Chinese input methods produce.
    # ASCII text is its own NFKC form, and is what nearly every sheet has: skip the lookup.
    if text.isascii():
        return text.strip().upper()
    return unicodedata.normalize("NFKC", text).strip().upper()


def id_check_char(first17: str) -> str:
    """The check character (0-9 or X) of the first 17 digits of an ID number."""
    if len(first17) != ID_LENGTH - 1 or not first17.isascii() or not first17.isdigit():
        raise ValueError("id_check_char needs exactly 17 ASCII digits")
    # Weighting the ASCII codes and taking off what the code of "0" adds is the same sum as
    # weighting the digits, without an int() per digit (a batch checks 10,000 numbers).
    total = sum(map(operator.mul, first17.encode(), _ID_WEIGHTS)) - _ZERO_WEIGHT
    return _ID_CHECK_CHARS[total % 11]


def check_id_number(text: str, *, today: date | None = None) -> str:
    """The ID number normalised (upper-case X, no blanks), or an IdentityError saying why not.

    The six-digit region code is only checked to be digits: regions are merged and renamed over
    the years and people keep the number they were given, so a region list would refuse real
    people.
    """
    number = _normalise(text)
    if len(number) != ID_LENGTH:
        raise BadLength(
            f"身份证号应为18位，实际为{len(number)}位",
            f"an ID number has 18 characters, this one has {len(number)}",
        )
    body, check = number[:17], number[17]
    if not (body.isascii() and body.isdigit()) or check not in "0123456789X":
        raise BadCharacters(
            "身份证号只能由17位数字和1位校验码（数字或X）组成",
            "an ID number is 17 digits followed by a digit or X",
        )
    born = _birth_date(body)
    if born is None or born < _EARLIEST_BIRTH or born > (today or china_today()):
        raise BadBirthDate(
            "身份证号中的出生日期（第7至14位）无效",
            "the date of birth in the ID number (characters 7 to 14) is not valid",
        )
    if id_check_char(body) != check:
        raise BadCheckChar(
            "身份证号校验位错误，请核对号码是否录入有误",
            "the check character of the ID number does not match; please check for a typing error",
        )
    return number


def birth_date_of(id_number: str) -> date:
    """The date of birth of a number that `check_id_number` accepted."""
    born = _birth_date(_normalise(id_number))
    if born is None:
        raise ValueError("not a checked ID number")
    return born


def _birth_date(number: str) -> date | None:
    body = number[6:14]
    if not (body.isascii() and body.isdigit()):
        return None
    try:
        return date(int(body[:4]), int(body[4:6]), int(body[6:]))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Mobile numbers
# --------------------------------------------------------------------------------------------

_MOBILE: Final = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_SEPARATORS: Final = re.compile(r"[\s\-()]")
_COUNTRY_PREFIXES: Final = ("+86", "0086", "86")


def check_mobile(text: str) -> str:
    """A mainland mobile number as its 11 digits, or BadMobile.

    Staff write numbers as "138-1234-5678", "+86 138 1234 5678" or "8613812345678"; all of
    them are the same number.
    """
    if _MOBILE.fullmatch(text) and text.isascii():
        return text  # already as it is kept; most sheets write it so
    number = _MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    for prefix in _COUNTRY_PREFIXES:
        # Stripped only when exactly 11 digits follow, so a mistyped 11-digit number that
        # happens to start with 86 is reported as wrong rather than shortened.
        if number.startswith(prefix) and len(number) == len(prefix) + 11:
            number = number[len(prefix) :]
            break
    if not (number.isascii() and _MOBILE.fullmatch(number)):
        raise BadMobile(
            "手机号应为以13至19开头的11位数字",
            "a mobile number is 11 digits starting with 13 to 19",
        )
    return number


# --------------------------------------------------------------------------------------------
# 统一社会信用代码 GB 32100-2015
# --------------------------------------------------------------------------------------------

CREDIT_CODE_CHARS: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_CREDIT_VALUES: Final = {char: value for value, char in enumerate(CREDIT_CODE_CHARS)}
_CREDIT_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_check_char(first17: str) -> str:
    """The check character of the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or any(char not in _CREDIT_VALUES for char in first17):
        raise ValueError("credit_check_char needs 17 characters of the credit-code alphabet")
    total = sum(_CREDIT_VALUES[char] * weight for char, weight in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def check_credit_code(text: str) -> str:
    """The credit code normalised to upper case, or an IdentityError saying why not.

    Characters 3 to 8 must be digits (the administrative division), as the event schema's
    CreditCode requires, so that every code accepted here also fits the events.
    """
    code = _normalise(text)
    if len(code) != 18:
        raise BadLength(
            f"统一社会信用代码应为18位，实际为{len(code)}位",
            f"a unified social credit code has 18 characters, this one has {len(code)}",
        )
    if any(char not in _CREDIT_VALUES for char in code) or not code[2:8].isdigit():
        raise BadCharacters(
            "统一社会信用代码只能由数字和大写字母（不含I、O、S、V、Z）组成，第3至8位为行政区划代码",
            "a credit code uses digits and capital letters except I, O, S, V, Z; "
            "characters 3 to 8 are the division code",
        )
    if credit_check_char(code[:17]) != code[17]:
        raise BadCheckChar(
            "统一社会信用代码校验位错误，请核对是否录入有误",
            "the check character of the credit code does not match; please check for a typing error",
        )
    return code


# --------------------------------------------------------------------------------------------
# Member key
# --------------------------------------------------------------------------------------------


def member_key(id_number: str, secret: bytes) -> str:
    """HMAC-SHA-256 (lower-case hex) of the normalised ID number under the enrolment secret.

    This is the only thing that identifies a gig worker past the intake edge and the key that
    finds duplicates. It is keyed rather than a plain hash because ID numbers are few and
    structured enough (region, birth date, sequence) to be found from a plain hash by trying
    them all. The number is normalised the way `check_id_number` does, so "…x" and "…X" are one
    member; callers check the number first.
    """
    if not secret:
        raise ValueError("member_key needs a non-empty secret")
    return hmac.new(secret, _normalise(id_number).encode(), hashlib.sha256).hexdigest()


class MemberKeyer:
    """`member_key` under one secret, for a batch of 10,000 numbers: HMAC-SHA-256 (RFC 2104)
    with the two padded-key hashes computed once and copied per number. The stdlib's hmac sets
    its OpenSSL context up again for every number, which costs twice the hashing itself.
    tests/unit/intake/test_identity.py checks it against `member_key`."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("member_key needs a non-empty secret")
        block = hashlib.sha256().block_size
        key = hashlib.sha256(secret).digest() if len(secret) > block else secret
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, id_number: str) -> str:
        inner = self._inner.copy()
        inner.update(_normalise(id_number).encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()
