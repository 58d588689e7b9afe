"""The notices each district hears back about its own records (huigong_events.outbound).

A projection on the platform's one runner, so each trigger is turned into its notice exactly once
in effect: the notice row and the runner's checkpoint commit in one transaction, and the notice's
source (the trigger's event id) is unique, so a trigger read again writes nothing.
`adapters/outbound.OutboundPublisher` takes the rows to Kafka.

Whose record it is: an application is its submitter's (ApplicationSubmitted), a unit its area's
(UnitRegistered), a facility its area's (FacilityOpened); a service project is its area's and a
transferred service matter the receiving unit's area's (the event names them). Records of the
city itself (370200) have no district to tell. Review's decisions and findings do not all name
the submitter and review's topic may be read ahead of intake's, so a notice about an
application not seen yet waits (`outbound_waiting`) and follows its submission. A unit's or a
facility's later events share its partition with its registration, which always comes first.

What is left out on purpose: reviewers, scores (not even the average) and comments (review's
confidentiality rules); the credit code and department records behind a finding; everything
personal (a matter's worker stays sealed in the registry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from uuid import UUID

from huigong_events import intake as ev
from huigong_events import matters as mt
from huigong_events import registry as rg
from huigong_events import review as rv
from huigong_events import revocation as rc
from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.outbound import (
    DECISION_LABELS,
    ApplicationAcceptedNotice,
    ApplicationDecidedNotice,
    ApplicationReceivedNotice,
    ApplicationRejectedNotice,
    CertificationSuspensionNotice,
    Decision,
    EnrolmentOutcomeNotice,
    FacilityNotice,
    FacilityStatus,
    FindingClearedNotice,
    FindingNotice,
    MatterTransferredNotice,
    Notice,
    PlanKind,
    PlanReceivedNotice,
    RejectionRule,
    ServiceProjectListedNotice,
    SuspensionStatus,
    UnitStatus,
    UnitStatusNotice,
)
from huigong_events.reference import SUBMITTERS
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..adapters import outbound as store

# Notices are built without the district first; `_deliver` fills it in (or makes them wait).
_UNKNOWN = next(iter(SUBMITTERS))


def notice_for(event: DomainEvent, record: RecordedEvent) -> Notice | None:
    """The notice an event gives its record's district, `district` still to be filled in."""
    common = {"district": _UNKNOWN, "occurred_at": record.occurred_at}
    match event:
        case ev.ApplicationSubmitted():
            return ApplicationReceivedNotice(
                **common,
                record_id=str(event.application_id),
                application_id=event.application_id,
                # Applications recorded before receipt numbers were given (schema versions 1
                # and 2) are followed by their id, as intake itself names them.
                receipt_no=event.receipt_no or str(event.application_id),
                year=event.year,
                programme=event.programme,
            )
        case rv.ApplicationAccepted():
            return ApplicationAcceptedNotice(
                **common, record_id=str(event.application_id), application_id=event.application_id
            )
        case rv.ApplicationRejected():
            return ApplicationRejectedNotice(
                **common,
                record_id=str(event.application_id),
                application_id=event.application_id,
                rules=[RejectionRule(rule=f.rule, rule_text=f.rule_text) for f in event.findings],
            )
        case rv.ConstructionUnitSelected():
            return _decided(common, event.application_id, Decision.SELECTED, unit_name=event.unit_name)
        case rv.ConstructionUnitNotSelected():
            return _decided(common, event.application_id, Decision.NOT_SELECTED, reasons=list(event.reasons))
        case rv.ConstructionApproved():
            return _decided(
                common,
                event.application_id,
                Decision.APPROVED,
                unit_name=event.unit_name,
                period_start=event.period_start,
                period_end=event.period_end,
            )
        case rv.ConstructionDeclined():
            return _decided(common, event.application_id, Decision.DECLINED, reasons=list(event.reasons))
        case rg.UnitCertified():
            return UnitStatusNotice(
                **common,
                record_id=str(event.unit_id),
                unit_id=event.unit_id,
                status=UnitStatus.CERTIFIED,
                title=str(event.title),
                certificate_no=event.certificate_no,
                on=event.certified_on,
                valid_until=event.valid_until,
            )
        case rg.CertificationRevoked():
            return UnitStatusNotice(
                **common,
                record_id=str(event.unit_id),
                unit_id=event.unit_id,
                status=UnitStatus.REVOKED,
                certificate_no=event.certificate_no,
                on=event.revoked_on,
                reason=event.reason,
            )
        case rg.UnitExited():
            return UnitStatusNotice(
                **common,
                record_id=str(event.unit_id),
                unit_id=event.unit_id,
                status=UnitStatus.EXITED,
                on=event.exited_on,
                reason=event.reason,
            )
        case rv.ExclusionFound():
            return FindingNotice(
                **common,
                record_id=str(event.application_id),
                application_id=event.application_id,
                finding_id=event.finding_id,
                rule=event.rule,
                rule_text=event.rule_text,
                stage=event.stage,
                source=event.evidence.source,
                # The reviewer's stated reason is what the applicant reads in its dossier too.
                reason=event.evidence.reason if event.evidence.source is rv.EvidenceSource.评审认定 else None,
            )
        case rv.ExclusionCleared():
            return FindingClearedNotice(
                **common,
                record_id=str(event.application_id),
                application_id=event.application_id,
                finding_id=event.finding_id,
                reason=event.reason,
            )
        case ev.PlanSubmitted() | ev.PlanAmended():
            plan = event.plan
            return PlanReceivedNotice(
                **common,
                record_id=str(event.application_id),
                application_id=event.application_id,
                plan_kind=PlanKind(plan.plan_kind),
                plan_year=getattr(plan, "year", None),
                amended=isinstance(event, ev.PlanAmended),
                reason=event.reason if isinstance(event, ev.PlanAmended) else None,
            )
        case rg.FacilityOpened():
            return FacilityNotice(
                **common,
                record_id=str(event.facility_id),
                facility_id=event.facility_id,
                status=FacilityStatus.OPENED,
                report_id=event.report_id,
                kind=event.kind,
                name=event.name,
                on=event.opened_on,
            )
        case rg.FacilityClosed():
            return FacilityNotice(
                **common,
                record_id=str(event.facility_id),
                facility_id=event.facility_id,
                status=FacilityStatus.CLOSED,
                on=event.closed_on,
                reason=event.reason,
            )
        case rg.ServiceProjectListed():
            return ServiceProjectListedNotice(
                **common,
                record_id=str(event.project_id),
                project_id=event.project_id,
                proposal_id=event.proposal_id,
                name=event.name,
                field=event.field,
                listed_on=event.listed_on,
            )
        case rc.CertificationSuspended():
            return CertificationSuspensionNotice(
                **common,
                record_id=str(event.unit_id),
                unit_id=event.unit_id,
                status=SuspensionStatus.SUSPENDED,
                case_id=event.case_id,
                certificate_no=event.certificate_no,
                on=event.suspended_on,
                rule=event.rule,
                rule_text=event.rule_text,
                statement_due=event.statement_due,
            )
        case rc.CertificationRestored():
            return CertificationSuspensionNotice(
                **common,
                record_id=str(event.unit_id),
                unit_id=event.unit_id,
                status=SuspensionStatus.RESTORED,
                case_id=event.case_id,
                certificate_no=event.certificate_no,
                on=event.restored_on,
                reason=event.reason,
            )
        case mt.MatterTransferred():
            return MatterTransferredNotice(
                **common,
                record_id=str(event.matter_id),
                matter_id=event.matter_id,
                from_name=event.from_name,
                from_area=event.from_area,
                to_unit=event.to_unit,
                to_name=event.to_name,
                to_kind=event.to_kind,
                reason=event.reason,
                on=event.transferred_on,
            )
    return None


def named_district(event: DomainEvent) -> str | None:
    """The district an event names as its record's own, None for the city's or when it names none."""
    match event:
        case rg.FacilityOpened() | rg.ServiceProjectListed():
            area: str = event.area
        case mt.MatterTransferred():
            area = event.to_area
        case _:
            return None
    return area if area in SUBMITTERS else None


def _decided(
    common: dict[str, object], application_id: object, decision: Decision, **fields: object
) -> Notice:
    return ApplicationDecidedNotice.model_validate(
        {
            **common,
            "record_id": str(application_id),
            "application_id": application_id,
            "decision": decision,
            "decision_label": DECISION_LABELS[decision],
            **fields,
        }
    )


class OutboundProjection(Projection):
    name: ClassVar[str] = "intake.outbound"
    topics: ClassVar[tuple[Topic, ...]] = (
        topic_for_aggregate("application"),
        topic_for_aggregate("review"),
        topic_for_aggregate("unit"),
        topic_for_aggregate("facility"),
        topic_for_aggregate("matter"),
        # The outcome of each enrolment row: intake's request (batch, row number) and the
        # registry's decision (a new member or one reported before).
        topic_for_aggregate("enrolment"),
        topic_for_aggregate("member"),
    )
    # What `huigong replay` compares (and `--swap` replaces): who owns which record. Never the
    # notices: they are the districts' log (their cursors are its `seq`), some are written by
    # commands and the inbound consumer rather than from events, and they are published as written.
    tables: ClassVar[tuple[str, ...]] = ("outbound_owners", "outbound_waiting", "outbound_enrolments")
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "ApplicationSubmitted",
            "ApplicationAccepted",
            "ApplicationRejected",
            "ConstructionUnitSelected",
            "ConstructionUnitNotSelected",
            "ConstructionApproved",
            "ConstructionDeclined",
            "UnitRegistered",
            "UnitCertified",
            "CertificationRevoked",
            "UnitExited",
            "ExclusionFound",
            "ExclusionCleared",
            "PlanSubmitted",
            "PlanAmended",
            "FacilityOpened",
            "FacilityClosed",
            "ServiceProjectListed",
            "CertificationSuspended",
            "CertificationRestored",
            "MatterTransferred",
            "EnrolmentRequested",
            "MemberEnrolled",
            "MemberReportedAgain",
        }
    )

    async def apply_batch(
        self, conn: DbConnection, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        # Enrolment rows come by the thousand: they are noted with one statement per kind for
        # the whole batch of records, and whether a batch of rows is complete is asked once per
        # batch of records (asked at each decided row, it counted the batch's decided rows again
        # every time, and this consumer fell thousands of records behind the registry during a
        # large ingest under load).
        requests: dict[UUID, tuple[UUID, UUID, int]] = {}
        outcomes: dict[UUID, tuple[UUID, str]] = {}
        read_at: dict[UUID, RecordedEvent] = {}  # the latest record of each enrolment read here
        for event, record in items:
            match event:
                case ev.EnrolmentRequested():
                    requests[event.enrolment_id] = (event.enrolment_id, event.batch_id, event.row_number)
                    read_at[event.enrolment_id] = record
                case rg.MemberEnrolled() | rg.MemberReportedAgain():
                    outcome = "enrolled" if isinstance(event, rg.MemberEnrolled) else "already_member"
                    outcomes[event.enrolment_id] = (event.enrolment_id, outcome)
                    read_at[event.enrolment_id] = record
                case _:
                    await self.apply(conn, event, record)
        if not read_at:
            return
        completing: dict[UUID, RecordedEvent] = {}
        for enrolment, batch in await store.note_enrolment_rows(
            conn, list(requests.values()), list(outcomes.values())
        ):
            record = read_at[enrolment]
            known = completing.get(batch)
            if known is None or record.occurred_at > known.occurred_at:
                completing[batch] = record
        for batch, record in completing.items():
            await _tell_enrolment_outcome(conn, batch, record)

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        source = str(record.id)
        owner: tuple[str, str] | None = None
        if isinstance(event, ENROLMENT_ROW_EVENTS):
            batch = await _note_enrolment_row(conn, event)
            if batch is not None:
                await _tell_enrolment_outcome(conn, batch, record)
            return
        match event:
            case ev.ApplicationSubmitted():
                owner = (str(event.application_id), event.submitter)
            case rg.UnitRegistered():
                if event.area in SUBMITTERS:
                    await store.set_owner(conn, str(event.unit_id), event.area)
                return
            case rg.FacilityOpened():
                # Its closure names only the facility.
                if event.area in SUBMITTERS:
                    owner = (str(event.facility_id), event.area)
        if owner is not None:
            await store.set_owner(conn, *owner)
        notice = notice_for(event, record)
        if notice is not None:
            district = named_district(event) or await store.owner_of(conn, notice.record_id)
            if district is not None:
                await store.write_notice(conn, notice.model_copy(update={"district": district}), source)
            elif notice.record_kind == "application":
                await store.wait_for_owner(conn, notice, source)
            # else the record's first event came first on its partition: no owner means the city's own
        if owner is not None:
            # After the receipt: the district hears of its application before what review decided.
            await store.release_waiting(conn, *owner)

    async def reset(self, conn: DbConnection) -> None:
        # The notices stay: what a district has read must stay where it read it (its cursor is a
        # `seq`), and a trigger applied again finds its notice by source and writes nothing.
        await conn.execute("TRUNCATE outbound_owners, outbound_waiting, outbound_enrolments")


ENROLMENT_ROW_EVENTS = (ev.EnrolmentRequested, rg.MemberEnrolled, rg.MemberReportedAgain)


async def _note_enrolment_row(conn: DbConnection, event: DomainEvent) -> UUID | None:
    """Notes an enrolment row's request or the registry's outcome of it; the row's batch when
    both are known now (the batch may be complete), else None."""
    match event:
        case ev.EnrolmentRequested():
            if await store.note_enrolment(conn, event.enrolment_id, event.batch_id, event.row_number):
                return event.batch_id
        case rg.MemberEnrolled() | rg.MemberReportedAgain():
            outcome = "enrolled" if isinstance(event, rg.MemberEnrolled) else "already_member"
            return await store.note_outcome(conn, event.enrolment_id, outcome)
    return None


async def _tell_enrolment_outcome(conn: DbConnection, batch_id: UUID, record: RecordedEvent) -> None:
    """Once the registry has decided every taken row of the batch: the batch's district hears
    which rows it enrolled and which named a member already. Its source is the batch, so the
    batch is told once however often its last row is read again."""
    decided = await store.batch_outcome(conn, batch_id)
    if decided is None:
        return
    notice = EnrolmentOutcomeNotice(
        district=decided.district,
        record_id=str(batch_id),
        occurred_at=record.occurred_at,
        batch_id=batch_id,
        accepted=decided.accepted,
        enrolled=[row for row, outcome in decided.outcomes if outcome == "enrolled"],
        already_members=[row for row, outcome in decided.outcomes if outcome == "already_member"],
    )
    await store.write_notice(conn, notice, f"enrolment-outcome:{batch_id}")
