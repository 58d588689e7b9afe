"""`huigong replay`: rebuild a service's projections from Kafka into a shadow schema and compare.

For each projection (consumer) of the service:
1. a shadow schema `<service>_replay_<id>` is created with the admin DSN and the service's
   migrations (platform's, then the service's) are run in it with `search_path` set to it; live
   tables that no migration creates (ad-hoc tables of plug-in or test projections) are copied
   with `CREATE TABLE … (LIKE live.t INCLUDING ALL)`;
2. the topics of all the consumers replayed together (one service's, or several services' with
   `replay_services`) are read once from offset 0 to a snapshot of their end (`scan.py`), each
   record is decoded once and fed, in batches, through a fresh instance of every projection that
   reads its topic, with the runner's own `apply_with_checkpoints`/`Applier` (same version
   dedupe, dead-lettering and checkpoints as the live runner) and `search_path` = its shadow
   schema. The consumers apply a batch concurrently, each in its own transaction on its own
   connection, while the next batch is read and decoded. Their appliers are exclusive: the
   shadow is new and only the replay writes to it, so versions and open dead letters are kept
   in memory and `applied_versions` is written once at the end, in key order (only for `swap`
   or `keep`: nothing else reads it);
3. every table the projection owns is compared with the live one by row count and checksum
   (`md5` of the rows' text, sorted). The tables a projection owns: its `tables` attribute when it
   has one (or `table`), otherwise every shadow table whose content the replay changed, minus the
   platform's bookkeeping tables (checkpoints, applied_versions, dead letters, parked, events,
   outbox, idempotency keys, schema_migrations). A projection table the replay left empty is
   therefore not compared unless declared;
4. the shadow schema is dropped unless `keep`.

Cut-offs: `until_offset` N reads offsets below N in every partition. `as_of` a date D keeps the
events dated up to D, on the date the projection itself goes by:
- a projection that counts facts on the business date they state (metrics: 入会日期, 认定日期,
  开业日期…) declares it with `business_day(event, record) -> date | None` (`DatedProjection`), and
  the replay asks it for every event it handles: kept when that day is D or earlier. So the
  replay at D holds exactly the facts `GET /api/progress?as_of=D` sums, not the ones recorded by
  D: the registry records a member when the report arrives, whatever 入会日期 it gives, and the
  seed registers the 2022 cohort years later. An aggregate's history is cut as a whole from its
  first event dated after D (later events depend on it, and a hole would be a version gap); its
  events the projection does not handle are kept up to there, as they change none of its tables.
  An event dated D or earlier that follows one dated later (a date running backwards, e.g. a
  second report giving an earlier 入会日期) is cut with it and counted in `out_of_order`: the
  live figures count it on its date, so a figure that differs is explained there;
- any other projection keeps the events whose `occurred_at` is before the end of D in
  Asia/Shanghai (00:00 of the next day, +08:00).
An as-of replay is expected to differ from live: it reports, it does not fail. A projection with
`figures(conn, as_of) -> list[Figure]` (`FigureProjection`) reports the figures of D read from its
shadow tables (metrics: every metric's actual city-wide and per area, as the progress API gives
them for D), so an auditor compares them with what the service reported for that date.

`swap` replaces the live tables in one transaction: the consumer's live checkpoint rows are
locked (the running consumer waits at its next batch), the swap is refused if live is already
past the replayed end on any partition, the live projection tables are locked, truncated and
filled from the shadow ones, and the consumer's `checkpoints`/`applied_versions` rows are set to
the replay's, so the runner resumes after the replayed end. Stop the service (or restart it after
the swap) to be safe: a running consumer keeps its in-memory Kafka position. Not with `as_of`
(records after the cut would never be applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import asyncpg
from aiokafka import TopicPartition

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_platform.database import DbConnection, migrations_for
from huigong_platform.subscriptions import (
    AggregateKey,
    Applier,
    Decoded,
    Projection,
    RawRecord,
    _Decoded,
    apply_with_checkpoints,
)

from .common import NullReporter, OpsError, Reporter, Stopwatch, check_service
from .registry import ProjectionFactory, discover, factory_for
from .scan import PartitionRange, open_consumer, partition_ranges, scan

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOOKKEEPING = frozenset(
    {
        "checkpoints",
        "applied_versions",
        "dead_letters",
        "parked",
        "dead_letter_actions",
        "events",
        "outbox",
        "idempotency_keys",
        "schema_migrations",
    }
)


def cutoff_of(as_of: date) -> datetime:
    """The first instant after `as_of` in Asia/Shanghai: events before it belong to that day."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=SHANGHAI)


@runtime_checkable
class DatedProjection(Protocol):
    """A projection that counts each event on the business day it states: an as-of replay cuts on
    that day (None: the event is not counted, and is kept)."""

    def business_day(self, event: DomainEvent, record: RecordedEvent) -> date | None: ...


class Figure(Protocol):
    """One figure of a projection as of the replayed day, read from the shadow tables: its value
    city-wide and per area (area code → value). A named tuple of the service's does."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def by_area(self) -> Mapping[str, float]: ...


def figure_json(figure: Figure) -> dict[str, Any]:
    return {
        "name": figure.name,
        "title": figure.title,
        "value": figure.value,
        "by_area": dict(figure.by_area),
    }


@runtime_checkable
class FigureProjection(Protocol):
    """A projection that reports its figures as of a day from its tables (`conn`'s search_path is
    the schema to read)."""

    async def figures(self, conn: DbConnection, as_of: date) -> Sequence[Figure]: ...


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class TableComparison:
    table: str
    live_rows: int | None
    replay_rows: int
    live_checksum: str | None
    replay_checksum: str

    @property
    def equal(self) -> bool:
        return self.live_rows == self.replay_rows and self.live_checksum == self.replay_checksum

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "live_rows": self.live_rows,
            "replay_rows": self.replay_rows,
            "equal": self.equal,
            "live_checksum": self.live_checksum,
            "replay_checksum": self.replay_checksum,
        }


@dataclass
class ConsumerReplay:
    consumer: str
    shadow_schema: str
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    cut: int = 0
    elapsed: float = 0.0
    tables: list[TableComparison] = field(default_factory=list)
    cut_on: str | None = None  # as of a day: "business_day" (the projection's dates) or "occurred_at"
    out_of_order: int = 0
    figures: Sequence[Figure] = ()
    swapped: bool = False
    kept: bool = False

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "shadow_schema": self.shadow_schema if self.kept else None,
            "records": self.records,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "cut": self.cut,
            "cut_on": self.cut_on,
            "out_of_order": self.out_of_order,
            "elapsed_s": round(self.elapsed, 3),
            "records_per_s": round(self.rate, 1),
            "equal": self.equal,
            "swapped": self.swapped,
            "tables": [t.to_json() for t in self.tables],
            "figures": [figure_json(f) for f in self.figures],
        }


@dataclass
class ReplayReport:
    service: str
    live_schema: str
    as_of: date | None
    until_offset: int | None
    consumers: list[ConsumerReplay] = field(default_factory=list)

    @property
    def cut(self) -> bool:
        return self.as_of is not None

    @property
    def equal(self) -> bool:
        return all(c.equal for c in self.consumers)

    @property
    def ok(self) -> bool:
        """Exit 0: equal, or an as-of replay (a difference from live is expected)."""
        return self.cut or self.equal

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "live_schema": self.live_schema,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "cutoff": cutoff_of(self.as_of).isoformat() if self.as_of else None,
            "until_offset": self.until_offset,
            "equal": self.equal,
            "ok": self.ok,
            "consumers": [c.to_json() for c in self.consumers],
        }


def service_consumers(service: str) -> list[str]:
    """The projections (not the reactions) a service has, by consumer name."""
    found, errors = discover()
    package = f"huigong_{service}.projections"
    names = sorted(n for n, cls in found.items() if cls.__module__.startswith(package))
    if not names:
        extra = f" (import errors: {'; '.join(errors)})" if errors else ""
        raise OpsError(f"服务没有投影 service {service!r} has no projections{extra}")
    return names


def owned_tables(projection: Projection) -> list[str] | None:
    tables = getattr(projection, "tables", None)
    if isinstance(tables, (list, tuple, frozenset, set)) and tables:
        return sorted(str(t) for t in tables)
    table = getattr(projection, "table", None)
    if isinstance(table, str) and table:
        return [table]
    return None


async def _tables(conn: DbConnection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema
    )
    return [r[0] for r in rows]


async def checksum(conn: DbConnection, schema: str, table: str) -> tuple[int, str]:
    """Row count and md5 of the rows' text in sorted order: equal content, equal checksum."""
    row = await conn.fetchrow(
        f"""SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))
            FROM {quote_ident(schema)}.{quote_ident(table)} t"""
    )
    assert row is not None
    return int(row[0]), str(row[1])


async def create_shadow(conn: DbConnection, service: str, live_schema: str, shadow: str) -> None:
    """The shadow schema with the service's migrations, plus copies of the live tables no
    migration creates."""
    await conn.execute(f"CREATE SCHEMA {quote_ident(shadow)}")
    await conn.execute(f"SET search_path = {quote_ident(shadow)}")
    try:
        for migration in migrations_for(service):
            async with conn.transaction():
                await conn.execute(migration.sql)
    finally:
        await conn.execute("RESET search_path")
    have = set(await _tables(conn, shadow))
    for table in await _tables(conn, live_schema):
        if table not in have:
            await conn.execute(
                f"CREATE TABLE {quote_ident(shadow)}.{quote_ident(table)} "
                f"(LIKE {quote_ident(live_schema)}.{quote_ident(table)} INCLUDING ALL)"
            )


async def drop_shadow(conn: DbConnection, shadow: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(shadow)} CASCADE")


class _Cut:
    """Which records an as-of replay keeps for one consumer (see the module's docstring)."""

    def __init__(self, projection: Projection, as_of: date) -> None:
        self.as_of = as_of
        self.cutoff = cutoff_of(as_of)
        self.dated = projection if isinstance(projection, DatedProjection) else None
        self.wants = projection.wants
        self.closed: set[AggregateKey] = set()  # aggregates cut from an event dated after as_of
        self.out_of_order = 0

    def keep(self, item: Decoded) -> bool:
        if not isinstance(item, _Decoded):
            return True  # undecodable records are dead-lettered as the live runner would
        if self.dated is None:
            return item.record.occurred_at < self.cutoff
        handled = self.wants(item.record.type)
        if item.aggregate in self.closed:
            if handled:
                day = self.dated.business_day(item.event, item.record)
                self.out_of_order += day is not None and day <= self.as_of
            return False
        if not handled:
            return True
        day = self.dated.business_day(item.event, item.record)
        if day is None or day <= self.as_of:
            return True
        self.closed.add(item.aggregate)
        return False


# Records decoded between two yields to the event loop, and records per applied batch: a batch
# is one transaction per consumer; the next ones are read and decoded while it commits.
DECODE_SLICE = 200
BATCH_RECORDS = 5_000
QUEUED_BATCHES = 1  # per consumer, besides the batch it applies: more only holds more records alive


Pending = dict[TopicPartition, tuple[list[RawRecord], list[Decoded]]]


@dataclass
class _Target:
    """One consumer being replayed: its projection, exclusive applier and shadow schema."""

    service: str
    projection: Projection
    applier: Applier
    topics: frozenset[str]
    result: ConsumerReplay
    live_schema: str
    cut: _Cut | None = None
    pool: asyncpg.Pool | None = None
    baseline: dict[str, tuple[int, str]] = field(default_factory=dict)
    pending: Pending = field(default_factory=dict)  # read and decoded, not yet handed to `_apply`

    def take(self, tp: TopicPartition, raws: list[RawRecord], decoded: list[Decoded]) -> None:
        """Count a chunk read from one of its topics and add what it keeps to `pending`."""
        self.result.records += len(raws)
        if any(isinstance(d, tuple) for d in decoded):
            # As the live runner reads them: a record of a type this projection ignores is taken
            # from its headers alone, so a body it never reads cannot dead-letter it here either.
            wants = self.projection.wants
            decoded = [Applier.decode([d[0]], wants)[0] if isinstance(d, tuple) else d for d in decoded]
        if self.cut is not None:
            kept = [i for i, d in enumerate(decoded) if self.cut.keep(d)]
            self.result.cut += len(raws) - len(kept)
            self.result.out_of_order = self.cut.out_of_order
            if not kept:
                return
            if len(kept) < len(raws):
                raws = [raws[i] for i in kept]
                decoded = [decoded[i] for i in kept]
        # New lists: every consumer reading the topic extends its own.
        found = self.pending.get(tp)
        if found is None:
            self.pending[tp] = (list(raws), list(decoded))
        else:
            found[0].extend(raws)
            found[1].extend(decoded)


async def _decode(raws: list[RawRecord]) -> list[Decoded]:
    decoded: list[Decoded] = []
    for start in range(0, len(raws), DECODE_SLICE):
        decoded.extend(Applier.decode(raws[start : start + DECODE_SLICE]))
        await asyncio.sleep(0)  # let the batch in flight exchange with PostgreSQL meanwhile
    return decoded


async def _apply(target: _Target, batches: asyncio.Queue[Pending | None]) -> None:
    """One consumer's worker: each batch into its shadow, in order, one transaction per batch.
    Every consumer has its own, on its own connection, so PostgreSQL works for several at once
    and a consumer with more to do in a batch does not hold the others back."""
    assert target.pool is not None
    while (pending := await batches.get()) is not None:
        prepared = [(tp, raws, items) for tp, (raws, items) in pending.items()]
        # A replay reads its snapshot itself and may cut records out (as of a date): no sequence
        # to enforce against a live consumer's position.
        outcome, _ = await apply_with_checkpoints(target.pool, target.applier, prepared, in_sequence=False)
        target.result.applied += outcome.applied
        target.result.duplicates += outcome.duplicates
        target.result.dead_lettered += outcome.dead_lettered + outcome.parked


async def _hand(
    queue: asyncio.Queue[Pending | None], item: Pending | None, worker: asyncio.Task[None]
) -> None:
    """Queue `item` for `worker`, or raise its error should it fail while its queue is full."""
    put = asyncio.ensure_future(queue.put(item))
    await asyncio.wait({put, worker}, return_when=asyncio.FIRST_COMPLETED)
    if not put.done():
        put.cancel()
        worker.result()
        raise OpsError(f"重放中止 replay worker stopped early: {worker.get_name()}")


async def _feed(
    targets: Sequence[_Target],
    bootstrap: str,
    reporter: Reporter,
    until_offset: int | None,
) -> None:
    """Read the union of the consumers' topics once, from offset 0 to the snapshot end, decode
    each record once, and apply it to every consumer that reads its topic, through the runner's
    own `apply_with_checkpoints`/`Applier`."""
    topic_names = sorted({t for target in targets for t in target.topics})
    async with open_consumer(bootstrap, "huigong-ops-replay") as consumer:
        found, missing = await partition_ranges(consumer, topic_names)
        if missing:
            raise OpsError(f"主题不存在 topics missing on the broker: {', '.join(missing)}")
        ranges: list[PartitionRange] = []
        for parts in found.values():
            for r in parts:
                end = r.end if until_offset is None else max(min(r.end, until_offset), r.begin)
                ranges.append(PartitionRange(r.topic, r.partition, r.begin, end))
        names = ", ".join(t.result.consumer for t in targets)
        reporter.start(f"重放 replay {names}", sum(r.records for r in ranges))
        readers = {topic: [t for t in targets if topic in t.topics] for topic in topic_names}
        queues: list[asyncio.Queue[Pending | None]] = [asyncio.Queue(QUEUED_BATCHES) for _ in targets]
        workers = [
            asyncio.create_task(_apply(t, q), name=t.result.consumer)
            for t, q in zip(targets, queues, strict=True)
        ]
        size = 0

        async def hand_pending() -> None:
            for target, queue, worker in zip(targets, queues, workers, strict=True):
                if target.pending:
                    await _hand(queue, target.pending, worker)
                    target.pending = {}

        try:
            async for topic, partition, records in scan(consumer, ranges, reporter):
                raws = [RawRecord.of(r) for r in records]
                decoded = await _decode(raws)
                tp = TopicPartition(topic, partition)
                for target in readers[topic]:
                    target.take(tp, raws, decoded)
                size += len(raws)
                if size >= BATCH_RECORDS:
                    await hand_pending()
                    size = 0
            await hand_pending()
            for queue, worker in zip(queues, workers, strict=True):
                await _hand(queue, None, worker)
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                if not worker.done():
                    worker.cancel()
                    with contextlib.suppress(BaseException):
                        await worker
        reporter.finish()


async def _flush(target: _Target) -> None:
    if target.pool is not None:
        async with target.pool.acquire() as conn, conn.transaction():
            await target.applier.flush_versions(conn)


async def _compare(
    conn: DbConnection,
    projection: Projection,
    live_schema: str,
    shadow: str,
    baseline: Mapping[str, tuple[int, str]],
) -> list[TableComparison]:
    live = set(await _tables(conn, live_schema))
    declared = owned_tables(projection)
    shadow_tables = [t for t in await _tables(conn, shadow) if t not in BOOKKEEPING]
    comparisons: list[TableComparison] = []
    for table in shadow_tables:
        replayed = await checksum(conn, shadow, table)
        if declared is not None:
            if table not in declared:
                continue
        elif replayed == baseline.get(table):
            continue  # not touched by this projection
        if table in live:
            live_rows, live_sum = await checksum(conn, live_schema, table)
            comparisons.append(TableComparison(table, live_rows, replayed[0], live_sum, replayed[1]))
        else:
            comparisons.append(TableComparison(table, None, replayed[0], None, replayed[1]))
    return comparisons


async def swap(
    conn: DbConnection, consumer: str, live_schema: str, shadow: str, tables: Sequence[str]
) -> None:
    """Replace the live tables and the consumer's bookkeeping with the shadow's, atomically."""
    live, sh = quote_ident(live_schema), quote_ident(shadow)
    async with conn.transaction():
        live_points = await conn.fetch(
            f"""SELECT topic, partition, next_offset FROM {live}.checkpoints
                WHERE consumer = $1 FOR UPDATE""",
            consumer,
        )
        replayed = {
            (r[0], r[1]): r[2]
            for r in await conn.fetch(
                f"SELECT topic, partition, next_offset FROM {sh}.checkpoints WHERE consumer = $1", consumer
            )
        }
        ahead = [
            f"{r[0]}[{r[1]}] {r[2]} > {replayed.get((r[0], r[1]), 0)}"
            for r in live_points
            if r[2] > replayed.get((r[0], r[1]), 0)
        ]
        if ahead:
            raise OpsError(
                "在线投影已越过重放终点，请重新重放或先停止服务 / live is past the replayed end, replay "
                "again (or stop the service first): " + ", ".join(ahead)
            )
        if tables:
            names = ", ".join(f"{live}.{quote_ident(t)}" for t in tables)
            await conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
            await conn.execute(f"TRUNCATE {names}")
            for t in tables:
                await conn.execute(f"INSERT INTO {live}.{quote_ident(t)} SELECT * FROM {sh}.{quote_ident(t)}")
        for book in ("checkpoints", "applied_versions"):
            await conn.execute(f"DELETE FROM {live}.{book} WHERE consumer = $1", consumer)
            await conn.execute(
                f"INSERT INTO {live}.{book} SELECT * FROM {sh}.{book} WHERE consumer = $1", consumer
            )


@contextlib.asynccontextmanager
async def _admin(dsn: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    try:
        conn = await asyncpg.connect(dsn)
    except Exception as exc:
        raise OpsError(f"数据库无法连接 cannot connect to PostgreSQL: {exc}") from exc
    try:
        yield conn
    finally:
        await conn.close()


async def replay(
    dsn: str,
    bootstrap: str,
    prefix: str,
    service: str,
    consumers: Sequence[str] = (),
    as_of: date | None = None,
    until_offset: int | None = None,
    do_swap: bool = False,
    keep: bool = False,
    live_schema: str | None = None,
    reporter: Reporter | None = None,
    extra: Mapping[str, ProjectionFactory] | None = None,
) -> ReplayReport:
    """Replay the projections of one service (or the named ones of it)."""
    (report,) = await replay_services(
        dsn,
        bootstrap,
        prefix,
        {service: consumers},
        as_of=as_of,
        until_offset=until_offset,
        do_swap=do_swap,
        keep=keep,
        live_schemas={service: live_schema} if live_schema else None,
        reporter=reporter,
        extra=extra,
    )
    return report


async def replay_services(
    dsn: str,
    bootstrap: str,
    prefix: str,
    selection: Mapping[str, Sequence[str]],
    as_of: date | None = None,
    until_offset: int | None = None,
    do_swap: bool = False,
    keep: bool = False,
    live_schemas: Mapping[str, str] | None = None,
    reporter: Reporter | None = None,
    extra: Mapping[str, ProjectionFactory] | None = None,
) -> list[ReplayReport]:
    """Replay the projections of several services in one pass over their topics: `selection`
    maps each service to the consumers to replay (empty: all of the service's). One report per
    service, in the order given."""
    for service in selection:
        check_service(service)
    if as_of is not None and until_offset is not None:
        raise OpsError("--as-of 与 --until-offset 只能选一个 / use either --as-of or --until-offset")
    if do_swap and as_of is not None:
        raise OpsError("--swap 不能与 --as-of 同用 / --swap cannot be combined with --as-of")
    reporter = reporter or NullReporter()
    reports: list[ReplayReport] = []
    targets: list[_Target] = []
    for service, consumers in selection.items():
        live = (live_schemas or {}).get(service) or service
        report = ReplayReport(service, live, as_of, until_offset)
        reports.append(report)
        for name in list(consumers) or service_consumers(service):
            projection = factory_for(name, extra)()
            result = ConsumerReplay(name, f"{service}_replay_{uuid.uuid4().hex[:8]}", kept=keep)
            report.consumers.append(result)
            topics = frozenset(t.qualified(prefix) for t in projection.topics)
            # Exclusive: the shadow schema is new and only this replay writes to it.
            applier = Applier(projection, service, exclusive=True)
            cut = _Cut(projection, as_of) if as_of is not None else None
            if cut is not None:
                result.cut_on = "occurred_at" if cut.dated is None else "business_day"
            targets.append(_Target(service, projection, applier, topics, result, live, cut))
    async with _admin(dsn) as conn:
        for live in dict.fromkeys(t.live_schema for t in targets):
            if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", live):
                raise OpsError(f"模式不存在 schema {live!r} does not exist")
        created: list[_Target] = []
        try:
            for target in targets:
                shadow = target.result.shadow_schema
                await create_shadow(conn, target.service, target.live_schema, shadow)
                created.append(target)
                target.baseline = {t: await checksum(conn, shadow, t) for t in await _tables(conn, shadow)}
                target.pool = await asyncpg.create_pool(
                    dsn, min_size=1, max_size=2, server_settings={"search_path": shadow}
                )
            watch = Stopwatch()
            await _feed(targets, bootstrap, reporter, until_offset)
            if do_swap or keep:  # otherwise the shadow's bookkeeping is dropped unread
                await asyncio.gather(*(_flush(t) for t in targets))
            elapsed = watch.elapsed
            for target in targets:
                target.result.elapsed = elapsed
                if as_of is not None and isinstance(target.projection, FigureProjection):
                    assert target.pool is not None
                    async with target.pool.acquire() as shadow_conn:
                        target.result.figures = await target.projection.figures(shadow_conn, as_of)
            for target in targets:
                result = target.result
                result.tables = await _compare(
                    conn, target.projection, target.live_schema, result.shadow_schema, target.baseline
                )
                if do_swap:
                    missing = [t.table for t in result.tables if t.live_rows is None]
                    if missing:
                        raise OpsError(f"在线模式缺少表 live schema lacks tables: {', '.join(missing)}")
                    await swap(
                        conn,
                        result.consumer,
                        target.live_schema,
                        result.shadow_schema,
                        [t.table for t in result.tables],
                    )
                    result.swapped = True
        finally:
            for target in targets:
                if target.pool is not None:
                    await target.pool.close()
            if not keep:
                for target in created:
                    await drop_shadow(conn, target.result.shadow_schema)
    return reports
