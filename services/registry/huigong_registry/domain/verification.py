"""What a certificate number tells the public: whether the title it proves stands today.

The read model keeps the certificate's status as the registry decided it (certified, suspended,
revoked, exited); a title also lapses by itself when its validity ends, with no event at all,
so "已过期" is worked out here from the last day of validity and today in Beijing.
"""

from __future__ import annotations

from datetime import date

from huigong_events.labels import Labelled


class Standing(Labelled):
    """The answer of the public verification: one of these, or 未找到 (404)."""

    有效 = "valid"
    暂停 = "suspended"
    已撤销 = "revoked"
    已过期 = "expired"
    已退出 = "exited"


def standing(status: str, valid_until: date, today: date) -> Standing:
    """`status` as the certificates' read model holds it; a revoked or exited title stays so
    after its validity would have ended, and a suspended one past that date has lapsed."""
    if status == "revoked":
        return Standing.已撤销
    if status == "exited":
        return Standing.已退出
    if valid_until < today:
        return Standing.已过期
    if status == "suspended":
        return Standing.暂停
    return Standing.有效
