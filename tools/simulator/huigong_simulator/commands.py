"""Commands as intake's HTTP API and the districts' inbound Kafka topics carry them. Each has its
submitter, its body and a command id drawn from the seed, so a rerun with the same seed is a
replay that intake answers from its idempotency records; commands about one application form
a chain that must go in order (submit, then amend or withdraw)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

import orjson

from huigong_events.forms import ReportingDepartment
from huigong_events.intake import ComplianceFactReported, FacilityReported, ServiceProjectProposed
from huigong_events.reference import DISTRICTS, Programme
from huigong_events.topics import inbound_topic
from huigong_intake.domain.applications import Plan
from huigong_intake.domain.enrolments import COLUMNS, MAX_BATCH_ROWS
from huigong_intake.domain.identity import china_today

from .data import enrolment_rows
from .forms import (
    PROGRAMME_WEIGHTS,
    amended,
    annual_plan,
    application_form,
    command_id,
    compliance_fact,
    enterprises,
    facility_report,
    pick_weighted,
    project_proposal,
    seeded_uuid,
    three_year_plan,
)


class SimulatorError(RuntimeError):
    """The run cannot go on (intake or Kafka unreachable, a command the transport cannot carry)."""


AMEND_REASONS: Final = (
    "补充试点参加单位信息",
    "完善经费保障情况说明",
    "根据区总工会意见修改阶段工作内容",
    "更正单位名称和负责人签名日期",
)
WITHDRAW_REASONS: Final = (
    "承担单位建设条件发生变化，暂缓申报",
    "经研究决定下一年度再申报",
    "场地调整，申请撤回",
)


class CommandName(StrEnum):
    SUBMIT_APPLICATION = "submit_application"
    AMEND_APPLICATION = "amend_application"
    WITHDRAW_APPLICATION = "withdraw_application"
    SUBMIT_PLAN = "submit_plan"
    REPORT_FACILITY = "report_facility"
    PROPOSE_PROJECT = "propose_project"
    ENROL = "enrol"
    REPORT_FACT = "report_fact"  # HTTP only: the data exchange has no inbound topic


KAFKA_COMMANDS: Final = frozenset(CommandName) - {CommandName.REPORT_FACT}
_ROUTES: Final[dict[CommandName, tuple[str, str]]] = {
    CommandName.SUBMIT_APPLICATION: ("POST", "/applications"),
    CommandName.AMEND_APPLICATION: ("PUT", "/applications/{id}"),
    CommandName.WITHDRAW_APPLICATION: ("POST", "/applications/{id}/withdrawal"),
    CommandName.SUBMIT_PLAN: ("POST", "/applications/{id}/plans"),
    CommandName.REPORT_FACILITY: ("POST", "/facilities"),
    CommandName.PROPOSE_PROJECT: ("POST", "/service-projects"),
    CommandName.ENROL: ("POST", "/enrolments"),
    CommandName.REPORT_FACT: ("POST", "/compliance-facts"),
}


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Command:
    """One simulated command: who sends it, its name, and exactly the HTTP request body.

    `command_id` is the Idempotency-Key over HTTP and the record key over Kafka. A compliance
    fact has no submitter: the data exchange sends it, as the `department`.
    """

    name: CommandName
    submitter: str | None
    body: dict[str, Any]
    command_id: str
    application_id: str | None = None
    rows: int = 0  # enrolment rows carried
    department: ReportingDepartment | None = None

    @property
    def principal(self) -> str:
        if self.name is CommandName.REPORT_FACT:
            # Header values are ASCII on the wire (Starlette reads them as latin-1), so the
            # department is named by its code rather than 人社.
            department = self.department or ReportingDepartment.其他
            return f"exchange:{department.value}"
        return f"simulator:{self.submitter}"

    @property
    def route(self) -> tuple[str, str]:
        method, path = _ROUTES[self.name]
        return method, path.format(id=self.application_id)

    def kafka_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"command_id": self.command_id, "command": self.name.value, "simulated": True}
        if self.application_id is not None:
            value["application_id"] = self.application_id
        value["body"] = self.body
        return value

    def kafka_record(self, prefix: str = "") -> KafkaRecord:
        """The record on the submitter's inbound topic: key = command id, value = JSON command."""
        if self.name not in KAFKA_COMMANDS or self.submitter is None:
            raise SimulatorError(
                f"{self.name.value} 不能经 Kafka 报送，只能经 HTTP（no inbound topic carries it; use --via http）"
            )
        return KafkaRecord(
            inbound_topic(self.submitter).qualified(prefix),
            self.command_id.encode(),
            orjson.dumps(self.kafka_value()),
        )


Chain = Sequence[Command]
"""Commands that must arrive in order (submit, then amend or withdraw); chains are independent."""


def _event_body(event: FacilityReported | ServiceProjectProposed | ComplianceFactReported) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude={"type"})


def application_chains(
    count: int,
    year: int,
    submitters: Sequence[str],
    rng: random.Random,
    *,
    amend_rate: float = 0.1,
    withdraw_rate: float = 0.05,
    today: date | None = None,
) -> list[list[Command]]:
    """`count` applications spread over `submitters`, each a chain: the submission, then now and
    then an amendment or a withdrawal (never both). Happy enterprises are drawn without repeats
    while a submitter's enterprises last."""
    today = today or china_today()
    unused = {code: rng.sample(enterprises(code), len(enterprises(code))) for code in submitters}
    chains: list[list[Command]] = []
    for number in range(count):
        submitter = (
            submitters[number % len(submitters)] if number < len(submitters) else rng.choice(submitters)
        )
        weights = {
            p: w
            for p, w in PROGRAMME_WEIGHTS.items()
            if submitter in DISTRICTS or p is not Programme.服务职工综合体
        }
        programme: Programme = pick_weighted(rng, weights)
        enterprise = None
        if programme is Programme.幸福企业:
            enterprise = unused[submitter].pop() if unused[submitter] else rng.choice(enterprises(submitter))
        form = application_form(programme, submitter, rng, year, today=today, enterprise=enterprise)
        application_id = str(seeded_uuid(rng))
        chain = [
            Command(
                CommandName.SUBMIT_APPLICATION,
                submitter,
                {
                    "application_id": application_id,
                    "year": year,
                    "programme": programme.value,
                    "form": form.model_dump(mode="json"),
                },
                command_id(rng),
            )
        ]
        draw = rng.random()
        if draw < withdraw_rate:
            body: dict[str, Any] = {"reason": rng.choice(WITHDRAW_REASONS)}
            name = CommandName.WITHDRAW_APPLICATION
        elif draw < withdraw_rate + amend_rate:
            body = {"form": amended(form, rng).model_dump(mode="json"), "reason": rng.choice(AMEND_REASONS)}
            name = CommandName.AMEND_APPLICATION
        else:
            chains.append(chain)
            continue
        chain.append(Command(name, submitter, body, command_id(rng), application_id=application_id))
        chains.append(chain)
    return chains


def facility_commands(
    count: int, submitters: Sequence[str], rng: random.Random, today: date | None = None
) -> list[Command]:
    commands = []
    for number in range(count):
        submitter = submitters[number % len(submitters)]
        body = _event_body(facility_report(submitter, rng, today=today))
        commands.append(Command(CommandName.REPORT_FACILITY, submitter, body, command_id(rng)))
    return commands


def project_commands(count: int, submitters: Sequence[str], rng: random.Random) -> list[Command]:
    commands = []
    for number in range(count):
        submitter = submitters[number % len(submitters)]
        body = _event_body(project_proposal(submitter, rng))
        commands.append(Command(CommandName.PROPOSE_PROJECT, submitter, body, command_id(rng)))
    return commands


def fact_commands(
    count: int, areas: Sequence[str], rng: random.Random, today: date | None = None
) -> list[Command]:
    commands = []
    for _ in range(count):
        fact = compliance_fact(areas, rng, today=today)
        commands.append(
            Command(
                CommandName.REPORT_FACT,
                None,
                _event_body(fact),
                command_id(rng),
                department=fact.reported_by,
            )
        )
    return commands


def spread(count: int, parts: int) -> list[int]:
    """`count` split into `parts` shares that differ by at most one, larger shares first."""
    base, extra = divmod(count, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def enrolment_commands(
    count: int,
    submitters: Sequence[str],
    rng: random.Random,
    *,
    batch: int = MAX_BATCH_ROWS,
    invalid_rate: float = 0.0,
    duplicate_rate: float = 0.0,
    seen_ids: set[str] | None = None,
) -> Iterator[Command]:
    """Enrolment sheets of `count` rows in all, spread evenly over `submitters`, at most `batch`
    rows a command, the submitters taking turns. Lazy: a batch is generated when it is wanted."""
    if not 1 <= batch <= MAX_BATCH_ROWS:
        raise ValueError(f"batch must be 1–{MAX_BATCH_ROWS} rows, not {batch}")
    remaining = dict(zip(submitters, spread(count, len(submitters)), strict=True))
    seen = seen_ids if seen_ids is not None else set()
    while any(remaining.values()):
        for submitter in submitters:
            size = min(batch, remaining[submitter])
            if size == 0:
                continue
            remaining[submitter] -= size
            rows = enrolment_rows(size, submitter, rng, duplicate_rate, invalid_rate, seen_ids=seen)
            yield Command(CommandName.ENROL, submitter, {"rows": rows}, command_id(rng), rows=size)


def enrolment_csv(rows: Sequence[dict[str, object]]) -> bytes:
    """The rows as a UTF-8 CSV sheet with the Chinese column headers, as staff export it."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[c.value for c in COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def plan_commands(
    application_id: str, submitter: str, year: int, unit_name: str, rng: random.Random
) -> list[Command]:
    """The three-year plan and the first annual plan of an approved application, in order."""
    plans: list[Plan] = [three_year_plan(rng, year, unit_name), annual_plan(rng, year, unit_name)]
    return [
        Command(
            CommandName.SUBMIT_PLAN,
            submitter,
            {"plan": plan.model_dump(mode="json")},
            command_id(rng),
            application_id=application_id,
        )
        for plan in plans
    ]
