"""Who may run which registry command and read which record. The HTTP guard enforces the route's
rule before the body is read, the command path the command's rule; the own-record rules are the
handlers' (a district acts for its district's centre and service bases, the city federation for
the city centre: `domain/matters.py`).

- registrars register, assess, certify, revoke and exit units and partners, close facilities,
  keep the 服务事项目录 and erase members on a worker's request;
- the service centres (districts, the city federation) run 联动服务 matters;
- published figures, certificate verification and the 服务事项目录 are public;
- 撤销审查: registrars confirm or dismiss a revocation case; the unit's own union (the district
  or group union it belongs to) files its statement; registrars, the city federation, ops and the
  unit's own union read the case (another's unit is answered as none);
- 绩效评估、分级评定: the city federation sets each year's scheme; its staff (or a registrar)
  evaluate a 服务职工基地 or 公益伙伴, enter the 社会效应 with evidence, confirm a 整改 done and
  propose exit for one overdue; registrars confirm or dismiss an exit; the unit's own union files a
  statement; the 服务项目集群 with each base's grade is public.
"""

from __future__ import annotations

import uuid
from typing import Final

from huigong_events.reference import CITY_CODE
from huigong_platform.policy import PUBLIC, READ, Policy, Rule, roles
from huigong_platform.principals import Principal, Role

from . import commands as c
from .domain.cohort import SERVICE_CENTRES
from .domain.matters import Acting, MatterState

REGISTRAR: Final = Rule(roles(Role.REGISTRAR))
# 联动服务: the service centres act (districts for theirs and their bases, the city for its own).
CENTRES: Final = Rule(roles(Role.DISTRICT, Role.CITY), own=True)
# 撤销审查: the unit's union answers for it; the case is read by those who decide or oversee it.
UNIT_UNION: Final = Rule(roles(Role.DISTRICT, Role.GROUP), own=True)
CASE_READERS: Final = Rule(roles(Role.REGISTRAR, Role.CITY, Role.OPS, Role.DISTRICT, Role.GROUP), own=True)
# 绩效评估: the city's staff evaluate and grade, registrars too (they keep the register).
GRADERS: Final = Rule(roles(Role.CITY, Role.REGISTRAR))
MATTER_READERS: Final = Rule(roles(Role.DISTRICT, Role.CITY, Role.REGISTRAR, Role.OPS, Role.VIEWER), own=True)
# 送温暖: the city federation decides budgets and approvals; unions record their own deliveries.
CITY: Final = Rule(roles(Role.CITY))
UNIONS: Final = Rule(roles(Role.DISTRICT, Role.GROUP), own=True)
FUND_READERS: Final = Rule(roles(Role.CITY, Role.REGISTRAR, Role.OPS, Role.DISTRICT, Role.GROUP), own=True)

POLICY: Final = Policy(
    "registry",
    commands={
        c.RegisterUnit: REGISTRAR,
        c.RegisterPartner: REGISTRAR,
        c.ExitPartner: REGISTRAR,
        c.AssessUnit: REGISTRAR,
        c.CertifyUnit: REGISTRAR,
        c.RevokeUnit: REGISTRAR,
        c.ExitUnit: REGISTRAR,
        c.CloseFacility: REGISTRAR,
        c.EraseMember: REGISTRAR,
        c.ListServiceItem: REGISTRAR,
        c.ChangeServiceItem: REGISTRAR,
        c.WithdrawServiceItem: REGISTRAR,
        c.FileStatement: UNIT_UNION,
        c.ConfirmRevocation: REGISTRAR,
        c.DismissRevocation: REGISTRAR,
        c.ReceiveMatter: CENTRES,
        c.TransferMatter: CENTRES,
        c.AcceptMatter: CENTRES,
        c.RefuseTransfer: CENTRES,
        c.PublishWorkingCalendar: CITY,
        # A federation keeps its own centre's window roster (the handler checks which centre).
        c.SetDutyRoster: Rule(roles(Role.DISTRICT, Role.CITY)),
        c.DoMatterStep: CENTRES,
        c.CloseMatter: CENTRES,
        c.RateMatter: CENTRES,
        c.EraseRequester: CENTRES,
        c.SetEvaluationScheme: Rule(roles(Role.CITY)),
        c.EvaluateResource: GRADERS,
        c.CompleteRectification: GRADERS,
        c.ProposeExit: GRADERS,
        c.ConfirmExit: REGISTRAR,
        c.DismissExit: REGISTRAR,
        c.FileGradingStatement: UNIT_UNION,
        c.SetWarmthBudget: CITY,
        c.DeliverWarmth: UNIONS,
        c.ApproveWarmth: CITY,
        c.DeclineWarmth: CITY,
    },
    routes={
        ("POST", "/units"): c.RegisterUnit,
        ("POST", "/partners"): c.RegisterPartner,
        ("POST", "/units/{unit_id}/assessment"): c.AssessUnit,
        ("POST", "/units/{unit_id}/certification"): c.CertifyUnit,
        ("POST", "/units/{unit_id}/revocation"): c.RevokeUnit,
        ("POST", "/units/{unit_id}/exit"): c.ExitUnit,
        ("GET", "/units/{unit_id}/revocation-cases"): CASE_READERS,
        ("POST", "/units/{unit_id}/revocation-case/statement"): c.FileStatement,
        ("POST", "/units/{unit_id}/revocation-case/confirmation"): c.ConfirmRevocation,
        ("POST", "/units/{unit_id}/revocation-case/dismissal"): c.DismissRevocation,
        ("POST", "/partners/{partner_id}/exit"): c.ExitPartner,
        ("POST", "/facilities/{facility_id}/closure"): c.CloseFacility,
        ("GET", "/units"): READ,
        ("GET", "/units/{unit_id}"): READ,
        ("GET", "/partners"): READ,
        ("GET", "/facilities"): READ,
        ("GET", "/facilities/{facility_id}"): READ,
        ("GET", "/service-projects"): READ,
        # Published figures: counts only, no names, no personal data.
        ("GET", "/facilities/counts"): PUBLIC,
        ("GET", "/service-projects/counts"): PUBLIC,
        ("GET", "/members/counts"): PUBLIC,
        # One member: no personal data (the registry holds none), but who was enrolled where and
        # whether they asked to be erased is for the roster's keepers and auditors.
        ("GET", "/members/{member_key}"): Rule(roles(Role.REGISTRAR, Role.CITY, Role.OPS)),
        # 个人信息删除: a registrar acts on the worker's request (MemberErased; intake shreds the key).
        ("POST", "/members/{member_key}/erasure"): c.EraseMember,
        # Anyone holding a certificate may have it verified.
        ("GET", "/certificates/{certificate_no}"): PUBLIC,
        # The printable certificate: the issuing body (registrars and the city federation) prints
        # it; ops read every GET.
        ("GET", "/certificates/{certificate_no}/pdf"): Rule(roles(Role.REGISTRAR, Role.CITY, Role.OPS)),
        # 联动服务: registrars keep the 服务事项目录, which is public (服务承诺制); a district acts for
        # its district's centre and service bases, the city federation for the city centre (the
        # handler narrows to the units the caller acts for: huigong_registry/domain/matters.py).
        ("POST", "/service-items"): c.ListServiceItem,
        ("PUT", "/service-items/{item_id}"): c.ChangeServiceItem,
        ("POST", "/service-items/{item_id}/withdrawal"): c.WithdrawServiceItem,
        ("GET", "/service-items"): PUBLIC,
        ("GET", "/service-items/{item_id}"): PUBLIC,
        ("POST", "/matters"): c.ReceiveMatter,
        ("POST", "/matters/{matter_id}/transfers"): c.TransferMatter,
        ("POST", "/matters/{matter_id}/acceptance"): c.AcceptMatter,
        ("POST", "/matters/{matter_id}/refusal"): c.RefuseTransfer,
        # The working-day calendar the deadlines count by: the city publishes a year's arrangement.
        ("PUT", "/working-calendars/{year}"): c.PublishWorkingCalendar,
        # The working days every deadline counts by: published by the city, else the package's.
        ("GET", "/working-calendars/{year}"): PUBLIC,
        # Who is on duty at a centre's 综合服务窗口, and its public phone (the catalogue lists it).
        ("PUT", "/service-centres/{centre_id}/duty-roster"): c.SetDutyRoster,
        ("GET", "/service-centres/{centre_id}/duty-roster"): PUBLIC,
        ("POST", "/matters/{matter_id}/steps"): c.DoMatterStep,
        ("POST", "/matters/{matter_id}/closure"): c.CloseMatter,
        ("POST", "/matters/{matter_id}/rating"): c.RateMatter,
        ("POST", "/matters/{matter_id}/erasure"): c.EraseRequester,
        # Districts read the matters that passed through them; the city federation (联动运营部),
        # registrars, ops and viewers all of them (personal data only to the units involved).
        ("GET", "/matters"): MATTER_READERS,
        ("GET", "/matters/{matter_id}"): MATTER_READERS,
        # Counts per unit, no matter and no person named: for whoever reads matters.
        ("GET", "/matters/figures"): Rule(
            roles(Role.DISTRICT, Role.CITY, Role.REGISTRAR, Role.OPS, Role.VIEWER)
        ),
        # 绩效评估、分级评定 (entrypoints/http/grading.py). The schemes and each base's or partner's
        # grades, figures and sources are read by anyone with a key; the statements' authors only
        # by the registry's own people.
        ("PUT", "/evaluation-schemes/{year}"): c.SetEvaluationScheme,
        ("GET", "/evaluation-schemes/{year}"): READ,
        ("GET", "/grading/{subject_id}"): READ,
        ("POST", "/grading/{subject_id}/evaluations"): c.EvaluateResource,
        ("POST", "/grading/{subject_id}/rectification/completion"): c.CompleteRectification,
        ("POST", "/grading/{subject_id}/exit-proposal"): c.ProposeExit,
        ("POST", "/grading/{subject_id}/exit-proposal/confirmation"): c.ConfirmExit,
        ("POST", "/grading/{subject_id}/exit-proposal/dismissal"): c.DismissExit,
        ("POST", "/grading/{subject_id}/statement"): c.FileGradingStatement,
        # 服务项目集群: approved projects of active bases and partners with each one's grade; no
        # login, nothing personal (a page for workers and the JSON 惠工和畅 embeds).
        ("GET", "/project-cluster/"): PUBLIC,
        ("GET", "/project-cluster/projects.json"): PUBLIC,
        # 送温暖: the city federation sets each union's yearly fund and approves the deliveries
        # above its threshold; district and group unions record their own deliveries; a fund is
        # read by the city, registrars, ops and its own union (name and phone: that union only).
        ("PUT", "/warmth/funds/{union}/{year}"): c.SetWarmthBudget,
        ("GET", "/warmth/funds/{union}/{year}"): FUND_READERS,
        ("POST", "/warmth/deliveries"): c.DeliverWarmth,
        # A delivery sheet: each row is the delivery command, so the same rule.
        ("POST", "/warmth/deliveries/upload"): c.DeliverWarmth,
        ("GET", "/warmth/deliveries/template"): Rule(roles(Role.DISTRICT, Role.GROUP, Role.CITY, Role.OPS)),
        ("POST", "/warmth/funds/{union}/{year}/deliveries/{delivery_id}/approval"): c.ApproveWarmth,
        ("POST", "/warmth/funds/{union}/{year}/deliveries/{delivery_id}/decline"): c.DeclineWarmth,
    },
    # A delivery sheet may be larger than a JSON body (HUIGONG_MAX_UPLOAD_BYTES).
    bulk=[("POST", "/warmth/deliveries/upload")],
)


# The 11 centres as huigong-seed registers them (stable ids): a caller's own centre by default.
CENTRE_OF_AREA: Final[dict[str, uuid.UUID]] = {entry.area: entry.id for entry in SERVICE_CENTRES}


def acting_of(caller: Principal) -> Acting:
    """The units a caller acts for in 联动服务: a district for its district's centre and bases,
    the city federation for the city centre, anyone else for none."""
    if caller.role is Role.DISTRICT:
        return Acting.district(caller.code)
    if caller.role is Role.CITY:
        return Acting.city()
    return Acting()


def own_centre(caller: Principal) -> uuid.UUID | None:
    if caller.role is Role.DISTRICT:
        return CENTRE_OF_AREA.get(caller.code)
    if caller.role is Role.CITY:
        return CENTRE_OF_AREA[CITY_CODE]
    return None


def reads_all(caller: Principal) -> bool:
    """The city federation (联动运营部), registrars, ops and viewers read every matter."""
    return caller.role in (Role.CITY, Role.REGISTRAR, Role.OPS, Role.VIEWER)


def may_see_requester(caller: Principal, state: MatterState) -> bool:
    """A requester's name, phone and request: only to the units the matter passed through."""
    return bool(acting_of(caller).areas & state.involved_areas)


def unit_union(caller: Principal, area: str) -> bool:
    """The caller is the union the unit belongs to (its district or group union)."""
    return caller.role in (Role.DISTRICT, Role.GROUP) and caller.code == area


def reads_case(caller: Principal, area: str) -> bool:
    """A revocation case: registrars, the city federation and ops; a union its own unit's."""
    return caller.role in (Role.REGISTRAR, Role.CITY, Role.OPS) or unit_union(caller, area)


def reads_fund(caller: Principal, union: str) -> bool:
    """A 送温暖 fund: the city federation, registrars and ops; a union its own."""
    return caller.role in (Role.CITY, Role.REGISTRAR, Role.OPS) or unit_union(caller, union)
