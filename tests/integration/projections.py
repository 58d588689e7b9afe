"""A small real projection used to exercise the runner: enrolments counted per district and
platform, in a table of the intake schema. A platform named "POISON" makes the handler fail."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.intake import EnrolmentRequested
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

TABLE_SQL = """CREATE TABLE IF NOT EXISTS {table} (
    district text NOT NULL, platform text NOT NULL, members bigint NOT NULL,
    PRIMARY KEY (district, platform))"""


class EnrolmentCounts(Projection):
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("enrolment"),)
    handles: ClassVar[frozenset[str]] = frozenset({"EnrolmentRequested"})

    def __init__(self, name: str, table: str) -> None:
        self.name = name  # type: ignore[misc]  # per-test consumer names keep tests apart
        self.table = table

    async def create(self, conn: DbConnection) -> None:
        await conn.execute(TABLE_SQL.format(table=self.table))

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        assert isinstance(event, EnrolmentRequested)
        if event.platform == "POISON":
            raise ValueError("poison record for the test")
        await conn.execute(
            f"""INSERT INTO {self.table} (district, platform, members) VALUES ($1, $2, 1)
                ON CONFLICT (district, platform) DO UPDATE SET members = {self.table}.members + 1""",
            event.district,
            event.platform,
        )

    async def counts(self, conn: DbConnection) -> dict[tuple[str, str], int]:
        rows = await conn.fetch(f"SELECT district, platform, members FROM {self.table}")
        return {(r[0], r[1]): r[2] for r in rows}
