"""What every service process shares: the FastAPI app with /healthz, /readyz and /metrics,
a correlation id on every request (and the refusal of stored headers holding a worker's phone or
ID number), the access guard in front of every route (API keys, the authorization rules, rate
and size limits: `authorization.py`), the outbox relay and the projection subscriptions started
and stopped with the app, and a clean stop on SIGTERM (uvicorn drives the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faust.contrib.asgi import faust_app_running
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from huigong_events.checkpoints import CheckpointKeys

from . import answer_labels as answer_labels_
from . import api_docs, authorization, dead_letter_api, errors, logs, sessions, stream_api, verify_reports
from .application import CommandPath
from .checkpoints import Checkpointer
from .credentials import KeyVerifier
from .database import DbConnection, create_pool
from .eventstore import EventStore
from .health import CHECK_TIMEOUT, Check, Readiness
from .idempotency import IDEMPOTENCY_HEADER
from .outbox import RelayProcess
from .outcomes import OutcomeWatch
from .policy import Policy
from .raw_identifiers import Patterns
from .reactions import Reaction, reaction_app
from .refusals import FieldError
from .sessions import SessionVerifier
from .settings import Settings
from .subscriptions import Projection, Subscription

log = logs.get(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
# Headers kept as sent: the idempotency key in PostgreSQL, the correlation id in every event's
# envelope (PostgreSQL, Kafka) and on every log line.
STORED_HEADERS = (IDEMPOTENCY_HEADER, CORRELATION_HEADER)
# What `huigong scan-personal` looks for (a valid ID number, a mobile number, standing alone), so a
# header this lets through is one the scan would not report either. A UUID or hex id never matches.
_PERSONAL = Patterns()

# A service's own readiness question about its database: None when fine, else the reason.
DatabaseCheck = Callable[[DbConnection], Awaitable[str | None]]


@dataclass
class Runtime:
    """The live resources of a service, reachable from routers via `request.app.state.runtime`."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    relay: RelayProcess
    readiness: Readiness
    keys: KeyVerifier
    subscriptions: list[Subscription] = field(default_factory=list)
    # People's logins (the console): set by build_app beside the keys.
    sessions: SessionVerifier | None = None
    # The service's command path, which its on_start builds (`application.py`).
    commands: CommandPath | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    background: list[tuple[asyncio.Task[None], Callable[[], Awaitable[None]]]] = field(default_factory=list)

    def spawn(self, name: str, work: Coroutine[Any, Any, None], stop: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for the life of the service; `stop` asks it to finish at shutdown."""
        self.background.append((asyncio.create_task(work, name=name), stop))


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def correlation_id_of(request: Request) -> str:
    value: str = request.state.correlation_id
    return value


def personal_data_in_headers(headers: Iterable[tuple[str, str]]) -> list[FieldError]:
    """The stored headers that hold a worker's phone or ID number (the value is never repeated).
    `headers` as (name, value) pairs, any case, a header sent twice included."""
    holding = {
        name.lower() for name, value in headers if value and next(_PERSONAL.find(value), None) is not None
    }
    return [
        FieldError(
            name,
            f"请求头 {name} 不得含手机号或身份证号",
            f"the {name} header must not contain a phone or ID number",
        )
        for name in STORED_HEADERS
        if name.lower() in holding
    ]


def build_app(
    settings: Settings,
    *,
    title: str,
    description: str,
    projections: Sequence[Projection] = (),
    reactions: Sequence[Reaction] = (),
    policy: Policy,
    routers: Sequence[APIRouter] = (),
    on_start: Callable[[Runtime], Awaitable[None]] | None = None,
    union_tags: frozenset[str] = frozenset(),
    database_checks: Sequence[DatabaseCheck] = (),
    answer_labels: answer_labels_.Vocabularies | None = None,
) -> FastAPI:
    """`database_checks`: what else the service needs of PostgreSQL to be ready (intake: the
    registry's key function); a failing one makes /readyz answer 503 with its reason under
    `postgres`. `policy`: the service's access rules (its `policy.py`); a route it does not
    name is refused to everyone. `answer_labels`: the service's own vocabularies (its statuses) by
    the field name its answers use, besides `answer_labels.COMMON`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, settings.service, max_size=20)
        # The relay runs in a child process, on a core of its own (see outbox.RelayProcess).
        relay = RelayProcess(
            settings.service,
            settings.database_url,
            settings.kafka_bootstrap,
            settings.relay_batch_size,
            settings.log_level,
        )
        runtime = Runtime(
            settings=settings,
            pool=pool,
            store=EventStore(pool, settings.topic_prefix),
            relay=relay,
            readiness=Readiness(pool, settings.kafka_bootstrap, settings.service),
            keys=KeyVerifier(pool, settings.auth_cache_seconds),
            sessions=SessionVerifier(
                pool, settings.auth_cache_seconds, timedelta(minutes=settings.session_idle_minutes)
            ),
            subscriptions=[
                Subscription(
                    p,
                    pool,
                    settings.kafka_bootstrap,
                    settings.service,
                    settings.topic_prefix,
                    settings.consumer_batch_size,
                    settings.consumer_max_poll_seconds,
                    settings.consumer_session_seconds,
                )
                for p in projections
            ],
        )
        app.state.runtime = runtime
        signing = CheckpointKeys.parse(
            settings.checkpoint_keys.get_secret_value() if settings.checkpoint_keys else ""
        )
        if signing.signing_key(settings.service) is not None:
            checkpointer = Checkpointer(
                pool,
                settings.service,
                signing,
                settings.kafka_bootstrap,
                settings.topic_prefix,
                settings.checkpoint_seconds,
            )
            runtime.spawn("chain-checkpoints", checkpointer.run(), checkpointer.stop)
        else:
            log.warning("no checkpoint key of this service: its event store is not checkpointed")
        if on_start is not None:
            await on_start(runtime)
        app.state.commands = runtime.commands
        tasks = [asyncio.create_task(relay.run(), name="outbox-relay")]
        tasks += [
            asyncio.create_task(s.run(), name=f"subscription-{s.projection.name}")
            for s in runtime.subscriptions
        ]
        exits = contextlib.AsyncExitStack()
        if reactions:
            faust_app = reaction_app(settings, pool, runtime.store, reactions)
            await exits.enter_async_context(faust_app_running(faust_app, stop_timeout=15))
            watch = OutcomeWatch(
                pool, settings.kafka_bootstrap, settings.service, [(r.name, r.outcomes) for r in reactions]
            )
            # Only reads: cancelled at once on the way out.
            watching = asyncio.create_task(watch.run(), name="outcome-watch")
            exits.callback(watching.cancel)
        log.info(
            "service started",
            port=settings.port,
            projections=[p.name for p in projections],
            reactions=[r.name for r in reactions],
        )
        try:
            yield
        finally:
            # The projection consumers are told first, so that they leave their groups while
            # faust stops (which takes seconds): another instance of the service takes over their
            # partitions that much sooner.
            for s in runtime.subscriptions:
                await s.stop()
            await exits.aclose()
            log.info("service stopping")
            for task, stop in runtime.background:
                await stop()
                tasks.append(task)
            await relay.stop()
            for s in runtime.subscriptions:
                await s.stop()
            done, pending = await asyncio.wait(tasks, timeout=15)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("task failed", task=task.get_name(), error=str(task.exception()))
            await runtime.readiness.close()
            await pool.close()
            log.info("service stopped")

    # /docs and /redoc are our own (api_docs): their scripts come from this service, not a CDN.
    app = FastAPI(
        title=title,
        description=description,
        lifespan=lifespan,
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
    )
    # Added before the correlation middleware, so it runs inside it: refusals carry the
    # correlation id, and their log lines too.
    app.add_middleware(
        authorization.AccessGuard,
        policy=policy,
        limits=authorization.Limits(
            body_bytes=settings.max_body_bytes,
            upload_bytes=settings.max_upload_bytes,
            file_bytes=settings.max_file_bytes,
            per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
        ),
    )

    @app.middleware("http")
    async def correlation(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refused = personal_data_in_headers(request.headers.items())
        if refused:
            # Before anything can store, log or echo the value: the refusal gets an id of its own.
            correlation_id = str(uuid.uuid4())
            with logs.bound_contextvars(correlation_id=correlation_id):
                log.info(
                    "request refused", path=request.url.path, status=422, fields=[e.field for e in refused]
                )
            return JSONResponse(
                errors.body(refused), status_code=422, headers={CORRELATION_HEADER: correlation_id}
            )
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        with logs.bound_contextvars(correlation_id=correlation_id):
            response = await call_next(request)
        response.headers[CORRELATION_HEADER] = correlation_id
        return response

    @app.get("/healthz", tags=["运行状态"], summary="存活检查 (liveness)")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": settings.service}

    @app.get("/readyz", tags=["运行状态"], summary="就绪检查：PostgreSQL、Kafka、数据库迁移")
    async def readyz(request: Request) -> JSONResponse:
        runtime = runtime_of(request)
        pg, kafka = await asyncio.gather(runtime.readiness.postgres(), runtime.readiness.kafka())
        if pg.ok and database_checks:
            pg = await _database_checks(runtime.pool, database_checks)
        ready = pg.ok and kafka.ok
        body = {
            "status": "ready" if ready else "unready",
            "service": settings.service,
            "checks": {"postgres": pg.detail, "kafka": kafka.detail},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["运行状态"], summary="Prometheus 指标")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    labeller = answer_labels_.Labeller(answer_labels_.COMMON, answer_labels or {})
    app.state.labeller = labeller  # exports label their cells as answers are (exports.py)
    app.add_middleware(
        answer_labels_.AnswerLabels,
        labeller=labeller,
        skip=frozenset({"/openapi.json", "/healthz", "/readyz", "/metrics"}),
    )

    # Outermost: the guard and the router see the path without the front door's prefix.
    app.add_middleware(api_docs.ForwardedPrefix, service=settings.service)
    api_docs.install(app, title)
    app.include_router(
        sessions.router(sessions.SessionSettings(settings.session_hours, settings.session_idle_minutes))
    )

    errors.install(app, union_tags)
    app.include_router(
        dead_letter_api.router(
            settings.service,
            {p.name: p for p in [*projections, *reactions]},
            lambda request: runtime_of(request).pool,
        )
    )
    app.include_router(
        stream_api.router(
            settings.service,
            projections,
            reactions,
            lambda request: runtime_of(request).pool,
            lambda request: (
                runtime_of(request).settings.kafka_bootstrap,
                runtime_of(request).settings.topic_prefix,
            ),
        )
    )
    app.include_router(verify_reports.router(lambda request: runtime_of(request).pool))
    for router in routers:
        app.include_router(router)

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            documented = authorization.document(plain_openapi(), policy)
            declared = errors.declare(documented, lambda m, p: _public(policy, m, p))
            app.openapi_schema = answer_labels_.document(declared, labeller)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _public(policy: Policy, method: str, path: str) -> bool:
    rule = policy.rule_for(method, path)
    return rule is not None and rule.public


async def _database_checks(pool: asyncpg.Pool, checks: Sequence[DatabaseCheck]) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), pool.acquire() as conn:
            problems = [p for p in [await check(conn) for check in checks] if p]
    except Exception as exc:
        return Check(False, f"{type(exc).__name__}: {exc}")
    return Check(False, "; ".join(problems)) if problems else Check(True, "ok")


def tune_gc() -> None:
    """Consumers allocate many short-lived objects per record; with CPython's default gen-0
    threshold (700) the collector runs every few records and costs a fifth of decode time. The
    batches in flight hold some 300,000 of them (about 30 per record; one batch of 5,000 decoded
    while the one before commits): below that, every collection walks live objects only to
    promote them, which cost the projection runner a quarter of its CPU at 50,000
    (bench/bench_projection_runner.py)."""
    gc.set_threshold(500_000, 20, 20)


def serve(app: FastAPI, settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; uvicorn then runs the lifespan's shutdown."""
    logs.configure(settings.service, settings.log_level)
    tune_gc()
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        # libuv's loop (uvloop): its socket reads, writes and callbacks cost less than asyncio's,
        # which shows on 10,000-row enrolment batches of several MB.
        loop="uvloop",
    )
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler that was
    # installed before it; make that one exit 0, since the stop was clean and asked for.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
