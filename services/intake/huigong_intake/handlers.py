"""Intake's service layer: each command is loaded, decided by the pure domain, and appended to
the event store in one transaction with its idempotency record. The HTTP API and the Kafka
inbound consumer both call these handlers, so a command means the same whichever way it came.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, seal
from huigong_events.forms import ApplicationForm, ConstructionPlan
from huigong_events.intake import (
    ComplianceFactReported,
    EnrolmentRequested,
    FacilityReported,
    ServiceProjectProposed,
    SubmissionWindowOpened,
)
from huigong_events.reference import Programme
from huigong_events.topics import topic_for_aggregate
from huigong_events.upcasting import decode
from huigong_platform import telemetry
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import ANY_VERSION, EventStore, Metadata, insert_recorded, row_to_event
from huigong_platform.idempotency import Outcome
from huigong_platform.principals import Principal, Role

from .adapters.vault import Vault
from .domain import applications as apps
from .domain import cycle
from .domain.enrolments import Column, judge_batch
from .domain.errors import Conflict, FieldError, InvalidCommand
from .domain.identity import IdentityError, check_id_number, member_key


def now() -> datetime:
    return datetime.now(UTC)


def random_uuids(count: int) -> list[uuid.UUID]:
    """Version-4 UUIDs from one read of the system's randomness: uuid4() reads it once per id,
    which costs more than everything else about an enrolment row."""
    raw = os.urandom(16 * count)
    return [uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, 16 * count, 16)]


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
    topic_prefix: str = ""
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
        batch_id = batch_id or uuid.uuid4()
        # Which of these people did this submitter enrol already? One query for the batch.
        keys = []
        for raw in rows:
            try:
                keys.append(
                    member_key(check_id_number(str(raw.get(Column.身份证号, ""))), self.member_secret)
                )
            except IdentityError:
                continue
        enrolled = {
            r[0]
            for r in await conn.fetch(
                "SELECT member_key FROM enrolled_members "
                "WHERE submitter = $1 AND member_key = ANY($2::text[])",
                who,
                keys,
            )
        }
        judgement = judge_batch(rows, submitter=who, secret=self.member_secret, already_enrolled=enrolled)
        accepted = judgement.accepted
        data_keys = await self.vault.keys_for(conn, [a.member_key for a in accepted])
        recorded_at = now()
        sealed: list[RecordedEvent] = []
        ids = random_uuids(len(accepted))
        event_ids = random_uuids(len(accepted))
        personal = self.vault.seal_many(
            [(data_keys[a.member_key], a.member_key, a.name, a.phone) for a in accepted]
        )
        for row, enrolment_id, event_id, sealed_personal in zip(
            accepted, ids, event_ids, personal, strict=True
        ):
            key = data_keys[row.member_key]
            event = EnrolmentRequested(
                enrolment_id=enrolment_id,
                batch_id=batch_id,
                row_number=row.row_number,
                member_key=row.member_key,
                personal_sealed=sealed_personal,
                key_id=key.key_id,
                occupation=row.occupation,
                platform=row.platform,
                district=row.district,
                joined_on=row.joined_on,
                mutual_aid=row.mutual_aid,
            )
            sealed.append(
                seal(
                    event=event,
                    event_id=event_id,
                    aggregate_id=str(enrolment_id),
                    aggregate_version=1,
                    occurred_at=recorded_at,
                    recorded_at=recorded_at,
                    actor=principal.id,
                    source=who,
                    correlation_id=correlation_id,
                    causation_id=None,
                    prev_hash=None,
                )
            )
        if sealed:
            await insert_recorded(conn, sealed, topic_for_aggregate("enrolment").qualified(self.topic_prefix))
            await conn.execute(
                """INSERT INTO enrolled_members (member_key, submitter, enrolment_id)
                   SELECT k, $1, e FROM unnest($2::text[], $3::uuid[]) AS t(k, e)""",
                who,
                [a.member_key for a in accepted],
                ids,
            )
            telemetry.EVENTS_APPENDED.labels("intake", "EnrolmentRequested").inc(len(sealed))
        return Outcome(
            200,
            {
                "batch_id": str(batch_id),
                "submitter": who,
                "rows": len(rows),
                "accepted": [
                    {"row": a.row_number, "enrolment_id": str(i)} for a, i in zip(accepted, ids, strict=True)
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
