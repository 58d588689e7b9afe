"""Who is calling. Every write records its principal as the event's actor.

Until credentials arrive (issue 9: API keys stored hashed, with a CLI to issue, rotate and revoke
them) the principal is read from the `X-Huigong-Principal` header as `<role>:<code>`, e.g.
`district:370202`, `group:G-HAIER`, `city:staff01`, `exchange:人社`. This is the one place that
turns a request into a principal, so replacing it changes no endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fastapi import HTTPException, Request

from huigong_events.reference import DISTRICTS, GROUP_UNIONS

HEADER = "X-Huigong-Principal"


class Role(StrEnum):
    DISTRICT = "district"  # 区市总工会 system, bound to one district code
    GROUP = "group"  # 集团工会 / 市直、驻青单位工会 system, bound to one group code
    CITY = "city"  # 市总工会 staff: opens exception windows, submits on the city's behalf
    EXCHANGE = "exchange"  # 数据交换: other departments reporting compliance facts
    REVIEWER = "reviewer"
    CHAIR = "chair"
    REGISTRAR = "registrar"
    OPS = "ops"
    VIEWER = "viewer"
    SIMULATOR = "simulator"  # the district simulator: its records are marked 演示数据


@dataclass(frozen=True)
class Principal:
    role: Role
    code: str

    @property
    def id(self) -> str:
        return f"{self.role.value}:{self.code}"

    @property
    def submitter(self) -> str | None:
        """The district or group code this principal submits for, if any."""
        if self.role in (Role.DISTRICT, Role.GROUP):
            return self.code
        if self.role is Role.SIMULATOR and (self.code in DISTRICTS or self.code in GROUP_UNIONS):
            return self.code
        return None

    @property
    def simulated(self) -> bool:
        return self.role is Role.SIMULATOR


def parse(value: str) -> Principal:
    role_text, sep, code = value.partition(":")
    try:
        role = Role(role_text)
    except ValueError:
        raise ValueError(f"unknown role {role_text!r}") from None
    if not sep or not code or len(code) > 64:
        raise ValueError("expected <role>:<code>")
    if role is Role.DISTRICT and code not in DISTRICTS:
        raise ValueError(f"{code!r} is not a district code")
    if role is Role.GROUP and code not in GROUP_UNIONS:
        raise ValueError(f"{code!r} is not a group union code")
    return Principal(role, code)


def principal(request: Request) -> Principal:
    """FastAPI dependency: the calling principal, or 401."""
    value = request.headers.get(HEADER)
    if not value:
        raise HTTPException(401, detail={"zh": "未提供调用主体", "en": f"missing {HEADER} header"})
    try:
        return parse(value)
    except ValueError as exc:
        raise HTTPException(401, detail={"zh": "调用主体无效", "en": str(exc)}) from None
