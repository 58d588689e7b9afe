"""The gig-worker roster: one person is one member, however many districts report them.

A member is the aggregate "member" whose id is the member key (the keyed hash of the ID number
that intake computes); the registry never sees a name, phone or ID number.

- The first EnrolmentRequested of a member key gives MemberEnrolled (counted in the targets);
  every later report, by any district, gives MemberReportedAgain (recorded, not counted again).
- A report asking for mutual aid (互助保障) gives MutualAidGranted once per member and policy
  year. The policy year is the year of the join date (入会日期) the report gives (2022 for a
  join date before the programme began).
- Who pays: for policy year 2022 the city federation gifted the cover ("市总工会赠送", the plan's
  2022 campaign). From 2023 on the plan names no payer; the registry records the federation of
  the district (or the group union) that reported the member, e.g. "市南区总工会", "海尔集团工会",
  with its code (`paid_by_area`), to which the figures count the grant: a member of 李沧区
  re-reported with mutual aid by 市南区 is insured at 市南区's cost, and counted there.
- Mutual aid later (补报互助保障): a federation that reported a member without mutual aid may
  ask for it later (MutualAidRequested, on its own enrolment's stream, so always after it). It
  gives MutualAidGranted for the policy year of the request's date, paid by that federation,
  unless that year is covered already (then nothing: the member is insured).
- A redelivered report (an enrolment id already recorded on the member) decides nothing.
- Erasure (个人信息删除): a registrar's request, with the reference of the worker's request,
  gives MemberErased, and the registry destroys the member's data key in the same transaction, so
  the sealed name and phone in every copy of EnrolmentRequested become unreadable. The member stays on the roster,
  marked 已删除: the counts are facts about the programme (someone enrolled in that district on
  that day), not personal data, so they do not change. A later report of the same person is
  recorded as MemberReportedAgain like any other and counts nothing new; it brings their name and
  phone again (sealed under a new key), so the person may ask for erasure again, and a second
  MemberErased destroys that key too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.intake import EnrolmentRequested, MutualAidRequested
from huigong_events.reference import DISTRICTS, GROUP_UNIONS, SUBMITTERS
from huigong_events.registry import MemberEnrolled, MemberErased, MemberReportedAgain, MutualAidGranted
from huigong_platform.refusals import Conflict, FieldError, NotFound

AGGREGATE: Final = "member"
GIFT_YEAR: Final = 2022
CITY_GIFT: Final = "市总工会赠送"


@dataclass
class MemberState:
    enrolled: bool = False
    enrolments: set[str] = field(default_factory=set)
    aid_years: set[int] = field(default_factory=set)
    erased_on: date | None = None
    # Reported again since the last erasure: personal data is held again, erasable again.
    reported_since_erasure: bool = False

    @property
    def erased(self) -> bool:
        return self.erased_on is not None


def evolve(state: MemberState, event: DomainEvent) -> MemberState:
    match event:
        case MemberEnrolled():
            state.enrolled = True
            state.enrolments.add(str(event.enrolment_id))
        case MemberReportedAgain():
            state.enrolments.add(str(event.enrolment_id))
            state.reported_since_erasure = state.erased
        case MutualAidGranted():
            state.aid_years.add(event.policy_year)
        case MemberErased():
            state.erased_on = event.erased_on
            state.reported_since_erasure = False
    return state


def fold(events: Iterable[DomainEvent]) -> MemberState:
    state = MemberState()
    for event in events:
        state = evolve(state, event)
    return state


def policy_year(joined_on: date) -> int:
    """The year of the join date; a member who joined before the programme is covered from 2022."""
    return max(joined_on.year, GIFT_YEAR)


def payer(policy_year: int, reporter: str) -> str:
    """Who pays the mutual-aid cover of a policy year (see the module's rules)."""
    if policy_year == GIFT_YEAR:
        return CITY_GIFT
    if reporter in DISTRICTS:
        return f"{DISTRICTS[reporter]}总工会"
    if reporter in GROUP_UNIONS:
        return f"{GROUP_UNIONS[reporter]}工会"
    return f"{reporter}工会"


def payer_area(policy_year: int, reporter: str) -> str | None:
    """The code of the federation that pays, to which the figures count the grant; None for the
    city's gift."""
    if policy_year == GIFT_YEAR or reporter not in SUBMITTERS:
        return None
    return reporter


def _granted(member_key: str, year: int, reporter: str, on: date) -> MutualAidGranted:
    return MutualAidGranted(
        member_key=member_key,
        policy_year=year,
        paid_by=payer(year, reporter),
        granted_on=on,
        paid_by_area=payer_area(year, reporter),
    )


def decide_enrolment(
    state: MemberState, request: EnrolmentRequested, reported_on: date, reporter: str | None = None
) -> list[DomainEvent]:
    """`reporter`: the federation that sent the report (the trigger's source), which pays for
    mutual aid; a group union's row names the worker's district, not the group. Defaults to the
    row's district."""
    if str(request.enrolment_id) in state.enrolments:
        return []  # the same report again: nothing new
    events: list[DomainEvent] = []
    if not state.enrolled:
        events.append(
            MemberEnrolled(
                member_key=request.member_key,
                key_id=request.key_id,
                enrolment_id=request.enrolment_id,
                district=request.district,
                occupation=request.occupation,
                platform=request.platform,
                joined_on=request.joined_on,
            )
        )
    else:
        events.append(
            MemberReportedAgain(
                member_key=request.member_key,
                enrolment_id=request.enrolment_id,
                district=request.district,
                reported_on=reported_on,
            )
        )
    year = policy_year(request.joined_on)
    if request.mutual_aid and year not in state.aid_years:
        events.append(_granted(request.member_key, year, reporter or request.district, request.joined_on))
    return events


def decide_aid_request(state: MemberState, request: MutualAidRequested) -> list[DomainEvent]:
    """Mutual aid asked for later by a federation that reported the member: the policy year is
    the request's; a year already covered gives nothing."""
    if not state.enrolled:
        # The request follows its enrolment on one stream, so the member is known, unless that
        # enrolment itself was refused: then this waits behind it (parked), never lost.
        raise ValueError(f"mutual aid asked for member {request.member_key[:12]}… not on the roster")
    year = policy_year(request.requested_on)
    if year in state.aid_years:
        return []
    return [_granted(request.member_key, year, request.reported_by, request.requested_on)]


def decide_erasure(state: MemberState, member_key: str, request_ref: str, on: date) -> list[DomainEvent]:
    """MemberErased for an enrolled member holding personal data: never erased, or reported again
    since the last erasure; unknown 404, erased with nothing reported since 409."""
    if not state.enrolled:
        raise NotFound(FieldError("member_key", "没有该成员", "no such member"))
    if state.erased and not state.reported_since_erasure:
        raise Conflict(FieldError("member_key", "该成员的个人信息已删除", "personal data already erased"))
    return [MemberErased(member_key=member_key, erased_on=on, request_ref=request_ref)]
