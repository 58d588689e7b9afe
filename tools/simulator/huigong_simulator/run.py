"""Running: build the commands of one kind, send their chains with bounded concurrency over a
transport and count what happened (`Summary`, printed as one JSON line). Importable, so the
benchmarks and the reliability harness drive the simulator without its command line."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson
from rich.progress import Progress

from huigong_events.reference import DISTRICTS, SUBMITTERS
from huigong_intake.domain.cycle import SHANGHAI, deadline
from huigong_intake.domain.enrolments import MAX_BATCH_ROWS

from .commands import (
    Chain,
    Command,
    CommandName,
    SimulatorError,
    application_chains,
    enrolment_commands,
    facility_commands,
    fact_commands,
    plan_commands,
    project_commands,
)
from .transports import HttpTransport, Reply, SheetFormat, Target, Transport, Via, connect

MAX_ERRORS_KEPT: Final = 10


@dataclass
class Summary:
    """What one run sent and what came back; `as_dict()` is the one-line JSON of the CLI."""

    command: str
    via: str
    seed: int
    sent: int = 0  # commands sent (a chain stops at its first failure)
    ok: int = 0
    failed: int = 0
    replayed: int = 0
    skipped: int = 0  # commands not sent because an earlier one of their chain failed
    rows: int = 0  # enrolment rows sent
    accepted: int | None = None  # enrolment rows the service accepted (HTTP only)
    rejected: int | None = None
    seconds: float = 0.0
    generate_seconds: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)  # sent, by command name
    kinds: Counter[str] = field(default_factory=Counter)  # generated, by programme, field, …
    year: int | None = None  # the applications' year
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self, command: Command, reply: Reply) -> None:
        self.sent += 1
        self.rows += command.rows
        self.commands[command.name.value] += 1
        if not reply.ok:
            self.failed += 1
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(
                    {
                        "command": command.name.value,
                        "submitter": command.submitter,
                        "command_id": command.command_id,
                        "status": reply.status,
                        "error": reply.error,
                    }
                )
            return
        self.ok += 1
        self.replayed += reply.replayed
        if command.name is CommandName.ENROL and isinstance(reply.body, dict) and "accepted" in reply.body:
            self.accepted = (self.accepted or 0) + len(reply.body["accepted"])
            self.rejected = (self.rejected or 0) + len(reply.body.get("rejected", ()))

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def commands_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "command": self.command,
            "via": self.via,
            "seed": self.seed,
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "replayed": self.replayed,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "commands_per_second": round(self.commands_per_second, 1),
            "commands": dict(self.commands),
        }
        if self.kinds:
            summary["kinds"] = dict(self.kinds)
        if self.year is not None:
            summary["year"] = self.year
        if self.rows:
            summary |= {
                "rows": self.rows,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "rows_per_second": round(self.rows_per_second, 1),
                "generate_seconds": round(self.generate_seconds, 3),
            }
        if self.errors:
            summary["errors"] = self.errors
        if self.notes:
            summary["notes"] = self.notes
        return summary

    def to_json(self) -> str:
        return orjson.dumps(self.as_dict()).decode()


async def dispatch(
    chains: Iterable[Chain],
    transport: Transport,
    summary: Summary,
    *,
    concurrency: int,
    advance: Callable[[int], None] | None = None,
) -> None:
    """Send every chain, at most `concurrency` at once, each chain's commands in order.

    `chains` is drawn lazily: the next chain is built while `concurrency` others are in flight
    and then waits for a slot, so a generator of enrolment sheets keeps at most one sheet ready
    beyond those being sent. A chain stops at its first failed command.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    slots = asyncio.Semaphore(concurrency)

    async def run(chain: Chain) -> None:
        try:
            for position, command in enumerate(chain):
                reply = await transport.send(command)
                summary.record(command, reply)
                if advance is not None:
                    advance(command.rows or 1)
                if not reply.ok:
                    summary.skipped += len(chain) - position - 1
                    if advance is not None:
                        advance(sum(c.rows or 1 for c in chain[position + 1 :]))
                    return
        finally:
            slots.release()

    try:
        async with asyncio.TaskGroup() as group:
            for chain in chains:
                await slots.acquire()
                group.create_task(run(chain))
    except BaseExceptionGroup as group_error:
        fatal = group_error.subgroup(SimulatorError)
        if fatal is not None:
            raise fatal.exceptions[0] from None
        raise


def resolve_seed(seed: int | None) -> int:
    return seed if seed is not None else random.SystemRandom().randrange(2**31)


def _rng(seed: int, part: str) -> random.Random:
    """Each kind of traffic its own stream, so `applications --seed 1` and `facilities --seed 1`
    share no ids."""
    return random.Random(f"{seed}:{part}")


def default_year(now: datetime | None = None) -> int:
    """The year open for applications: this year until 30 June (Beijing time), then the next."""
    now = (now or datetime.now(UTC)).astimezone(SHANGHAI)
    return now.year if now < deadline(now.year) else now.year + 1


def default_concurrency(via: Via, bulk: bool) -> int:
    if via is Via.HTTP:
        return 2 if bulk else 8
    return 4 if bulk else 64


class _Timed:
    """Wraps a lazy iterable and adds up the time spent producing its items."""

    def __init__(self, items: Iterable[Command]) -> None:
        self.items = items
        self.seconds = 0.0

    def __iter__(self) -> Iterator[list[Command]]:
        iterator = iter(self.items)
        while True:
            started = time.perf_counter()
            item = next(iterator, None)
            self.seconds += time.perf_counter() - started
            if item is None:
                return
            yield [item]


@contextmanager
def _task(
    progress: Progress | None, description: str, total: int, unit: str
) -> Iterator[Callable[[int], None]]:
    if progress is None:
        yield lambda _: None
        return
    task = progress.add_task(description, total=total, unit=unit)
    yield lambda n: progress.advance(task, n)
    progress.stop_task(task)


async def _send(
    name: str,
    chains: Iterable[Chain],
    total: int,
    *,
    target: Target,
    seed: int,
    concurrency: int | None,
    bulk: bool = False,
    progress: Progress | None = None,
    description: str,
    unit: str = "条",
    sheet_format: SheetFormat = SheetFormat.JSON,
) -> Summary:
    summary = Summary(name, target.via.value, seed)
    started = time.perf_counter()
    async with connect(target, sheet_format) as transport:
        with _task(progress, description, total, unit) as advance:
            await dispatch(
                chains,
                transport,
                summary,
                concurrency=concurrency or default_concurrency(target.via, bulk),
                advance=advance,
            )
    summary.seconds = time.perf_counter() - started
    return summary


def _submitters(districts: Sequence[str] | None) -> list[str]:
    chosen = list(districts) if districts else list(DISTRICTS)
    unknown = [code for code in chosen if code not in SUBMITTERS]
    if unknown:
        raise ValueError(f"unknown district or group union codes: {', '.join(unknown)}")
    return chosen


async def send_applications(
    count: int,
    year: int | None = None,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    amend_rate: float = 0.1,
    withdraw_rate: float = 0.05,
    concurrency: int | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> Summary:
    """Submit `count` applications of the four programmes for `year` (default: the year open
    now), amending or withdrawing some of them."""
    target = target or Target()
    seed = resolve_seed(seed)
    year = year or default_year()
    rng = _rng(seed, "applications")
    chains = application_chains(
        count,
        year,
        _submitters(districts),
        rng,
        amend_rate=amend_rate,
        withdraw_rate=withdraw_rate,
        today=today,
    )
    summary = await _send(
        "applications",
        chains,
        sum(len(chain) for chain in chains),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="申报 applications",
    )
    for chain in chains:
        summary.kinds[chain[0].body["programme"]] += 1
    summary.year = year
    return summary


async def send_facilities(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> Summary:
    """Report `count` facilities built in the districts."""
    target = target or Target()
    seed = resolve_seed(seed)
    commands = facility_commands(count, _submitters(districts), _rng(seed, "facilities"), today)
    summary = await _send(
        "facilities",
        ([c] for c in commands),
        len(commands),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="设施 facilities",
    )
    summary.kinds.update(c.body["facility_kind"] for c in commands)
    return summary


async def send_projects(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Recommend `count` service projects for the project library."""
    target = target or Target()
    seed = resolve_seed(seed)
    commands = project_commands(count, _submitters(districts), _rng(seed, "projects"))
    summary = await _send(
        "projects",
        ([c] for c in commands),
        len(commands),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="服务项目 projects",
    )
    summary.kinds.update(c.body["field"] for c in commands)
    return summary


async def send_facts(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> Summary:
    """Report `count` compliance facts about the districts' enterprises, as the data exchange
    does (HTTP only: the exchange has no inbound topic)."""
    target = target or Target()
    if target.via is not Via.HTTP:
        raise SimulatorError(
            "合规事实只能经 HTTP 报送（compliance facts go over HTTP only: the data exchange has no inbound topic）"
        )
    seed = resolve_seed(seed)
    commands = fact_commands(count, _submitters(districts), _rng(seed, "facts"), today)
    summary = await _send(
        "facts",
        ([c] for c in commands),
        len(commands),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="合规事实 facts",
    )
    summary.kinds.update(c.body["kind"] for c in commands)
    summary.kinds["settled"] = sum(c.body["settled_on"] is not None for c in commands)
    return summary


async def send_enrolments(
    count: int,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    batch: int = MAX_BATCH_ROWS,
    invalid_rate: float = 0.01,
    duplicate_rate: float = 0.0,
    concurrency: int | None = None,
    sheet_format: SheetFormat = SheetFormat.JSON,
    progress: Progress | None = None,
) -> Summary:
    """Enrol `count` gig workers, spread over the districts in sheets of `batch` rows, at most
    `concurrency` sheets in flight (2 over HTTP by default). Over HTTP the summary counts the
    rows accepted and rejected; over Kafka the inbound consumer judges them later."""
    target = target or Target()
    seed = resolve_seed(seed)
    if not 0 <= invalid_rate + duplicate_rate <= 1:
        raise ValueError("invalid_rate + duplicate_rate must be between 0 and 1")
    timed = _Timed(
        enrolment_commands(
            count,
            _submitters(districts),
            _rng(seed, "enrolments"),
            batch=batch,
            invalid_rate=invalid_rate,
            duplicate_rate=duplicate_rate,
        )
    )
    summary = await _send(
        "enrolments",
        timed,
        count,
        target=target,
        seed=seed,
        concurrency=concurrency,
        bulk=True,
        progress=progress,
        description="入会 enrolments",
        unit="行",
        sheet_format=sheet_format,
    )
    summary.generate_seconds = timed.seconds
    return summary


async def approved_applications(
    transport: HttpTransport, submitter: str, year: int | None = None
) -> list[dict[str, Any]]:
    """The submitter's approved applications (receipts), read back from intake's query API."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        params: dict[str, Any] = {"status": "approved", "page": page, "page_size": 500}
        if year is not None:
            params["year"] = year
        answer = await transport.get_json("/applications", f"simulator:{submitter}", params)
        found += answer["items"]
        if page * answer["page_size"] >= answer["total"]:
            return found
        page += 1


async def send_plans(
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    application_ids: Sequence[str] = (),
    year: int | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Send a three-year plan and the first annual plan for approved applications: the ids
    given (with exactly one district), or else every approved application of the districts
    without plans yet, as intake's query API lists them (the query goes over HTTP either way)."""
    target = target or Target()
    seed = resolve_seed(seed)
    rng = _rng(seed, "plans")
    submitters = _submitters(districts)
    chains: list[list[Command]] = []
    already = 0
    if application_ids:
        if len(submitters) != 1:
            raise ValueError("give exactly one district with application ids")
        plan_year = year or default_year()
        for application_id in application_ids:
            chains.append(
                plan_commands(str(uuid.UUID(application_id)), submitters[0], plan_year, "建设单位", rng)
            )
    else:
        query = HttpTransport(
            target.intake_url, timeout=target.timeout, transport=target.http_transport, keys=target.keys()
        )
        try:
            for submitter in submitters:
                for receipt in await approved_applications(query, submitter, year):
                    if receipt["plans"]:
                        already += 1
                        continue
                    chains.append(
                        plan_commands(
                            receipt["application_id"], submitter, receipt["year"], receipt["name"], rng
                        )
                    )
        finally:
            await query.aclose()
    summary = await _send(
        "plans",
        chains,
        sum(len(c) for c in chains),
        target=target,
        seed=seed,
        concurrency=concurrency,
        progress=progress,
        description="建设方案 plans",
    )
    summary.kinds["applications"] = len(chains)
    summary.kinds["already_planned"] = already
    return summary


@dataclass(frozen=True)
class DemoCounts:
    applications: int = 20
    facilities: int = 30
    projects: int = 10
    facts: int = 5
    enrolments: int = 5_000


async def run_demo(
    counts: DemoCounts | None = None,
    *,
    target: Target | None = None,
    districts: Sequence[str] | None = None,
    seed: int | None = None,
    year: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Summary]:
    """A small realistic mix of everything, in the order a year unfolds: facilities and
    projects, applications, the exchange's facts (HTTP only; skipped over Kafka), enrolments."""
    counts = counts or DemoCounts()
    target = target or Target()
    seed = resolve_seed(seed)
    common: dict[str, Any] = {"target": target, "districts": districts, "seed": seed, "progress": progress}
    results = {
        "facilities": await send_facilities(counts.facilities, **common),
        "projects": await send_projects(counts.projects, **common),
        "applications": await send_applications(counts.applications, year, **common),
    }
    if target.via is Via.HTTP:
        results["facts"] = await send_facts(counts.facts, **common)
    results["enrolments"] = await send_enrolments(counts.enrolments, **common)
    return results


def demo_summary(results: dict[str, Summary], seed: int, via: Via, seconds: float) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "command": "demo",
        "via": via.value,
        "seed": seed,
        "sent": sum(s.sent for s in results.values()),
        "ok": sum(s.ok for s in results.values()),
        "failed": sum(s.failed for s in results.values()),
        "seconds": round(seconds, 3),
        "parts": {name: s.as_dict() for name, s in results.items()},
    }
    if "facts" not in results:
        summary["notes"] = ["facts skipped: compliance facts go over HTTP only"]
    return summary
