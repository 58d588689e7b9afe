"""Intake's service layer: each command is loaded, decided by the pure domain, and appended to
the event store in one transaction with its idempotency record. The HTTP API and the Kafka
inbound consumer both call these handlers, so a command means the same whichever way it came.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.forms import ApplicationForm, ConstructionPlan
from huigong_events.intake import (
    ComplianceFactReported,
    EnrolmentRequested,
    FacilityReported,
    ServiceProjectProposed,
    SubmissionWindowOpened,
)
from huigong_events.reference import Programme
from huigong_events.upcasting import decode
from huigong_platform import telemetry
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import ANY_VERSION, EventStore, Metadata, new_ids, row_to_event
from huigong_platform.idempotency import Outcome
from huigong_platform.principals import Principal, Role

from .adapters.vault import Vault
from .domain import applications as apps
from .domain import cycle
from .domain.enrolments import AcceptedRow, judge_read, read_batch
from .domain.errors import Conflict, FieldError, InvalidCommand


def now() -> datetime:
    return datetime.now(UTC)


def enrolment_requested(
    row: AcceptedRow, enrolment_id: str, batch_id: str, personal_sealed: str, key_id: str
) -> dict[str, Any]:
    """The data of the EnrolmentRequested of an accepted row, exactly as
    `EnrolmentRequested(…).to_data()` gives it (tests/unit/intake/test_enrolment_events.py checks
    the two agree), built without a pydantic model per row: the row's values were checked by the
    domain, which is stricter than the event's contract, and `EventStore.start_many` validates
    the first event of each batch against the class."""
    return {
        "enrolment_id": enrolment_id,
        "batch_id": batch_id,
        "row_number": row.row_number,
        "member_key": row.member_key,
        "personal_sealed": personal_sealed,
        "key_id": key_id,
        "occupation": row.occupation.value,
        "platform": row.platform,
        "district": row.district,
        "joined_on": row.joined_on.isoformat(),
        "mutual_aid": row.mutual_aid,
    }


def forbidden(zh: str, en: str, field: str = "principal") -> InvalidCommand:
    error = InvalidCommand(FieldError(field, zh, en))
    error.status = 403
    return error


def submitter_for(principal: Principal, requested: str | None) -> str:
    """Districts and group unions submit for themselves; city staff may submit on behalf of
    one (requested explicitly)."""
    own = principal.submitter
    if own is not None:
        if requested is not None and requested != own:
            raise forbidden(
                f"不能代其他区市或单位报送（{requested}）",
                f"a {principal.role.value} may only submit for itself, not {requested}",
                "submitter",
            )
        return own
    if principal.role is Role.CITY:
        if requested is None:
            raise InvalidCommand(
                FieldError("submitter", "请注明代为报送的区市或单位", "submitter is required")
            )
        return requested
    raise forbidden("该角色不能报送", f"role {principal.role.value} cannot submit")


def meta(principal: Principal, correlation_id: str, source: str | None = None) -> Metadata:
    return Metadata(actor=principal.id, source=source or principal.code, correlation_id=correlation_id)


@dataclass
class Intake:
    store: EventStore
    vault: Vault
    member_secret: bytes
    batch_limit: int = 10_000

    # --- applications -----------------------------------------------------------------------

    async def _windows(self, conn: DbConnection, year: int) -> list[SubmissionWindowOpened]:
        rows = await conn.fetch(
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

    async def _load(
        self, conn: DbConnection, application_id: uuid.UUID
    ) -> tuple[apps.ApplicationState | None, int, apps.ReviewProgress]:
        stream = await self.store.read("application", str(application_id), conn=conn)
        state = apps.replay(decode(e) for e in stream.events)
        row = await conn.fetchrow("SELECT * FROM review_progress WHERE application_id = $1", application_id)
        progress = apps.NO_REVIEW
        if row is not None:
            period = (row["period_start"], row["period_end"]) if row["approved"] else None
            progress = apps.ReviewProgress(
                accepted=row["accepted"],
                rejected=row["rejected"],
                scored=row["scored"],
                approved_period=period,
                declined=row["declined"],
            )
        return state, stream.version, progress

    async def _receipt(self, conn: DbConnection, year: int, submitter: str) -> str:
        number: int = await conn.fetchval(
            """INSERT INTO receipt_counters (year, submitter, last_no) VALUES ($1, $2, 1)
               ON CONFLICT (year, submitter) DO UPDATE SET last_no = receipt_counters.last_no + 1
               RETURNING last_no""",
            year,
            submitter,
        )
        return f"{year}-{submitter}-{number:05d}"

    async def submit_application(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        *,
        year: int,
        programme: Programme,
        form: ApplicationForm,
        submitter: str | None = None,
        application_id: uuid.UUID | None = None,
    ) -> Outcome:
        who = submitter_for(principal, submitter)
        application_id = application_id or uuid.uuid4()
        state, version, progress = await self._load(conn, application_id)
        command = apps.SubmitApplication(
            application_id=application_id,
            year=year,
            programme=programme,
            submitter=who,
            form=form,
            now=now(),
            windows=await self._windows(conn, year),
            receipt_no=None,
        )
        apps.decide(state, command, progress)  # refuse before a receipt number is used up
        command = apps.SubmitApplication(
            **{**command.__dict__, "receipt_no": await self._receipt(conn, year, who)}
        )
        events = apps.decide(state, command, progress)
        await self._append(conn, str(application_id), events, version, principal, correlation_id, who)
        return Outcome(
            201,
            {
                "application_id": str(application_id),
                "receipt_no": command.receipt_no,
                "status": "submitted",
                "status_label": "已提交",
            },
        )

    async def amend_application(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        application_id: uuid.UUID,
        form: ApplicationForm,
        reason: str,
    ) -> Outcome:
        state, version, progress = await self._owned(conn, principal, application_id)
        command = apps.AmendApplication(
            form=form, reason=reason, now=now(), windows=await self._windows(conn, state.year)
        )
        events = apps.decide(state, command, progress)
        await self._append(
            conn, str(application_id), events, version, principal, correlation_id, state.submitter
        )
        return Outcome(
            200,
            {
                "application_id": str(application_id),
                "receipt_no": state.receipt_no,
                "status": "amended",
                "status_label": "已修改",
            },
        )

    async def withdraw_application(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        application_id: uuid.UUID,
        reason: str,
    ) -> Outcome:
        state, version, progress = await self._owned(conn, principal, application_id)
        events = apps.decide(state, apps.WithdrawApplication(reason=reason), progress)
        await self._append(
            conn, str(application_id), events, version, principal, correlation_id, state.submitter
        )
        return Outcome(
            200,
            {
                "application_id": str(application_id),
                "receipt_no": state.receipt_no,
                "status": "withdrawn",
                "status_label": "已撤回",
            },
        )

    async def submit_plan(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        application_id: uuid.UUID,
        plan: ConstructionPlan,
    ) -> Outcome:
        state, version, progress = await self._owned(conn, principal, application_id)
        events = apps.decide(state, apps.SubmitPlan(plan=plan), progress)
        recorded = await self._append(
            conn, str(application_id), events, version, principal, correlation_id, state.submitter
        )
        return Outcome(
            201,
            {
                "application_id": str(application_id),
                "event_id": str(recorded[0].id),
                "plan_kind": plan.plan_kind,
            },
        )

    async def _owned(
        self, conn: DbConnection, principal: Principal, application_id: uuid.UUID
    ) -> tuple[apps.ApplicationState, int, apps.ReviewProgress]:
        state, version, progress = await self._load(conn, application_id)
        if state is None:
            error = Conflict(FieldError("application_id", "申报不存在", "no such application"))
            error.status = 404
            raise error
        if principal.role is not Role.CITY and principal.submitter != state.submitter:
            # Same answer as a missing application: a district learns nothing about others'.
            error = Conflict(FieldError("application_id", "申报不存在", "no such application"))
            error.status = 404
            raise error
        return state, version, progress

    async def open_window(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        command: cycle.OpenSubmissionWindow,
    ) -> Outcome:
        if principal.role is not Role.CITY:
            raise forbidden(
                "只有市总工会可以开放补报窗口", "only the city federation opens exception windows"
            )
        existing = await self._windows(conn, command.year)
        events = cycle.decide_open_window(command, now(), existing)
        recorded = await self.store.append(
            str(command.year), events, ANY_VERSION, meta(principal, correlation_id, "370200"), conn=conn
        )
        return Outcome(201, {"event_id": str(recorded[0].id), "year": command.year})

    # --- reports ----------------------------------------------------------------------------

    async def report(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        event: DomainEvent,
        aggregate_id: str,
    ) -> Outcome:
        """Facilities, service projects and compliance facts: one-event aggregates whose
        contract validation is the whole rule set at intake (review and registry judge them)."""
        if isinstance(event, ComplianceFactReported):
            if principal.role not in (Role.EXCHANGE, Role.CITY):
                raise forbidden(
                    "只有数据交换部门或市总工会可以报送合规事实",
                    "only the data exchange or the city federation report compliance facts",
                )
        elif isinstance(event, FacilityReported | ServiceProjectProposed):
            area = event.area
            if principal.role is not Role.CITY and principal.submitter != area:
                raise forbidden(
                    "只能报送本区市或本单位的设施和项目",
                    f"a {principal.role.value} may only report for its own area",
                    "area",
                )
        recorded = await self.store.append(
            aggregate_id, [event], 0, meta(principal, correlation_id), conn=conn
        )
        return Outcome(201, {"event_id": str(recorded[0].id), "id": aggregate_id})

    # --- enrolments -------------------------------------------------------------------------

    async def enrol(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        rows: Sequence[dict[str, object]],
        batch_id: uuid.UUID | None = None,
    ) -> Outcome:
        who = submitter_for(principal, None)
        if len(rows) > self.batch_limit:
            raise InvalidCommand(
                FieldError(
                    "rows",
                    f"每批最多{self.batch_limit}行，本批{len(rows)}行",
                    f"at most {self.batch_limit} rows per batch, got {len(rows)}",
                )
            )
        batch = str(batch_id or uuid.uuid4())
        read = read_batch(rows, submitter=who, secret=self.member_secret)
        # Which of these people did this submitter enrol already? One query for the batch.
        enrolled = {
            r[0]
            for r in await conn.fetch(
                "SELECT member_key FROM enrolled_members "
                "WHERE submitter = $1 AND member_key = ANY($2::text[])",
                who,
                read.member_keys,
            )
        }
        judgement = judge_read(read, enrolled)
        accepted = judgement.accepted
        enrolment_ids = [str(i) for i in new_ids(len(accepted))]
        if accepted:
            data_keys = await self.vault.keys_for(conn, [a.member_key for a in accepted])
            key_ids = [data_keys[a.member_key].key_id for a in accepted]
            personal = self.vault.seal_many(
                [(data_keys[a.member_key], a.member_key, a.name, a.phone) for a in accepted]
            )
            await self.store.start_many(
                conn,
                EnrolmentRequested,
                [
                    (enrolment_id, enrolment_requested(row, enrolment_id, batch, sealed, key_id))
                    for row, enrolment_id, sealed, key_id in zip(
                        accepted, enrolment_ids, personal, key_ids, strict=True
                    )
                ],
                meta(principal, correlation_id, who),
            )
            await conn.copy_records_to_table(
                "enrolled_members",
                # In key order, as the table's index keeps them (see new_ids).
                records=sorted((a.member_key, who, i) for a, i in zip(accepted, enrolment_ids, strict=True)),
                columns=("member_key", "submitter", "enrolment_id"),
            )
            telemetry.EVENTS_APPENDED.labels("intake", "EnrolmentRequested").inc(len(accepted))
        return Outcome(
            200,
            {
                "batch_id": batch,
                "submitter": who,
                "rows": len(rows),
                "accepted": [
                    {"row": a.row_number, "enrolment_id": i}
                    for a, i in zip(accepted, enrolment_ids, strict=True)
                ],
                "rejected": [
                    {
                        "row": r.row_number,
                        "errors": [{"field": e.field, "zh": e.zh, "en": e.en} for e in r.errors],
                    }
                    for r in judgement.rejected
                ],
            },
        )

    # --- shared -----------------------------------------------------------------------------

    async def _append(
        self,
        conn: DbConnection,
        aggregate_id: str,
        events: Sequence[DomainEvent],
        version: int,
        principal: Principal,
        correlation_id: str,
        source: str,
    ) -> list[RecordedEvent]:
        recorded = await self.store.append(
            aggregate_id, events, version, meta(principal, correlation_id, source), conn=conn
        )
        for event in events:
            telemetry.EVENTS_APPENDED.labels("intake", event.type).inc()
        return recorded
