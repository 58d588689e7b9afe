"""The notices each district hears back about its own records (huigong_events.outbound).

A projection on the platform's one runner, so each trigger is turned into its notice exactly once
in effect: the notice row and the runner's checkpoint commit in one transaction, and the notice's
source (the trigger's event id) is unique, so a trigger read again writes nothing.
`adapters/outbound.OutboundPublisher` takes the rows to Kafka.

Whose record it is: an application is its submitter's (ApplicationSubmitted), a unit its area's
(UnitRegistered; a unit of the city itself, 370200, has no district to tell). Review's decisions
do not all name the submitter and review's topic may be read ahead of intake's, so a notice
about an application not seen yet waits (`outbound_waiting`) and follows its submission.

What is left out on purpose: reviewers, scores (not even the average) and comments (review's
confidentiality rules); the credit code and evidence of a finding; everything personal.
"""

from __future__ import annotations

from typing import ClassVar

from huigong_events import intake as ev
from huigong_events import registry as rg
from huigong_events import review as rv
from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.outbound import (
    DECISION_LABELS,
    ApplicationAcceptedNotice,
    ApplicationDecidedNotice,
    ApplicationReceivedNotice,
    ApplicationRejectedNotice,
    Decision,
    Notice,
    RejectionRule,
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
                receipt_no=event.receipt_no,
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
    return None


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
    )
    # What `huigong replay` compares (and `--swap` replaces): who owns which record. Never the
    # notices: they are the districts' log (their cursors are its `seq`), some are written by
    # commands and the inbound consumer rather than from events, and they are published as written.
    tables: ClassVar[tuple[str, ...]] = ("outbound_owners", "outbound_waiting")
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
        }
    )

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        source = str(record.id)
        owner: tuple[str, str] | None = None
        match event:
            case ev.ApplicationSubmitted():
                owner = (str(event.application_id), event.submitter)
            case rg.UnitRegistered():
                if event.area in SUBMITTERS:
                    await store.set_owner(conn, str(event.unit_id), event.area)
                return
        if owner is not None:
            await store.set_owner(conn, *owner)
        notice = notice_for(event, record)
        if notice is not None:
            district = await store.owner_of(conn, notice.record_id)
            if district is not None:
                await store.write_notice(conn, notice.model_copy(update={"district": district}), source)
            elif not isinstance(notice, UnitStatusNotice):
                await store.wait_for_owner(conn, notice, source)
            # else a unit's registration came first on its partition: no owner means the city's own
        if owner is not None:
            # After the receipt: the district hears of its application before what review decided.
            await store.release_waiting(conn, *owner)

    async def reset(self, conn: DbConnection) -> None:
        # The notices stay: what a district has read must stay where it read it (its cursor is a
        # `seq`), and a trigger applied again finds its notice by source and writes nothing.
        await conn.execute("TRUNCATE outbound_owners, outbound_waiting")
