"""Kafka with SASL/SCRAM and ACLs (HUIGONG_KAFKA_SECURITY=scram, as bin/run and docker-compose
run it): unauthenticated clients are refused, a district writes only its own inbound topic, a
service only its own topics, and the services, logged in as themselves, still turn a district's
command into events end to end; the district hears back on its own outbound topic (and the HTTP
feed), which no other district may read.

The shared development broker stays PLAINTEXT for the rest of the suite, so this module starts a
secured broker of its own with the project's `bin/stack` (its own local directory and free
ports, the installed jars), which also creates every user and ACL with `huigong kafka
principals`. Service processes get their own database in this run's PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError
from typer.testing import CliRunner, Result

from huigong_events.topics import INBOUND_TOPICS, inbound_topic, outbound_topic, topic_for_aggregate
from huigong_ops import kafka_acls, keys
from huigong_ops.cli import app as ops_app
from huigong_ops.registry import discover
from huigong_platform import database
from huigong_platform.kafka import admin_client as make_admin
from huigong_platform.kafka import client_options, ensure_topics
from huigong_platform.kafka import consumer as make_consumer
from huigong_platform.kafka import producer as make_producer
from huigong_platform.settings import SERVICES, KafkaAuth

from ..conftest import LOCAL, REPO, Stack, drop_run_database
from ..forms import complex_form, with_fresh_undertaking_unit
from ..unit.intake.test_enrolments import row as enrolment_row
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir

YEAR = datetime.now(UTC).year + 1
SHINAN, SHIBEI = "370202", "370203"  # 市南区, 市北区


@dataclass(frozen=True)
class SecuredKafka:
    bootstrap: str
    controller: str
    prefix: str
    secrets: dict[str, str]

    def auth(self, principal: str) -> KafkaAuth:
        password = self.secrets[kafka_acls.principal(principal).password_variable]
        return KafkaAuth(username=principal, password=password)

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def bin_stack(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(REPO / "bin/stack"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bin/stack {' '.join(args)} failed ({proc.returncode}):\n{out.decode()}")
    return out.decode()


@pytest.fixture(scope="module")
async def secured(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredKafka]:
    local: Path = tmp_path_factory.mktemp("kafka-scram")
    port, controller_port = free_ports(2)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("HUIGONG_KAFKA_")}
    env = {
        **inherited,
        "HUIGONG_LOCAL_DIR": str(local),
        "HUIGONG_KAFKA_PORT": str(port),
        "HUIGONG_KAFKA_CONTROLLER_PORT": str(controller_port),
        # bin/test shares the jars bin/setup installed; without it they are the stack's own.
        "HUIGONG_KAFKA_LIBS": os.environ.get("HUIGONG_KAFKA_LIBS", str(LOCAL / "kafka" / "libs")),
        "HUIGONG_KAFKA_SECURITY": "scram",
        "HUIGONG_TOPIC_PREFIX": stack.topic_prefix,
    }
    try:
        await bin_stack(env, "start", "kafka")
    except RuntimeError as exc:
        await bin_stack(env, "stop", "kafka")
        pytest.fail(str(exc), pytrace=False)
    try:
        kafka = SecuredKafka(
            f"127.0.0.1:{port}",
            f"127.0.0.1:{controller_port}",
            stack.topic_prefix,
            kafka_acls.read_env_file(local / "secrets.env"),
        )
        await ensure_topics(kafka.bootstrap, kafka.prefix, auth=kafka.auth("admin"))
        yield kafka
    finally:
        await bin_stack(env, "stop", "kafka")


@pytest.fixture(scope="module")
async def services(stack: Stack, secured: SecuredKafka) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    """Intake, review and the registry against the secured broker, each logged in as itself, on a
    database of their own (their checkpoints and outbox must not meet those of the shared broker)."""
    name = f"{stack.database}_kafka_scram"
    admin_root = stack.env["HUIGONG_PG_ADMIN_DSN"]
    admin_dsn = database.with_credentials_keep(admin_root, name)
    await database.create_database(admin_root, name)
    await database.provision(admin_dsn, {svc: stack.password(svc) for svc in SERVICES})
    procs = tuple(
        ServiceProcess(svc, TEST_PORTS[svc] + 850, artefacts_dir() / f"kafka-scram-{svc}.log")
        for svc in ("intake", "review", "registry")
    )
    try:
        # Intake seals members' data with keys the registry holds (registry.member_data_keys_issue):
        # the registry's migrations come first, as `huigong db provision` runs them.
        registry_dsn = database.with_credentials(
            admin_dsn, database.role_name("registry"), stack.password("registry")
        )
        await database.migrate(registry_dsn, "registry")
        for proc in procs:
            dsn = database.with_credentials(
                admin_dsn, database.role_name(proc.service), stack.password(proc.service)
            )
            await database.migrate(dsn, proc.service)
            auth = secured.auth(proc.service)
            assert auth.password is not None
            proc.start(
                stack,
                {
                    "HUIGONG_DATABASE_URL": dsn,
                    "HUIGONG_KAFKA_BOOTSTRAP": secured.bootstrap,
                    "HUIGONG_TOPIC_PREFIX": secured.prefix,
                    "HUIGONG_KAFKA_USERNAME": proc.service,
                    "HUIGONG_KAFKA_PASSWORD": auth.password.get_secret_value(),
                },
            )
        for proc in procs:
            await proc.wait_status(200, timeout=90)
        yield procs
    finally:
        for proc in reversed(procs):
            proc.kill()
        await drop_run_database(stack.env, name)


async def end_offsets(kafka: SecuredKafka, topic: str) -> int:
    """Records in `topic`, as the operators see them (ops may describe every topic)."""
    consumer = make_consumer(kafka.bootstrap, None, "huigong-test-ops", kafka.auth("ops"))
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def events_of(
    kafka: SecuredKafka, topic: str, subject: str, want: set[str], timeout: float = 90
) -> set[str]:
    """Event types recorded for aggregate `subject` on `topic`, read as ops, until `want` are seen.
    The broker is fresh: a producer it keeps waiting for an id is replaced after 30 s
    (`kafka.start_producer`), and the wait leaves room for that once."""
    consumer = make_consumer(kafka.bootstrap, None, "huigong-test-ops", kafka.auth("ops"))
    consumer.subscribe([topic])
    await consumer.start()
    seen: set[str] = set()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not want <= seen and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    headers = dict(r.headers)
                    if r.key is not None and r.key.decode() == subject:
                        seen.add(headers["ce_type"].decode())
    finally:
        await consumer.stop()
    return seen


async def where_it_stopped(
    stack: Stack, kafka: SecuredKafka, services: tuple[ServiceProcess, ...], application_id: uuid.UUID
) -> str:
    """A failure report that says which hop stalled: the command on its topic and intake's
    committed offset there (inbound consumer), the events in intake's and review's stores with
    their outbox state (relay), and every line each service logged (pytest would cut a repr)."""
    lines = [f"application {application_id} did not make it through:"]
    inbound = kafka.topic(inbound_topic(SHINAN).name)
    admin = make_admin(kafka.bootstrap, "huigong-test-ops", kafka.auth("admin"))
    try:
        await admin.start()
        committed = await admin.list_consumer_group_offsets(f"{kafka.prefix}huigong.intake.inbound")
        mine = [o.offset for tp, o in committed.items() if tp.topic == inbound]
        lines.append(
            f"  {inbound}: end offset {await end_offsets(kafka, inbound)}, "
            f"intake's committed offset {mine[0] if mine else 'none'}"
        )
    except Exception as exc:  # the report must not hide the failure it reports
        lines.append(f"  offsets unreadable: {type(exc).__name__}: {exc}")
    finally:
        await admin.close()
    dsn = database.with_credentials_keep(stack.env["HUIGONG_PG_ADMIN_DSN"], f"{stack.database}_kafka_scram")
    conn = await asyncpg.connect(dsn)
    try:
        for schema in ("intake", "review"):
            rows = await conn.fetch(
                f"SELECT e.position, e.type, o.topic, o.published_at FROM {schema}.events e "
                f"LEFT JOIN {schema}.outbox o USING (position) WHERE e.aggregate_id = $1 ORDER BY 1",
                str(application_id),
            )
            lines.append(f"  {schema}'s store: {[dict(r) for r in rows] or 'nothing'}")
            pending = await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
            lines.append(f"  {schema}'s outbox: {pending} unpublished")
    finally:
        await conn.close()
    for proc in services:
        lines.append(f"--- {proc.service} log ---\n{proc.log_tail(200)}")
    return "\n".join(lines)


def submit_command(application_id: uuid.UUID) -> tuple[bytes, bytes]:
    command_id = uuid.uuid4().hex
    value: dict[str, Any] = {
        "command_id": command_id,
        "command": "submit_application",
        "body": {
            "application_id": str(application_id),
            "year": YEAR,
            "programme": "service_complex",
            # A unit of its own: a unit's second application of a year is refused.
            "form": json.loads(with_fresh_undertaking_unit(complex_form()).model_dump_json()),
        },
    }
    return command_id.encode(), json.dumps(value, ensure_ascii=False).encode()


# --------------------------------------------------------------------------------------------


async def test_an_unauthenticated_client_cannot_connect(secured: SecuredKafka) -> None:
    anonymous = AIOKafkaProducer(bootstrap_servers=secured.bootstrap, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await anonymous.start()
    await anonymous.stop()

    impostor = make_producer(
        secured.bootstrap,
        "huigong-test",
        KafkaAuth(username=f"district-{SHINAN}", password="not-the-password"),
    )
    with pytest.raises(KafkaConnectionError):
        await impostor.start()
    await impostor.stop()

    # Nor is the controller listener a way round: without admin's PLAIN login it answers nothing
    # but ApiVersions, so an ACL for everyone cannot be slipped in there either.
    host, _, port = secured.controller.rpartition(":")
    conn = await create_conn(host, int(port))
    everyone = kafka_acls.Acl(2, secured.topic("huigong."), 4, "User:ANONYMOUS", "*", 4, 3)
    with pytest.raises((KafkaError, OSError)):
        await conn.send(kafka_acls.CreateAcls([everyone]))
    conn.close()
    admin_conn = await create_conn(
        host,
        int(port),
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="admin",
        sasl_plain_password=secured.secrets["HUIGONG_KAFKA_ADMIN_PASSWORD"],
    )
    try:
        assert everyone not in await kafka_acls.existing_acls(admin_conn)
    finally:
        admin_conn.close()


async def test_a_district_producing_to_another_districts_topic_is_refused(secured: SecuredKafka) -> None:
    theirs = secured.topic(inbound_topic(SHIBEI).name)
    before = await end_offsets(secured, theirs)
    producer = make_producer(secured.bootstrap, "huigong-test-district", secured.auth(f"district-{SHINAN}"))
    await producer.start()
    try:
        key, value = submit_command(uuid.uuid4())
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(theirs, value=value, key=key)
    finally:
        await producer.stop()
    assert await end_offsets(secured, theirs) == before


async def test_a_district_command_on_its_own_topic_becomes_intakes_event_and_reviews_decision(
    stack: Stack, secured: SecuredKafka, services: tuple[ServiceProcess, ...]
) -> None:
    application_id = uuid.uuid4()
    producer = make_producer(secured.bootstrap, "huigong-test-district", secured.auth(f"district-{SHINAN}"))
    await producer.start()
    try:
        key, value = submit_command(application_id)
        await producer.send_and_wait(secured.topic(inbound_topic(SHINAN).name), value=value, key=key)
    finally:
        await producer.stop()

    # Intake (as `intake`) consumed the command and relayed its event; review's faust agent (as
    # `review`) screened it: a service complex is accepted at once.
    submitted = await events_of(
        secured,
        secured.topic(topic_for_aggregate("application").name),
        str(application_id),
        {"ApplicationSubmitted"},
    )
    if "ApplicationSubmitted" not in submitted:
        pytest.fail(await where_it_stopped(stack, secured, services, application_id), pytrace=False)
    decided = await events_of(
        secured,
        secured.topic(topic_for_aggregate("review").name),
        str(application_id),
        {"ApplicationAccepted"},
    )
    if "ApplicationAccepted" not in decided:
        pytest.fail(await where_it_stopped(stack, secured, services, application_id), pytrace=False)


@pytest.mark.parametrize(
    ("principal", "topic"),
    [
        ("review", "huigong.intake.applications"),  # a service writing another service's topic
        ("intake", "huigong.review.reviews"),
        ("registry", "huigong.intake.enrolments"),
        ("ops", "huigong.intake.applications"),  # operators read, never write
        ("intake", f"huigong.inbound.{SHINAN}"),  # not even intake may pose as a district
    ],
)
async def test_a_principal_cannot_write_a_topic_it_does_not_own(
    secured: SecuredKafka, principal: str, topic: str
) -> None:
    before = await end_offsets(secured, secured.topic(topic))
    # Not idempotent: ops may write nowhere, so an idempotent producer would already be refused
    # its producer id (cluster authorization) before the topic is even named.
    producer = AIOKafkaProducer(
        bootstrap_servers=secured.bootstrap, **client_options(secured.auth(principal))
    )
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(secured.topic(topic), value=b"{}", key=b"forged")
    finally:
        await producer.stop()
    assert await end_offsets(secured, secured.topic(topic)) == before


async def test_a_district_cannot_read_the_inbound_topics(secured: SecuredKafka) -> None:
    """Commands carry workers' ID numbers: a district only writes, even to its own topic."""
    for code in (SHIBEI, SHINAN):
        consumer = AIOKafkaConsumer(
            bootstrap_servers=secured.bootstrap,
            auto_offset_reset="earliest",
            **client_options(secured.auth(f"district-{SHINAN}")),
        )
        consumer.assign([TopicPartition(secured.topic(inbound_topic(code).name), 0)])
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                await consumer.start()
                await consumer.getmany(timeout_ms=5000)
        finally:
            await consumer.stop()


def test_every_topic_a_service_consumes_is_granted_to_it() -> None:
    """The ACL table against the code: each projection and reaction of a service reads only
    topics its principal may read, and its consumer group falls under the service's group ACL."""
    found, errors = discover()
    assert not errors
    for name, cls in found.items():
        service = cls.__module__.split(".")[0].removeprefix("huigong_")
        granted = kafka_acls.acls_of(kafka_acls.principal(service))
        readable = {
            a.resource_name
            for a in granted
            if a.resource_type == kafka_acls.ResourceType.TOPIC and a.operation == kafka_acls.Operation.READ
        }
        missing = {t.name for t in cls.topics} - readable
        assert not missing, f"{name} ({service}) consumes {missing} without a READ grant"
        assert f"huigong.{name}".startswith(kafka_acls.group_prefix(service)), name
    assert set(INBOUND_TOPICS) <= set(kafka_acls.SERVICE_READS["intake"])


# --- what a district hears back -----------------------------------------------------------------


async def district_key(stack: Stack, principal: str) -> str:
    """An API key of `principal` in the secured services' own database."""
    dsn = database.with_credentials_keep(stack.env["HUIGONG_PG_ADMIN_DSN"], f"{stack.database}_kafka_scram")
    conn = await asyncpg.connect(dsn)
    try:
        return (await keys.issue(conn, principal, actor="tests", label="pytest")).key
    finally:
        await conn.close()


Notice = tuple[int, str, str, dict[str, Any]]


async def outbound_notices(
    kafka: SecuredKafka, code: str, done: Callable[[list[Notice]], bool], timeout: float = 90
) -> list[Notice]:
    """(ce_sequence, ce_type, key, value) of the notices on `code`'s outbound topic, read with a
    plain consumer logged in as the district itself, until `done` says enough were seen."""
    consumer = AIOKafkaConsumer(
        kafka.topic(outbound_topic(code).name),
        bootstrap_servers=kafka.bootstrap,
        group_id=kafka.topic(f"{kafka_acls.outbound_group_prefix(code)}test-{uuid.uuid4().hex[:8]}"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_options(kafka.auth(f"district-{code}")),
    )
    await consumer.start()
    seen: list[Notice] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done(seen) and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    assert r.key is not None and headers["ce_subject"] == r.key.decode()
                    seen.append(
                        (
                            int(headers["ce_sequence"]),
                            headers["ce_type"],
                            r.key.decode(),
                            json.loads(r.value or b""),
                        )
                    )
    finally:
        await consumer.stop()
    return seen


async def test_a_district_hears_back_on_its_own_outbound_topic_and_feed_and_no_other_district_does(
    stack: Stack, secured: SecuredKafka, services: tuple[ServiceProcess, ...]
) -> None:
    application_id, report_id = uuid.uuid4(), uuid.uuid4()
    bad_command = f"bad-{uuid.uuid4().hex[:12]}"
    producer = make_producer(secured.bootstrap, "huigong-test-district", secured.auth(f"district-{SHINAN}"))
    await producer.start()
    try:
        key, value = submit_command(application_id)
        await producer.send_and_wait(secured.topic(inbound_topic(SHINAN).name), value=value, key=key)
        # An enrolment batch whose second row has a wrong check character in its ID number.
        rows = [enrolment_row(1), {**enrolment_row(2), "身份证号": "370202199003070021"}]
        batch_command = uuid.uuid4().hex
        batch = {"command_id": batch_command, "command": "enrol", "body": {"rows": rows}}
        await producer.send_and_wait(
            secured.topic(inbound_topic(SHINAN).name),
            value=json.dumps(batch, ensure_ascii=False).encode(),
            key=batch_command.encode(),
        )
        # A facility of 市南区's: the registry enters it, and 市南区 hears so.
        facility_command = uuid.uuid4().hex
        facility: dict[str, Any] = {
            "command_id": facility_command,
            "command": "report_facility",
            "body": {
                "report_id": str(report_id),
                "facility_kind": "huigong_home",
                "name": "湛山街道青岛惠工家",
                "area": SHINAN,
                "host_unit": "湛山街道工会",
                "opened_on": datetime.now(UTC).date().isoformat(),
            },
        }
        await producer.send_and_wait(
            secured.topic(inbound_topic(SHINAN).name),
            value=json.dumps(facility, ensure_ascii=False).encode(),
            key=facility_command.encode(),
        )
        # Malformed: a command no one knows, with a worker's mobile number in its body.
        malformed = {
            "command_id": bad_command,
            "command": "enrol_everyone",
            "body": {"手机号": "13912345678"},
        }
        await producer.send_and_wait(
            secured.topic(inbound_topic(SHINAN).name),
            value=json.dumps(malformed, ensure_ascii=False).encode(),
            key=bad_command.encode(),
        )
    finally:
        await producer.stop()

    # 市南区 reads each outcome from its own topic, in order: received, then 受理 (review's
    # screening accepts a service complex at once), and the refusal of the malformed command.
    # (Earlier tests of this module sent 市南区 commands too: only this test's records count.)
    def all_told(seen: list[Notice]) -> bool:
        told = {(k, t) for _, t, k, _ in seen}
        batches = [v for _, t, _, v in seen if t == "EnrolmentBatchNotice" and v["rows"] == len(rows)]
        facilities = [v for _, t, _, v in seen if t == "FacilityNotice" and v["report_id"] == str(report_id)]
        return (
            {
                (str(application_id), "ApplicationAcceptedNotice"),
                (bad_command, "InboundCommandRefusedNotice"),
            }
            <= told
            and bool(batches)
            and bool(facilities)
        )

    notices = await outbound_notices(secured, SHINAN, all_told)
    if not all_told(notices):
        pytest.fail(await where_it_stopped(stack, secured, services, application_id), pytrace=False)
    mine = [(t, v) for _, t, k, v in notices if k == str(application_id)]
    assert [t for t, _ in mine][:2] == ["ApplicationReceivedNotice", "ApplicationAcceptedNotice"]
    assert mine[0][1]["receipt_no"] and mine[0][1]["district"] == SHINAN
    refused = [v for _, t, k, v in notices if k == bad_command]
    assert len(refused) == 1
    assert refused[0]["reason"] == "unknown command" and refused[0]["errors"][0]["field"] == "command"
    [enrolments] = [v for _, t, _, v in notices if t == "EnrolmentBatchNotice"]  # the only batch sent
    assert (enrolments["rows"], enrolments["accepted"]) == (2, 1)
    assert [(r["row"], r["errors"][0]["field"]) for r in enrolments["refused"]] == [(2, "身份证号")]
    told = json.dumps(notices, ensure_ascii=False)
    for personal in (
        "13912345678",
        rows[0]["身份证号"],
        rows[0]["姓名"],
        rows[1]["身份证号"],
        rows[1]["姓名"],
    ):
        assert str(personal) not in told
    [opened] = [
        (k, v) for _, t, k, v in notices if t == "FacilityNotice" and v["report_id"] == str(report_id)
    ]
    assert (opened[1]["status"], opened[1]["name"], opened[1]["kind"]) == (
        "opened",
        "湛山街道青岛惠工家",
        "huigong_home",
    )
    sequence = [s for s, _, _, _ in notices]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)

    # The HTTP feed gives the same notices in the same order, resumably.
    intake = next(p for p in services if p.service == "intake")
    shinan = {"Authorization": f"Bearer {await district_key(stack, f'district:{SHINAN}')}"}
    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as client:
        first = (await client.get("/feed", params={"after": 0, "limit": 1}, headers=shinan)).json()
        rest = (
            await client.get("/feed", params={"after": first["next"], "limit": 500}, headers=shinan)
        ).json()
        fed = [(n["seq"], n["type"], n["record_id"]) for n in first["notices"] + rest["notices"]]
        assert fed[: len(notices)] == [(s, t, k) for s, t, k, _ in notices]
        # Long poll: nothing new within the wait, the cursor stays.
        idle = (await client.get("/feed", params={"after": fed[-1][0], "wait": 1}, headers=shinan)).json()
        assert idle == {"notices": [], "next": fed[-1][0]}

        # 市北区 sees none of it: its own feed holds nothing of 市南区's, and 市南区's is refused.
        shibei = {"Authorization": f"Bearer {await district_key(stack, f'district:{SHIBEI}')}"}
        theirs = (await client.get("/feed", headers=shibei)).json()
        assert {str(application_id), bad_command, opened[0]}.isdisjoint(
            n["record_id"] for n in theirs["notices"]
        )
        assert (await client.get("/feed", params={"district": SHINAN}, headers=shibei)).status_code == 403

    consumer = AIOKafkaConsumer(
        bootstrap_servers=secured.bootstrap,
        auto_offset_reset="earliest",
        **client_options(secured.auth(f"district-{SHIBEI}")),
    )
    consumer.assign([TopicPartition(secured.topic(outbound_topic(SHINAN).name), 0)])
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.start()
            await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


# --- what an operator is told when Kafka says no --------------------------------------------------


async def ops_cli(secured: SecuredKafka, login: Mapping[str, str | None], *args: str) -> Result:
    env: dict[str, str | None] = {
        "HUIGONG_KAFKA_BOOTSTRAP": secured.bootstrap,
        "HUIGONG_TOPIC_PREFIX": secured.prefix,
        "HUIGONG_KAFKA_USERNAME": None,
        "HUIGONG_KAFKA_PASSWORD": None,
        "HUIGONG_PG_ADMIN_DSN": None,
        "COLUMNS": "200",
        **login,
    }
    return await asyncio.to_thread(CliRunner().invoke, ops_app, list(args), env=env)


async def test_the_cli_tells_a_refused_login_from_a_missing_grant_and_names_what_to_set(
    secured: SecuredKafka,
) -> None:
    ops_password = secured.auth("ops").password
    assert ops_password is not None
    as_ops = {"HUIGONG_KAFKA_USERNAME": "ops", "HUIGONG_KAFKA_PASSWORD": ops_password.get_secret_value()}
    working = await ops_cli(secured, as_ops, "streams", "--json")
    assert working.exit_code == 0, working.output

    wrong = await ops_cli(secured, {**as_ops, "HUIGONG_KAFKA_PASSWORD": "not-the-password"}, "streams")
    assert wrong.exit_code == 2
    assert "authentication failed (user ops)" in wrong.stderr and "HUIGONG_KAFKA_PASSWORD" in wrong.stderr
    assert "unreachable" not in wrong.stderr

    anonymous = await ops_cli(secured, {}, "streams")
    assert anonymous.exit_code == 2
    assert "authentication failed (no user)" in anonymous.stderr
    assert "HUIGONG_KAFKA_USERNAME" in anonymous.stderr

    # A district's login works, but it may read nothing an operator's command reads.
    district = secured.auth(f"district-{SHINAN}")
    assert district.password is not None
    as_district = {
        "HUIGONG_KAFKA_USERNAME": f"district-{SHINAN}",
        "HUIGONG_KAFKA_PASSWORD": district.password.get_secret_value(),
    }
    for command in (["streams"], ["audit", str(uuid.uuid4())]):
        denied = await ops_cli(secured, as_district, *command)
        assert denied.exit_code == 2, denied.output
        assert f"(user district-{SHINAN})" in denied.stderr and "not authorized for topic" in denied.stderr
        assert "HUIGONG_KAFKA_USERNAME" in denied.stderr and "Traceback" not in denied.output


# --- a district's own client, not the platform's ---------------------------------------------------

CLIENT = Path(__file__).parent / "clients" / "DistrictClient.java"


def district_properties(path: Path, secured: SecuredKafka, code: str) -> Path:
    """The client configuration docs/services/outbound.md gives a district, word for word."""
    password = secured.auth(f"district-{code}").password
    assert password is not None
    path.write_text(
        "security.protocol=SASL_PLAINTEXT\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="district-{code}" password="{password.get_secret_value()}";\n'
        f"bootstrap.servers={secured.bootstrap}\n"
    )
    return path


async def java_client(*args: str, timeout: float = 150) -> tuple[int, str, str]:
    """The Java district client (the broker's own kafka-clients jar): exit code, stdout, stderr."""
    libs = os.environ.get("HUIGONG_KAFKA_LIBS", str(LOCAL / "kafka" / "libs"))
    proc = await asyncio.create_subprocess_exec(
        "java",
        "-cp",
        f"{libs}/*",
        str(CLIENT),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_district_with_the_java_client_sends_its_command_and_reads_the_outcome_on_its_topic(
    secured: SecuredKafka, services: tuple[ServiceProcess, ...], tmp_path: Path
) -> None:
    application_id = uuid.uuid4()
    key, value = submit_command(application_id)
    (tmp_path / "command.json").write_bytes(value)
    shinan = district_properties(tmp_path / "shinan.properties", secured, SHINAN)
    inbound = secured.topic(inbound_topic(SHINAN).name)
    code, _, err = await java_client(
        "produce", str(shinan), inbound, key.decode(), str(tmp_path / "command.json")
    )
    assert code == 0, err

    outbound = secured.topic(outbound_topic(SHINAN).name)
    group = secured.topic(f"{kafka_acls.outbound_group_prefix(SHINAN)}java-{uuid.uuid4().hex[:8]}")
    code, out, err = await java_client(
        "consume", str(shinan), outbound, group, str(application_id), "ApplicationAcceptedNotice", "120"
    )
    assert code == 0, f"exit {code}:\n{out[-2000:]}\n{err[-2000:]}"
    lines = [line.split("\t", 3) for line in out.splitlines() if line.count("\t") >= 3]
    mine = [(kind, json.loads(data)) for _, kind, k, data in lines if k == str(application_id)]
    assert [kind for kind, _ in mine] == ["ApplicationReceivedNotice", "ApplicationAcceptedNotice"]
    assert mine[0][1]["district"] == SHINAN and mine[0][1]["receipt_no"].startswith(f"{YEAR}-{SHINAN}-")
    sequence = [int(seq) for seq, _, _, _ in lines]
    assert sequence == sorted(sequence)

    # 市北区's login, with the same client, may not read 市南区's topic.
    shibei = district_properties(tmp_path / "shibei.properties", secured, SHIBEI)
    theirs = secured.topic(f"{kafka_acls.outbound_group_prefix(SHIBEI)}java-{uuid.uuid4().hex[:8]}")
    code, out, err = await java_client(
        "consume", str(shibei), outbound, theirs, str(application_id), "ApplicationAcceptedNotice", "30"
    )
    assert code == 1 and "TopicAuthorizationException" in err, f"exit {code}:\n{out}\n{err[-2000:]}"
    assert str(application_id) not in out
