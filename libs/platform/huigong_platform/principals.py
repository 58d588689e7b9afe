"""Who is calling. Every write records its principal as the event's actor.

A principal is `<role>:<code>`, e.g. `district:370202`, `group:G-HAIER`, `city:staff01`,
`exchange:hrss`, `reviewer:370202/zhang.san`. It is never sent by the caller: the caller presents
an API key (`credentials.py`), the key is bound to one principal when it is issued, and the
authorization guard (`authorization.py`) puts that principal on the request. Endpoints take it
with `Caller = Annotated[Principal, Depends(principal)]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from fastapi import Request

from huigong_events.reference import CITY_CODE, DISTRICTS, GROUP_UNIONS

from .refusals import FieldError, Unauthenticated

# Refusals about the caller's credentials name this field.
HEADER: Final = "Authorization"

# Account names: letters, digits, dot, dash, underscore; principals appear in events and logs.
_ACCOUNT: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_CODE_LENGTH: Final = 64


class Role(StrEnum):
    DISTRICT = "district"  # 区市总工会 system, bound to one district code
    GROUP = "group"  # 集团工会 / 市直、驻青单位工会 system, bound to one group code
    CITY = "city"  # 市总工会 staff: opens exception windows, submits on the city's behalf
    EXCHANGE = "exchange"  # 数据交换: other departments reporting compliance facts
    REVIEWER = "reviewer"  # 评审专家, `<area>/<name>`
    CHAIR = "chair"  # 领导小组负责人, `<area>/<name>`
    REGISTRAR = "registrar"  # 登记人员: registers units, assesses, certifies, revokes
    OPS = "ops"  # 运维与审计: reads everything; over HTTP changes only dead letters (retry, skip)
    VIEWER = "viewer"  # 看板: dashboards and Prometheus
    SIMULATOR = "simulator"  # the district simulator, bound to one district or group code; 演示数据


ROLE_NAMES: Final[dict[Role, str]] = {
    Role.DISTRICT: "区市总工会",
    Role.GROUP: "集团工会",
    Role.CITY: "市总工会",
    Role.EXCHANGE: "数据交换部门",
    Role.REVIEWER: "评审专家",
    Role.CHAIR: "领导小组负责人",
    Role.REGISTRAR: "登记人员",
    Role.OPS: "运维审计人员",
    Role.VIEWER: "看板查看人员",
    Role.SIMULATOR: "区市模拟器",
}


@dataclass(frozen=True)
class Principal:
    role: Role
    code: str
    # The API key the request presented (its public half), for logs; not part of the identity, so
    # a rotated key acts as the same principal (same idempotency scope, same actor).
    key_id: str | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.role.value}:{self.code}"

    @property
    def submitter(self) -> str | None:
        """The district or group code this principal submits for, if any."""
        if self.role in (Role.DISTRICT, Role.GROUP, Role.SIMULATOR):
            return self.code
        return None

    @property
    def simulated(self) -> bool:
        return self.role is Role.SIMULATOR


def _area(text: str) -> bool:
    return text in ("city", CITY_CODE) or text in DISTRICTS or text in GROUP_UNIONS


def parse(value: str) -> Principal:
    """`<role>:<code>` checked the way a key is checked when it is issued; ValueError says why."""
    role_text, sep, code = value.partition(":")
    try:
        role = Role(role_text)
    except ValueError:
        raise ValueError(f"unknown role {role_text!r}; one of {', '.join(r.value for r in Role)}") from None
    if not sep or not code or len(code) > MAX_CODE_LENGTH:
        raise ValueError(f"expected <role>:<code> with a code of 1 to {MAX_CODE_LENGTH} characters")
    if role is Role.DISTRICT and code not in DISTRICTS:
        raise ValueError(f"{code!r} is not a district code (GB/T 2260)")
    if role is Role.GROUP and code not in GROUP_UNIONS:
        raise ValueError(f"{code!r} is not a group union code")
    if role is Role.SIMULATOR and code not in DISTRICTS and code not in GROUP_UNIONS:
        raise ValueError(f"a simulator acts for one district or group union, not {code!r}")
    if role in (Role.REVIEWER, Role.CHAIR):
        area, _, name = code.partition("/")
        if not _area(area) or not _ACCOUNT.match(name):
            raise ValueError(
                f"a {role.value} is <area>/<name>: a district code, a group union code or city, "
                f"then an account name, e.g. {role.value}:370202/zhang.san"
            )
    elif role not in (Role.DISTRICT, Role.GROUP, Role.SIMULATOR) and not _ACCOUNT.match(code):
        raise ValueError(f"{code!r} is not an account name (letters, digits, '.', '-', '_')")
    return Principal(role, code)


def principal(request: Request) -> Principal:
    """FastAPI dependency: the principal the authorization guard authenticated, or 401 (an
    endpoint open to the public that asks who calls gets nobody)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        raise Unauthenticated(FieldError(HEADER, "需要凭据", "credentials required"))
    return found
