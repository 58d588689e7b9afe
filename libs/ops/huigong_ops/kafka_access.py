"""Why an operations command could not use Kafka, told so that the operator knows what to set.

aiokafka reports a broker that is down and a login the broker refused the same way ("Unable to
bootstrap"), and a topic the user may not see the same way as one that does not exist. So:

- a client that cannot start is told apart by a plain TCP connection to the bootstrap servers:
  nothing listening is "broker unreachable" (HUIGONG_KAFKA_BOOTSTRAP); a listener that would not
  let the client in is "authentication failed (user …)" (HUIGONG_KAFKA_USERNAME and
  HUIGONG_KAFKA_PASSWORD), or, with no user set, a broker that requires a login;
- a topic missing from the broker's full listing is asked for by name, and the broker's
  TOPIC_AUTHORIZATION_FAILED becomes "not authorized for topic …";
- an authorization error while reading says which topic or group and which user.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from pydantic import ValidationError

from huigong_platform.settings import KafkaAuth

from .common import OpsError

LOGIN_VARIABLES: Final = "HUIGONG_KAFKA_USERNAME 和 HUIGONG_KAFKA_PASSWORD"
# What an operator usually logs in as: the `ops` user reads every event, outbound and dead-letter
# topic (docs/security.md); its password is in the stack's secrets file.
OPS_HINT: Final = "e.g. HUIGONG_KAFKA_USERNAME=ops HUIGONG_KAFKA_PASSWORD=$HUIGONG_KAFKA_OPS_PASSWORD"
TCP_PROBE_SECONDS: Final = 3.0
SHOWN: Final = 5  # topics named in one message; a user of the wrong kind is refused dozens


def login() -> KafkaAuth:
    """This process's Kafka login, or a clear error when only half of it is set."""
    try:
        return KafkaAuth()
    except ValidationError as exc:
        raise OpsError(
            f"Kafka 登录设置不完整 incomplete Kafka login: set {LOGIN_VARIABLES} together "
            f"(or neither, for a broker without SASL): {exc.errors()[0]['msg']}"
        ) from exc


def _user(auth: KafkaAuth | None) -> str:
    user = (auth or login()).username
    return user if user else "无 none: PLAINTEXT"


def _addresses(bootstrap: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        if host and port.isdigit():
            found.append((host.strip("[]"), int(port)))
    return found


async def _listening(bootstrap: str) -> bool:
    """Whether anything accepts a TCP connection at one of the bootstrap addresses."""
    for host, port in _addresses(bootstrap):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TCP_PROBE_SECONDS)
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


async def start_failure(bootstrap: str, exc: BaseException, auth: KafkaAuth | None = None) -> OpsError:
    """What a client that could not start at `bootstrap` ran into, with what to set."""
    if isinstance(exc, OpsError):
        return exc
    auth = auth or login()
    if not await _listening(bootstrap):
        return OpsError(
            f"Kafka 无法连接 broker unreachable at {bootstrap}: nothing listens there; is the broker "
            "running? Set HUIGONG_KAFKA_BOOTSTRAP (or --bootstrap) to its address"
        )
    if auth.username is None:
        return OpsError(
            f"Kafka 拒绝登录 authentication failed (no user) at {bootstrap}: the broker requires "
            f"SASL/SCRAM; set {LOGIN_VARIABLES} ({OPS_HINT})"
        )
    return OpsError(
        f"Kafka 登录失败 authentication failed (user {auth.username}) at {bootstrap}: check "
        f"HUIGONG_KAFKA_PASSWORD for that user, or set {LOGIN_VARIABLES} to another ({OPS_HINT})"
    )


def not_authorized(kind: str, names: Iterable[str], auth: KafkaAuth | None = None) -> OpsError:
    every = sorted(set(names))
    listed = (
        ", ".join(every[:SHOWN]) + (f" (+{len(every) - SHOWN} more)" if len(every) > SHOWN else "") or "?"
    )
    return OpsError(
        f"Kafka 无权访问 not authorized for {kind} {listed} (user {_user(auth)}): set {LOGIN_VARIABLES} "
        "to a user granted it (`huigong kafka principals --dry-run` lists who may read what)"
    )


def denial(exc: BaseException, auth: KafkaAuth | None = None) -> OpsError | None:
    """An authorization error raised while using a client, told; None for anything else."""
    names = [str(a) for a in getattr(exc, "args", ()) if a]
    flat: list[str] = []
    for name in names:
        flat.extend(name.strip("{}").replace("'", "").split(", ") if name.startswith("{") else [name])
    if isinstance(exc, TopicAuthorizationFailedError):
        return not_authorized("topic", flat, auth)
    if isinstance(exc, GroupAuthorizationFailedError):
        return not_authorized("consumer group", flat, auth)
    if isinstance(exc, ClusterAuthorizationFailedError | TransactionalIdAuthorizationFailed):
        return not_authorized("cluster operation", flat or ["cluster"], auth)
    return None


async def check_topics(consumer: Any, names: Iterable[str]) -> None:
    """Refuse clearly when any of `names` is a topic this user may not see (a full metadata
    listing leaves those out, as if they did not exist)."""
    from aiokafka.cluster import ClusterMetadata

    wanted = list(names)
    if not wanted:
        return
    metadata = ClusterMetadata()
    await consumer._client._metadata_update(metadata, wanted)
    denied = metadata.unauthorized_topics & set(wanted)
    if denied:
        raise not_authorized("topic", denied)


@contextlib.asynccontextmanager
async def told(auth: KafkaAuth | None = None) -> AsyncIterator[None]:
    """Turn an authorization error of the body into its clear OpsError."""
    try:
        yield
    except OpsError:
        raise
    except Exception as exc:
        clear = denial(exc, auth)
        if clear is None:
            raise
        raise clear from exc


async def explained(bootstrap: str, exc: BaseException, auth: KafkaAuth | None = None) -> OpsError | None:
    """A command's Kafka failure, told: a refused grant, or a client that could not get through
    (unreachable, or its login refused); None for anything else, which keeps its own words."""
    clear = denial(exc, auth)
    if clear is not None:
        return clear
    if isinstance(exc, KafkaConnectionError | TimeoutError | OSError):
        return await start_failure(bootstrap, exc, auth)
    return None
