"""Intake's import worker: reads each open import job's file in chunks and records each chunk
through the command path as the uploader (`EnrolImportChunk`), so every row is judged and
recorded exactly as an upload's rows are.

Each chunk's events, its rows' outcomes and the job's cursor commit together; a restart (a
deploy, SIGKILL, a lost database) leaves the job running at its cursor, and the next run skips
the lines before it. A chunk that does not start at the cursor records nothing, so even two
replicas working on one job record no row twice; a session advisory lock keeps them from trying.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import asyncpg

from huigong_platform import logs
from huigong_platform.application import CommandPath
from huigong_platform.principals import parse
from huigong_platform.refusals import Conflict, Refusal
from huigong_platform.sheets import SheetFormatError, lines_on_disk

from ...adapters import import_jobs as jobs
from ...adapters.vault import Vault
from ...commands import EnrolImportChunk
from ...domain.import_jobs import CHUNK_LINES, ImportStatus
from ...domain.sheet_headings import HeadingRow

log = logs.get(__name__)

# Seconds between looks for new jobs while none is open, and after an interruption.
POLL_EVERY = 1.0
RETRY_AFTER = 5.0


def _skip(lines: Iterator[list[object]], count: int) -> None:
    for _ in islice(lines, count):
        pass


def _take(lines: Iterator[list[object]], count: int) -> list[list[object]]:
    return list(islice(lines, count))


class ImportWorker:
    def __init__(
        self, commands: CommandPath, pool: asyncpg.Pool, vault: Vault, chunk_lines: int = CHUNK_LINES
    ) -> None:
        self._commands = commands
        self._pool = pool
        self._vault = vault
        self._chunk = chunk_lines
        self._stopping = asyncio.Event()

    async def stop(self) -> None:
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self._pool.acquire() as conn:
                    waiting = await jobs.open_jobs(conn)
                for job_id in waiting:
                    if self._stopping.is_set():
                        return
                    await self._work_on(job_id)
                if not waiting:
                    await self._pause(POLL_EVERY)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A database or disk that went away: the job keeps its cursor; try again.
                log.warning(
                    "import worker interrupted", error=f"{type(exc).__name__}: {exc}", retry_in=RETRY_AFTER
                )
                await self._pause(RETRY_AFTER)

    async def _work_on(self, job_id: uuid.UUID) -> None:
        async with self._pool.acquire() as holder:
            lock = f"intake:enrolment-import:{job_id}"
            if not await holder.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", lock):
                return  # another replica reads it
            try:
                await self._read(job_id)
            finally:
                await holder.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock)

    async def _read(self, job_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn:
            job = await jobs.begin_run(conn, job_id)
        if job is None:
            return
        log.info("import job running", job_id=str(job_id), submitter=job.submitter, cursor=job.cursor)
        principal = parse(job.principal)
        headings = HeadingRow(job.heading_line, job.headings, job.keys)
        cursor = job.cursor
        try:
            with tempfile.TemporaryDirectory(prefix="huigong-import-") as folder:
                path = Path(folder) / f"upload.{job.file.format}"
                async with self._pool.acquire() as conn:
                    await jobs.copy_file(conn, job_id, path, self._vault)
                lines = await asyncio.to_thread(lines_on_disk, path, job.file)
                await asyncio.to_thread(_skip, lines, cursor)
                while not self._stopping.is_set():
                    # In the event loop's own thread (5,000 lines are a few milliseconds): rows
                    # built in a pool thread land in that thread's malloc arena (a 60,000-row job
                    # grew intake by 150 MiB that way, none this way; see bench/README.md).
                    chunk = _take(lines, self._chunk)
                    if not chunk:
                        break
                    command = EnrolImportChunk(
                        rows=[headings.row(line) for line in chunk],
                        first_row=cursor + 1,
                        job_id=job_id,
                        start_line=cursor,
                        next_line=cursor + len(chunk),
                    )
                    await self._commands.handle(
                        command, principal, key=None, correlation_id=f"enrolment-import-{job_id}"
                    )
                    cursor += len(chunk)
                else:
                    log.info("import job paused", job_id=str(job_id), cursor=cursor)
                    return
        except Conflict:
            # Cancelled meanwhile (or finished by another run): nothing more to read.
            log.info("import job stopped", job_id=str(job_id), cursor=cursor)
            return
        except (Refusal, SheetFormatError) as exc:
            reason = "; ".join(e.en for e in exc.errors) if isinstance(exc, Refusal) else exc.en
            async with self._pool.acquire() as conn:
                await jobs.end(conn, job_id, ImportStatus.失败, reason)
            log.error("import job failed", job_id=str(job_id), cursor=cursor, reason=reason)
            return
        async with self._pool.acquire() as conn:
            await jobs.end(conn, job_id, ImportStatus.已完成)
        log.info("import job completed", job_id=str(job_id), lines=cursor)
