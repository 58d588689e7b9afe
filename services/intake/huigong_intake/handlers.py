"""Intake's command handlers, one per command, run by the platform's command path
(`huigong_platform.application`) inside the command's unit of work: load and fold the
application, let the pure domain decide, append. The policy check, the idempotency key and the
transaction are the command path's, so a command means the same whether it came over HTTP or
from a district's Kafka inbound topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from huigong_events.base import DomainEvent
from huigong_events.intake import (
    ComplianceFactReported,
    EnrolmentRequested,
    FacilityReported,
    MutualAidRequested,
    ServiceProjectProposed,
)
from huigong_events.outbound import EnrolmentBatchNotice, FieldProblem, RefusedRow
from huigong_events.upcasting import decode
from huigong_platform.application import Context, Handler
from huigong_platform.eventstore import ANY_VERSION, new_ids
from huigong_platform.idempotency import Outcome
from huigong_platform.principals import Role
from huigong_platform.refusals import Conflict, FieldError, Refusal
from huigong_platform.unit_of_work import UnitOfWork

from . import commands as c
from .adapters.import_jobs import ImportJobs
from .adapters.records import Records
from .adapters.vault import Vault
from .commands import CorrectFact, WithdrawFact
from .domain import applications as apps
from .domain import cycle, facts, import_jobs
from .domain import fact_corrections as fc
from .domain.cycle import SHANGHAI
from .domain.enrolments import AcceptedRow, is_blank, judge_read, read_batch
from .domain.identity import china_today
from .domain.import_jobs import ImportStatus
from .policy import check_area, may_see, no_such_application, no_such_import, submitter_for


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


@dataclass
class Intake:
    """`records`: the service's own records in a unit of work (PostgreSQL in the service, in
    memory in tests)."""

    records: Callable[[UnitOfWork], Records]
    member_secret: bytes
    batch_limit: int = 10_000
    # Import jobs' tables (PostgreSQL only: the in-process tests run no jobs).
    imports: Callable[[UnitOfWork], ImportJobs] | None = None

    def handlers(self) -> Mapping[type, Handler]:
        return {
            c.SubmitApplication: self.submit_application,
            c.AmendApplication: self.amend_application,
            c.WithdrawApplication: self.withdraw_application,
            c.SubmitPlan: self.submit_plan,
            c.AmendPlan: self.amend_plan,
            c.OpenSubmissionWindow: self.open_window,
            c.ReportFacility: self.report,
            c.ProposeProject: self.report,
            c.ReportFact: self.report,
            c.Enrol: self.enrol,
            c.StartEnrolmentImport: self.start_import,
            c.CancelEnrolmentImport: self.cancel_import,
            c.EnrolImportChunk: self.enrol_import_chunk,
            CorrectFact: correct_fact,
            WithdrawFact: withdraw_fact,
        }

    # --- applications -----------------------------------------------------------------------

    async def _load(
        self, ctx: Context, application_id: uuid.UUID
    ) -> tuple[apps.ApplicationState | None, int, apps.ReviewProgress]:
        await ctx.uow.lock("application", str(application_id))
        stream = await ctx.uow.read("application", str(application_id))
        state = apps.replay(decode(e) for e in stream.events)
        return state, stream.version, await self.records(ctx.uow).progress(application_id)

    async def _owned(
        self, ctx: Context, application_id: uuid.UUID
    ) -> tuple[apps.ApplicationState, int, apps.ReviewProgress]:
        state, version, progress = await self._load(ctx, application_id)
        if state is None or not may_see(ctx.principal, state.submitter):
            raise no_such_application()
        return state, version, progress

    async def _append(
        self, ctx: Context, aggregate_id: str, events: Sequence[DomainEvent], version: int, source: str
    ) -> list[Any]:
        recorded = await ctx.uow.append(aggregate_id, events, version, ctx.meta(source))
        ctx.counted(events)
        return recorded

    async def submit_application(self, command: c.SubmitApplication, ctx: Context) -> Outcome:
        who = submitter_for(ctx.principal, command.submitter)
        application_id = command.application_id or uuid.uuid4()
        state, version, progress = await self._load(ctx, application_id)
        records = self.records(ctx.uow)
        unit_key = apps.building_unit_key(command.form)
        # Two submissions of the same application at once both look for the other: serialise them.
        await ctx.uow.lock("application-key", f"{command.year}/{command.programme.value}/{who}/{unit_key}")
        decision = apps.SubmitApplication(
            application_id=application_id,
            year=command.year,
            programme=command.programme,
            submitter=who,
            form=command.form,
            now=now(),
            windows=await records.windows(command.year),
            receipt_no=None,
            existing_receipt=apps.existing_receipt(
                await records.applications_of(command.year, command.programme, who), command.form
            ),
        )
        apps.decide(state, decision, progress)  # refuse before a receipt number is used up
        number = await records.next_receipt(command.year, who)
        decision = apps.SubmitApplication(
            **{**decision.__dict__, "receipt_no": f"{command.year}-{who}-{number:05d}"}
        )
        events = apps.decide(state, decision, progress)
        await self._append(ctx, str(application_id), events, version, who)
        return Outcome(
            201,
            {
                "application_id": str(application_id),
                "receipt_no": decision.receipt_no,
                "status": "submitted",
                "status_label": "已提交",
            },
        )

    async def amend_application(self, command: c.AmendApplication, ctx: Context) -> Outcome:
        state, version, progress = await self._owned(ctx, command.application_id)
        decision = apps.AmendApplication(
            form=command.form,
            reason=command.reason,
            now=now(),
            windows=await self.records(ctx.uow).windows(state.year),
        )
        events = apps.decide(state, decision, progress)
        await self._append(ctx, str(command.application_id), events, version, state.submitter)
        return Outcome(
            200,
            {
                "application_id": str(command.application_id),
                "receipt_no": state.receipt_no,
                "status": "amended",
                "status_label": "已修改",
            },
        )

    async def withdraw_application(self, command: c.WithdrawApplication, ctx: Context) -> Outcome:
        state, version, progress = await self._owned(ctx, command.application_id)
        events = apps.decide(state, apps.WithdrawApplication(reason=command.reason), progress)
        await self._append(ctx, str(command.application_id), events, version, state.submitter)
        return Outcome(
            200,
            {
                "application_id": str(command.application_id),
                "receipt_no": state.receipt_no,
                "status": "withdrawn",
                "status_label": "已撤回",
            },
        )

    async def submit_plan(self, command: c.SubmitPlan, ctx: Context) -> Outcome:
        state, version, progress = await self._owned(ctx, command.application_id)
        events = apps.decide(state, apps.SubmitPlan(plan=command.plan), progress)
        recorded = await self._append(ctx, str(command.application_id), events, version, state.submitter)
        return Outcome(
            201,
            {
                "application_id": str(command.application_id),
                "receipt_no": state.receipt_no,
                "event_id": str(recorded[0].id),
                "plan_kind": command.plan.plan_kind,
                "status": "plan_submitted",
                "status_label": "方案已报送",
            },
        )

    async def amend_plan(self, command: c.AmendPlan, ctx: Context) -> Outcome:
        state, version, progress = await self._owned(ctx, command.application_id)
        events = apps.decide(state, apps.AmendPlan(plan=command.plan, reason=command.reason), progress)
        recorded = await self._append(ctx, str(command.application_id), events, version, state.submitter)
        return Outcome(
            200,
            {
                "application_id": str(command.application_id),
                "receipt_no": state.receipt_no,
                "event_id": str(recorded[0].id),
                "plan_kind": command.plan.plan_kind,
                "status": "plan_amended",
                "status_label": "方案已修改",
            },
        )

    async def open_window(self, command: c.OpenSubmissionWindow, ctx: Context) -> Outcome:
        decision = cycle.OpenSubmissionWindow(
            year=command.year,
            opens_at=command.opens_at,
            closes_at=command.closes_at,
            reason=command.reason,
            submitter=command.submitter,
        )
        await ctx.uow.lock("cycle", str(command.year))
        existing = await self.records(ctx.uow).windows(command.year)
        events = cycle.decide_open_window(decision, now(), existing)
        recorded = await self._append(ctx, str(command.year), events, ANY_VERSION, "370200")
        return Outcome(201, {"event_id": str(recorded[0].id), "year": command.year})

    # --- reports ----------------------------------------------------------------------------

    async def report(self, command: Any, ctx: Context) -> Outcome:
        """Facilities, service projects and compliance facts: one-event aggregates whose
        contract validation is the whole rule set at intake (review and registry judge them)."""
        event, aggregate_id = report_event(command)
        if isinstance(event, FacilityReported | ServiceProjectProposed):
            check_area(ctx.principal, event.area)
        if isinstance(event, ComplianceFactReported):
            principal = ctx.principal
            own = facts.department_of_key(principal.code) if principal.role is Role.EXCHANGE else None
            facts.ensure_may_report(event, own, city=principal.role is Role.CITY)
            # One evidence reference, one fact: serialise the reports about one unit.
            await ctx.uow.lock("compliance-facts", event.credit_code)
            first = facts.repeat_of(event, await self.records(ctx.uow).facts_about(event.credit_code))
            if first is not None:
                return Outcome(
                    200,
                    {
                        "event_id": first[0],
                        "id": str(first[1].fact_id),
                        "repeat_of": str(first[1].fact_id),
                        "status_label": "同一文号已报送，按首次报送处理",
                    },
                )
        recorded = await ctx.uow.append(aggregate_id, [event], 0, ctx.meta())
        ctx.counted([event])
        return Outcome(201, {"event_id": str(recorded[0].id), "id": aggregate_id})

    # --- enrolments -------------------------------------------------------------------------

    async def enrol(self, command: c.Enrol, ctx: Context) -> Outcome:
        return Outcome(200, await self._enrol_rows(command.rows, command.first_row, ctx))

    async def _enrol_rows(self, rows: list[dict[str, Any]], first_row: int, ctx: Context) -> dict[str, Any]:
        """Judge and record one batch of rows (an upload, or one chunk of an import job)."""
        who = submitter_for(ctx.principal, None)
        if len(rows) > self.batch_limit:
            raise Refusal(
                FieldError(
                    "rows",
                    f"每批最多{self.batch_limit}行，本批{len(rows)}行",
                    f"at most {self.batch_limit} rows per batch, got {len(rows)}",
                )
            )
        records = self.records(ctx.uow)
        batch = str(uuid.uuid4())
        read = read_batch(rows, submitter=who, secret=self.member_secret, first_row_number=first_row)
        # Which of these people did this submitter enrol already? One query for the batch.
        enrolled = await records.enrolled(who, read.member_keys)
        judgement = judge_read(read, enrolled.keys())
        accepted = judgement.accepted
        enrolment_ids = [str(i) for i in new_ids(len(accepted))]
        if accepted:
            data_keys = await records.data_keys([a.member_key for a in accepted])
            key_ids = [data_keys[a.member_key].key_id for a in accepted]
            personal = Vault.seal_many(
                [(data_keys[a.member_key], a.member_key, a.name, a.phone) for a in accepted]
            )
            await ctx.uow.start_many(
                EnrolmentRequested,
                [
                    (enrolment_id, enrolment_requested(row, enrolment_id, batch, sealed, key_id))
                    for row, enrolment_id, sealed, key_id in zip(
                        accepted, enrolment_ids, personal, key_ids, strict=True
                    )
                ],
                ctx.meta(who),
            )
            await records.remember_enrolled(
                who, [(a.member_key, i) for a, i in zip(accepted, enrolment_ids, strict=True)]
            )
            ctx.counted_many("EnrolmentRequested", len(accepted))
        # Mutual aid asked for later: on the stream of this submitter's own enrolment of the
        # worker, so the registry (which reads that stream in order) always has the member.
        aid_requests = [(row, enrolled[row.member_key]) for row in judgement.aid]
        for row, enrolment_id in aid_requests:
            await ctx.uow.lock("enrolment", enrolment_id)
            request = MutualAidRequested(
                enrolment_id=uuid.UUID(enrolment_id),
                batch_id=uuid.UUID(batch),
                row_number=row.row_number,
                member_key=row.member_key,
                reported_by=who,
                requested_on=china_today(),
            )
            await ctx.uow.append(enrolment_id, [request], ANY_VERSION, ctx.meta(who))
        ctx.counted_many("MutualAidRequested", len(aid_requests))
        # The district hears of the whole batch at once, refused rows by number (no event holds
        # them): in this transaction, so a batch is told exactly once, and a retry with the same
        # key gets the first answer without telling it again.
        await records.tell_district(
            EnrolmentBatchNotice(
                district=who,
                record_id=batch,
                occurred_at=now(),
                batch_id=uuid.UUID(batch),
                rows=len(rows),
                accepted=len(accepted) + len(aid_requests),
                refused=[
                    RefusedRow(
                        row=r.row_number,
                        errors=[FieldProblem(field=e.field, zh=e.zh, en=e.en) for e in r.errors],
                    )
                    for r in judgement.rejected
                ],
            ),
            f"batch:{batch}",
        )
        return {
            "batch_id": batch,
            "submitter": who,
            "rows": len(rows),
            "accepted": [
                {"row": a.row_number, "enrolment_id": i} for a, i in zip(accepted, enrolment_ids, strict=True)
            ],
            "rejected": [
                {
                    "row": r.row_number,
                    "errors": [{"field": e.field, "zh": e.zh, "en": e.en} for e in r.errors],
                }
                for r in judgement.rejected
            ],
            # Workers enrolled before, for whom mutual aid is now asked (补报互助保障).
            "mutual_aid": [{"row": r.row_number, "enrolment_id": i} for r, i in aid_requests],
        }

    # --- import jobs: a sheet above the synchronous limit, read by the import worker ----------

    def _jobs(self, ctx: Context) -> ImportJobs:
        if self.imports is None:
            raise RuntimeError("import jobs need the service's database")
        return self.imports(ctx.uow)

    async def start_import(self, command: c.StartEnrolmentImport, ctx: Context) -> Outcome:
        jobs = self._jobs(ctx)
        staged = await jobs.staged(command.job_id)
        if staged is None or staged.principal != ctx.principal.id:
            raise Refusal(
                FieldError("file", "没有收到上传的文件，请重新上传", "no uploaded file; upload it again")
            )
        if staged.file_sha256 != command.sha256:
            raise Refusal(
                FieldError(
                    "file", "上传的文件不完整，请重新上传", "the uploaded file differs; upload it again"
                )
            )
        job = await jobs.queue(command.job_id)
        return Outcome(202, job.view())

    async def cancel_import(self, command: c.CancelEnrolmentImport, ctx: Context) -> Outcome:
        jobs = self._jobs(ctx)
        job = await jobs.lock(command.job_id)
        if job is None or job.submitter != ctx.principal.submitter:
            raise no_such_import()
        if not job.open:
            raise Conflict(
                FieldError(
                    "job_id",
                    f"导入任务已结束（{ImportStatus(job.status).name}），不能取消",
                    f"the import job has ended ({job.status}); it cannot be cancelled",
                )
            )
        return Outcome(200, (await jobs.cancel(command.job_id)).view())

    async def enrol_import_chunk(self, command: c.EnrolImportChunk, ctx: Context) -> Outcome:
        """One chunk of a job: its rows recorded exactly as an upload's, their outcomes and the
        job's cursor in the same transaction. A chunk that does not start at the cursor (a run
        that another finished, a job cancelled meanwhile) records nothing."""
        jobs = self._jobs(ctx)
        job = await jobs.lock(command.job_id)
        if job is None or job.submitter != ctx.principal.submitter:
            raise no_such_import()
        if not job.open or job.cursor != command.start_line:
            raise Conflict(
                FieldError(
                    "start_line",
                    "导入任务已取消或该块已记录",
                    f"the job is {job.status} at line {job.cursor}, not at {command.start_line}",
                )
            )
        rows = command.rows
        results = []
        if not all(is_blank(row) for row in rows):
            answer = await self._enrol_rows(rows, command.first_row, ctx)
            lines = [[row.get(key) if key else None for key in job.keys] for row in rows]
            results = import_jobs.row_results(lines, command.first_row, job.keys, answer)
        await jobs.record_chunk(command.job_id, command.next_line, len(results), results)
        return Outcome(200, {"job_id": str(job.job_id), "next_line": command.next_line, "rows": len(results)})


def report_event(body: Any) -> tuple[DomainEvent, str]:
    """The event a report command records (the command extends it with an optional id)."""
    if isinstance(body, FacilityReported):
        facility = FacilityReported.model_validate(body.model_dump())
        return facility, str(facility.report_id)
    if isinstance(body, ServiceProjectProposed):
        project = ServiceProjectProposed.model_validate(body.model_dump())
        return project, str(project.proposal_id)
    if isinstance(body, ComplianceFactReported):
        fact = ComplianceFactReported.model_validate(body.model_dump())
        return fact, str(fact.fact_id)
    raise TypeError(f"{type(body).__name__} is not a report")


# --- a department corrects or withdraws its own fact: lock the fact, fold its stream, the pure
# domain decides (domain/fact_corrections.py), append at the expected version ------------------


def _today() -> datetime:
    return datetime.now(SHANGHAI)


async def _load(ctx: Context, fact_id: str) -> tuple[fc.FactState, int]:
    await ctx.uow.lock(fc.AGGREGATE, fact_id)
    stream = await ctx.uow.read(fc.AGGREGATE, fact_id)
    state = fc.fold((decode(r), r.actor, r.occurred_at.isoformat()) for r in stream.events)
    principal = ctx.principal
    own = facts.department_of_key(principal.code) if principal.role is Role.EXCHANGE else None
    return fc.owned(state, own, city=principal.role is Role.CITY), stream.version


async def correct_fact(command: CorrectFact, ctx: Context) -> Outcome:
    fact_id = str(command.fact_id)
    state, version = await _load(ctx, fact_id)
    event = fc.decide_correct(state, command.changes(), command.reason, _today().date())
    recorded = await ctx.uow.append(fact_id, [event], version, ctx.meta())
    ctx.counted([event])
    fc.evolve(state, event, ctx.principal.id, recorded[0].occurred_at.isoformat())
    return Outcome(201, {"event_id": str(recorded[0].id), **fc.view(state)})


async def withdraw_fact(command: WithdrawFact, ctx: Context) -> Outcome:
    fact_id = str(command.fact_id)
    state, version = await _load(ctx, fact_id)
    event = fc.decide_withdraw(state, command.reason, _today().date())
    recorded = await ctx.uow.append(fact_id, [event], version, ctx.meta())
    ctx.counted([event])
    fc.evolve(state, event, ctx.principal.id, recorded[0].occurred_at.isoformat())
    return Outcome(201, {"event_id": str(recorded[0].id), **fc.view(state)})
