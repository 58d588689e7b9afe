"""Which event counts toward which target: the one place that says so.

Every figure of the metrics service is built from *counters*: a net number per counter, area
(district, group union, or 370200 for the city's own) and day. The tables below say which event
moves which counter, by how much, in which area and on which day; `count` applies them, purely.

| event | counter(s) | area | day |
|---|---|---|---|
| ApplicationSubmitted | applications_submitted +1 | submitter | recorded (Beijing day) |
| ConstructionUnitSelected | construction_units_selected +1 | submitter | recorded (Beijing day) |
| ConstructionApproved | constructions_approved +1 | submitter | recorded (Beijing day) |
| UnitRegistered | by programme (REGISTERED) +1: 幸福企业 → happy_enterprise_pilots, 服务职工基地 → service_bases, 服务职工综合体 → service_complexes, 公益伙伴 → welfare_partners | unit's area | registered_on |
| UnitCertified | by programme (CERTIFIED) +1 | unit's area | certified_on |
| CertificationRevoked | the certified counter −1 (if certified) | unit's area | revoked_on |
| CertificationSuspended, RevocationStatementFiled, RevocationGroundCleared, CertificationRestored | nothing: a suspended title (暂停, a revocation case open) counts as certified until a registrar confirms the revocation, whose CertificationRevoked counts on the confirmation day; a dismissed or cleared case leaves the count as it was | | |
| UnitExited | the registered counter −1, and the certified one −1 if certified | unit's area | exited_on |
| FacilityOpened | by kind (OPENED) +1 | facility's area | opened_on |
| FacilityClosed | the facility's counter −1 (if open) | facility's area | closed_on |
| PartnerRegistered | welfare_partners +1 | partner's area | registered_on |
| PartnerExited | welfare_partners −1 (if counted and not exited) | partner's area | exited_on |
| ServiceProjectListed | service_projects +1 | project's area | listed_on |
| MemberEnrolled | members_enrolled +1 (once per person: the registry dedupes) | reporting district | joined_on |
| MutualAidGranted | mutual_aid +1 for the member's first grant only (people insured, not policy years) | the federation that pays (`paid_by_area`); the member's district for the city's 2022 gift | granted_on |
| MatterReceived | matters_received +1; matters_fell_due +1 on the day after its deadline | first-responder centre's area | received_on; deadline + 1 |
| MatterTransferred | matters_transferred +1 | area of the unit that transferred it | transferred_on |
| MatterDeadlineRevised | matters_fell_due moves, from the day of the revision on, from the old deadline + 1 to the new one + 1 (an open matter only) | first-responder centre's area | revised_on; the later of it and each deadline + 1 |
| MatterClosed | matters_closed_on_time or matters_closed_late +1; matters_due_settled +1 | first-responder centre's area | closed_on; the later of closed_on and deadline + 1 (the deadline in force at closure) |
| MatterRated | matters_rated +1, matters_satisfaction_points + the score (1–5) | first-responder centre's area | rated_on |
| ApplicationAmended | nothing itself: the new form's platform-economy mark is the pilot's (below) | | |
| a 平台经济企业 pilot (`Pilot`: a 幸福企业 ApplicationSubmitted, its ApplicationAmended, the UnitRegistered from it, its UnitExited) | platform_economy_pilots +1 and platform_economy_pilot_workers + the related enterprises' workers, while the latest form carries the mark; −1 and − the workers on exit | the unit's area | the later of registered_on and the application's recorded day; exited_on |

Facts are counted on the business date the event states (开业、认定、撤销、入会日期…), so the 2022
cohort that the seed loads years later still counts in 2022, and "as of" a date means the state of
the world on that date. Events that state no date (applications, approvals) count on the Beijing
day they were recorded. `counted_on` is that day, the "day" column above (a matter's falling due,
deadline + 1, follows from its receipt); every rule counts on the day it gives, and the as-of
replay (`huigong replay -s metrics --as-of D`, huigong_ops/replay.py) asks the projection
for the same day to decide which events it keeps. So the replay at D and `GET
/api/progress?as_of=D` cut the history on the same date, and the same figures come out. The
envelope's `occurred_at` is not that date: the registry records MemberEnrolled when the report
arrives, whatever 入会日期 it gives, and the seed registers the 2022 cohort years later.

Streams recorded before revocation cases existed hold a CertificationRevoked with `automatic:
true` written the day review's finding arrived: it is read as it was, a revocation on its
`revoked_on`, so those streams replay to the figures they gave.

A revocation, exit or closure takes back exactly what was counted: the service remembers each
unit, facility and partner it counted (`Counted`), with its area and whether it was simulated, and
each member until they are insured (their district places the insurance).

Simulated data (演示数据): an event whose actor is the district simulator (`simulator:<code>`), or a
decision a service took on such an event (`simulator:<service>`, see huigong_platform.reactions),
is counted in the same counters and also in their `simulated` part, so the dashboard can label it.
A take-back is simulated when the thing it takes back was. A unit that the panel approved from a
simulated application counts as real: a real chair approved it.

Service matters (联动服务) are counted for the centre that received them (首问责任制: it answers for
the matter to the end), transfers for the unit that made them. Overdue is a level, not an event: a
matter falls due the day after its deadline and is settled by its closure, so the matters overdue
at the end of day D are matters_fell_due − matters_due_settled up to D (domain/matters.py).

A 平台经济企业 pilot (温暖行动 四.3: "推动平台经济企业开展提升职工生活品质试点工作") is a pilot from the day
its unit starts construction, as the plan counts the 幸福企业 pilots ("pilots / enterprises
starting construction"): the unit registered from an application whose latest form carries the
platform-economy mark. Intake's and the registry's events travel on different topics, so the
counting keeps what it has seen of each such application and unit (`Pilot`) and counts the pilot
once both are known, whichever came first; an amendment that adds or removes the mark moves the
count as if the form had always read so (`pilot_deltas`: the new contribution less the old). It
counts on the later of the registration day and the day intake recorded the application, so
an as-of replay, which keeps each event by its own day, holds both exactly when the live figures
count the pilot.

Metrics (`METRICS`) read the counters: most are a counter's net total (SUM); two are read across
areas: how many of the 11 service centres have a 职工智慧健康驿站 (COVERAGE), and the share of the
10 district centres that formed a certified 服务职工综合体 (SHARE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final, NamedTuple

from huigong_events.base import DomainEvent
from huigong_events.forms import PilotForm
from huigong_events.intake import ApplicationAmended, ApplicationSubmitted
from huigong_events.labels import Labelled, relabel
from huigong_events.matters import (
    MatterClosed,
    MatterDeadlineRevised,
    MatterRated,
    MatterReceived,
    MatterTransferred,
)
from huigong_events.reference import CITY_CODE, DISTRICTS, FacilityKind, Programme
from huigong_events.registry import (
    CertificationRevoked,
    FacilityClosed,
    FacilityOpened,
    MemberEnrolled,
    MutualAidGranted,
    PartnerExited,
    PartnerRegistered,
    ServiceProjectListed,
    UnitCertified,
    UnitExited,
    UnitRegistered,
)
from huigong_events.review import ConstructionApproved, ConstructionUnitSelected

BEIJING: Final = timezone(timedelta(hours=8))
SIMULATOR_PREFIX: Final = "simulator:"

# --- counters -------------------------------------------------------------------------------------

APPLICATIONS: Final = "applications_submitted"
SELECTIONS: Final = "construction_units_selected"
APPROVALS: Final = "constructions_approved"
HAPPY_STARTED: Final = "happy_enterprise_pilots"
HAPPY_CERTIFIED: Final = "happy_enterprises_certified"
BASES: Final = "service_bases"
BASES_CERTIFIED: Final = "service_bases_certified"
COMPLEXES: Final = "service_complexes"
COMPLEXES_CERTIFIED: Final = "service_complexes_certified"
PARTNERS: Final = "welfare_partners"
PROJECTS: Final = "service_projects"
SHARED_HOMES: Final = "shared_workers_homes"
HUIGONG_HOMES: Final = "huigong_homes"
CENTRE_STATIONS: Final = "health_station_centre_facilities"
ENTERPRISE_STATIONS: Final = "health_stations_enterprises"
BASE_FACILITIES: Final = "service_base_facilities"
GIG_STATIONS: Final = "gig_worker_stations"
# 平台经济企业 pilots (温暖行动 四.3) from the registration of their units, and the related
# enterprises' workers their pilots cover, counted apart from the other happy enterprises.
PLATFORM_PILOTS: Final = "platform_economy_pilots"
PLATFORM_WORKERS: Final = "platform_economy_pilot_workers"
MEMBERS: Final = "members_enrolled"
MUTUAL_AID: Final = "mutual_aid"
# 联动服务, per first-responder centre (transfers: per transferring unit's area).
MATTERS_RECEIVED: Final = "matters_received"
MATTERS_TRANSFERRED: Final = "matters_transferred"
MATTERS_ON_TIME: Final = "matters_closed_on_time"
MATTERS_LATE: Final = "matters_closed_late"
MATTERS_FELL_DUE: Final = "matters_fell_due"
MATTERS_DUE_SETTLED: Final = "matters_due_settled"
MATTERS_RATED: Final = "matters_rated"
MATTERS_POINTS: Final = "matters_satisfaction_points"

# A unit counts toward its programme from registration (a 2022 pilot, or an approved application;
# an approved 公益伙伴 application is a unit too) until it exits.
REGISTERED: Final[dict[Programme, str]] = {
    Programme.幸福企业: HAPPY_STARTED,
    Programme.服务职工基地: BASES,
    Programme.服务职工综合体: COMPLEXES,
    Programme.公益伙伴: PARTNERS,
}
# A certified unit counts while it holds its title (公益伙伴 receive none).
CERTIFIED: Final[dict[Programme, str]] = {
    Programme.幸福企业: HAPPY_CERTIFIED,
    Programme.服务职工基地: BASES_CERTIFIED,
    Programme.服务职工综合体: COMPLEXES_CERTIFIED,
}
# A facility counts while open. Facility reports of kind 服务职工基地 are kept apart from the
# 服务职工基地 units (the target's pilots and selected bases), so that one base is never counted
# twice; they are shown as their own figure.
OPENED: Final[dict[FacilityKind, str]] = {
    FacilityKind.区域共享职工之家: SHARED_HOMES,
    FacilityKind.青岛惠工家: HUIGONG_HOMES,
    FacilityKind.智慧健康驿站_中心: CENTRE_STATIONS,
    FacilityKind.智慧健康驿站_企业: ENTERPRISE_STATIONS,
    FacilityKind.服务职工基地: BASE_FACILITIES,
    FacilityKind.新就业形态劳动者服务站点: GIG_STATIONS,
}


# --- what the counting remembers -------------------------------------------------------------------
# Named tuples, not dataclasses: the projection counts hundreds of thousands of member events, and
# building these is on that path.


class Subject(StrEnum):
    """Kinds of counted things whose count a later event may take back or read."""

    UNIT = "unit"
    FACILITY = "facility"
    PARTNER = "partner"
    MEMBER = "member"
    MATTER = "matter"


SubjectKey = tuple[Subject, str]


class Counted(NamedTuple):
    """A counted unit, facility or member. `category` is the programme or facility kind;
    `active`: not exited / still open; `flagged`: certified (unit) or insured (member)."""

    subject: Subject
    key: str
    category: str
    area: str
    simulated: bool
    active: bool = True
    flagged: bool = False
    due: date | None = None  # a matter: the day it falls due (its deadline in force + 1)


class Delta(NamedTuple):
    counter: str
    area: str
    day: date
    amount: int
    simulated: bool


class Outcome(NamedTuple):
    counted: Counted | None  # the subject's new state; None when unchanged or not remembered
    deltas: tuple[Delta, ...] = ()


UNCHANGED: Final = Outcome(None)


class NotCounted(LookupError):
    """An event about a unit, facility or member this service never counted: its stream is out of
    order or incomplete. The runner dead-letters the record with this reason."""


def beijing_day(at: datetime) -> date:
    return at.astimezone(BEIJING).date()


def is_simulated(actor: str) -> bool:
    return actor.startswith(SIMULATOR_PREFIX)


# The remembered thing each kind of event creates or reads: its kind and key.
SUBJECTS: Final[dict[type[DomainEvent], tuple[Subject, Callable[[Any], str]]]] = {
    UnitRegistered: (Subject.UNIT, lambda e: str(e.unit_id)),
    UnitCertified: (Subject.UNIT, lambda e: str(e.unit_id)),
    CertificationRevoked: (Subject.UNIT, lambda e: str(e.unit_id)),
    UnitExited: (Subject.UNIT, lambda e: str(e.unit_id)),
    FacilityOpened: (Subject.FACILITY, lambda e: str(e.facility_id)),
    FacilityClosed: (Subject.FACILITY, lambda e: str(e.facility_id)),
    PartnerRegistered: (Subject.PARTNER, lambda e: str(e.partner_id)),
    PartnerExited: (Subject.PARTNER, lambda e: str(e.partner_id)),
    MemberEnrolled: (Subject.MEMBER, lambda e: e.member_key),
    MutualAidGranted: (Subject.MEMBER, lambda e: e.member_key),
    MatterReceived: (Subject.MATTER, lambda e: str(e.matter_id)),
    MatterClosed: (Subject.MATTER, lambda e: str(e.matter_id)),
    MatterDeadlineRevised: (Subject.MATTER, lambda e: str(e.matter_id)),
    MatterRated: (Subject.MATTER, lambda e: str(e.matter_id)),
}
# The first event of its subject: nothing can be remembered of it before.
CREATING: Final[frozenset[type[DomainEvent]]] = frozenset(
    {UnitRegistered, FacilityOpened, PartnerRegistered, MemberEnrolled, MatterReceived}
)


def subject_of(event: DomainEvent) -> SubjectKey | None:
    """The remembered thing an event creates or reads, if any."""
    found = SUBJECTS.get(type(event))
    return (found[0], found[1](event)) if found else None


def creates_subject(event: DomainEvent) -> bool:
    return type(event) in CREATING


def remembered(counted: Counted) -> bool:
    """Whether a counted thing is kept. A member is kept only until insured: nothing later can
    count them again (later policy years are not counted), and most members come insured, so
    the 400,000 of the plan leave few rows behind."""
    return not (counted.subject is Subject.MEMBER and counted.flagged)


def _require(known: Counted | None, event: DomainEvent) -> Counted:
    if known is None:
        subject = subject_of(event)
        what = f"{subject[0].value} {subject[1]}" if subject else "its subject"
        raise NotCounted(f"{event.type} for {what}, which was never counted (its first event is missing)")
    return known


# The day each counted event counts on: the date it states. Events that state none count on the
# Beijing day they were recorded (`counted_on`).
STATED_DAY: Final[dict[type[DomainEvent], Callable[[Any], date]]] = {
    UnitRegistered: lambda e: e.registered_on,
    UnitCertified: lambda e: e.certified_on,
    CertificationRevoked: lambda e: e.revoked_on,
    UnitExited: lambda e: e.exited_on,
    FacilityOpened: lambda e: e.opened_on,
    FacilityClosed: lambda e: e.closed_on,
    PartnerRegistered: lambda e: e.registered_on,
    PartnerExited: lambda e: e.exited_on,
    ServiceProjectListed: lambda e: e.listed_on,
    MemberEnrolled: lambda e: e.joined_on,
    MutualAidGranted: lambda e: e.granted_on,
    MatterReceived: lambda e: e.received_on,
    MatterTransferred: lambda e: e.transferred_on,
    MatterClosed: lambda e: e.closed_on,
    MatterDeadlineRevised: lambda e: e.revised_on,
    MatterRated: lambda e: e.rated_on,
}
RECORDED_DAY: Final[frozenset[type[DomainEvent]]] = frozenset(
    {ApplicationSubmitted, ConstructionUnitSelected, ConstructionApproved}
)


def _day(event: DomainEvent, recorded_at: datetime) -> date:
    stated = STATED_DAY.get(type(event))
    return stated(event) if stated is not None else beijing_day(recorded_at)


# One rule per event type: (event, what is remembered of its subject, simulated, the day it counts
# on: `counted_on`).


def _application(e: ApplicationSubmitted, known: Counted | None, sim: bool, day: date) -> Outcome:
    return Outcome(None, (Delta(APPLICATIONS, e.submitter, day, 1, sim),))


def _selection(e: ConstructionUnitSelected, known: Counted | None, sim: bool, day: date) -> Outcome:
    return Outcome(None, (Delta(SELECTIONS, e.submitter, day, 1, sim),))


def _approval(e: ConstructionApproved, known: Counted | None, sim: bool, day: date) -> Outcome:
    return Outcome(None, (Delta(APPROVALS, e.submitter, day, 1, sim),))


def _partner(e: PartnerRegistered, known: Counted | None, sim: bool, day: date) -> Outcome:
    if known is not None:
        return UNCHANGED
    partner = Counted(Subject.PARTNER, str(e.partner_id), e.category.value, e.area, sim)
    return Outcome(partner, (Delta(PARTNERS, e.area, day, 1, sim),))


def _partner_exited(e: PartnerExited, known: Counted | None, sim: bool, day: date) -> Outcome:
    partner = _require(known, e)
    if not partner.active:
        return UNCHANGED
    return Outcome(
        partner._replace(active=False), (Delta(PARTNERS, partner.area, day, -1, partner.simulated),)
    )


def _project(e: ServiceProjectListed, known: Counted | None, sim: bool, day: date) -> Outcome:
    return Outcome(None, (Delta(PROJECTS, e.area, day, 1, sim),))


def _unit_registered(e: UnitRegistered, known: Counted | None, sim: bool, day: date) -> Outcome:
    if known is not None:
        return UNCHANGED
    unit = Counted(Subject.UNIT, str(e.unit_id), e.programme.value, e.area, sim)
    return Outcome(unit, (Delta(REGISTERED[e.programme], e.area, day, 1, sim),))


def _unit_certified(e: UnitCertified, known: Counted | None, sim: bool, day: date) -> Outcome:
    unit = _require(known, e)
    counter = CERTIFIED.get(Programme(unit.category))
    if unit.flagged or not unit.active or counter is None:
        return UNCHANGED
    return Outcome(unit._replace(flagged=True), (Delta(counter, unit.area, day, 1, unit.simulated),))


def _revoked(e: CertificationRevoked, known: Counted | None, sim: bool, day: date) -> Outcome:
    unit = _require(known, e)
    counter = CERTIFIED.get(Programme(unit.category))
    if not unit.flagged or counter is None:
        return UNCHANGED
    return Outcome(unit._replace(flagged=False), (Delta(counter, unit.area, day, -1, unit.simulated),))


def _exited(e: UnitExited, known: Counted | None, sim: bool, day: date) -> Outcome:
    unit = _require(known, e)
    if not unit.active:
        return UNCHANGED
    programme = Programme(unit.category)
    deltas = [Delta(REGISTERED[programme], unit.area, day, -1, unit.simulated)]
    certified = CERTIFIED.get(programme)
    if unit.flagged and certified is not None:
        deltas.append(Delta(certified, unit.area, day, -1, unit.simulated))
    return Outcome(unit._replace(active=False, flagged=False), tuple(deltas))


def _opened(e: FacilityOpened, known: Counted | None, sim: bool, day: date) -> Outcome:
    if known is not None:
        return UNCHANGED
    facility = Counted(Subject.FACILITY, str(e.facility_id), e.kind.value, e.area, sim)
    return Outcome(facility, (Delta(OPENED[e.kind], e.area, day, 1, sim),))


def _closed(e: FacilityClosed, known: Counted | None, sim: bool, day: date) -> Outcome:
    facility = _require(known, e)
    if not facility.active:
        return UNCHANGED
    counter = OPENED[FacilityKind(facility.category)]
    return Outcome(
        facility._replace(active=False), (Delta(counter, facility.area, day, -1, facility.simulated),)
    )


def _enrolled(e: MemberEnrolled, known: Counted | None, sim: bool, day: date) -> Outcome:
    if known is not None:
        return UNCHANGED
    member = Counted(Subject.MEMBER, e.member_key, "", e.district, sim)
    return Outcome(member, (Delta(MEMBERS, e.district, day, 1, sim),))


def _insured(e: MutualAidGranted, known: Counted | None, sim: bool, day: date) -> Outcome:
    # An insured member is no longer remembered (`remembered`): unknown here means insured before,
    # and a later policy year of someone already insured is not counted again.
    member = known
    if member is None or member.flagged:
        return UNCHANGED
    # Counted to the federation that pays for it (a 李沧区 member re-reported with aid by 市南区
    # counts to 370202); the city's gift has no payer area and counts to the member's district.
    area = e.paid_by_area or member.area
    return Outcome(member._replace(flagged=True), (Delta(MUTUAL_AID, area, day, 1, member.simulated),))


# A matter is remembered with its service category and first-responder area; `flagged`: closed,
# `active`: not rated yet.
_NEXT_DAY: Final = timedelta(days=1)


def _matter_received(e: MatterReceived, known: Counted | None, sim: bool, day: date) -> Outcome:
    if known is not None:
        return UNCHANGED
    due = e.deadline + _NEXT_DAY
    matter = Counted(Subject.MATTER, str(e.matter_id), e.category.value, e.area, sim, due=due)
    return Outcome(
        matter,
        (
            Delta(MATTERS_RECEIVED, e.area, day, 1, sim),
            Delta(MATTERS_FELL_DUE, e.area, due, 1, sim),
        ),
    )


def _matter_deadline_revised(
    e: MatterDeadlineRevised, known: Counted | None, sim: bool, day: date
) -> Outcome:
    """A published working calendar moved an open matter's deadline: from the day of the revision
    on it falls due by the new one. Before that day the old deadline stood (the registry's overdue
    says the same), so the level moves at the later of that day and each due day:
    fell_due(D) = [D ≥ old] before the revision, [D ≥ new] from it."""
    matter = _require(known, e)
    if matter.flagged:
        return UNCHANGED  # closed: it keeps the deadline it was closed against
    if matter.due is None:
        raise NotCounted(
            f"MatterDeadlineRevised for matter {matter.key}, counted before its due day was "
            "remembered: replay metrics.actuals"
        )
    new = e.deadline + _NEXT_DAY
    moved_in, moved_out = max(day, new), max(day, matter.due)
    if moved_in == moved_out:
        return Outcome(matter._replace(due=new))
    return Outcome(
        matter._replace(due=new),
        (
            Delta(MATTERS_FELL_DUE, matter.area, moved_in, 1, matter.simulated),
            Delta(MATTERS_FELL_DUE, matter.area, moved_out, -1, matter.simulated),
        ),
    )


def _matter_transferred(e: MatterTransferred, known: Counted | None, sim: bool, day: date) -> Outcome:
    return Outcome(None, (Delta(MATTERS_TRANSFERRED, e.from_area, day, 1, sim),))


def _matter_closed(e: MatterClosed, known: Counted | None, sim: bool, day: date) -> Outcome:
    matter = _require(known, e)
    if matter.flagged:
        return UNCHANGED
    closed = MATTERS_ON_TIME if e.on_time else MATTERS_LATE
    settled = max(day, e.deadline + _NEXT_DAY)
    return Outcome(
        matter._replace(flagged=True),
        (
            Delta(closed, matter.area, day, 1, matter.simulated),
            Delta(MATTERS_DUE_SETTLED, matter.area, settled, 1, matter.simulated),
        ),
    )


def _matter_rated(e: MatterRated, known: Counted | None, sim: bool, day: date) -> Outcome:
    matter = _require(known, e)
    if not matter.active:
        return UNCHANGED  # rated once: the registry refuses a second rating
    return Outcome(
        matter._replace(active=False),
        (
            Delta(MATTERS_RATED, matter.area, day, 1, matter.simulated),
            Delta(MATTERS_POINTS, matter.area, day, e.score, matter.simulated),
        ),
    )


Rule = Callable[[Any, Counted | None, bool, date], Outcome]
RULES: Final[dict[type[DomainEvent], Rule]] = {
    ApplicationSubmitted: _application,
    ConstructionUnitSelected: _selection,
    ConstructionApproved: _approval,
    UnitRegistered: _unit_registered,
    UnitCertified: _unit_certified,
    CertificationRevoked: _revoked,
    UnitExited: _exited,
    FacilityOpened: _opened,
    FacilityClosed: _closed,
    PartnerRegistered: _partner,
    PartnerExited: _partner_exited,
    ServiceProjectListed: _project,
    MemberEnrolled: _enrolled,
    MutualAidGranted: _insured,
    MatterReceived: _matter_received,
    MatterTransferred: _matter_transferred,
    MatterClosed: _matter_closed,
    MatterDeadlineRevised: _matter_deadline_revised,
    MatterRated: _matter_rated,
}
assert set(RULES) == set(STATED_DAY) | RECORDED_DAY, "every counted event has the day it counts on"


def count(event: DomainEvent, known: Counted | None, *, simulated: bool, recorded_at: datetime) -> Outcome:
    """The counters an event moves, and the new state of the thing it is about.

    `known`: what was remembered of the event's subject (`subject_of`); `simulated`: whether the
    event itself is simulated data; `recorded_at`: its envelope's time (events that state no
    business date count on its Beijing day)."""
    rule = RULES.get(type(event))
    return rule(event, known, simulated, _day(event, recorded_at)) if rule else UNCHANGED


def counted_on(event: DomainEvent, recorded_at: datetime) -> date | None:
    """The business day `event` counts on, the day `count` gives its rule (None: no metric counts
    it). The as-of replay keeps an event when this day is on or before its date, as the progress
    API sums the days up to it."""
    return _day(event, recorded_at) if type(event) in RULES else None


# --- 平台经济企业 pilots: an application and the unit registered from it, in either order ------------


class Pilot(NamedTuple):
    """What the counting has seen of one 幸福企业 application and the unit registered from it.
    `workers`: the related enterprises' workers its latest form's platform-economy mark names
    (None: no mark); `applied_on`: the Beijing day intake recorded it (None: not seen yet)."""

    application_id: str
    applied_on: date | None = None
    workers: int | None = None
    unit_id: str | None = None
    area: str | None = None
    registered_on: date | None = None
    exited_on: date | None = None
    simulated: bool = False


class PilotRef(NamedTuple):
    """Where an event's pilot is found: by its application, or (an exit) by its unit."""

    by_unit: bool
    key: str


PILOT_EVENTS: Final[frozenset[type[DomainEvent]]] = frozenset(
    {ApplicationSubmitted, ApplicationAmended, UnitRegistered, UnitExited}
)


def pilot_ref(event: DomainEvent) -> PilotRef | None:
    match event:
        case ApplicationSubmitted() if event.programme is Programme.幸福企业:
            return PilotRef(False, str(event.application_id))
        case ApplicationAmended():
            return PilotRef(False, str(event.application_id))
        case UnitRegistered() if event.programme is Programme.幸福企业 and event.application_id is not None:
            return PilotRef(False, str(event.application_id))
        case UnitExited():
            return PilotRef(True, str(event.unit_id))
    return None


def _mark(form: object) -> int | None:
    platform = form.platform_economy if isinstance(form, PilotForm) else None
    return platform.related_workers if platform is not None else None


def evolve_pilot(
    pilot: Pilot | None, event: DomainEvent, *, simulated: bool, recorded_at: datetime
) -> Pilot | None:
    """The pilot after `event`; None when there is nothing to remember (an amendment of an
    application that is no 幸福企业, whose submission was never remembered)."""
    match event:
        case ApplicationSubmitted():
            base = pilot or Pilot(str(event.application_id))
            return base._replace(applied_on=beijing_day(recorded_at), workers=_mark(event.form))
        case ApplicationAmended() if pilot is not None:
            # The whole form is replaced: its mark (or none) is the application's from now on.
            return pilot._replace(workers=_mark(event.form))
        case UnitRegistered() if event.application_id is not None:
            base = pilot or Pilot(str(event.application_id))
            if base.unit_id is not None:
                return base  # registered once: a redelivered registration changes nothing
            return base._replace(
                unit_id=str(event.unit_id),
                area=event.area,
                registered_on=event.registered_on,
                simulated=simulated,
            )
        case UnitExited() if pilot is not None and pilot.exited_on is None:
            return pilot._replace(exited_on=event.exited_on)
    return pilot


def _contribution(pilot: Pilot | None) -> tuple[Delta, ...]:
    """What a pilot adds to the counters, from all the counting has seen of it."""
    if pilot is None or pilot.workers is None or pilot.applied_on is None:
        return ()
    if pilot.registered_on is None or pilot.area is None:
        return ()
    day = max(pilot.registered_on, pilot.applied_on)
    sim = pilot.simulated
    deltas = [
        Delta(PLATFORM_PILOTS, pilot.area, day, 1, sim),
        Delta(PLATFORM_WORKERS, pilot.area, day, pilot.workers, sim),
    ]
    if pilot.exited_on is not None:
        gone = max(pilot.exited_on, day)
        deltas += [
            Delta(PLATFORM_PILOTS, pilot.area, gone, -1, sim),
            Delta(PLATFORM_WORKERS, pilot.area, gone, -pilot.workers, sim),
        ]
    return tuple(deltas)


def pilot_deltas(before: Pilot | None, after: Pilot | None) -> tuple[Delta, ...]:
    """The counters' change from `before` to `after`: the new contribution less the old, so the
    figures depend on what is known of the pilot, never on the order it became known in."""
    return (
        *_contribution(after),
        *(delta._replace(amount=-delta.amount) for delta in _contribution(before)),
    )


# The events whose rules count on a day of their own, and every event the counting reads (the
# pilots' too: an amendment moves a pilot's count on the pilot's day, having none of its own).
COUNTED_EVENT_TYPES: Final = frozenset(cls.__name__ for cls in RULES)
READ_EVENT_TYPES: Final = COUNTED_EVENT_TYPES | {cls.__name__ for cls in PILOT_EVENTS}


# --- metrics: what the progress API shows, read from the counters ----------------------------------


class Aggregation(StrEnum):
    SUM = "sum"  # the counter's net total (in an area, or over all of them for the city)
    COVERAGE = "coverage"  # how many of `areas` have a positive counter
    SHARE = "share"  # coverage as a fraction of `areas` (0.6 = 60 %)


class YearMeasure(Labelled):
    """What a metric's per-year target means."""

    IN_YEAR = "in_year"  # 当年新增: counted during that year ("≥12 per year")
    BY_YEAR_END = "by_year_end"  # 年底累计: the level reached by 31 December ("12万 by end 2022")


relabel(YearMeasure, {YearMeasure.IN_YEAR: "当年新增", YearMeasure.BY_YEAR_END: "年底累计"})


P_CENTRES: Final = "职工服务中心赋能增效"
P_HAPPY: Final = "职工生活幸福型企业"
P_PARTNERS: Final = "关爱职工公益伙伴纽带计划"
P_GIG: Final = "新就业形态劳动者温暖行动"
P_CYCLE: Final = "申报与评审"

# The 11 service centres: the city's (370200) and the ten districts'.
CENTRES: Final[tuple[str, ...]] = (CITY_CODE, *DISTRICTS)
DISTRICT_CENTRES: Final[tuple[str, ...]] = tuple(DISTRICTS)


# What a metric counts, as its answers name it (`Metric.kind`), with the label.
METRIC_KINDS: Final[dict[str, str]] = {"count": "数量", "share": "比例"}


@dataclass(frozen=True)
class Metric:
    code: str
    title: str
    programme: str
    unit: str
    counter: str
    counted_from: str  # in plain words, for the API and the dashboard's tooltips
    aggregation: Aggregation = Aggregation.SUM
    areas: tuple[str, ...] = ()  # COVERAGE and SHARE: the areas counted
    year_measure: YearMeasure = YearMeasure.BY_YEAR_END

    @property
    def kind(self) -> str:
        return "share" if self.aggregation is Aggregation.SHARE else "count"

    def applies_to(self, area: str) -> bool:
        """Whether an area has a figure of its own (a group union has no service centre)."""
        return self.aggregation is Aggregation.SUM or area == CITY_CODE or area in self.areas


METRICS: Final[tuple[Metric, ...]] = (
    Metric(
        SHARED_HOMES,
        "新时代区域共享职工之家",
        P_CENTRES,
        "家",
        SHARED_HOMES,
        "登记建成的新时代区域共享职工之家（FacilityOpened），减去已关闭的",
    ),
    Metric(
        HUIGONG_HOMES,
        "“青岛·惠工家”",
        P_CENTRES,
        "家",
        HUIGONG_HOMES,
        "登记建成的“青岛·惠工家”（FacilityOpened），减去已关闭的",
    ),
    Metric(
        BASES,
        "服务职工基地",
        P_CENTRES,
        "家",
        BASES,
        "2022年试点及经申报批准的服务职工基地（UnitRegistered），减去已退出的",
    ),
    Metric(
        "health_station_centres",
        "建有职工智慧健康驿站的职工服务中心",
        P_CENTRES,
        "个",
        CENTRE_STATIONS,
        "市及10个区市职工服务中心中，至少有一处在用职工智慧健康驿站的中心数",
        Aggregation.COVERAGE,
        CENTRES,
    ),
    Metric(
        "service_complex_share",
        "形成服务职工综合体的区市职工服务中心",
        P_CENTRES,
        "%",
        COMPLEXES_CERTIFIED,
        "10个区市中，有服务职工综合体获认定示范单位（且未撤销）的区市所占比例",
        Aggregation.SHARE,
        DISTRICT_CENTRES,
    ),
    Metric(
        ENTERPRISE_STATIONS,
        "企业职工智慧健康驿站",
        P_HAPPY,
        "家",
        ENTERPRISE_STATIONS,
        "登记建成的企业职工智慧健康驿站（FacilityOpened），减去已关闭的",
        year_measure=YearMeasure.IN_YEAR,
    ),
    Metric(
        HAPPY_STARTED,
        "幸福企业试点（开展建设）",
        P_HAPPY,
        "家",
        HAPPY_STARTED,
        "2022年试点及经申报批准开展建设的幸福企业（UnitRegistered）",
        year_measure=YearMeasure.IN_YEAR,
    ),
    Metric(
        HAPPY_CERTIFIED,
        "幸福企业完成建设（示范单位）",
        P_HAPPY,
        "家",
        HAPPY_CERTIFIED,
        "获认定“青岛市职工生活幸福型企业创建示范单位”的企业（UnitCertified），减去撤销的",
    ),
    Metric(
        PARTNERS,
        "关爱职工公益合作伙伴",
        P_PARTNERS,
        "家",
        PARTNERS,
        "登记的公益合作伙伴（PartnerRegistered）及经申报批准的公益伙伴（UnitRegistered），减去退出的",
        year_measure=YearMeasure.IN_YEAR,
    ),
    Metric(
        PROJECTS,
        "服务职工项目库项目",
        P_PARTNERS,
        "个",
        PROJECTS,
        "列入服务职工项目库的项目（ServiceProjectListed）",
    ),
    Metric(
        MEMBERS,
        "新就业形态劳动者入会",
        P_GIG,
        "人",
        MEMBERS,
        "首次入会的新就业形态劳动者（MemberEnrolled，每人只计一次），按入会日期",
    ),
    Metric(
        MUTUAL_AID,
        "新就业形态劳动者互助保障",
        P_GIG,
        "人",
        MUTUAL_AID,
        "获得互助保障的成员（MutualAidGranted，每人只计一次），按参保日期",
    ),
    Metric(
        GIG_STATIONS,
        "新就业形态劳动者服务站点（服务综合体）",
        P_GIG,
        "个",
        GIG_STATIONS,
        "依托园区、楼宇、商圈、社会机构建成的新就业形态劳动者服务站点（FacilityOpened），减去已关闭的",
    ),
    Metric(
        PLATFORM_PILOTS,
        "平台经济企业提升职工生活品质试点",
        P_GIG,
        "家",
        PLATFORM_PILOTS,
        "申报表标为平台经济企业、经批准登记为幸福企业建设单位的（UnitRegistered），按登记日计（申报受理晚于登记的，按受理日）；"
        "申报修改增删该标记的，以最新申报表为准；退出的减去",
        year_measure=YearMeasure.IN_YEAR,
    ),
    Metric(
        PLATFORM_WORKERS,
        "平台经济企业试点覆盖关联企业劳动者",
        P_GIG,
        "人",
        PLATFORM_WORKERS,
        "上述平台经济企业试点的最新申报表所填覆盖的关联企业劳动者人数之和，按登记日计；退出的减去",
        year_measure=YearMeasure.IN_YEAR,
    ),
    Metric(
        COMPLEXES,
        "服务职工综合体建设单位",
        P_CENTRES,
        "个",
        COMPLEXES,
        "市、区市职工服务中心及经申报批准建设的服务职工综合体（UnitRegistered）",
    ),
    Metric(
        COMPLEXES_CERTIFIED,
        "服务职工综合体示范单位",
        P_CENTRES,
        "个",
        COMPLEXES_CERTIFIED,
        "获认定服务职工综合体创建示范单位的（UnitCertified），减去撤销的",
    ),
    Metric(
        BASES_CERTIFIED,
        "服务职工基地示范单位",
        P_CENTRES,
        "家",
        BASES_CERTIFIED,
        "获认定职工服务基地创建示范单位的（UnitCertified），减去撤销、退出的",
    ),
    Metric(
        BASE_FACILITIES,
        "服务职工基地（设施报送）",
        P_CENTRES,
        "家",
        BASE_FACILITIES,
        "区市报送建成的服务职工基地设施（FacilityOpened），减去已关闭的；不计入服务职工基地目标",
    ),
    Metric(
        CENTRE_STATIONS,
        "职工服务中心职工智慧健康驿站（设施）",
        P_CENTRES,
        "家",
        CENTRE_STATIONS,
        "登记建成的职工服务中心职工智慧健康驿站（FacilityOpened），减去已关闭的",
    ),
    Metric(
        APPLICATIONS,
        "申报",
        P_CYCLE,
        "份",
        APPLICATIONS,
        "提交的申报（ApplicationSubmitted），按提交日",
        year_measure=YearMeasure.IN_YEAR,
    ),
    Metric(
        SELECTIONS,
        "确定建设单位",
        P_CYCLE,
        "份",
        SELECTIONS,
        "从已受理的申报中确定为建设单位的（ConstructionUnitSelected），按确定日；其后报送建设方案、评审、批准建设",
        year_measure=YearMeasure.IN_YEAR,
    ),
    Metric(
        APPROVALS,
        "批准建设",
        P_CYCLE,
        "份",
        APPROVALS,
        "建设方案经评审后批准建设的申报（ConstructionApproved），按批准日",
        year_measure=YearMeasure.IN_YEAR,
    ),
)

METRICS_BY_CODE: Final[dict[str, Metric]] = {m.code: m for m in METRICS}
assert len(METRICS_BY_CODE) == len(METRICS), "metric codes must be unique"
COUNTERS: Final[frozenset[str]] = frozenset(m.counter for m in METRICS)
