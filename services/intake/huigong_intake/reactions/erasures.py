"""Crypto-shredding on the registry's MemberErased: intake destroys the member's data key.

Why here: intake seals name and phone at the edge, in the transaction that records the
enrolment (one COPY for a 10,000-row batch), so it holds the per-member data keys; the registry,
which keeps the roster and decides erasure, never sees personal data. The registry records
MemberErased; this consumer deletes the key row when it reads the event.

It runs on the platform's runner, not faust: the delete and the checkpoint commit in one
PostgreSQL transaction, so an erasure is carried out exactly once even across a crash, and a
redelivered MemberErased deletes nothing more. It lives in reactions/, not projections/, because
it is a side effect and not a read model: `huigong replay -s intake` must not run it (a shadow
schema has no keys to destroy) and it has no table to compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.registry import MemberErased
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform import logs
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..adapters.vault import Vault

log = logs.get(__name__)


class ErasuresReaction(Projection):
    name: ClassVar[str] = "intake.erasures"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("member"),)
    handles: ClassVar[frozenset[str]] = frozenset({"MemberErased"})

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        await self.apply_batch(conn, [(event, record)])

    async def apply_batch(
        self, conn: DbConnection, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        erased = [(e.member_key, r) for e, r in items if isinstance(e, MemberErased)]
        destroyed = await Vault.destroy(conn, [m for m, _ in erased])
        for member_key, record in erased:
            # The member key is a keyed hash, not personal data; the request's reference is not logged.
            log.info(
                "member data key destroyed",
                member_key=member_key,
                correlation_id=record.correlation_id,
            )
        if erased and destroyed < len(erased):
            log.info("member data keys already gone", erased=len(erased), destroyed=destroyed)

    async def reset(self, conn: DbConnection) -> None:
        """Nothing to empty: a destroyed key cannot be brought back, and must not be."""
