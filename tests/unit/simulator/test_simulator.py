"""The district simulator without a network: its forms pass the plan's rules, its commands have
the shape the HTTP API and the inbound topics expect, it always marks its data as simulated, and
its transports retry, bound their concurrency and count what came back."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from huigong_events.reference import DISTRICTS, GROUP_UNIONS, Programme
from huigong_events.topics import submitter_of_inbound
from huigong_intake.commands import (
    AmendRequest,
    ApplicationRequest,
    EnrolmentBatch,
    FacilityRequest,
    FactRequest,
    PlanRequest,
    ProjectRequest,
    WithdrawRequest,
)
from huigong_intake.domain.applications import form_errors
from huigong_intake.domain.enrolments import COLUMNS
from huigong_intake.domain.identity import check_credit_code
from huigong_intake.domain.sheet_headings import locate_table
from huigong_platform.sheets import Grid, read_sheet
from huigong_simulator.cli import app
from huigong_simulator.commands import (
    CommandName,
    SimulatorError,
    application_chains,
    enrolment_commands,
    facility_commands,
    fact_commands,
    plan_commands,
    project_commands,
    spread,
)
from huigong_simulator.forms import application_form
from huigong_simulator.run import (
    default_year,
    send_applications,
    send_enrolments,
    send_facilities,
    send_facts,
    send_projects,
)
from huigong_simulator.transports import SheetFormat, Target, Via, retry_after

TODAY = date(2026, 11, 24)
YEAR = 2027
ALL_DISTRICTS = list(DISTRICTS)
EVERYONE = [*DISTRICTS, *GROUP_UNIONS]


def programmes_of(submitter: str) -> list[Programme]:
    return [p for p in Programme if submitter in DISTRICTS or p is not Programme.服务职工综合体]


# --- forms -------------------------------------------------------------------------------------


@pytest.mark.parametrize("programme", list(Programme))
def test_forms_of_every_programme_pass_the_plans_rules_for_many_seeds(programme: Programme) -> None:
    submitters = [s for s in EVERYONE if programme in programmes_of(s)]
    for seed in range(60):
        rng = random.Random(seed)
        for submitter in submitters:
            form = application_form(programme, submitter, rng, YEAR, today=TODAY)
            assert form_errors(programme, submitter, form) == [], (seed, submitter, form)
            # …and the API takes it as it goes over the wire.
            body = {"year": YEAR, "programme": programme.value, "form": form.model_dump(mode="json")}
            ApplicationRequest.model_validate(body)


def test_forms_are_signed_before_they_are_filed_and_the_pilot_period_fits_three_years() -> None:
    rng = random.Random(3)
    for _ in range(200):
        submitter = rng.choice(ALL_DISTRICTS)
        programme = rng.choice(list(Programme))
        form = application_form(programme, submitter, rng, 2026, today=date(2026, 5, 10))
        opinions = [value for value in dict(form).values() if hasattr(value, "signed_on")]
        assert opinions
        assert all(o.signed_on <= date(2026, 5, 10) for o in opinions)
        if programme in (Programme.服务职工综合体, Programme.幸福企业):
            assert form.period_start >= "2026-07"  # type: ignore[union-attr]


def test_complexes_are_undertaken_by_the_district_federation_and_happy_enterprises_by_real_enterprises() -> (
    None
):
    chains = application_chains(400, YEAR, ALL_DISTRICTS, random.Random(11), today=TODAY)
    programmes = Counter(chain[0].body["programme"] for chain in chains)
    assert set(programmes) == {p.value for p in Programme}
    names = set()
    for chain in chains:
        submit = chain[0]
        form = submit.body["form"]
        assert submit.submitter is not None
        if submit.body["programme"] == Programme.服务职工综合体:
            assert form["undertaking_unit"]["name"] == f"{DISTRICTS[submit.submitter]}总工会"
            assert form["pilot_name"].endswith("服务职工综合体建设")
        if submit.body["programme"] == Programme.幸福企业:
            code = form["undertaking_unit"]["credit_code"]
            assert check_credit_code(code) == code
            assert code.startswith("91")  # an enterprise, not a sole trader (92)
            assert form["pilot_name"].endswith("幸福企业建设")
            assert any(unit["name"].endswith("工会") for unit in form["participating_units"])
        names.add(form.get("pilot_name") or form["name"])
    assert len(names) > 300  # varied, not one template


def test_group_unions_file_no_district_complex() -> None:
    chains = application_chains(200, YEAR, list(GROUP_UNIONS), random.Random(2), today=TODAY)
    assert all(chain[0].body["programme"] != Programme.服务职工综合体 for chain in chains)
    for chain in chains:
        programme = Programme(chain[0].body["programme"])
        form = ApplicationRequest.model_validate(chain[0].body).form
        assert form_errors(programme, chain[0].submitter or "", form) == []


def test_amendments_and_withdrawals_follow_their_submission_and_are_valid() -> None:
    chains = application_chains(
        300, YEAR, ALL_DISTRICTS, random.Random(5), amend_rate=0.3, withdraw_rate=0.2, today=TODAY
    )
    kinds = Counter(command.name for chain in chains for command in chain)
    assert kinds[CommandName.SUBMIT_APPLICATION] == 300
    assert 40 < kinds[CommandName.WITHDRAW_APPLICATION] < 90
    assert 60 < kinds[CommandName.AMEND_APPLICATION] < 120
    for chain in chains:
        submit, *rest = chain
        assert submit.name is CommandName.SUBMIT_APPLICATION
        assert len(rest) <= 1
        for follow in rest:
            assert follow.application_id == submit.body["application_id"]
            assert follow.submitter == submit.submitter
            assert follow.route[1].startswith(f"/applications/{follow.application_id}")
            if follow.name is CommandName.AMEND_APPLICATION:
                amend = AmendRequest.model_validate(follow.body)
                assert amend.form.form_kind == submit.body["form"]["form_kind"]
                assert amend.form.model_dump(mode="json") != submit.body["form"]
                programme = Programme(submit.body["programme"])
                assert form_errors(programme, submit.submitter or "", amend.form) == []
            else:
                WithdrawRequest.model_validate(follow.body)


def test_the_same_seed_gives_the_same_traffic_and_another_seed_other_traffic() -> None:
    def bodies(seed: int) -> list[Any]:
        chains = application_chains(30, YEAR, ALL_DISTRICTS, random.Random(seed), today=TODAY)
        return [(c.command_id, c.body) for chain in chains for c in chain]

    assert bodies(7) == bodies(7)
    assert bodies(7) != bodies(8)


def test_default_year_is_this_year_until_the_end_of_june_then_the_next() -> None:
    assert default_year(datetime(2026, 6, 30, 15, 59, tzinfo=UTC)) == 2026  # 23:59 in Qingdao
    assert default_year(datetime(2026, 6, 30, 16, 0, tzinfo=UTC)) == 2027
    assert default_year(datetime(2026, 11, 24, tzinfo=UTC)) == 2027


# --- plans and reports -------------------------------------------------------------------------


def test_plans_facilities_projects_and_facts_are_valid_request_bodies() -> None:
    rng = random.Random(9)
    plans = plan_commands("7b0e6c1e-1c4f-4a55-9a3c-2d4c1d0f0a11", "370213", YEAR, "李沧区总工会", rng)
    assert [PlanRequest.model_validate(c.body).plan.plan_kind for c in plans] == ["three_year", "annual"]
    assert all(c.application_id == "7b0e6c1e-1c4f-4a55-9a3c-2d4c1d0f0a11" for c in plans)
    for command in facility_commands(100, EVERYONE, rng, TODAY):
        report = FacilityRequest.model_validate(command.body)
        assert report.area == command.submitter  # a district reports its own facilities only
        assert report.opened_on <= TODAY
    for command in project_commands(100, EVERYONE, rng):
        assert ProjectRequest.model_validate(command.body).area == command.submitter
    facts = fact_commands(200, ALL_DISTRICTS, rng, TODAY)
    for command in facts:
        fact = FactRequest.model_validate(command.body)
        assert command.submitter is None
        assert command.principal == f"exchange:{fact.reported_by.value}"
        assert check_credit_code(fact.credit_code) == fact.credit_code
    assert len({c.body["kind"] for c in facts}) >= 8
    settled = sum(c.body["settled_on"] is not None for c in facts)
    assert 40 < settled < 120


def test_compliance_facts_cannot_go_over_kafka() -> None:
    (fact,) = fact_commands(1, ALL_DISTRICTS, random.Random(1), TODAY)
    with pytest.raises(SimulatorError):
        fact.kafka_record()
    with pytest.raises(SimulatorError):
        asyncio.run(send_facts(1, target=Target(via=Via.KAFKA, producer_factory=FakeProducer)))


# --- enrolments over Kafka ---------------------------------------------------------------------


def test_enrolment_commands_are_chunked_and_spread_over_the_districts() -> None:
    commands = list(enrolment_commands(25_001, ["370202", "G-HAIER"], random.Random(1), invalid_rate=0.01))
    assert [(c.submitter, c.rows) for c in commands] == [
        ("370202", 10_000),
        ("G-HAIER", 10_000),
        ("370202", 2_501),
        ("G-HAIER", 2_500),
    ]
    assert spread(7, 3) == [3, 2, 2]
    for command in commands:
        assert len(command.body["rows"]) == command.rows
        EnrolmentBatch.model_validate(command.body)
    assert len({c.command_id for c in commands}) == len(commands)
    with pytest.raises(ValueError):
        next(enrolment_commands(10, ALL_DISTRICTS, random.Random(1), batch=10_001))


def test_enrolment_commands_on_kafka_have_the_inbound_topic_key_and_shape() -> None:
    prefix = "t0123456789."
    commands = list(
        enrolment_commands(30_000, ["370202", "370213", "G-HAIER"], random.Random(4), batch=7_000)
    )
    assert max(c.rows for c in commands) == 7_000
    for command in commands:
        record = command.kafka_record(prefix)
        assert record.topic == f"{prefix}huigong.inbound.{command.submitter.lower()}"  # type: ignore[union-attr]
        assert submitter_of_inbound(record.topic, prefix) == command.submitter
        assert record.key == command.command_id.encode()
        value = orjson.loads(record.value)
        assert set(value) == {"command_id", "command", "simulated", "body"}
        assert value["command_id"] == command.command_id
        assert value["command"] == "enrol"
        assert value["simulated"] is True
        assert set(value["body"]) == {"rows"}
        assert len(value["body"]["rows"]) == command.rows
        assert set(value["body"]["rows"][0]) == {c.value for c in COLUMNS}
    assert sum(c.rows for c in commands) == 30_000


def test_amendments_on_kafka_name_their_application() -> None:
    chains = application_chains(60, YEAR, ALL_DISTRICTS, random.Random(6), amend_rate=0.5, today=TODAY)
    follow = next(chain[1] for chain in chains if len(chain) > 1)
    value = orjson.loads(follow.kafka_record().value)
    assert (
        value["application_id"] == chains[[len(c) > 1 for c in chains].index(True)][0].body["application_id"]
    )
    assert value["simulated"] is True
    assert value["command"] in ("amend_application", "withdraw_application")


class FakeProducer:
    """What the simulator needs of AIOKafkaProducer: start, send (a delivery future), stop."""

    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []
        self.stopped = False
        FakeProducer.instances.append(self)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        self.records.append((topic, key, value))
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        delivery.set_result(SimpleNamespace(partition=0, offset=len(self.records) - 1))
        return delivery


async def test_send_enrolments_over_kafka_publishes_every_row_marked_simulated() -> None:
    target = Target(via=Via.KAFKA, topic_prefix="p.", producer_factory=FakeProducer)
    summary = await send_enrolments(
        21_000, target=target, districts=["370202", "370203"], seed=1, invalid_rate=0.02
    )
    producer = FakeProducer.instances[-1]
    assert producer.stopped
    assert summary.rows == 21_000 and summary.ok == summary.sent == 4 and summary.failed == 0
    assert summary.accepted is None  # judged later by the inbound consumer
    topics = Counter(topic for topic, _, _ in producer.records)
    assert topics == {"p.huigong.inbound.370202": 2, "p.huigong.inbound.370203": 2}
    values = [orjson.loads(value) for _, _, value in producer.records]
    assert all(v["simulated"] is True and len(v["body"]["rows"]) <= 10_000 for v in values)
    assert sum(len(v["body"]["rows"]) for v in values) == 21_000
    line = orjson.loads(summary.to_json())
    assert line["rows"] == 21_000 and line["via"] == "kafka" and line["seed"] == 1


async def test_applications_over_kafka_keep_each_chain_in_order() -> None:
    target = Target(via=Via.KAFKA, producer_factory=FakeProducer)
    summary = await send_applications(
        40, YEAR, target=target, seed=3, amend_rate=0.4, withdraw_rate=0.2, today=TODAY
    )
    producer = FakeProducer.instances[-1]
    assert summary.failed == 0 and summary.sent == len(producer.records)
    seen: set[str] = set()
    for _, _, raw in producer.records:
        value = orjson.loads(raw)
        assert value["simulated"] is True
        if value["command"] == "submit_application":
            seen.add(value["body"]["application_id"])
        else:
            assert value["application_id"] in seen  # never before its submission


def test_four_hundred_thousand_rows_come_as_sheets_shared_among_the_districts() -> None:
    # How fast they are made is a benchmark's business, never a test's.
    commands = list(enrolment_commands(400_000, ALL_DISTRICTS, random.Random(2025), invalid_rate=0.01))
    assert len(commands) == 40
    assert Counter(c.submitter for c in commands) == dict.fromkeys(ALL_DISTRICTS, 4)


# --- HTTP --------------------------------------------------------------------------------------


class EveryPrincipal(dict[str, str]):
    """A keyring holding a (made-up) key for every principal, so tests see who each request is
    sent as."""

    def __missing__(self, principal: str) -> str:
        return f"key-of-{principal}"


KEYS = EveryPrincipal()


def sent_as(request: httpx.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer key-of-")


def enrolment_reply(request: httpx.Request) -> httpx.Response:
    rows = orjson.loads(request.content)["rows"]
    accepted = [{"row": n, "enrolment_id": "x"} for n in range(2, len(rows) + 1)]
    rejected = [{"row": 1, "errors": []}]
    return httpx.Response(200, json={"rows": len(rows), "accepted": accepted, "rejected": rejected})


async def test_enrolments_over_http_are_marked_bounded_and_counted() -> None:
    in_flight = 0
    most = 0
    keys: set[str] = set()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        assert request.url.path == "/enrolments"
        assert sent_as(request) in {"simulator:370202", "simulator:370211"}
        keys.add(request.headers["Idempotency-Key"])
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return enrolment_reply(request)

    target = Target(keyring=KEYS, http_transport=httpx.MockTransport(handler))
    summary = await send_enrolments(9_000, target=target, districts=["370202", "370211"], seed=5, batch=1_000)
    assert most == 2  # the default for enrolments over HTTP
    # 4,500 rows a district in sheets of at most 1,000: five sheets each.
    assert len(keys) == 10 and summary.sent == 10 and summary.failed == 0
    assert summary.accepted is not None and summary.rejected == 10
    assert summary.accepted + summary.rejected == 9_000
    line = orjson.loads(summary.to_json())
    assert {"rows", "accepted", "rejected", "seconds", "rows_per_second"} <= set(line)


async def test_csv_uploads_carry_the_same_rows() -> None:
    uploaded: list[list[dict[str, object]]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/enrolments/upload"
        boundary = request.headers["Content-Type"].split("boundary=")[1].encode()
        part = request.content.split(b"--" + boundary)[1]
        sheet = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
        grid = read_sheet(sheet, "simulator.csv")
        assert isinstance(grid, Grid)
        uploaded.append(locate_table(grid.lines).rows)
        return httpx.Response(200, json={"accepted": [], "rejected": []})

    target = Target(keyring=KEYS, http_transport=httpx.MockTransport(handler))
    summary = await send_enrolments(
        50, target=target, districts=["370215"], seed=2, sheet_format=SheetFormat.CSV
    )
    assert summary.failed == 0
    expected = next(enrolment_commands(50, ["370215"], random.Random("2:enrolments"), invalid_rate=0.01))
    assert uploaded == [expected.body["rows"]]


async def test_http_retries_503_honouring_retry_after_but_never_a_4xx() -> None:
    calls: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        name = orjson.loads(request.content)["name"]
        calls[name] += 1
        if calls[name] == 1 and len(calls) == 1:
            return httpx.Response(503, headers={"Retry-After": "0"})
        if len(calls) == 2:
            return httpx.Response(422, json={"errors": [{"field": "name"}]})
        return httpx.Response(201, json={"id": "x"})

    target = Target(keyring=KEYS, http_transport=httpx.MockTransport(handler))
    summary = await send_facilities(2, target=target, districts=["370202"], seed=1, concurrency=1)
    assert sorted(calls.values()) == [1, 2]  # the 503 was retried once, the 422 not at all
    assert summary.ok == 1 and summary.failed == 1
    assert summary.errors[0]["status"] == 422


async def test_a_withdrawal_is_not_sent_when_its_submission_was_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert sent_as(request).startswith("simulator:")
        if request.method == "POST" and request.url.path == "/applications":
            return httpx.Response(409, json={"errors": []})
        raise AssertionError(f"unexpected {request.method} {request.url.path}")

    target = Target(keyring=KEYS, http_transport=httpx.MockTransport(handler))
    summary = await send_applications(
        10, YEAR, target=target, seed=1, amend_rate=0.5, withdraw_rate=0.5, today=TODAY
    )
    assert summary.failed == 10 and summary.skipped == 10 and summary.ok == 0


async def test_compliance_facts_come_from_the_exchange_marked_simulated() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/compliance-facts"
        seen.append(request.headers)
        return httpx.Response(201, json={"id": "x"})

    target = Target(keyring=KEYS, http_transport=httpx.MockTransport(handler))
    summary = await send_facts(6, target=target, seed=4)
    assert summary.ok == 6
    assert all(h["X-Huigong-Simulated"] == "true" for h in seen)
    assert all(h["Authorization"].startswith("Bearer key-of-exchange:") for h in seen)


async def test_nothing_is_sent_without_a_key_for_the_principal() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sent without a key")

    target = Target(keyring={}, http_transport=httpx.MockTransport(handler))
    with pytest.raises(SimulatorError, match="simulator:370202"):
        await send_facilities(1, target=target, districts=["370202"], seed=1)


async def test_an_unreachable_intake_stops_the_run() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    target = Target(keyring=KEYS, http_transport=httpx.MockTransport(handler), attempts=2)
    with pytest.raises(SimulatorError):
        await send_projects(3, target=target, seed=1)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert retry_after(httpx.Response(503, headers={"Retry-After": "7"})) == 7.0
    later = format_datetime(now + timedelta(seconds=12), usegmt=True)
    assert retry_after(httpx.Response(503, headers={"Retry-After": later}), now) == 12.0
    assert retry_after(httpx.Response(503)) is None


# --- CLI ---------------------------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for command in ("applications", "plans", "facilities", "projects", "facts", "enrolments", "demo"):
        assert command in result.output
    result = runner.invoke(app, ["enrolments", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--via", "--intake-url", "--bootstrap", "--topic-prefix", "--seed", "--district"):
        assert option in result.output
    for option in ("--batch", "--invalid-rate", "--duplicate-rate"):
        assert option in result.output


def test_an_unknown_district_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["facilities", "--district", "999999", "--count", "1"])
    assert result.exit_code == 2
