"""What the platform asks of PostgreSQL: runs another benchmark (the enrolment ingest, the
projection runner, …) and reads the cluster's own counters before and after it: rows inserted,
updated and deleted, transactions committed, WAL records and bytes, and the CPU seconds of the
PostgreSQL processes. Divided by the benchmark's wall-clock time and by the work it reports, these
are the figures docs/scaling.md extrapolates from (how far one PostgreSQL cluster carries).

Run it alone on the stack (nothing else writing to that PostgreSQL), e.g.

  .venv/bin/python -m bench.bench_postgres_load -- bench.bench_enrolment_ingest --rows 20000
  .venv/bin/python -m bench.bench_postgres_load -- bench.bench_projection_runner --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import asyncpg

from bench.common import LOCAL, read_env


def postgres_cpu(postmaster: int) -> float:
    """User + system CPU seconds of the postmaster, of every process it started that still runs
    (backends, WAL writer, checkpointer) and of those that ended (the postmaster reaps its
    backends, so their time is in its children's counters), from /proc."""
    ticks = float(os.sysconf("SC_CLK_TCK"))
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15]) / ticks
        elif parent == postmaster:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def postmaster() -> int:
    """The pid of the stack's PostgreSQL (`bin/stack` keeps its data in <local dir>/pg/data)."""
    return int((LOCAL / "pg/data/postmaster.pid").read_text().split()[0])


class Sampler:
    """The counters of every database, sampled until stopped: a benchmark drops its database at
    the end, and with it that database's statistics, so each database's last sample counts."""

    def __init__(self) -> None:
        self.databases: dict[int, tuple[int, int, int, int]] = {}
        self.wal: tuple[int, int] = (0, 0)
        self.cpu = 0.0

    async def sample(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        for row in await conn.fetch(
            "SELECT datid, tup_inserted, tup_updated, tup_deleted, xact_commit FROM pg_stat_database WHERE datid <> 0"
        ):
            self.databases[int(row[0])] = (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
        wal = await conn.fetchrow("SELECT wal_records, wal_bytes FROM pg_stat_wal")
        assert wal is not None
        self.wal = (int(wal[0]), int(wal[1]))
        self.cpu = postgres_cpu(postmaster())

    def totals(self) -> tuple[int, int, int, int]:
        inserted, updated, deleted, commits = (sum(c) for c in zip(*self.databases.values(), strict=True))
        return inserted, updated, deleted, commits


async def main(command: list[str]) -> int:
    dsn = read_env()["HUIGONG_PG_ADMIN_DSN"]
    conn = await asyncpg.connect(dsn)
    before = Sampler()
    await before.sample(conn)
    during = Sampler()
    during.databases = dict(before.databases)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", *command)
    waiting = asyncio.create_task(proc.wait())
    while not waiting.done():
        # Statistics reach these views when a backend's transaction ends, at most once a second.
        await during.sample(conn)
        await asyncio.wait({waiting}, timeout=0.5)
    code = waiting.result()
    seconds = time.monotonic() - started
    await asyncio.sleep(1.5)
    await during.sample(conn)
    await conn.close()
    b, a = before.totals(), during.totals()
    inserted, updated, deleted, commits = (a[i] - b[i] for i in range(4))
    rows = inserted + updated + deleted
    cpu = during.cpu - before.cpu
    wal_records, wal_bytes = during.wal[0] - before.wal[0], during.wal[1] - before.wal[1]
    print()
    print(f"PostgreSQL while `python -m {' '.join(command)}` ran ({seconds:.1f} s, exit {code}):")
    print(
        f"  rows written {rows:,} (inserted {inserted:,}, updated {updated:,}, deleted {deleted:,}): "
        f"{rows / seconds:,.0f}/s"
    )
    print(f"  transactions committed {commits:,}: {commits / seconds:,.0f}/s")
    print(
        f"  WAL {wal_records:,} records, {wal_bytes / 2**20:,.1f} MiB: {wal_bytes / 2**20 / seconds:,.1f} MiB/s"
    )
    print(
        f"  CPU of the PostgreSQL processes {cpu:,.1f} s ({cpu / seconds:.2f} cores); "
        f"{cpu / max(1, rows) * 1e6:,.1f} µs per row written"
    )
    print(
        "  (the whole cluster's counters: database creation, migrations and the benchmark's own set-up included)"
    )
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- <benchmark module> [its arguments]")
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    if not command:
        parser.error("name the benchmark to run: -- bench.bench_enrolment_ingest --rows 20000")
    sys.exit(asyncio.run(main(command)))
