"""Review's decisions as the registry answers them, as a faust-streaming agent on review's topic
and intake's applications topic:

- ApplicationSubmitted / ApplicationAmended / ApplicationWithdrawn: the registry keeps the facts
  of the application it will need (table `applications`, domain/applications.py): programme,
  form, and for a 公益伙伴 the partner's name, credit code and type (类型), which review's
  approval does not carry.
- ConstructionApproved of a 幸福企业, 服务职工综合体 or 服务职工基地: the application becomes a unit
  (UnitRegistered, origin application, id uuid5 of the application id), once.
- ConstructionApproved of a 公益伙伴: the application becomes a partner (PartnerRegistered, with
  the type from the form, id uuid5 of the application id), once, never a unit.
- ExclusionFound against the application of a certified unit: the title is suspended and a
  revocation case opened (or the open case joined), once per finding; a registrar decides it
  (domain/revocation.py). Nothing is revoked without a person.
- ExclusionCleared of a finding in the open case: the finding leaves the case; the last one
  leaving restores the title.

Ordering. The application is always submitted before review can approve it, but intake's and
review's topics are separate partitions read at their own pace (another registry replica may
even hold them), so a 公益伙伴 approval can arrive first. It is then parked in
`approvals_awaiting_application` (nothing guessed, nothing lost, a warning logged) and decided
when the application event arrives, as it would have been: the approval's day, actor,
correlation id, and the approval as cause. Both paths take the application's advisory lock
first, so whichever comes second sees the first. Units need nothing the approval lacks and never
wait. Both topics feed one agent under the reaction's existing name, so its checkpoints on
review's topic stay valid (a new name would re-decide every past finding against today's state);
intake's topic, new to it, is read from the beginning once.

Exactly once in effect: the runner's fence drops a redelivered trigger; the unit and partner ids
are derived from the application, their streams say whether they exist, a parked approval is
parked once, and the advisory locks serialise this agent with registrars' commands."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.intake import ApplicationAmended, ApplicationSubmitted, ApplicationWithdrawn
from huigong_events.review import ConstructionApproved, ExclusionCleared, ExclusionFound
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform import logs
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Metadata, Stream
from huigong_platform.reactions import Reaction, ReactionContext

from ..adapters.applications import (
    AwaitingApproval,
    awaiting_approval,
    load_application,
    park_approval,
    release_approval,
    save_application,
)
from ..adapters.units import (
    load_unit,
    lock,
    unit_of_attached_application,
    unit_of_centre_or_enterprise,
)
from ..adapters.working_calendar import published
from ..domain import applications, partners, revocation, workdays
from ..domain.applications import Becomes, KnownApplication, becomes
from ..domain.certification import (
    decide_attach,
    decide_on_approval,
    takes_approvals,
    unit_id_of_application,
)
from ..domain.dates import beijing_day

log = logs.get(__name__)

ApplicationEvent = ApplicationSubmitted | ApplicationAmended | ApplicationWithdrawn


class ReviewDecisionsReaction(Reaction):
    name: ClassVar[str] = "registry.review-decisions"
    service: ClassVar[str] = "registry"
    topics: ClassVar[tuple[Topic, ...]] = (
        topic_for_aggregate("review"),
        topic_for_aggregate(applications.AGGREGATE),
    )
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "ConstructionApproved",
            "ExclusionFound",
            "ExclusionCleared",
            "ApplicationSubmitted",
            "ApplicationAmended",
            "ApplicationWithdrawn",
        }
    )

    def __init__(self, statement_days: int = revocation.STATEMENT_DAYS) -> None:
        # Working days the unit's union has for a statement once its title is suspended.
        self.statement_days = statement_days

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        match event:
            case ApplicationSubmitted() | ApplicationAmended() | ApplicationWithdrawn():
                await self._on_application(context, event)
            case ConstructionApproved():
                await self._on_approval(context, event)
            case ExclusionFound():
                await self._on_finding(context, event)
            case ExclusionCleared():
                await self._on_cleared(context, event)

    async def _on_application(self, context: ReactionContext, event: ApplicationEvent) -> None:
        conn = context.conn
        await lock(conn, applications.AGGREGATE, str(event.application_id))
        known = applications.evolve(await load_application(conn, event.application_id), event)
        if known is None:
            return  # an amendment or withdrawal of an application never submitted: nothing to keep
        await save_application(conn, known)
        waiting = await awaiting_approval(conn, event.application_id)
        if waiting is None:
            return
        if becomes(waiting.approval, known) is not Becomes.PARTNER:
            log.error(
                "parked approval still undecidable",
                application_id=str(event.application_id),
                programme=known.programme.value,
                form_kind=known.form_kind,
            )
            return
        meta = Metadata(
            actor=waiting.actor,
            source=self.service,
            correlation_id=waiting.correlation_id,
            causation_id=str(waiting.approval_event_id),
        )
        await self._register_partner(conn, waiting.approval, known, waiting.approved_on, meta)
        await release_approval(conn, event.application_id)

    async def _on_approval(self, context: ReactionContext, approval: ConstructionApproved) -> None:
        conn = context.conn
        await lock(conn, applications.AGGREGATE, str(approval.application_id))
        known = await load_application(conn, approval.application_id)
        on = beijing_day(context.trigger.occurred_at)
        match becomes(approval, known):
            case Becomes.UNIT:
                unit_id = unit_id_of_application(approval.application_id)
                loaded = await load_unit(conn, self.store, unit_id)
                if loaded.version == 0 and await self._attached(context, approval, on):
                    return
                events = decide_on_approval(loaded.version > 0, approval, on)
                if events:
                    await context.append(str(unit_id), events, loaded.version)
                    log.info(
                        "unit registered", unit_id=str(unit_id), application_id=str(approval.application_id)
                    )
            case Becomes.PARTNER if known is not None:
                meta = Metadata(
                    actor=context.actor,
                    source=context.source,
                    correlation_id=context.trigger.correlation_id,
                    causation_id=str(context.trigger.id),
                )
                await self._register_partner(conn, approval, known, on, meta)
            case Becomes.AWAIT:
                waiting = AwaitingApproval(
                    approval, on, context.trigger.id, context.trigger.correlation_id, context.actor
                )
                if await park_approval(conn, waiting):
                    log.warning(
                        "approval awaits its application",
                        application_id=str(approval.application_id),
                        programme=approval.programme.value,
                    )

    async def _attached(self, context: ReactionContext, approval: ConstructionApproved, on: date) -> bool:
        """Attach the approval to the unit its centre or enterprise already is, if it is one."""
        existing_id = await unit_of_centre_or_enterprise(context.conn, approval)
        if existing_id is None:
            return False
        existing = await load_unit(context.conn, self.store, existing_id)
        if existing.state is None or not takes_approvals(existing.state, approval.programme):
            return False
        events = decide_attach(existing.state, approval, on)
        if events:
            await context.append(str(existing_id), events, existing.version)
            log.info(
                "approval attached to an existing unit",
                unit_id=str(existing_id),
                application_id=str(approval.application_id),
            )
        return True

    async def _register_partner(
        self,
        conn: DbConnection,
        approval: ConstructionApproved,
        known: KnownApplication,
        on: date,
        meta: Metadata,
    ) -> None:
        partner_id = str(partners.partner_id_of_application(approval.application_id))
        await lock(conn, partners.AGGREGATE, partner_id)
        stream = await self.store.read(partners.AGGREGATE, partner_id, conn=conn)
        events = partners.decide_on_approval(stream.version > 0, approval, known, on)
        if events:
            await self.store.append(partner_id, events, stream.version, meta, conn=conn)
            log.info(
                "partner registered",
                partner_id=partner_id,
                application_id=str(approval.application_id),
                category=known.partner_category.value if known.partner_category else None,
            )

    async def _on_finding(self, context: ReactionContext, finding: ExclusionFound) -> None:
        unit_id = await unit_of_attached_application(
            context.conn, finding.application_id
        ) or unit_id_of_application(finding.application_id)
        loaded = await load_unit(context.conn, self.store, unit_id)
        on = beijing_day(context.trigger.occurred_at)

        async def read(aggregate_type: str, aggregate_id: str) -> Stream:
            return await self.store.read(aggregate_type, aggregate_id, conn=context.conn)

        # The statement deadline counts by the years the city has published, as matters do.
        arrangements = await published(read, workdays.years_counted(on, self.statement_days))
        events = revocation.decide_on_finding(
            loaded.state, revocation.fold(loaded.events), finding, on, self.statement_days, arrangements
        )
        if events:
            await context.append(str(unit_id), events, loaded.version)
            log.info("title suspended", unit_id=str(unit_id), finding_id=str(finding.finding_id))

    async def _on_cleared(self, context: ReactionContext, cleared: ExclusionCleared) -> None:
        unit_id = await unit_of_attached_application(
            context.conn, cleared.application_id
        ) or unit_id_of_application(cleared.application_id)
        loaded = await load_unit(context.conn, self.store, unit_id)
        events = revocation.decide_on_cleared(
            loaded.state, revocation.fold(loaded.events), cleared, beijing_day(context.trigger.occurred_at)
        )
        if events:
            await context.append(str(unit_id), events, loaded.version)
            log.info(
                "revocation ground cleared",
                unit_id=str(unit_id),
                finding_id=str(cleared.finding_id),
                restored=any(e.type == "CertificationRestored" for e in events),
            )
