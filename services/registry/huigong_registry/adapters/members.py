"""Loading many members at once, for the member reaction's batches; the only I/O of the roster.

The lock strings are those of `units.lock(conn, "member", key)`, so a batch and a single report
of the same person (the per-event path, or another registry process during a rollout) wait for
each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from huigong_events.upcasting import decode
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import row_to_event

from ..domain.members import AGGREGATE, MemberState, evolve


@dataclass
class LoadedMember:
    state: MemberState = field(default_factory=MemberState)
    version: int = 0
    hash: str | None = None  # of the stream's last event, which the next one chains to


async def lock_members(conn: DbConnection, keys: Sequence[str]) -> None:
    """Transaction-level advisory locks on every member key, in one statement. Taken in the order
    of the lock ids, so two batches sharing members queue behind each other instead of
    deadlocking."""
    if not keys:
        return
    await conn.execute(
        """SELECT pg_advisory_xact_lock(s.h) FROM (
               SELECT DISTINCT hashtextextended('registry:' || $1::text || ':' || k, 0) AS h
               FROM unnest($2::text[]) AS k
               ORDER BY h OFFSET 0) AS s""",
        AGGREGATE,
        list(keys),
    )


async def load_members(conn: DbConnection, keys: Sequence[str]) -> dict[str, LoadedMember]:
    """The state and stream version of each member key, by one read of all their streams.
    Keys without a stream are absent (a new member)."""
    if not keys:
        return {}
    rows = await conn.fetch(
        """SELECT * FROM events WHERE aggregate_type = $1 AND aggregate_id = ANY($2::text[])
           ORDER BY aggregate_id, aggregate_version""",
        AGGREGATE,
        list(keys),
    )
    members: dict[str, LoadedMember] = {}
    for row in rows:
        record = row_to_event(row)
        member = members.setdefault(record.aggregate_id, LoadedMember())
        member.state = evolve(member.state, decode(record))
        member.version = record.aggregate_version
        member.hash = record.hash
    return members
