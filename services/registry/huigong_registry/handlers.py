"""The registry's command handlers, run by the platform's command path inside the command's unit
of work: lock the aggregate (the same lock the registry's reactions take), load and fold its
stream, let the pure domain decide, append with the expected version. The policy check, the
idempotency key and the transaction are the command path's."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from huigong_events.base import DomainEvent
from huigong_events.grading import (
    Dimension,
    DimensionResult,
    EvaluatedKind,
    EvaluationSchemeSet,
    ResourceGraded,
)
from huigong_events.matters import MatterReceived, ServiceItemChanged, ServiceItemListed
from huigong_events.reference import SUBMITTERS
from huigong_events.registry import CriterionResult, PartnerRegistered, UnitRegistered
from huigong_events.upcasting import decode
from huigong_events.warmth import DeliveryStatus, fund_id
from huigong_platform import logs
from huigong_platform.application import Context, Handler
from huigong_platform.idempotency import Outcome
from huigong_platform.refusals import Conflict, FieldError, Forbidden
from huigong_platform.unit_of_work import UnitOfWork

from . import commands as c
from .adapters.records import Records
from .adapters.requesters import Requester
from .adapters.warmth import Recipients
from .adapters.working_calendar import published
from .commands import ConfirmRevocation, DismissRevocation, FileStatement
from .domain import (
    catalogue,
    certification,
    duty,
    grading,
    matters,
    partners,
    revocation,
    warmth,
    workdays,
    working_calendar,
)
from .domain import facilities as facility
from .domain import members as member
from .domain.dates import BEIJING
from .domain.units import check_registrable, decide_register
from .policy import acting_of, own_centre, unit_union

log = logs.get(__name__)

SOURCE: Final = "registry"


def today() -> date:
    return datetime.now(BEIJING).date()


def matter_answer(
    events: Sequence[DomainEvent], recorded_id: uuid.UUID, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a matter's command answers: its last event without the sealed requester."""
    data = events[-1].to_data()
    data.pop("requester_sealed", None)
    return {"type": events[-1].type, **data, **(extra or {}), "event_id": str(recorded_id)}


@dataclass
class Registry:
    # What the handlers read and keep besides the stream they decide on, within the command's
    # unit of work (PostgreSQL in the service, in memory in tests).
    records: Callable[[UnitOfWork], Records]
    min_building_years: int = certification.MIN_BUILDING_YEARS
    # 送温暖's recipients, sealed under the members' data keys (None: a registry without them).
    recipients: Callable[[UnitOfWork], Recipients] | None = None

    def handlers(self) -> Mapping[type, Handler]:
        return {
            c.RegisterUnit: self.register,
            c.RegisterPartner: self.register,
            c.ExitPartner: self.exit_partner,
            c.AssessUnit: self.assess_unit,
            c.CertifyUnit: self.certify_unit,
            c.RevokeUnit: self.revoke_unit,
            c.ExitUnit: self.exit_unit,
            c.CloseFacility: self.close_facility,
            c.EraseMember: self.erase_member,
            c.ListServiceItem: self.list_item,
            c.ChangeServiceItem: self.change_item,
            c.WithdrawServiceItem: self.withdraw_item,
            c.ReceiveMatter: self.receive_matter,
            c.TransferMatter: self.transfer_matter,
            c.AcceptMatter: self.accept_matter,
            c.RefuseTransfer: self.refuse_transfer,
            c.PublishWorkingCalendar: self.publish_calendar,
            c.SetDutyRoster: self.set_duty_roster,
            c.DoMatterStep: self.do_matter_step,
            c.CloseMatter: self.close_matter,
            c.RateMatter: self.rate_matter,
            c.EraseRequester: self.erase_requester,
            c.SetEvaluationScheme: self.set_scheme,
            c.EvaluateResource: self.evaluate,
            c.CompleteRectification: self.complete_rectification,
            c.ProposeExit: self.propose_exit,
            c.ConfirmExit: self.confirm_exit,
            c.DismissExit: self.dismiss_exit,
            c.FileGradingStatement: self.file_grading_statement,
            **self.warmth_handlers(),
            **REVOCATION_HANDLERS,
        }

    async def _load(self, ctx: Context, aggregate: str, aggregate_id: str) -> tuple[list[DomainEvent], int]:
        """The aggregate's events, under its lock, and its version."""
        await ctx.uow.lock(aggregate, aggregate_id)
        stream = await ctx.uow.read(aggregate, aggregate_id)
        return [decode(record) for record in stream.events], stream.version

    async def _record(
        self, ctx: Context, aggregate_id: str, events: Sequence[DomainEvent], version: int, status: int = 201
    ) -> Outcome:
        recorded = await ctx.uow.append(aggregate_id, events, version, ctx.meta(SOURCE))
        ctx.counted(events)
        return Outcome(status, {**events[-1].model_dump(mode="json"), "event_id": str(recorded[-1].id)})

    # --- units and partners ----------------------------------------------------------------------

    async def register(self, command: Any, ctx: Context) -> Outcome:
        event: UnitRegistered | PartnerRegistered
        if isinstance(command, UnitRegistered):
            event = UnitRegistered.model_validate(command.model_dump())
            aggregate_id = str(event.unit_id)
        else:
            event = PartnerRegistered.model_validate(command.model_dump())
            aggregate_id = str(event.partner_id)
        check_registrable(event, ctx.principal.id)
        stream = await ctx.uow.read(type(event).aggregate_type, aggregate_id)
        events = decide_register(stream.version, event)
        recorded = await ctx.uow.append(aggregate_id, events, stream.version, ctx.meta(SOURCE))
        ctx.counted(events)
        return Outcome(201, {"id": aggregate_id, "event_id": str(recorded[0].id)})

    async def exit_partner(self, command: c.ExitPartner, ctx: Context) -> Outcome:
        events, version = await self._load(ctx, partners.AGGREGATE, str(command.partner_id))
        state = partners.fold(events)
        decided = partners.decide_exit(state, command.reason, command.exited_on or today())
        return await self._record(ctx, str(command.partner_id), decided, version)

    async def _unit(self, ctx: Context, unit_id: uuid.UUID) -> tuple[certification.UnitState | None, int]:
        events, version = await self._load(ctx, certification.AGGREGATE, str(unit_id))
        return certification.fold(events), version

    async def assess_unit(self, command: c.AssessUnit, ctx: Context) -> Outcome:
        state, version = await self._unit(ctx, command.unit_id)
        # The event holds the results as recorded, not the request's stricter input type.
        results = [CriterionResult.model_validate(r.model_dump()) for r in command.results]
        events = certification.decide_assess(state, results, command.assessed_on or today(), today())
        return await self._record(ctx, str(command.unit_id), events, version)

    async def certify_unit(self, command: c.CertifyUnit, ctx: Context) -> Outcome:
        state, version = await self._unit(ctx, command.unit_id)
        on = command.certified_on or today()
        unit = certification.check_certifiable(state, on, self.min_building_years)
        number = await self.records(ctx.uow).next_certificate_no(unit.programme, on.year)
        events = certification.decide_certify(unit, number, on, self.min_building_years)
        return await self._record(ctx, str(command.unit_id), events, version)

    async def revoke_unit(self, command: c.RevokeUnit, ctx: Context) -> Outcome:
        state, version = await self._unit(ctx, command.unit_id)
        events = certification.decide_revoke(state, command.reason, command.on or today())
        return await self._record(ctx, str(command.unit_id), events, version)

    async def exit_unit(self, command: c.ExitUnit, ctx: Context) -> Outcome:
        state, version = await self._unit(ctx, command.unit_id)
        events = certification.decide_exit(state, command.reason, command.on or today())
        return await self._record(ctx, str(command.unit_id), events, version)

    # --- facilities and members --------------------------------------------------------------------

    async def close_facility(self, command: c.CloseFacility, ctx: Context) -> Outcome:
        events, version = await self._load(ctx, facility.FACILITY, str(command.facility_id))
        state = facility.fold(events)
        decided: list[DomainEvent] = facility.decide_close(
            state, command.closed_on or today(), command.reason
        )
        return await self._record(ctx, str(command.facility_id), decided, version)

    async def erase_member(self, command: c.EraseMember, ctx: Context) -> Outcome:
        # The same lock the enrolment reaction takes: a report being decided finishes first.
        events, version = await self._load(ctx, member.AGGREGATE, command.member_key)
        decided = member.decide_erasure(member.fold(events), command.member_key, command.request_ref, today())
        outcome = await self._record(ctx, command.member_key, decided, version)
        # Same transaction: the event and the key's destruction stand or fall together.
        shredded = await self.records(ctx.uow).destroy_member_key(command.member_key)
        log.info(
            "member erased",
            member_key=command.member_key,
            actor=ctx.principal.id,
            data_key_destroyed=shredded,
        )
        return outcome

    # --- 送温暖: lock the union's fund of the year, fold it, domain/warmth.py decides ----------------

    def warmth_handlers(self) -> Mapping[type, Handler]:
        return {
            c.SetWarmthBudget: self.set_warmth_budget,
            c.DeliverWarmth: self.deliver_warmth,
            c.ApproveWarmth: self.approve_warmth,
            c.DeclineWarmth: self.decline_warmth,
        }

    async def _fund(self, ctx: Context, union: str, year: int) -> tuple[warmth.Fund, int]:
        events, version = await self._load(ctx, warmth.AGGREGATE, fund_id(union, year))
        return warmth.fold(events), version

    async def set_warmth_budget(self, command: c.SetWarmthBudget, ctx: Context) -> Outcome:
        fund, version = await self._fund(ctx, command.union, command.year)
        events = warmth.decide_budget(
            fund,
            command.union,
            command.year,
            command.amount,
            command.approval_threshold,
            command.reason,
            today(),
        )
        if not events:
            return Outcome(200, {"union": command.union, "year": command.year, "amount": command.amount})
        return await self._record(ctx, fund_id(command.union, command.year), events, version, status=200)

    async def deliver_warmth(self, command: c.DeliverWarmth, ctx: Context) -> Outcome:
        union, year = ctx.principal.code, command.delivered_on.year
        # The member first (the lock erasure takes), then the fund: the key read below is the
        # member's key until this transaction ends.
        member_events, _ = await self._load(ctx, member.AGGREGATE, command.member_key)
        warmth.check_recipient(member.fold(member_events))
        fund, version = await self._fund(ctx, union, year)
        # Repeats by any union: the other unions' funds of the year, read without their lock (a
        # repeat recorded at the same instant by another union is the one case left unflagged).
        others = []
        for code in SUBMITTERS:
            if code != union:
                stream = await ctx.uow.read(warmth.AGGREGATE, fund_id(code, year))
                if stream.events:
                    others.append(warmth.fold(decode(record) for record in stream.events))
        if self.recipients is None:
            raise Forbidden(
                FieldError("recipient", "本服务不保存受助成员信息", "this registry keeps no recipients")
            )
        sealed = await self.recipients(ctx.uow).seal(
            command.member_key, command.recipient.name, command.recipient.phone
        )
        if sealed is None:
            raise Conflict(
                FieldError(
                    "member_key",
                    "该成员没有个人信息密钥（已删除），不能记录其送温暖",
                    "the member holds no personal data key (erased): no delivery can be recorded",
                )
            )
        given = warmth.DeliveryInput(
            delivery_id=command.delivery_id,
            union=union,
            member_key=command.member_key,
            key_id=sealed[0],
            recipient_sealed=sealed[1],
            occasion=command.occasion,
            festival=command.festival,
            form=command.form,
            amount=command.amount,
            delivered_on=command.delivered_on,
            evidence_ref=command.evidence_ref,
            repeat_reason=command.repeat_reason,
        )
        events = warmth.decide_delivery(fund, others, given)
        recorded = await ctx.uow.append(fund_id(union, year), events, version, ctx.meta(SOURCE))
        ctx.counted(events)
        data = events[-1].to_data()
        data.pop("recipient_sealed", None)
        log.info(
            "warmth delivered",
            member_key=command.member_key,
            union=union,
            amount=command.amount,
            status=data["status"],
            repeat=data["repeat_reason"] is not None,
        )
        # `approved` is also a unit's code (建设中): the answer labels its status itself.
        label = DeliveryStatus(data["status"]).label
        answer = {"type": events[-1].type, **data, "status_label": label, "event_id": str(recorded[-1].id)}
        return Outcome(201, answer)

    async def approve_warmth(self, command: c.ApproveWarmth, ctx: Context) -> Outcome:
        fund, version = await self._fund(ctx, command.union, command.year)
        events = warmth.decide_approval(fund, command.delivery_id, today())
        return await self._record(ctx, fund_id(command.union, command.year), events, version)

    async def decline_warmth(self, command: c.DeclineWarmth, ctx: Context) -> Outcome:
        fund, version = await self._fund(ctx, command.union, command.year)
        events = warmth.decide_decline(fund, command.delivery_id, command.reason, today())
        return await self._record(ctx, fund_id(command.union, command.year), events, version)

    # --- the 服务事项目录 ----------------------------------------------------------------------------

    async def _item(self, ctx: Context, item_id: uuid.UUID) -> tuple[catalogue.ItemState | None, int]:
        events, version = await self._load(ctx, catalogue.AGGREGATE, str(item_id))
        return catalogue.fold(events), version

    async def list_item(self, command: c.ListServiceItem, ctx: Context) -> Outcome:
        event = ServiceItemListed(
            item_id=command.item_id,
            name=command.name,
            category=command.category,
            providers=command.providers,
            time_limit_days=command.time_limit_days,
            steps=command.steps,
            commitment=command.commitment,
            listed_on=command.listed_on or today(),
        )
        _, version = await self._item(ctx, command.item_id)
        units = await self.records(ctx.uow).units(event.providers)
        events: list[DomainEvent] = catalogue.decide_list(version > 0, event, units)
        return await self._record(ctx, str(command.item_id), events, version)

    async def change_item(self, command: c.ChangeServiceItem, ctx: Context) -> Outcome:
        event = ServiceItemChanged(
            item_id=command.item_id,
            name=command.name,
            category=command.category,
            providers=command.providers,
            time_limit_days=command.time_limit_days,
            steps=command.steps,
            commitment=command.commitment,
            changed_on=command.changed_on or today(),
            reason=command.reason,
        )
        state, version = await self._item(ctx, command.item_id)
        units = await self.records(ctx.uow).units(event.providers)
        events: list[DomainEvent] = catalogue.decide_change(state, event, units)
        return await self._record(ctx, str(command.item_id), events, version, status=200)

    async def withdraw_item(self, command: c.WithdrawServiceItem, ctx: Context) -> Outcome:
        state, version = await self._item(ctx, command.item_id)
        events: list[DomainEvent] = catalogue.decide_withdraw(
            state, command.item_id, command.reason, command.withdrawn_on or today()
        )
        return await self._record(ctx, str(command.item_id), events, version)

    # --- service matters (联动服务) -------------------------------------------------------------------

    async def _matter(self, ctx: Context, matter_id: uuid.UUID) -> tuple[matters.MatterState | None, int]:
        events, version = await self._load(ctx, matters.AGGREGATE, str(matter_id))
        return matters.fold(events), version

    async def _matter_record(
        self, ctx: Context, matter_id: uuid.UUID, events: Sequence[DomainEvent], version: int
    ) -> Outcome:
        recorded = await ctx.uow.append(str(matter_id), events, version, ctx.meta(SOURCE))
        ctx.counted(events)
        return Outcome(201, matter_answer(events, recorded[-1].id))

    async def receive_matter(self, command: c.ReceiveMatter, ctx: Context) -> Outcome:
        centre_id = command.centre or own_centre(ctx.principal)
        if centre_id is None:
            raise Forbidden(
                FieldError("centre", "只有职工服务中心可以受理", "only a service centre receives matters")
            )
        received_on = command.received_on or today()
        # The published years are locked before the matter, as a publication locks its year before
        # the open matters it revises: a receipt and a publication never wait on each other in a
        # circle, and no matter is received by a calendar being replaced under it.
        item = await self.records(ctx.uow).item(command.item_id)
        years = workdays.years_counted(received_on, item.time_limit_days if item else 1)
        for year in years:
            await ctx.uow.lock(working_calendar.AGGREGATE, str(year))
        arrangements = await published(ctx.uow.read, years)
        _, version = await self._matter(ctx, command.matter_id)
        if version:
            raise Conflict(FieldError("matter_id", "该事项已受理", "the matter was received already"))
        records = self.records(ctx.uow)
        centre = await records.handler(centre_id)
        matter_no = await records.next_matter_no(received_on, centre.area if centre else "000000")
        requester = Requester(command.requester.name, command.requester.phone, command.request)
        key_id, sealed = await records.seal_requester(command.matter_id, requester)
        events = matters.decide_receive(
            matter_id=command.matter_id,
            matter_no=matter_no,
            item=item,
            item_id=command.item_id,
            centre=centre,
            acting=acting_of(ctx.principal),
            channel=command.channel,
            requester_sealed=sealed,
            key_id=key_id,
            received_on=received_on,
            today=today(),
            published=arrangements,
        )
        received = events[0]
        assert isinstance(received, MatterReceived)
        if received.deadline_provisional:
            log.warning(
                "deadline provisional: the holiday calendar does not cover its year yet",
                matter_no=matter_no,
                deadline=received.deadline.isoformat(),
                calendar_last_year=workdays.LAST_YEAR,
            )
        # 首问: the answer names who is on duty at the window that day, by the rosters set so far.
        rosters = duty.rosters(decode(r) for r in (await ctx.uow.read(duty.AGGREGATE, str(centre_id))).events)
        recorded = await ctx.uow.append(str(command.matter_id), events, 0, ctx.meta(SOURCE))
        ctx.counted(events)
        extra = {"matter_id": str(command.matter_id), "on_duty": duty.on_duty(rosters, received_on)}
        return Outcome(201, matter_answer(events, recorded[-1].id, extra))

    async def transfer_matter(self, command: c.TransferMatter, ctx: Context) -> Outcome:
        state, version = await self._matter(ctx, command.matter_id)
        records = self.records(ctx.uow)
        target = await records.handler(command.to)
        item = await records.item(state.item_id) if state else None
        events = matters.decide_transfer(
            state,
            command.matter_id,
            acting_of(ctx.principal),
            to=command.to,
            target=target,
            item=item,
            reason=command.reason,
            on=command.transferred_on or today(),
            today=today(),
        )
        return await self._matter_record(ctx, command.matter_id, events, version)

    async def accept_matter(self, command: c.AcceptMatter, ctx: Context) -> Outcome:
        state, version = await self._matter(ctx, command.matter_id)
        events = matters.decide_accept(
            state, command.matter_id, acting_of(ctx.principal), command.accepted_on or today(), today()
        )
        return await self._matter_record(ctx, command.matter_id, events, version)

    async def publish_calendar(self, command: c.PublishWorkingCalendar, ctx: Context) -> Outcome:
        """Record the year's arrangement, then count again every open matter whose deadline can
        reach that year, in the same transaction: the answer lists the matters revised."""
        year = command.year
        _, version = await self._load(ctx, working_calendar.AGGREGATE, str(year))
        decided = working_calendar.decide_publish(
            year, command.holidays, command.adjusted_workdays, command.reason
        )
        recorded = await ctx.uow.append(str(year), decided, version, ctx.meta(SOURCE))
        ctx.counted(decided)
        on = today()
        revised: list[dict[str, Any]] = []
        # A time limit is at most 60 working days, so only matters received that year or the one
        # before can count a day of it.
        for matter_id in await self.records(ctx.uow).open_matters(year - 1, year):
            state, matter_version = await self._matter(ctx, matter_id)
            if state is None:
                continue
            arrangements = await published(
                ctx.uow.read, workdays.years_counted(state.received_on, state.time_limit_days)
            )
            revision = working_calendar.revise(state, year, arrangements, on)
            if not revision:
                continue
            await ctx.uow.append(str(matter_id), revision, matter_version, ctx.meta(SOURCE))
            ctx.counted(revision)
            revised.append(revision[0].model_dump(mode="json"))
        log.info("working calendar published", year=year, matters_revised=len(revised))
        answer = {**decided[0].model_dump(mode="json"), "event_id": str(recorded[-1].id), "revised": revised}
        return Outcome(201, answer)

    async def set_duty_roster(self, command: c.SetDutyRoster, ctx: Context) -> Outcome:
        _, version = await self._load(ctx, duty.AGGREGATE, str(command.centre_id))
        decided = duty.decide_roster(
            centre_id=command.centre_id,
            centre=await self.records(ctx.uow).handler(command.centre_id),
            own=own_centre(ctx.principal),
            public_phone=command.public_phone,
            shifts=command.shifts,
            effective_from=command.effective_from or today(),
            today=today(),
            reason=command.reason,
        )
        recorded = await ctx.uow.append(str(command.centre_id), decided, version, ctx.meta(SOURCE))
        ctx.counted(decided)
        return Outcome(200, {**decided[0].model_dump(mode="json"), "event_id": str(recorded[-1].id)})

    async def refuse_transfer(self, command: c.RefuseTransfer, ctx: Context) -> Outcome:
        state, version = await self._matter(ctx, command.matter_id)
        events = matters.decide_refuse(
            state,
            command.matter_id,
            acting_of(ctx.principal),
            command.reason,
            command.refused_on or today(),
            today(),
        )
        return await self._matter_record(ctx, command.matter_id, events, version)

    async def do_matter_step(self, command: c.DoMatterStep, ctx: Context) -> Outcome:
        state, version = await self._matter(ctx, command.matter_id)
        events = matters.decide_step(
            state,
            command.matter_id,
            acting_of(ctx.principal),
            command.step,
            command.note,
            command.done_on or today(),
            today(),
        )
        return await self._matter_record(ctx, command.matter_id, events, version)

    async def close_matter(self, command: c.CloseMatter, ctx: Context) -> Outcome:
        state, version = await self._matter(ctx, command.matter_id)
        events = matters.decide_close(
            state,
            command.matter_id,
            acting_of(ctx.principal),
            command.outcome,
            command.note,
            command.closed_on or today(),
            today(),
        )
        return await self._matter_record(ctx, command.matter_id, events, version)

    async def rate_matter(self, command: c.RateMatter, ctx: Context) -> Outcome:
        state, version = await self._matter(ctx, command.matter_id)
        events = matters.decide_rate(
            state,
            command.matter_id,
            acting_of(ctx.principal),
            command.score,
            command.comment,
            command.rated_on or today(),
            today(),
        )
        return await self._matter_record(ctx, command.matter_id, events, version)

    async def erase_requester(self, command: c.EraseRequester, ctx: Context) -> Outcome:
        state, version = await self._matter(ctx, command.matter_id)
        events = matters.decide_erase(
            state, command.matter_id, acting_of(ctx.principal), command.request_ref, today()
        )
        # The key goes in the same transaction as the event that says so.
        await self.records(ctx.uow).erase_requester(command.matter_id)
        return await self._matter_record(ctx, command.matter_id, events, version)

    # --- 绩效评估、分级评定 -------------------------------------------------------------------------

    async def set_scheme(self, command: c.SetEvaluationScheme, ctx: Context) -> Outcome:
        # The year's lock is the one an evaluation of that year takes: a scheme never changes
        # under an evaluation that is computing with it.
        _, version = await self._load(ctx, grading.SCHEME_AGGREGATE, grading.scheme_id(command.year))
        event = EvaluationSchemeSet(
            year=command.year,
            weights=command.weights,
            bands=command.bands,
            scale_targets=command.scale_targets,
            rectification_days=command.rectification_days,
            reason=command.reason,
            set_on=today(),
        )
        graded = await self.records(ctx.uow).graded_in(command.year)
        decided = grading.decide_scheme(event, graded, today())
        recorded = await ctx.uow.append(grading.scheme_id(command.year), decided, version, ctx.meta(SOURCE))
        ctx.counted(decided)
        body = {**event.model_dump(mode="json"), "version": version + 1, "event_id": str(recorded[-1].id)}
        return Outcome(200, body)

    async def _subject(
        self, ctx: Context, subject_id: uuid.UUID, lock: bool = False
    ) -> grading.Subject | None:
        """The evaluated base (a unit's stream) or partner (a partner's stream)."""
        for aggregate, subject_of in (
            (certification.AGGREGATE, grading.subject_of_unit),
            (partners.AGGREGATE, grading.subject_of_partner),
        ):
            if lock:
                await ctx.uow.lock(aggregate, str(subject_id))
            stream = await ctx.uow.read(aggregate, str(subject_id))
            if stream.events:
                return subject_of([decode(record) for record in stream.events])
        return None

    async def _grading(
        self, ctx: Context, subject_id: uuid.UUID
    ) -> tuple[grading.GradingState, int, grading.Subject | None]:
        events, version = await self._load(ctx, grading.AGGREGATE, str(subject_id))
        return grading.fold(events), version, await self._subject(ctx, subject_id)

    async def _graded(
        self, ctx: Context, subject_id: uuid.UUID, events: Sequence[DomainEvent], version: int
    ) -> Outcome:
        recorded = await ctx.uow.append(str(subject_id), events, version, ctx.meta(SOURCE))
        ctx.counted(events)
        body: dict[str, Any] = {
            "type": events[0].type,
            **events[0].to_data(),
            # What the step brought with it (整改, 提请退出), in the order recorded.
            "consequences": [{"type": e.type, **e.to_data()} for e in events[1:]],
            "event_id": str(recorded[0].id),
        }
        return Outcome(201, body)

    async def evaluate(self, command: c.EvaluateResource, ctx: Context) -> Outcome:
        scheme_events, _ = await self._load(ctx, grading.SCHEME_AGGREGATE, grading.scheme_id(command.year))
        scheme = grading.fold_scheme(command.year, scheme_events)
        state, version, subject = await self._grading(ctx, command.subject_id)
        evaluated_on = command.evaluated_on or today()
        measured: list[DimensionResult] = []
        if subject is not None:
            window = grading.Window.of(command.year, evaluated_on)
            records = await self.records(ctx.uow).measured_events()
            measured = grading.measure(subject, window, scheme.scale_targets, records)
        social = DimensionResult(
            dimension=Dimension.社会效应,
            # Two decimal places, as the computed scores, so that a replay compares like with like.
            score=command.social.score.quantize(grading.CENT),
            evidence=command.social.evidence,
            entered_by=ctx.principal.id,
        )
        events = grading.decide_evaluate(subject, state, scheme, evaluated_on, measured, social)
        graded = events[0]
        assert isinstance(graded, ResourceGraded)
        log.info(
            "base or partner graded",
            subject_id=str(command.subject_id),
            year=command.year,
            grade=graded.grade.value,
            score=str(graded.score),
            scheme_version=scheme.version,
            consequences=[e.type for e in events[1:]],
        )
        return await self._graded(ctx, command.subject_id, events, version)

    async def complete_rectification(self, command: c.CompleteRectification, ctx: Context) -> Outcome:
        state, version, subject = await self._grading(ctx, command.subject_id)
        events = grading.decide_complete_rectification(
            subject, state, command.evidence, command.completed_on or today()
        )
        return await self._graded(ctx, command.subject_id, events, version)

    async def propose_exit(self, command: c.ProposeExit, ctx: Context) -> Outcome:
        state, version, subject = await self._grading(ctx, command.subject_id)
        events = grading.decide_propose_exit(subject, state, today())
        return await self._graded(ctx, command.subject_id, events, version)

    async def confirm_exit(self, command: c.ConfirmExit, ctx: Context) -> Outcome:
        events, version = await self._load(ctx, grading.AGGREGATE, str(command.subject_id))
        state = grading.fold(events)
        # The base's or partner's own stream takes its exit: under its lock, as every writer of it.
        subject = await self._subject(ctx, command.subject_id, lock=True)
        on = today()
        decided = grading.decide_confirm_exit(subject, state, command.reason, on)
        assert subject is not None
        reason = f"绩效评估退出：{command.reason}"
        if subject.kind is EvaluatedKind.服务职工基地:
            unit, unit_version = await self._unit(ctx, command.subject_id)
            exited, exit_version = certification.decide_exit(unit, reason, on), unit_version
        else:
            partner_events, exit_version = await self._load(ctx, partners.AGGREGATE, str(command.subject_id))
            exited = partners.decide_exit(partners.fold(partner_events), reason, on)
        outcome = await self._graded(ctx, command.subject_id, decided, version)
        recorded = await ctx.uow.append(str(command.subject_id), exited, exit_version, ctx.meta(SOURCE))
        ctx.counted(exited)
        consequences = [
            {"type": e.type, **e.to_data(), "event_id": str(r.id)}
            for e, r in zip(exited, recorded, strict=True)
        ]
        return Outcome(outcome.status_code, {**outcome.body, "consequences": consequences})

    async def dismiss_exit(self, command: c.DismissExit, ctx: Context) -> Outcome:
        state, version, subject = await self._grading(ctx, command.subject_id)
        events = grading.decide_dismiss_exit(subject, state, command.reason, today())
        return await self._graded(ctx, command.subject_id, events, version)

    async def file_grading_statement(self, command: c.FileGradingStatement, ctx: Context) -> Outcome:
        state, version, subject = await self._grading(ctx, command.subject_id)
        # Only the unit's own union: another's base or partner is answered as none.
        if subject is not None and not unit_union(ctx.principal, subject.area):
            subject = None
        events = grading.decide_statement(subject, state, command.year, command.statement, today())
        return await self._graded(ctx, command.subject_id, events, version)


# --- a revocation case: lock the unit (the lock the registry's reaction takes when a finding
# suspends it), fold its stream into the unit and its cases, domain/revocation.py decides, append
# at the expected version; each step is dated today (Beijing), never back- or forward-dated ------


async def _load(
    ctx: Context, unit_id: uuid.UUID
) -> tuple[certification.UnitState | None, revocation.Cases, int]:
    await ctx.uow.lock(certification.AGGREGATE, str(unit_id))
    stream = await ctx.uow.read(certification.AGGREGATE, str(unit_id))
    events = [decode(record) for record in stream.events]
    return certification.fold(events), revocation.fold(events), stream.version


async def _record(ctx: Context, unit_id: uuid.UUID, events: Sequence[DomainEvent], version: int) -> Outcome:
    recorded = await ctx.uow.append(str(unit_id), events, version, ctx.meta(SOURCE))
    ctx.counted(events)
    return Outcome(201, {**events[-1].model_dump(mode="json"), "event_id": str(recorded[-1].id)})


def _today() -> datetime:
    return datetime.now(BEIJING)


async def file_statement(command: FileStatement, ctx: Context) -> Outcome:
    unit, cases, version = await _load(ctx, command.unit_id)
    # Only the unit's own union: another's unit is answered as if it had no case.
    if unit is not None and not unit_union(ctx.principal, unit.area):
        unit = None
    events = revocation.decide_statement(unit, cases, command.statement, _today().date())
    return await _record(ctx, command.unit_id, events, version)


async def confirm_revocation(command: ConfirmRevocation, ctx: Context) -> Outcome:
    unit, cases, version = await _load(ctx, command.unit_id)
    events = revocation.decide_confirm(unit, cases, command.reason, _today().date())
    return await _record(ctx, command.unit_id, events, version)


async def dismiss_revocation(command: DismissRevocation, ctx: Context) -> Outcome:
    unit, cases, version = await _load(ctx, command.unit_id)
    events = revocation.decide_dismiss(unit, cases, command.reason, _today().date())
    return await _record(ctx, command.unit_id, events, version)


REVOCATION_HANDLERS: Mapping[type, Handler] = {
    FileStatement: file_statement,
    ConfirmRevocation: confirm_revocation,
    DismissRevocation: dismiss_revocation,
}
