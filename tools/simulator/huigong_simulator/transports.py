"""How commands reach intake: over HTTP with the API key of the principal they are sent as
(read from the keyring; 502–504 and Retry-After are retried with backoff), or as records on the
submitters' inbound topics through one idempotent producer."""

from __future__ import annotations

import email.utils
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from huigong_events.forms import ReportingDepartment
from huigong_events.reference import DISTRICTS, GROUP_UNIONS
from huigong_platform.credentials import Keyring, default_keyring_path

from .commands import Command, CommandName, SimulatorError, enrolment_csv

DEFAULT_INTAKE_URL: Final = "http://127.0.0.1:8101"
DEFAULT_BOOTSTRAP: Final = "127.0.0.1:19092"
SIMULATED_HEADER: Final = "X-Huigong-Simulated"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
# Gateways and a service shedding load answer 502–504; everything else is the answer.
RETRY_STATUSES: Final = frozenset({502, 503, 504})
MAX_RETRY_WAIT: Final = 30.0  # seconds: a Retry-After beyond this is capped


def principals() -> list[str]:
    """Every principal the simulator may send as over HTTP, i.e. the keys its keyring needs
    (bin/run issues them): each district and group union, and each reporting department."""
    return [f"simulator:{code}" for code in (*DISTRICTS, *GROUP_UNIONS)] + [
        f"exchange:{department.value}" for department in ReportingDepartment
    ]


def truncate(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= limit else text[:limit] + "…"


class Via(StrEnum):
    HTTP = "http"
    KAFKA = "kafka"


class SheetFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True)
class Reply:
    ok: bool
    status: int | None = None  # HTTP status; None over Kafka
    body: Any = None
    replayed: bool = False
    error: str | None = None


class Transport(Protocol):
    via: Via

    async def send(self, command: Command) -> Reply: ...


@dataclass(frozen=True)
class Target:
    """Where the traffic goes. `http_transport` and `producer_factory` let tests and benchmarks
    put something else behind the client."""

    via: Via = Via.HTTP
    intake_url: str = DEFAULT_INTAKE_URL
    bootstrap: str = field(
        default_factory=lambda: os.environ.get("HUIGONG_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP)
    )
    topic_prefix: str = field(default_factory=lambda: os.environ.get("HUIGONG_TOPIC_PREFIX", ""))
    timeout: float = 60.0
    attempts: int = 5
    http_transport: httpx.AsyncBaseTransport | None = None
    producer_factory: Callable[[], Any] | None = None
    # API keys by principal; None: the keyring file (HUIGONG_KEYRING or .local/keyring.json).
    keyring: Mapping[str, str] | None = None

    def keys(self) -> Mapping[str, str]:
        return self.keyring if self.keyring is not None else Keyring.load(default_keyring_path())


class _Unavailable(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds the Retry-After header asks for (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _backoff(state: RetryCallState) -> float:
    """Honour Retry-After on 503 (capped); otherwise back off exponentially from 0.5 s."""
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    if isinstance(error, _Unavailable):
        asked = retry_after(error.response)
        if asked is not None:
            return min(asked, MAX_RETRY_WAIT)
    return float(min(0.5 * 2 ** (state.attempt_number - 1), 8.0))


_RETRYABLE_ERRORS: Final = (
    _Unavailable,
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.PoolTimeout,
)


class HttpTransport:
    """Commands as HTTP requests to intake. Retries 502–504 (honouring Retry-After) and broken
    connections, which the Idempotency-Key makes safe; never a 4xx."""

    via = Via.HTTP

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        attempts: int = 5,
        sheet_format: SheetFormat = SheetFormat.JSON,
        transport: httpx.AsyncBaseTransport | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        self.keys: Mapping[str, str] = keys if keys is not None else {}
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            headers={"User-Agent": "huigong-simulator"},
        )
        self.attempts = attempts
        self.sheet_format = sheet_format

    async def aclose(self) -> None:
        await self.client.aclose()

    def credentials(self, principal: str) -> dict[str, str]:
        """The Authorization header of `principal`'s API key; SimulatorError when the keyring
        has none (nothing is sent without a key)."""
        try:
            return {"Authorization": f"Bearer {self.keys[principal]}"}
        except KeyError:
            raise SimulatorError(
                f"密钥文件中没有 {principal} 的 API 密钥（no API key for {principal} in the keyring; run bin/run, "
                f"or huigong keys create --role {principal.replace(':', ' --code ', 1)} --actor <you> --keyring <file>）"
            ) from None

    def _request(self, command: Command) -> httpx.Request:
        method, path = command.route
        headers = {**self.credentials(command.principal), IDEMPOTENCY_HEADER: command.command_id}
        if command.name is CommandName.REPORT_FACT:
            headers[SIMULATED_HEADER] = "true"
        if command.name is CommandName.ENROL and self.sheet_format is SheetFormat.CSV:
            sheet = enrolment_csv(command.body["rows"])
            return self.client.build_request(
                method,
                "/enrolments/upload",
                headers=headers,
                files={"file": ("simulator.csv", sheet, "text/csv")},
            )
        headers["Content-Type"] = "application/json"
        return self.client.build_request(method, path, headers=headers, content=orjson.dumps(command.body))

    async def request(self, build: Callable[[], httpx.Request]) -> httpx.Response:
        """Send the request `build` makes, retrying as the class says. SimulatorError when intake
        cannot be reached at all."""
        response: httpx.Response | None = None
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_RETRYABLE_ERRORS),
                wait=_backoff,
                stop=stop_after_attempt(self.attempts),
                reraise=True,
            ):
                with attempt:
                    response = await self.client.send(build())
                    if response.status_code in RETRY_STATUSES:
                        raise _Unavailable(response)
        except _Unavailable as exc:
            return exc.response
        except httpx.TransportError as exc:
            raise SimulatorError(
                f"无法连接惠工受理服务 {self.client.base_url}（intake unreachable: {exc!r}）"
            ) from exc
        assert response is not None
        return response

    async def send(self, command: Command) -> Reply:
        response = await self.request(lambda: self._request(command))
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        ok = response.is_success
        return Reply(
            ok=ok,
            status=response.status_code,
            body=body,
            replayed=response.headers.get("Idempotent-Replayed") == "true",
            error=None if ok else truncate(body),
        )

    async def get_json(self, path: str, principal: str, params: dict[str, Any]) -> Any:
        response = await self.request(
            lambda: self.client.build_request("GET", path, params=params, headers=self.credentials(principal))
        )
        if not response.is_success:
            raise SimulatorError(
                f"查询 {path} 失败（query failed）：HTTP {response.status_code} {truncate(response.text)}"
            )
        return response.json()


def kafka_producer(bootstrap: str) -> Any:
    """An idempotent producer (acks=all) that takes 10,000-row commands: gzip shrinks one of
    about 2.3 MB to about 300 kB, under the broker's default 1 MB."""
    from aiokafka import AIOKafkaProducer

    from huigong_platform.kafka import client_options

    # Logs in as HUIGONG_KAFKA_USERNAME when the broker is secured: `simulator` on a development
    # stack, or one district's own principal, which may write only that district's topic.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="huigong-simulator",
        **client_options(),
        enable_idempotence=True,
        acks="all",
        compression_type="gzip",
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
    )


class KafkaTransport:
    """Commands as records on the submitters' inbound topics; `send` returns once acknowledged."""

    via = Via.KAFKA

    def __init__(self, producer: Any, prefix: str = "") -> None:
        self.producer = producer
        self.prefix = prefix

    async def send(self, command: Command) -> Reply:
        record = command.kafka_record(self.prefix)
        try:
            delivery = await self.producer.send(record.topic, value=record.value, key=record.key)
            metadata = await delivery
        except Exception as exc:  # a KafkaError: this record failed, the run goes on
            return Reply(ok=False, error=repr(exc))
        return Reply(
            ok=True, body={"topic": record.topic, "partition": metadata.partition, "offset": metadata.offset}
        )


@asynccontextmanager
async def connect(target: Target, sheet_format: SheetFormat = SheetFormat.JSON) -> AsyncIterator[Transport]:
    """An open transport to `target`, closed on exit."""
    if target.via is Via.HTTP:
        http = HttpTransport(
            target.intake_url,
            timeout=target.timeout,
            attempts=target.attempts,
            sheet_format=sheet_format,
            transport=target.http_transport,
            keys=target.keys(),
        )
        try:
            yield http
        finally:
            await http.aclose()
        return
    producer = (target.producer_factory or (lambda: kafka_producer(target.bootstrap)))()
    try:
        await producer.start()
    except Exception as exc:
        raise SimulatorError(f"无法连接 Kafka {target.bootstrap}（Kafka unreachable: {exc!r}）") from exc
    try:
        yield KafkaTransport(producer, target.topic_prefix)
    finally:
        await producer.stop()
