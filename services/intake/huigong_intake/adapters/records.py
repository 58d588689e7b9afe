"""What intake's handlers read and keep besides the event streams, inside the command's unit of
work: the exception windows of a year, the review progress of an application (a read model fed
by review's events), the receipt counters, who each submitter enrolled already, and the members'
data keys (held by the registry, reached through its function), and the notices a command tells
its district directly (an enrolment batch's summary: its refused rows are in no event).

`Records` is the interface; `PostgresRecords` keeps them in the service's database, in the
command's transaction. Tests use an in-memory one with the same interface.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from huigong_events.base import DomainEvent
from huigong_events.intake import ComplianceFactReported, SubmissionWindowOpened
from huigong_events.outbound import Notice
from huigong_events.reference import Programme
from huigong_events.upcasting import decode
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import row_to_event

from ..domain import applications as apps
from .outbound import write_notice
from .vault import DataKey, Vault


class Records(Protocol):
    async def windows(self, year: int) -> list[SubmissionWindowOpened]: ...

    async def progress(self, application_id: uuid.UUID) -> apps.ReviewProgress: ...

    async def facts_about(self, credit_code: str) -> list[tuple[str, ComplianceFactReported]]:
        """The compliance facts recorded about this unit and not withdrawn, with their event ids,
        oldest first (a withdrawn fact's reference may be reported again)."""

    async def applications_of(
        self, year: int, programme: Programme, submitter: str
    ) -> list[apps.ApplicationState]:
        """The submitter's applications for this programme and year, as their streams say now."""

    async def next_receipt(self, year: int, submitter: str) -> int:
        """The next number of this submitter's receipts of this year (1, 2, …)."""

    async def enrolled(self, submitter: str, member_keys: Sequence[str]) -> dict[str, str]:
        """Which of these people this submitter enrolled already: member key → the id of that
        enrolment."""

    async def remember_enrolled(self, submitter: str, enrolments: Sequence[tuple[str, str]]) -> None:
        """(member key, enrolment id) of people this submitter just enrolled."""

    async def data_keys(self, member_keys: Sequence[str]) -> dict[str, DataKey]: ...

    async def tell_district(self, notice: Notice, source: str) -> None:
        """Add `notice` to its district's outbound feed, in the command's transaction."""


class PostgresRecords:
    def __init__(self, conn: DbConnection, vault: Vault) -> None:
        self._conn = conn
        self._vault = vault

    async def windows(self, year: int) -> list[SubmissionWindowOpened]:
        rows = await self._conn.fetch(
            """SELECT * FROM events WHERE type = 'SubmissionWindowOpened'
               AND (data->>'year')::int = $1 ORDER BY position""",
            year,
        )
        windows = []
        for row in rows:
            event = decode(row_to_event(row))
            assert isinstance(event, SubmissionWindowOpened)
            windows.append(event)
        return windows

    async def applications_of(
        self, year: int, programme: Programme, submitter: str
    ) -> list[apps.ApplicationState]:
        rows = await self._conn.fetch(
            """SELECT e.* FROM events e
               WHERE e.aggregate_type = 'application' AND e.aggregate_id IN (
                   SELECT aggregate_id FROM events WHERE type = 'ApplicationSubmitted'
                   AND (data->>'year')::int = $1 AND data->>'programme' = $2 AND data->>'submitter' = $3)
               ORDER BY e.aggregate_id, e.aggregate_version""",
            year,
            programme.value,
            submitter,
        )
        streams: dict[str, list[DomainEvent]] = {}
        for row in rows:
            streams.setdefault(row["aggregate_id"], []).append(decode(row_to_event(row)))
        return [state for events in streams.values() if (state := apps.replay(events)) is not None]

    async def facts_about(self, credit_code: str) -> list[tuple[str, ComplianceFactReported]]:
        rows = await self._conn.fetch(
            """SELECT * FROM events r WHERE r.type = 'ComplianceFactReported' AND r.data->>'credit_code' = $1
                 AND NOT EXISTS (SELECT 1 FROM events w WHERE w.type = 'ComplianceFactWithdrawn'
                                 AND w.aggregate_type = r.aggregate_type AND w.aggregate_id = r.aggregate_id)
               ORDER BY r.position""",
            credit_code,
        )
        found = []
        for row in rows:
            record = row_to_event(row)
            event = decode(record)
            assert isinstance(event, ComplianceFactReported)
            found.append((str(record.id), event))
        return found

    async def progress(self, application_id: uuid.UUID) -> apps.ReviewProgress:
        row = await self._conn.fetchrow(
            "SELECT * FROM review_progress WHERE application_id = $1", application_id
        )
        if row is None:
            return apps.NO_REVIEW
        period = (row["period_start"], row["period_end"]) if row["approved"] else None
        return apps.ReviewProgress(
            accepted=row["accepted"],
            rejected=row["rejected"],
            scored=row["scored"],
            approved_period=period,
            declined=row["declined"],
            selected=row["selected"],
            not_selected=row["not_selected"],
        )

    async def next_receipt(self, year: int, submitter: str) -> int:
        number: int = await self._conn.fetchval(
            """INSERT INTO receipt_counters (year, submitter, last_no) VALUES ($1, $2, 1)
               ON CONFLICT (year, submitter) DO UPDATE SET last_no = receipt_counters.last_no + 1
               RETURNING last_no""",
            year,
            submitter,
        )
        return number

    async def enrolled(self, submitter: str, member_keys: Sequence[str]) -> dict[str, str]:
        rows = await self._conn.fetch(
            """SELECT member_key, enrolment_id::text FROM enrolled_members
               WHERE submitter = $1 AND member_key = ANY($2::text[])""",
            submitter,
            member_keys,
        )
        return {r[0]: r[1] for r in rows}

    async def remember_enrolled(self, submitter: str, enrolments: Sequence[tuple[str, str]]) -> None:
        await self._conn.copy_records_to_table(
            "enrolled_members",
            # In key order, as the table's index keeps them (see eventstore.new_ids).
            records=sorted((member_key, submitter, enrolment_id) for member_key, enrolment_id in enrolments),
            columns=("member_key", "submitter", "enrolment_id"),
        )

    async def data_keys(self, member_keys: Sequence[str]) -> dict[str, DataKey]:
        return await self._vault.keys_for(self._conn, member_keys)

    async def tell_district(self, notice: Notice, source: str) -> None:
        await write_notice(self._conn, notice, source)
