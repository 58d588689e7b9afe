"""Import jobs in intake's database (migration 0009): the stored file in parts, the job with its
cursor and counts, and each row's masked outcome for the result sheet.

`ImportJobs` is what the command handlers use inside the command's unit of work (lock the job,
queue it, record a chunk with the cursor, cancel it); the module functions are the worker's and
the read routes' own short transactions.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huigong_platform.database import DbConnection
from huigong_platform.sheets import HeadingRow, SheetFile

from ..domain.import_jobs import OPEN, ImportStatus, RowResult, seconds_left
from .vault import Vault

# Bytes per stored part: far below bytea's 1 GB, and a part is one round trip.
PART_BYTES: Final = 4 << 20
# Rows of results fetched at a time while writing a result sheet.
RESULT_PAGE: Final = 10_000
_NONCE: Final = 12


def _file_context(job_id: uuid.UUID) -> str:
    return f"enrolment-import:{job_id}"


def _part_context(job_id: uuid.UUID, part: int) -> bytes:
    # A part sealed for one place opens in no other (no reordering, no swapping between jobs).
    return f"{job_id}/{part}".encode()


@dataclass(frozen=True, slots=True)
class ImportJob:
    job_id: uuid.UUID
    submitter: str
    principal: str
    filename: str
    file: SheetFile
    file_sha256: str
    heading_line: int
    headings: list[str]
    keys: list[str]
    rows_total: int
    status: str
    cursor: int
    rows_read: int
    accepted: int
    mutual_aid: int
    rejected: int
    failure: str | None
    created_at: datetime
    started_at: datetime | None
    run_started_at: datetime | None
    run_read_from: int
    updated_at: datetime
    finished_at: datetime | None

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def view(self, now: datetime | None = None) -> dict[str, Any]:
        """The job as its routes answer it."""
        status = ImportStatus(self.status)
        left: float | None = None
        if self.status == ImportStatus.进行中 and self.run_started_at is not None:
            elapsed = (self.updated_at - self.run_started_at).total_seconds()
            left = seconds_left(self.rows_total, self.rows_read, self.rows_read - self.run_read_from, elapsed)
            if left is not None:
                # The pace is as of the last chunk; time since then is already spent.
                left = max(0.0, left - ((now or datetime.now(UTC)) - self.updated_at).total_seconds())
        elif self.status == ImportStatus.已完成:
            left = 0.0
        return {
            "job_id": str(self.job_id),
            "submitter": self.submitter,
            "filename": self.filename,
            "format": self.file.format,
            "status": status.value,
            "status_label": status.name,
            "rows_total": self.rows_total,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "mutual_aid": self.mutual_aid,
            "rejected": self.rejected,
            "percent": round(100 * self.rows_read / self.rows_total, 1) if self.rows_total else 100.0,
            "seconds_left": None if left is None else round(left, 1),
            "failure": self.failure,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def _job(row: asyncpg.Record) -> ImportJob:
    return ImportJob(
        job_id=row["job_id"],
        submitter=row["submitter"],
        principal=row["principal"],
        filename=row["filename"],
        file=SheetFile(row["format"], row["encoding"], row["delimiter"]),
        file_sha256=row["sha256"],
        heading_line=row["heading_line"],
        headings=list(row["headings"]),
        keys=list(row["keys"]),
        rows_total=row["rows_total"],
        status=row["status"],
        cursor=row["cursor"],
        rows_read=row["rows_read"],
        accepted=row["accepted"],
        mutual_aid=row["mutual_aid"],
        rejected=row["rejected"],
        failure=row["failure"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        run_started_at=row["run_started_at"],
        run_read_from=row["run_read_from"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
    )


# --- in the command's unit of work ------------------------------------------------------------


class ImportJobs(Protocol):
    async def lock(self, job_id: uuid.UUID) -> ImportJob | None:
        """The job, locked until the command's transaction ends; None when there is none (or
        only a staged upload whose command has not committed)."""

    async def staged(self, job_id: uuid.UUID) -> ImportJob | None:
        """A staged upload, locked."""

    async def queue(self, job_id: uuid.UUID) -> ImportJob: ...

    async def record_chunk(
        self, job_id: uuid.UUID, next_line: int, read: int, results: Sequence[RowResult]
    ) -> None:
        """A chunk's rows' outcomes, the counts and the cursor, in the command's transaction."""

    async def cancel(self, job_id: uuid.UUID) -> ImportJob: ...


class PostgresImportJobs:
    def __init__(self, conn: DbConnection) -> None:
        self._conn = conn

    async def lock(self, job_id: uuid.UUID) -> ImportJob | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM enrolment_imports WHERE job_id = $1 AND status <> 'staged' FOR UPDATE", job_id
        )
        return None if row is None else _job(row)

    async def staged(self, job_id: uuid.UUID) -> ImportJob | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM enrolment_imports WHERE job_id = $1 AND status = 'staged' FOR UPDATE", job_id
        )
        return None if row is None else _job(row)

    async def queue(self, job_id: uuid.UUID) -> ImportJob:
        row = await self._conn.fetchrow(
            """UPDATE enrolment_imports SET status = 'queued', created_at = now(), updated_at = now()
               WHERE job_id = $1 RETURNING *""",
            job_id,
        )
        assert row is not None
        return _job(row)

    async def record_chunk(
        self, job_id: uuid.UUID, next_line: int, read: int, results: Sequence[RowResult]
    ) -> None:
        await self._conn.copy_records_to_table(
            "enrolment_import_rows",
            records=[(job_id, r.row_number, r.result, r.reason, r.cells) for r in results],
            columns=("job_id", "row_number", "result", "reason", "cells"),
        )
        counts = {"accepted": 0, "mutual_aid": 0, "rejected": 0}
        for r in results:
            counts[r.result] += 1
        await self._conn.execute(
            """UPDATE enrolment_imports SET cursor = $2, rows_read = rows_read + $3,
                 accepted = accepted + $4, mutual_aid = mutual_aid + $5, rejected = rejected + $6,
                 updated_at = now()
               WHERE job_id = $1""",
            job_id,
            next_line,
            read,
            counts["accepted"],
            counts["mutual_aid"],
            counts["rejected"],
        )

    async def cancel(self, job_id: uuid.UUID) -> ImportJob:
        row = await self._conn.fetchrow(
            """UPDATE enrolment_imports SET status = 'cancelled', file_key = NULL, finished_at = now(),
                 updated_at = now()
               WHERE job_id = $1 RETURNING *""",
            job_id,
        )
        assert row is not None
        # The file and its raw ID numbers go with the job's end.
        await self._conn.execute("DELETE FROM enrolment_import_parts WHERE job_id = $1", job_id)
        return _job(row)


# --- the upload route's, the worker's and the read routes' own transactions -------------------


async def stage(
    pool: asyncpg.Pool,
    job_id: uuid.UUID,
    *,
    submitter: str,
    principal: str,
    filename: str,
    file: SheetFile,
    content: bytes,
    headings: HeadingRow,
    rows_total: int,
    vault: Vault,
) -> str:
    """Store an upload for the job the command will start; the file's SHA-256. A retry of an
    upload whose job exists already stores nothing (the command answers as the first time); one
    whose command never committed replaces what the first attempt staged."""
    digest = hashlib.sha256(content).hexdigest()
    key = AESGCM.generate_key(bit_length=256)
    sealing = AESGCM(key)
    nonces = os.urandom(_NONCE * (len(content) // PART_BYTES + 1))
    parts = []
    for n, start in enumerate(range(0, len(content), PART_BYTES)):
        nonce = nonces[_NONCE * n : _NONCE * (n + 1)]
        sealed = nonce + sealing.encrypt(nonce, content[start : start + PART_BYTES], _part_context(job_id, n))
        parts.append((job_id, n, sealed))
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval(
            "SELECT status FROM enrolment_imports WHERE job_id = $1 FOR UPDATE", job_id
        )
        if status is not None and status != "staged":
            return digest
        await conn.execute("DELETE FROM enrolment_imports WHERE job_id = $1", job_id)
        await conn.execute(
            """INSERT INTO enrolment_imports (job_id, submitter, principal, filename, format, encoding,
                 delimiter, size_bytes, sha256, file_key, heading_line, headings, keys, rows_total, status,
                 cursor)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'staged', $15)""",
            job_id,
            submitter,
            principal,
            filename,
            file.format,
            file.encoding,
            file.delimiter,
            len(content),
            digest,
            vault.wrap(key, _file_context(job_id)),
            headings.index,
            headings.headings,
            headings.keys,
            rows_total,
            headings.index + 1,
        )
        await conn.copy_records_to_table(
            "enrolment_import_parts",
            records=parts,
            columns=("job_id", "part", "data"),
        )
    return digest


async def discard_staged(pool: asyncpg.Pool, job_id: uuid.UUID) -> None:
    """An upload whose command was refused: nothing of it stays."""
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM enrolment_imports WHERE job_id = $1 AND status = 'staged'", job_id)


async def get(conn: DbConnection, job_id: uuid.UUID) -> ImportJob | None:
    row = await conn.fetchrow(
        "SELECT * FROM enrolment_imports WHERE job_id = $1 AND status <> 'staged'", job_id
    )
    return None if row is None else _job(row)


async def list_of(conn: DbConnection, submitter: str | None, limit: int) -> list[ImportJob]:
    rows = await conn.fetch(
        """SELECT * FROM enrolment_imports WHERE status <> 'staged' AND ($1::text IS NULL OR submitter = $1)
           ORDER BY created_at DESC LIMIT $2""",
        submitter,
        limit,
    )
    return [_job(r) for r in rows]


async def open_jobs(conn: DbConnection) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT job_id FROM enrolment_imports WHERE status IN ('queued', 'running') ORDER BY created_at"
    )
    return [r[0] for r in rows]


async def begin_run(conn: DbConnection, job_id: uuid.UUID) -> ImportJob | None:
    """Mark the job running for this run of the worker (the estimate's pace starts here)."""
    row = await conn.fetchrow(
        """UPDATE enrolment_imports SET status = 'running', started_at = coalesce(started_at, now()),
             run_started_at = now(), run_read_from = rows_read, updated_at = now()
           WHERE job_id = $1 AND status IN ('queued', 'running') RETURNING *""",
        job_id,
    )
    return None if row is None else _job(row)


async def end(
    conn: DbConnection, job_id: uuid.UUID, status: ImportStatus, failure: str | None = None
) -> None:
    """Completed or failed: only a job still open ends so (a cancel may have come first); the
    file is deleted in the same transaction."""
    async with conn.transaction():
        ended = await conn.fetchval(
            """UPDATE enrolment_imports SET status = $2, failure = $3, file_key = NULL, finished_at = now(),
                 updated_at = now()
               WHERE job_id = $1 AND status IN ('queued', 'running') RETURNING job_id""",
            job_id,
            status.value,
            failure,
        )
        if ended is not None:
            await conn.execute("DELETE FROM enrolment_import_parts WHERE job_id = $1", job_id)


async def copy_file(conn: DbConnection, job_id: uuid.UUID, path: Path, vault: Vault) -> None:
    """The stored file, part by part, opened, to `path` (the worker reads it from there: a
    temporary file of the worker's, removed when it has read it)."""
    wrapped = await conn.fetchval("SELECT file_key FROM enrolment_imports WHERE job_id = $1", job_id)
    if wrapped is None:
        raise FileNotFoundError(f"import job {job_id} has no file any more")
    opening = AESGCM(vault.unwrap(wrapped, _file_context(job_id)))
    parts = await conn.fetchval("SELECT count(*) FROM enrolment_import_parts WHERE job_id = $1", job_id)
    with path.open("wb") as out:
        for n in range(parts):
            sealed = await conn.fetchval(
                "SELECT data FROM enrolment_import_parts WHERE job_id = $1 AND part = $2", job_id, n
            )
            out.write(opening.decrypt(sealed[:_NONCE], sealed[_NONCE:], _part_context(job_id, n)))


async def result_rows(conn: DbConnection, job_id: uuid.UUID) -> AsyncIterator[asyncpg.Record]:
    """Every judged row of the job, in order, a page at a time."""
    after = 0
    while True:
        page = await conn.fetch(
            """SELECT row_number, result, reason, cells FROM enrolment_import_rows
               WHERE job_id = $1 AND row_number > $2 ORDER BY row_number LIMIT $3""",
            job_id,
            after,
            RESULT_PAGE,
        )
        for row in page:
            yield row
        if len(page) < RESULT_PAGE:
            return
        after = page[-1]["row_number"]
