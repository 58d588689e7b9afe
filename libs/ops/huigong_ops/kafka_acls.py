"""Who may do what on Kafka: the platform's principals and their ACLs, declared once, and the
command that makes a broker match the declaration (`huigong kafka principals`).

With `HUIGONG_KAFKA_SECURITY=scram` (bin/run, docker-compose) the broker authenticates every
client with SASL/SCRAM-SHA-512 and authorizes every request with ACLs, allowing nothing that is
not granted (`allow.everyone.if.no.acl.found=false`). The principals:

- `admin`: super user (the broker itself, topic provisioning, this command); no ACLs needed.
- one per service (`intake`, `review`, `registry`, `metrics`): Read on the topics its
  projections and reactions consume, Write on the topics it owns, Read on its own consumer
  groups (`<prefix>huigong.<service>.…`, which also covers its faust app). Nothing else: review
  cannot write intake's topics, and reads none of the registry's (the registry destroys a
  member's data key itself when it records MemberErased).
- `ops`: Read on the event, outbound and dead-letter topics, Describe on the inbound topics (offsets and
  lag only: they carry raw personal data) and on our consumer groups. No Write anywhere.
- one per district and group union (`district-370202`, `group-g-haier`): Write on its own
  inbound topic, so the topic proves the sender; Read on its own outbound topic
  (`huigong.outbound.<code>`) with consumer groups under its own prefix
  (`huigong.outbound.<code>.`); nothing else, so no district reads another's notices.
- `simulator` (development stacks only, `--local`): Write on every inbound topic; the
  simulator marks its data as simulated.

Topic and group names carry the topic prefix (HUIGONG_TOPIC_PREFIX), so test runs sharing a
broker get their own ACLs. Passwords are not here: each principal's is read from
`HUIGONG_KAFKA_<NAME>_PASSWORD` (`password_variable`), generated per install into the git-ignored
secrets file by `huigong kafka secrets`; a principal without one gets no user and no ACLs.

aiokafka has the ACL requests but no call for SCRAM credentials, so the two small flexible
requests of KIP-554 are declared below with aiokafka's own protocol types; the salted password
is computed here as the Java Admin client does (PBKDF2, RFC 5802).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Final

from aiokafka.conn import AIOKafkaConnection, create_conn
from aiokafka.errors import KafkaError, NotControllerError, for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DeleteAclsRequest_v1,
    DescribeAclsRequest,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from huigong_events.reference import GROUP_UNIONS, SUBMITTERS
from huigong_events.topics import (
    CHECKPOINT_TOPICS,
    DEAD_LETTER_TOPICS,
    EVENT_TOPICS,
    INBOUND_TOPICS,
    OUTBOUND_TOPICS,
    TOPICS,
    Topic,
    TopicKind,
    inbound_topic,
    outbound_topic,
)
from huigong_platform import logs
from huigong_platform.kafka import client_options
from huigong_platform.settings import SERVICES, KafkaAuth

log = logs.get(__name__)

ADMIN: Final = "admin"
MECHANISM: Final = "SCRAM-SHA-512"
# Kafka accepts 4096..16384 for SCRAM-SHA-512; a login costs the broker one PBKDF2 of this many.
SCRAM_ITERATIONS: Final = 8192


# ------------------------------------------------------------------------------------------------
# The declaration


class ResourceType(IntEnum):  # Kafka's wire codes (org.apache.kafka.common.resource.ResourceType)
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class PatternType(IntEnum):
    ANY = 1
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    ANY = 1
    READ = 3
    WRITE = 4
    DESCRIBE = 8


class Permission(IntEnum):
    ANY = 1
    ALLOW = 3


class Role(StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    OPS = "ops"
    DISTRICT = "district"  # a district federation's or group union's system
    SIMULATOR = "simulator"


@dataclass(frozen=True, order=True)
class Grant:
    """One right on one resource. `name` is the catalogue name; the topic prefix is added when
    the ACL is written. Read and Write imply Describe, so Describe is granted only alone."""

    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation


@dataclass(frozen=True)
class KafkaPrincipal:
    name: str
    role: Role
    description: str
    grants: tuple[Grant, ...] = ()
    local_only: bool = False  # created on development stacks only (bin/stack), never by compose

    @property
    def password_variable(self) -> str:
        return f"HUIGONG_KAFKA_{re.sub(r'[^A-Z0-9]', '_', self.name.upper())}_PASSWORD"

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.name}"


def _read(*topics: Topic) -> tuple[Grant, ...]:
    return tuple(Grant(ResourceType.TOPIC, t.name, PatternType.LITERAL, Operation.READ) for t in topics)


def _write(*topics: Topic) -> tuple[Grant, ...]:
    return tuple(Grant(ResourceType.TOPIC, t.name, PatternType.LITERAL, Operation.WRITE) for t in topics)


def _describe(*topics: Topic) -> tuple[Grant, ...]:
    return tuple(Grant(ResourceType.TOPIC, t.name, PatternType.LITERAL, Operation.DESCRIBE) for t in topics)


def _topic(name: str) -> Topic:
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"{name!r} is not in the topic catalogue")


def group_prefix(service: str) -> str:
    """Every consumer group of a service starts with this (before the topic prefix): its
    projections' (`huigong.<projection name>`, names start with the service), intake's inbound
    consumer and the faust app of its reactions (`huigong.<service>.reactions`)."""
    return f"huigong.{service}."


# What each service's projections and reactions consume. Checked against the services' code by
# tests/integration/test_kafka_security.py, so a new projection cannot silently lack its grant.
SERVICE_READS: Final[dict[str, tuple[Topic, ...]]] = {
    "intake": (
        *INBOUND_TOPICS,
        _topic("huigong.intake.applications"),
        _topic("huigong.review.reviews"),
        # The outbound notices of certification, suspension, revocation and exit, of facilities
        # and service projects, and of service matters transferred to a district's centre.
        _topic("huigong.registry.units"),
        _topic("huigong.registry.facilities"),
        _topic("huigong.registry.matters"),
        # The registry's outcome of each enrolment row (a new member or one reported before),
        # matched to its batch and row number by intake's own requests.
        _topic("huigong.intake.enrolments"),
        _topic("huigong.registry.members"),
        # Its own outbound topics: after a crash the publisher reads their last records to know
        # what the broker already holds, so that no district gets a notice twice.
        *OUTBOUND_TOPICS,
        # Its inbound dead letters: `huigong dead-letters retry --inbound` runs as intake (it
        # reads the original command again from the inbound topic, which only intake may).
        *DEAD_LETTER_TOPICS,
    ),
    "review": (
        _topic("huigong.intake.applications"),
        _topic("huigong.intake.reports"),
        _topic("huigong.review.reviews"),
        _topic("huigong.registry.units"),
    ),
    "registry": (
        _topic("huigong.intake.applications"),
        _topic("huigong.intake.reports"),
        _topic("huigong.intake.enrolments"),
        _topic("huigong.review.reviews"),
        _topic("huigong.registry.units"),
        _topic("huigong.registry.facilities"),
        _topic("huigong.registry.members"),
        _topic("huigong.registry.matters"),
    ),
    # Metrics counts everything that happens.
    "metrics": EVENT_TOPICS,
}


def _service(service: str) -> KafkaPrincipal:
    owned = tuple(t for t in TOPICS if t.owner == service and t.kind is not TopicKind.INBOUND)
    return KafkaPrincipal(
        service,
        Role.SERVICE,
        f"{service} service: reads what it consumes, writes what it owns",
        (
            *_read(*SERVICE_READS[service]),
            *_write(*owned),
            Grant(ResourceType.GROUP, group_prefix(service), PatternType.PREFIXED, Operation.READ),
        ),
    )


def outbound_group_prefix(code: str) -> str:
    """A district's consumer groups on its outbound topic start with this (before the topic
    prefix): `huigong.outbound.370202.` lets 市南区 name its groups as it likes, and no other."""
    return f"huigong.outbound.{code.lower()}."


def _submitter(code: str) -> KafkaPrincipal:
    role = "group" if code in GROUP_UNIONS else "district"
    return KafkaPrincipal(
        f"{role}-{code.lower()}",
        Role.DISTRICT,
        f"{SUBMITTERS[code]}: writes only its own inbound topic, reads only its own outbound topic",
        (
            *_write(inbound_topic(code)),
            *_read(outbound_topic(code)),
            Grant(ResourceType.GROUP, outbound_group_prefix(code), PatternType.PREFIXED, Operation.READ),
        ),
    )


PRINCIPALS: Final[tuple[KafkaPrincipal, ...]] = (
    KafkaPrincipal(ADMIN, Role.ADMIN, "super user (super.users): the broker, topics, users and ACLs"),
    *(_service(s) for s in SERVICES),
    KafkaPrincipal(
        "ops",
        Role.OPS,
        "operators and auditors (huigong verify, audit, streams, replay): read, never write",
        (
            *_read(*EVENT_TOPICS, *OUTBOUND_TOPICS, *DEAD_LETTER_TOPICS, *CHECKPOINT_TOPICS),
            *_describe(*INBOUND_TOPICS),
            Grant(ResourceType.GROUP, "huigong.", PatternType.PREFIXED, Operation.DESCRIBE),
        ),
    ),
    *(_submitter(code) for code in SUBMITTERS),
    KafkaPrincipal(
        "simulator",
        Role.SIMULATOR,
        "district simulator (development only): writes every inbound topic, data marked simulated",
        _write(*INBOUND_TOPICS),
        local_only=True,
    ),
)


def principal(name: str) -> KafkaPrincipal:
    for p in PRINCIPALS:
        if p.name == name:
            return p
    raise KeyError(f"no Kafka principal {name!r}")


def principals(local: bool) -> tuple[KafkaPrincipal, ...]:
    return tuple(p for p in PRINCIPALS if local or not p.local_only)


@dataclass(frozen=True, order=True)
class Acl:
    """One ACL binding as Kafka stores it."""

    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    host: str
    operation: int
    permission: int

    def describe(self) -> str:
        return (
            f"{self.principal} {Operation(self.operation).name} "
            f"{ResourceType(self.resource_type).name.lower()} "
            f"{self.resource_name}{'*' if self.pattern_type == PatternType.PREFIXED else ''}"
        )


def acls_of(p: KafkaPrincipal, prefix: str = "") -> set[Acl]:
    return {
        Acl(
            int(g.resource),
            f"{prefix}{g.name}",
            int(g.pattern),
            p.kafka_principal,
            "*",
            int(g.operation),
            int(Permission.ALLOW),
        )
        for g in p.grants
    }


def managed(acl: Acl, table: Iterable[KafkaPrincipal], prefix: str) -> bool:
    """ACLs this command owns: of our principals, on our (prefixed) names. Anything else on the
    broker (another prefix's, an operator's own) is left alone."""
    return acl.principal in {p.kafka_principal for p in table} and acl.resource_name.startswith(
        f"{prefix}huigong."
    )


# ------------------------------------------------------------------------------------------------
# Passwords


def passwords_from_env(table: Iterable[KafkaPrincipal], env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ) if env is None else env
    return {p.name: env[p.password_variable] for p in table if env.get(p.password_variable)}


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def ensure_secrets(path: Path, table: Iterable[KafkaPrincipal]) -> list[str]:
    """Append a random password for every principal that has none in `path` (a KEY=value file,
    mode 600); returns the variables added. Existing passwords are never changed."""
    existing = read_env_file(path)
    missing = [p.password_variable for p in table if not existing.get(p.password_variable)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    if missing:
        text = path.read_text()
        lines = [f"{var}={secrets.token_hex(32)}" for var in missing]
        # Letters and digits only: the admin password is written into the broker's JAAS line.
        path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(lines) + "\n")
    return missing


def salted_password(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> bytes:
    """SCRAM's SaltedPassword = Hi(password, salt, i), i.e. PBKDF2 with HMAC-SHA-512."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


# ------------------------------------------------------------------------------------------------
# Wire: KIP-554 requests, and multi-binding CreateAcls / DeleteAcls (aiokafka's wrappers send one)

_SCRAM_SHA_512: Final = 2  # ScramMechanism code on the wire


class _AlterScramResponseV0(Response):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramRequestV0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterScramResponseV0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentials(Request[_AlterScramRequestV0]):  # type: ignore[misc]
    """Set (create or replace) SCRAM-SHA-512 credentials of users."""

    API_KEY = 51

    def __init__(self, passwords: dict[str, str]) -> None:
        self._upsertions: list[tuple[str, int, int, bytes, bytes, dict[int, bytes]]] = []
        for name, password in sorted(passwords.items()):
            salt = os.urandom(32)
            self._upsertions.append(
                (name, _SCRAM_SHA_512, SCRAM_ITERATIONS, salt, salted_password(password, salt), {})
            )

    def build(self, request_struct_class: type[_AlterScramRequestV0]) -> _AlterScramRequestV0:
        return request_struct_class([], self._upsertions, {})


class _DescribeScramResponseV0(Response):  # type: ignore[misc]
    API_KEY = 50
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("error_message", CompactString("utf-8")),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                (
                    "credential_infos",
                    CompactArray(("mechanism", Int8), ("iterations", Int32), ("tags", TaggedFields)),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _DescribeScramRequestV0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 50
    API_VERSION = 0
    RESPONSE_TYPE = _DescribeScramResponseV0
    SCHEMA = Schema(
        ("users", CompactArray(("name", CompactString("utf-8")), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class DescribeUserScramCredentials(Request[_DescribeScramRequestV0]):  # type: ignore[misc]
    """Every user with SCRAM credentials (a null user list means all)."""

    API_KEY = 50

    def build(self, request_struct_class: type[_DescribeScramRequestV0]) -> _DescribeScramRequestV0:
        return request_struct_class(None, {})


class CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, acls: Sequence[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (
                    a.resource_type,
                    a.resource_name,
                    a.pattern_type,
                    a.principal,
                    a.host,
                    a.operation,
                    a.permission,
                )
                for a in self._acls
            ]
        )


class DeleteAcls(Request[DeleteAclsRequest_v1]):  # type: ignore[misc]
    """Deletes exactly the given bindings (each one is its own fully specified filter)."""

    API_KEY = 31

    def __init__(self, acls: Sequence[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[DeleteAclsRequest_v1]) -> DeleteAclsRequest_v1:
        return request_struct_class(
            [
                (
                    a.resource_type,
                    a.resource_name,
                    a.pattern_type,
                    a.principal,
                    a.host,
                    a.operation,
                    a.permission,
                )
                for a in self._acls
            ]
        )


def _raise_for(code: int, message: str | None, what: str) -> None:
    if code:
        error = for_code(code)
        raise KafkaSecurityError(f"{what}: {error.__name__} {message or ''}".strip())


class KafkaSecurityError(Exception):
    pass


class WrongClusterError(KafkaSecurityError):
    pass


@dataclass
class Outcome:
    cluster_id: str | None
    brokers: list[str]
    users: list[str] = field(default_factory=list)
    without_password: list[str] = field(default_factory=list)
    acls_wanted: int = 0
    acls_added: list[Acl] = field(default_factory=list)
    acls_removed: list[Acl] = field(default_factory=list)


async def _connect(bootstrap: str, options: dict[str, Any]) -> AIOKafkaConnection:
    """A connection to the first bootstrap server that accepts the login."""
    errors: list[str] = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            return await create_conn(
                host, int(port), client_id="huigong-kafka-principals", request_timeout_ms=10_000, **options
            )
        except (OSError, KafkaError, TimeoutError) as exc:
            errors.append(f"{server}: {type(exc).__name__} {exc}")
    raise KafkaSecurityError("; ".join(errors) or f"no server in {bootstrap!r}")


async def _retrying(what: str, deadline: float, attempt: Any) -> Any:
    """Runs `attempt()` until it succeeds or the deadline passes (a broker still starting,
    credentials still propagating); a wrong cluster is never retried."""
    loop = asyncio.get_running_loop()
    last: Exception | None = None
    while True:
        try:
            return await attempt()
        except WrongClusterError:
            raise
        except (OSError, KafkaError, KafkaSecurityError, TimeoutError) as exc:
            last = exc
        if loop.time() >= deadline:
            raise KafkaSecurityError(f"{what}: {last}")
        await asyncio.sleep(0.5)


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


async def bootstrap_admin(controller: str, password: str, deadline: float) -> None:
    """Write admin's SCRAM credential through the controller listener (SASL/PLAIN, admin being
    its one static user): that is how the first credential gets into a freshly formatted
    cluster, or into one formatted before security was switched on. `controller` may list every
    controller of a cluster, comma-separated: only the active one takes the write, so each is
    asked in turn until one does."""

    async def attempt() -> None:
        refused: list[str] = []
        for server in controller.split(","):
            # aiokafka warns of every PLAIN login; this one is admin's, on the controller listener.
            with _quiet(logging.getLogger("aiokafka.conn")):
                conn = await _connect(
                    server,
                    {
                        "security_protocol": "SASL_PLAINTEXT",
                        "sasl_mechanism": "PLAIN",
                        "sasl_plain_username": ADMIN,
                        "sasl_plain_password": password,
                    },
                )
            try:
                response = await conn.send(AlterUserScramCredentials({ADMIN: password}))
            finally:
                conn.close()
            if any(code == NotControllerError.errno for _, code, _, _ in response.results):
                refused.append(server)
                continue
            for user, code, message, _ in response.results:
                _raise_for(code, message, f"SCRAM credentials of {user}")
            return
        raise KafkaSecurityError(f"no active controller among {', '.join(refused)}")

    await _retrying(
        f"cannot set admin's credentials through the controller at {controller}", deadline, attempt
    )


async def _admin_session(
    bootstrap: str, auth: KafkaAuth, cluster_id: str | None, deadline: float
) -> tuple[AIOKafkaConnection, Any]:
    async def attempt() -> tuple[AIOKafkaConnection, Any]:
        conn = await _connect(bootstrap, client_options(auth))
        try:
            metadata = await conn.send(MetadataRequest([]))
        except BaseException:
            conn.close()
            raise
        if cluster_id and metadata.cluster_id != cluster_id:
            conn.close()
            raise WrongClusterError(
                f"{bootstrap} answers for cluster {metadata.cluster_id!r}, expected {cluster_id!r}"
                " (another Kafka on this port, or data formatted with another cluster id)"
            )
        if not metadata.brokers:
            conn.close()
            raise KafkaSecurityError("no broker registered yet")
        return conn, metadata

    result: tuple[AIOKafkaConnection, Any] = await _retrying(
        f"cannot log in to {bootstrap} as {auth.username}", deadline, attempt
    )
    return result


async def existing_acls(conn: AIOKafkaConnection) -> set[Acl]:
    response = await conn.send(
        DescribeAclsRequest(
            int(ResourceType.ANY),
            None,
            int(PatternType.ANY),
            None,
            None,
            int(Operation.ANY),
            int(Permission.ANY),
        )
    )
    _raise_for(response.error_code, response.error_message, "describing ACLs")
    return {
        Acl(resource_type, name, pattern, principal_, host, operation, permission)
        for resource_type, name, pattern, acls in response.resources
        for principal_, host, operation, permission in acls
    }


async def scram_users(conn: AIOKafkaConnection) -> set[str]:
    response = await conn.send(DescribeUserScramCredentials())
    _raise_for(response.error_code, response.error_message, "describing SCRAM users")
    return {user for user, code, _, infos, _ in response.results if not code and infos}


async def apply(
    bootstrap: str,
    admin_password: str,
    *,
    table: Sequence[KafkaPrincipal],
    passwords: dict[str, str],
    prefix: str = "",
    controller: str | None = None,
    cluster_id: str | None = None,
    wait: float = 60.0,
) -> Outcome:
    """Make the broker's users and ACLs those of `table` (for topic prefix `prefix`): set the
    SCRAM credentials of every principal with a password, add missing ACLs, remove ours that the
    table no longer grants, and return once the broker enforces the result. Idempotent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    if controller:
        await bootstrap_admin(controller, admin_password, deadline)
    admin = KafkaAuth(username=ADMIN, password=admin_password)
    conn, metadata = await _admin_session(bootstrap, admin, cluster_id, deadline)
    try:
        outcome = Outcome(
            metadata.cluster_id, [f"{node}@{host}:{port}" for node, host, port, *_ in metadata.brokers]
        )
        with_password = [p for p in table if p.name in passwords and p.role is not Role.ADMIN]
        outcome.without_password = [p.name for p in table if p.name not in passwords]
        if with_password:
            response = await conn.send(
                AlterUserScramCredentials({p.name: passwords[p.name] for p in with_password})
            )
            for user, code, message, _ in response.results:
                _raise_for(code, message, f"SCRAM credentials of {user}")
        outcome.users = [p.name for p in with_password]

        wanted: set[Acl] = set()
        for p in with_password:
            wanted |= acls_of(p, prefix)
        outcome.acls_wanted = len(wanted)
        current = await existing_acls(conn)
        outcome.acls_added = sorted(wanted - current)
        outcome.acls_removed = sorted(a for a in current - wanted if managed(a, table, prefix))
        if outcome.acls_added:
            response = await conn.send(CreateAcls(outcome.acls_added))
            for code, message in response.creation_responses:
                _raise_for(code, message, "creating ACLs")
        if outcome.acls_removed:
            response = await conn.send(DeleteAcls(outcome.acls_removed))
            for code, message, _ in response.filter_responses:
                _raise_for(code, message, "deleting ACLs")

        # The controller has committed both; wait until this broker's authorizer and credential
        # cache have applied them, so that a client started right after is judged by them.
        async def enforced() -> None:
            acls = await existing_acls(conn)
            users = await scram_users(conn)
            if not wanted <= acls or (acls & set(outcome.acls_removed)):
                raise KafkaSecurityError("ACLs not yet applied by the broker")
            if missing := {p.name for p in with_password} - users:
                raise KafkaSecurityError(f"users not yet known to the broker: {', '.join(sorted(missing))}")

        await _retrying(
            "the broker did not apply the users and ACLs", max(deadline, loop.time() + 10), enforced
        )
        log.info(
            "kafka principals applied",
            users=len(outcome.users),
            acls=outcome.acls_wanted,
            added=len(outcome.acls_added),
            removed=len(outcome.acls_removed),
            prefix=prefix,
        )
        return outcome
    finally:
        with contextlib.suppress(Exception):
            conn.close()
