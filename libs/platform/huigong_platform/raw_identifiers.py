"""What counts as a raw ID number or mobile number in text (个人信息识别): the matchers every
service uses to refuse personal data where it must never go (request headers, which end up in
logs), and that `huigong scan-personal` (huigong_ops.personal) runs over topics, tables and logs.

- `Needles`: the exact raw values a test (or an incident responder) knows were sent in. Every run
  of 11 or more digits (an ID number may end in X) is cut into every window of 11 and 18
  characters and each window is looked up, so a number is found wherever it sits, also inside a
  longer run of digits.
- `Patterns` (no list at hand): a GB 11643 ID number with a correct check character or a
  mainland mobile number, standing alone (not inside a longer run of letters and digits, so
  hashes, base64 ciphertext and hex never match).

Found values are shown masked (`mask`: first three and last two characters), never in clear.
Sealed fields (`*_sealed`, ciphertext of personal data) are left out of what operators read
(`mask_sealed`): ops output and the dead-letter routes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

_DIGIT_RUN = re.compile(r"[0-9]{11,}[Xx]?")
_ALONE_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_ALONE_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# GB/T 2260 province codes: the first two digits of every resident ID number. Together with a
# real birth date and the check character they keep credit codes and counters from matching.
_PROVINCES = frozenset(
    str(code)
    for codes in (range(11, 16), range(21, 24), range(31, 38), range(41, 47), range(50, 55), range(61, 66))
    for code in codes
) | {"71", "81", "82"}


def _id_check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def mask(value: str) -> str:
    return f"{value[:3]}{'*' * (len(value) - 5)}{value[-2:]}"


class Matcher(Protocol):
    def find(self, text: str) -> Iterator[tuple[str, str]]:
        """(kind, raw value) of every identifier in the text: kind is `id_number` or `phone`."""
        ...


@dataclass(frozen=True)
class Needles:
    id_numbers: frozenset[str]
    phones: frozenset[str]

    @classmethod
    def of(cls, id_numbers: Iterable[str], phones: Iterable[str]) -> Needles:
        return cls(frozenset(i.upper() for i in id_numbers), frozenset(phones))

    def find(self, text: str) -> Iterator[tuple[str, str]]:
        for match in _DIGIT_RUN.finditer(text):
            run = match.group().upper()
            for i in range(len(run) - 10):
                if run[i : i + 11] in self.phones:
                    yield "phone", run[i : i + 11]
                if i + 18 <= len(run) and run[i : i + 18] in self.id_numbers:
                    yield "id_number", run[i : i + 18]


def looks_like_id_number(number: str) -> bool:
    """Province, birth date (1900 to 2099) and check character of a GB 11643 number."""
    if number[:2] not in _PROVINCES or number[6:8] not in ("19", "20"):
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return _id_check_char(number[:17]) == number[17]


class Patterns:
    def find(self, text: str) -> Iterator[tuple[str, str]]:
        for match in _ALONE_ID.finditer(text):
            number = match.group().upper()
            if looks_like_id_number(number):
                yield "id_number", number
        for match in _ALONE_MOBILE.finditer(text):
            yield "phone", match.group()


def masked(text: str) -> str:
    """The text with every ID or mobile number `Patterns` finds masked: for free text that may
    quote what was sent (a database's error message quotes the row it refused)."""
    for _, value in set(Patterns().find(text)):
        text = text.replace(value, mask(value))
    return text


# What ops output and the dead-letter routes show instead of a sealed field.
SEALED = "[密文已略 sealed, omitted]"


def mask_sealed(value: Any) -> Any:
    """A copy with every sealed text field (`personal_sealed`, any `*_sealed`) replaced by a
    marker: ops output never carries personal data, not even as ciphertext. (A form's boolean
    `sealed`, 盖章, is not personal data and stays.)"""
    if isinstance(value, dict):
        return {
            k: (
                SEALED
                if isinstance(k, str) and k.endswith("_sealed") and isinstance(v, str)
                else mask_sealed(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_sealed(v) for v in value]
    return value
