"""Made-up but valid personal data for the district simulator and the tests: ID numbers that pass
GB 11643, mobile numbers, Chinese names, credit codes that pass GB 32100, and whole enrolment
sheets as union staff would fill them in.

Everything is drawn from the `random.Random` passed in, so a seed gives the same data every
time. Names come from our own lists rather than Faker: a Faker call per row would make the
400,000 enrolments of the 2025 target take minutes instead of seconds.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Final

from huigong_events.reference import DISTRICTS, GROUP_UNIONS, Occupation
from huigong_intake.domain.enrolments import Column
from huigong_intake.domain.identity import CREDIT_CODE_CHARS, credit_check_char, id_check_char

QINGDAO_REGIONS: Final[tuple[str, ...]] = tuple(DISTRICTS)

# --------------------------------------------------------------------------------------------
# ID numbers, phones, names, credit codes
# --------------------------------------------------------------------------------------------


def fake_id_number(
    rng: random.Random, birth_year_range: tuple[int, int] = (1965, 2004), region_code: str | None = None
) -> str:
    """An 18-character ID number with a valid check character; born in the given years
    (inclusive) and registered in a Qingdao district unless `region_code` says otherwise."""
    region = region_code if region_code is not None else rng.choice(QINGDAO_REGIONS)
    first = date(birth_year_range[0], 1, 1).toordinal()
    last = date(birth_year_range[1], 12, 31).toordinal()
    born = date.fromordinal(rng.randint(first, last))
    # 顺序码: 001–999, odd for men and even for women.
    first17 = f"{region}{born.year:04d}{born.month:02d}{born.day:02d}{rng.randint(1, 999):03d}"
    return first17 + id_check_char(first17)


# Number segments (号段) of China Mobile, China Unicom, China Telecom and China Broadnet.
_MOBILE_PREFIXES: Final[tuple[str, ...]] = (
    *(f"13{d}" for d in range(10)),
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "172", "173", "175", "176", "177", "178",
    *(f"18{d}" for d in range(10)),
    "191", "192", "193", "195", "196", "197", "198", "199",
)  # fmt: skip


def fake_mobile(rng: random.Random) -> str:
    """An 11-digit mainland mobile number from a real number segment."""
    return f"{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"


# The commonest surnames, roughly weighted by how many people bear them (Shandong has many 王,
# 张, 刘 and 李).
_SURNAMES: Final = (
    "王王王王王王王王张张张张张张张刘刘刘刘刘刘李李李李李李赵赵赵陈陈陈杨杨杨孙孙孙"
    "徐徐高高马马于于郭郭周周宋宋吴吴韩韩胡胡林林姜姜曲曲丁丁董董崔崔逄逄"
    "薛任程许纪栾鲍修邢梁谢袁冯邓曹彭曾肖田潘蒋蔡贾魏叶杜夏钟汪毕房隋臧"
    "矫孔牟宫綦迟衣姚范方石侯邱秦江史顾邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
_GIVEN_CHARS: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉萍红娥玲峰建国志鹏斌浩宇辉"
    "鑫亮健波宁凯俊帅晨飞雪琳丹婷颖欣悦佳慧嘉怡欢畅乐博文涵晓东海龙春梅兰凤云"
    "磊晶鸿鹤宏荣成林森楠彬坤振兴旭晖阳昊天瑞祥福顺德胜利庆家豪子轩雨萱梓睿"
)


def fake_name(rng: random.Random) -> str:
    """A Chinese name: a surname and one or two given-name characters."""
    given = rng.choice(_GIVEN_CHARS)
    if rng.random() < 0.7:
        given += rng.choice(_GIVEN_CHARS)
    return rng.choice(_SURNAMES) + given


_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code(rng: random.Random) -> str:
    """A 组织机构代码 (GB 11714) of 8 characters and its check character, as characters 9–17
    of a credit code carry it."""
    body = "".join(rng.choice("0123456789") if i < 2 else rng.choice(CREDIT_CODE_CHARS) for i in range(8))
    total = sum(int(char, 36) * weight for char, weight in zip(body, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def fake_credit_code(rng: random.Random, division: str | None = None) -> str:
    """A unified social credit code of an enterprise (registered by 市场监管, hence "91")
    in Qingdao, with valid check characters."""
    area = division if division is not None else rng.choice(("370200", *QINGDAO_REGIONS))
    first17 = f"91{area}{_org_code(rng)}"
    return first17 + credit_check_char(first17)


# --------------------------------------------------------------------------------------------
# Enrolment sheets
# --------------------------------------------------------------------------------------------

OCCUPATION_PLATFORMS: Final[dict[Occupation, tuple[str, ...]]] = {
    Occupation.外卖送餐员: ("美团", "饿了么"),
    Occupation.快递员: ("顺丰速运", "京东物流", "中通快递"),
    Occupation.网约车驾驶员: ("滴滴出行", "曹操出行"),
    Occupation.货车司机: ("货拉拉", "满帮"),
    Occupation.其他: ("其他本地平台", "美团", "京东物流"),
}
# Delivery riders and couriers are most of the gig workers the unions reach.
_OCCUPATIONS: Final[tuple[Occupation, ...]] = (
    (Occupation.外卖送餐员,) * 35
    + (Occupation.快递员,) * 30
    + (Occupation.网约车驾驶员,) * 20
    + (Occupation.货车司机,) * 10
    + (Occupation.其他,) * 5
)
# Plain strings: looking an enum member up 400,000 times a column is a measurable cost.
_NAME: Final = Column.姓名.value
_ID: Final = Column.身份证号.value
_PHONE: Final = Column.手机号.value
_OCCUPATION: Final = Column.职业类别.value
_PLATFORM: Final = Column.平台企业.value
_DISTRICT: Final = Column.所属区市.value
_JOINED: Final = Column.入会日期.value
_MUTUAL_AID: Final = Column.是否参加互助保障.value
_JOINED_FIRST: Final = date(2022, 1, 1).toordinal()
_JOINED_LAST: Final = date(2025, 12, 31).toordinal()


def _broken_id_number(rng: random.Random) -> str:
    number = fake_id_number(rng)
    wrong = rng.choice([char for char in "0123456789X" if char != number[17]])
    return number[:17] + wrong


def _broken_mobile(rng: random.Random) -> str:
    number = fake_mobile(rng)
    # Either a number segment that does not exist (12…) or a digit short.
    return "12" + number[2:] if rng.random() < 0.5 else number[:10]


def enrolment_rows(
    n: int,
    submitter: str,
    rng: random.Random,
    duplicate_rate: float = 0.0,
    invalid_rate: float = 0.0,
    *,
    seen_ids: set[str] | None = None,
) -> list[dict[str, object]]:
    """`n` rows of an enrolment sheet from `submitter` (a district or group union code).

    Each row is, with the given probabilities, a copy of an earlier valid row (duplicate), a row
    with a wrong check character or a wrong phone (invalid), or else a valid row of a new worker.
    Valid rows never repeat an ID number; pass the same `seen_ids` to several calls to keep it so
    across batches. All cells are text, as in a CSV file.
    """
    if submitter in DISTRICTS:
        own_district: str | None = DISTRICTS[submitter]
    elif submitter in GROUP_UNIONS:
        own_district = None
    else:
        raise ValueError(f"unknown submitter {submitter!r}")
    seen = seen_ids if seen_ids is not None else set()
    district_names = tuple(DISTRICTS.values())
    rows: list[dict[str, object]] = []
    valid: list[dict[str, object]] = []
    for _ in range(n):
        draw = rng.random()
        if draw < duplicate_rate:
            if valid:
                rows.append(dict(rng.choice(valid)))
                continue
            draw = 1.0  # nothing to copy yet: a valid row instead
        id_number = fake_id_number(rng)
        while id_number in seen:
            id_number = fake_id_number(rng)
        phone = fake_mobile(rng)
        broken = draw < duplicate_rate + invalid_rate  # draws below duplicate_rate are gone
        if broken and rng.random() < 0.5:
            id_number = _broken_id_number(rng)
        else:
            # A row refused for its phone still holds a real ID number: no later row may reuse it.
            seen.add(id_number)
            if broken:
                phone = _broken_mobile(rng)
        occupation = rng.choice(_OCCUPATIONS)
        district = own_district or rng.choice(district_names)
        joined = date.fromordinal(rng.randint(_JOINED_FIRST, _JOINED_LAST))
        row: dict[str, object] = {
            _NAME: fake_name(rng),
            _ID: id_number,
            _PHONE: phone,
            _OCCUPATION: occupation.value,
            _PLATFORM: rng.choice(OCCUPATION_PLATFORMS[occupation]),
            _DISTRICT: district,
            _JOINED: joined.isoformat(),
            _MUTUAL_AID: "是" if rng.random() < 0.8 else "否",
        }
        rows.append(row)
        if not broken:
            valid.append(row)
    return rows
