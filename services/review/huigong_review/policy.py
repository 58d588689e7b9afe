"""Who may run which review command and read which record. The HTTP guard enforces the route's
rule before the body is read, the command path the command's rule; the own-record rules
(`parse_reviewer`, `visible_submitter` below) are applied by the handlers and the readers:

- reviewers record and clear findings and score; the chair (领导小组负责人) records and clears
  findings and alone decides; a reviewer or chair of the applicant's own district or group union
  stands aside (403);
- a district reads only its own applications' review (another's is answered as none).

Who acts in review is read from the caller's principal (the one its API key is bound to).

Panel reviewers (评审专家) and the chair (领导小组负责人) are named `<role>:<area>/<name>`:

- `reviewer:370202/zhang.san` — a reviewer from 市南区 (GB/T 2260 district code);
- `reviewer:G-HAIER/li.si` — a reviewer from a group union (its code in `reference.GROUP_UNIONS`);
- `reviewer:city/wang.wu` or `reviewer:370200/wang.wu` — a city expert (市总工会 or outside experts);
- `chair:city/zhao.liu` — the chair.

`<area>` is the district or group union the person belongs to: nobody scores, records findings
about or decides an application submitted by their own area (回避, `domain.reviewers`). `<name>`
is the person's account, unique within the area; the reviewer's id recorded in events is the
whole code `<area>/<name>`, so one person scores an application once. `parse_reviewer` is the one
place that reads it.

Who reads what: reviewers, the chair, city staff, registrars, viewers and operators see every
application; a district or group union (or the simulator acting for one) sees its own only.
"""

from __future__ import annotations

from typing import Final

from huigong_events.reference import CITY_CODE, DISTRICTS, GROUP_UNIONS
from huigong_platform.policy import READ_OWN, Policy, Rule, roles
from huigong_platform.principals import HEADER, Principal, Role
from huigong_platform.refusals import FieldError, Forbidden, Unauthenticated

from .commands import ClearFinding, Decide, RecordFinding, Score
from .domain.reviewers import MAX_REVIEWER_ID_LENGTH, Reviewer

PANEL: Final = Rule(roles(Role.REVIEWER, Role.CHAIR))

POLICY: Final = Policy(
    "review",
    commands={
        RecordFinding: PANEL,
        ClearFinding: PANEL,
        Score: Rule(roles(Role.REVIEWER)),
        Decide: Rule(roles(Role.CHAIR)),
    },
    routes={
        ("POST", "/applications/{application_id}/findings"): RecordFinding,
        ("POST", "/applications/{application_id}/findings/{finding_id}/clearance"): ClearFinding,
        ("POST", "/applications/{application_id}/scores"): Score,
        ("POST", "/applications/{application_id}/decision"): Decide,
        ("GET", "/applications/{application_id}"): READ_OWN,
        ("GET", "/applications/{application_id}/panel"): READ_OWN,
        ("GET", "/queue"): READ_OWN,
    },
)


CITY_ALIAS: Final = "city"
READ_ALL: Final = frozenset({Role.REVIEWER, Role.CHAIR, Role.CITY, Role.REGISTRAR, Role.VIEWER, Role.OPS})


class InvalidPrincipal(Unauthenticated):
    """The principal does not name a reviewer the way review needs (401)."""


ROLE_NAMES: Final[dict[Role, tuple[str, str]]] = {
    Role.REVIEWER: ("评审专家", "reviewer"),
    Role.CHAIR: ("领导小组负责人", "chair"),
}


def area_code(text: str) -> str | None:
    """The district, group union or city code `text` names, or None."""
    if text in (CITY_ALIAS, CITY_CODE):
        return CITY_CODE
    if text in DISTRICTS or text in GROUP_UNIONS:
        return text
    return None


def parse_reviewer(principal: Principal, *roles: Role) -> Reviewer:
    """The reviewer or chair acting, if the principal has one of `roles`; 403 for another role,
    401 when the code is not `<area>/<name>` with a known area."""
    if principal.role not in roles:
        wanted_zh = "或".join(ROLE_NAMES[r][0] for r in roles)
        wanted_en = " or ".join(ROLE_NAMES[r][1] for r in roles)
        raise Forbidden(
            FieldError(
                HEADER,
                f"只有{wanted_zh}可以执行此操作",
                f"only a {wanted_en} may do this, not a {principal.role.value}",
            )
        )
    area, sep, name = principal.code.partition("/")
    code = area_code(area)
    if not sep or not name.strip() or code is None or len(principal.code) > MAX_REVIEWER_ID_LENGTH:
        raise InvalidPrincipal(
            FieldError(
                HEADER,
                "评审人员主体格式应为“角色:所属区市或单位/账号”，如 reviewer:370202/zhang.san、chair:city/li.si",
                "a reviewer or chair is named <role>:<area>/<name>, where <area> is a district code, "
                "a group union code or city, e.g. reviewer:370202/zhang.san",
            )
        )
    return Reviewer(id=principal.code, area=code)


def visible_submitter(principal: Principal) -> str | None:
    """The only submitter whose applications the principal may read, or None for all of them;
    403 for a role that reads nothing here (e.g. the data exchange)."""
    own = principal.submitter
    if own is not None:
        return own
    if principal.role in READ_ALL:
        return None
    raise Forbidden(
        FieldError(HEADER, "该角色不能查看评审信息", f"a {principal.role.value} cannot read review records")
    )
