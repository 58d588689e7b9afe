"""What a district hears back, without broker or database: the outbound topics and their ACLs,
and what each notice tells (and does not tell) the district."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from huigong_events.base import DomainEvent
from huigong_events.catalogue import EVENT_TYPES
from huigong_events.envelope import RecordedEvent, seal
from huigong_events.outbound import (
    NOTICE_TYPES,
    ApplicationDecidedNotice,
    ApplicationReceivedNotice,
    ApplicationRejectedNotice,
    EnrolmentBatchNotice,
    FindingNotice,
    MatterTransferredNotice,
)
from huigong_events.reference import SUBMITTERS, ExclusionRule
from huigong_events.review import EvidenceSource, ExclusionEvidence, ExclusionFound
from huigong_events.topics import OUTBOUND_TOPICS, outbound_topic
from huigong_events.upcasting import upcast
from huigong_intake.adapters.outbound import kafka_record, notice_row
from huigong_intake.commands import Enrol
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY
from huigong_intake.projections.outbound import named_district, notice_for
from huigong_ops import kafka_acls
from huigong_platform.application import CommandPath
from huigong_platform.principals import Principal, Role
from huigong_platform.unit_of_work import MemoryState, in_memory_units

from .intake.memory import MemoryIntakeTables
from .intake.test_enrolments import row as enrolment_row

GOLDEN = Path(__file__).resolve().parents[2] / "libs" / "events" / "golden"
SHINAN, SHIBEI = "370202", "370203"


def golden(name: str) -> DomainEvent:
    cls = EVENT_TYPES[name]
    return cls.model_validate(json.loads((GOLDEN / f"{name}.v{cls.schema_version}.json").read_text()))


def recorded(event: DomainEvent) -> RecordedEvent:
    at = datetime(2027, 7, 1, 2, 0, tzinfo=UTC)
    return seal(
        event=event,
        event_id=uuid.uuid4(),
        aggregate_id=str(uuid.uuid4()),
        aggregate_version=1,
        occurred_at=at,
        recorded_at=at,
        actor="test",
        source="review",
        correlation_id="c",
        causation_id=None,
        prev_hash=None,
    )


def topic_reads(principal: str) -> set[str]:
    return {
        a.resource_name
        for a in kafka_acls.acls_of(kafka_acls.principal(principal), prefix="t1.")
        if a.resource_type == kafka_acls.ResourceType.TOPIC and a.operation == kafka_acls.Operation.READ
    }


def test_every_district_and_group_union_has_one_outbound_topic_of_one_partition() -> None:
    assert {t.name for t in OUTBOUND_TOPICS} == {f"huigong.outbound.{c.lower()}" for c in SUBMITTERS}
    # One partition: the district reads its notices in exactly the order of its HTTP feed.
    assert {t.partitions for t in OUTBOUND_TOPICS} == {1}
    assert outbound_topic(SHINAN).owner == "intake"


def test_a_district_reads_its_own_outbound_topic_only_with_its_own_groups() -> None:
    shinan = kafka_acls.principal(f"district-{SHINAN}")
    assert topic_reads(shinan.name) == {f"t1.huigong.outbound.{SHINAN}"}
    groups = {
        (a.resource_name, a.pattern_type)
        for a in kafka_acls.acls_of(shinan, prefix="t1.")
        if a.resource_type == kafka_acls.ResourceType.GROUP
    }
    assert groups == {(f"t1.huigong.outbound.{SHINAN}.", int(kafka_acls.PatternType.PREFIXED))}
    # No other principal but intake (publishing) and ops (reading) touches 市南区's outbound topic.
    for p in kafka_acls.PRINCIPALS:
        if p.name not in (shinan.name, "ops", "intake"):
            assert f"t1.huigong.outbound.{SHINAN}" not in topic_reads(p.name), p.name
    assert f"t1.huigong.outbound.{SHINAN}" not in topic_reads(f"district-{SHIBEI}")


def test_intake_publishes_every_outbound_topic() -> None:
    writes = {
        a.resource_name
        for a in kafka_acls.acls_of(kafka_acls.principal("intake"))
        if a.operation == kafka_acls.Operation.WRITE
    }
    assert {t.name for t in OUTBOUND_TOPICS} <= writes


def test_an_application_recorded_before_receipt_numbers_is_received_under_its_id() -> None:
    # Versions 1 and 2 of ApplicationSubmitted carry no 受理编号; their notice must still be
    # built (it once failed validation, and the outbound consumer dead-lettered every such record).
    for version in (1, 2):
        data = json.loads((GOLDEN / f"ApplicationSubmitted.v{version}.json").read_text())
        current = EVENT_TYPES["ApplicationSubmitted"].schema_version
        event = EVENT_TYPES["ApplicationSubmitted"].model_validate(
            upcast("ApplicationSubmitted", version, current, data)
        )
        notice = notice_for(event, recorded(event))
        assert isinstance(notice, ApplicationReceivedNotice), version
        assert notice.receipt_no == str(notice.application_id) == data["application_id"]
    latest = golden("ApplicationSubmitted")
    notice = notice_for(latest, recorded(latest))
    assert isinstance(notice, ApplicationReceivedNotice)
    assert notice.receipt_no == latest.receipt_no  # type: ignore[attr-defined]


def test_a_rejection_tells_each_rule_and_its_text() -> None:
    notice = notice_for(golden("ApplicationRejected"), recorded(golden("ApplicationRejected")))
    assert isinstance(notice, ApplicationRejectedNotice)
    assert [(r.rule.value, r.rule_text) for r in notice.rules] == [("C3", "建设项目商业行为过多")]
    assert notice.record_id == "b431afd5-f31a-523f-8133-a8ede99b2583"


def test_an_approval_tells_the_decision_and_period_but_no_score_or_reviewer_note() -> None:
    event = golden("ConstructionApproved")
    notice = notice_for(event, recorded(event))
    assert isinstance(notice, ApplicationDecidedNotice)
    assert (notice.decision_label, str(notice.period_start)) == ("批准建设", "2023-09-01")
    text = notice.model_dump_json()
    assert "86.25" not in text and "李某" not in text and "score" not in text


def test_scores_and_assessments_are_not_told() -> None:
    for name in ("ReviewScored", "UnitAssessed", "RevocationStatementFiled", "MatterReceived"):
        event = golden(name)
        assert notice_for(event, recorded(event)) is None, name


def test_a_finding_tells_its_rule_and_stage_but_not_the_department_records_behind_it() -> None:
    event = golden("ExclusionFound")
    assert isinstance(event, ExclusionFound)
    notice = notice_for(event, recorded(event))
    assert isinstance(notice, FindingNotice)
    assert (notice.rule.value, notice.rule_text, notice.stage.value) == (
        "E3",
        "未依法缴纳社会保险费",
        "before_acceptance",
    )
    text = notice.model_dump_json()
    assert event.credit_code is not None and event.evidence.fact_id is not None
    for hidden in (event.credit_code, str(event.evidence.fact_id), "human_resources_social_security"):
        assert hidden not in text


def test_a_reviewers_finding_tells_the_reason_the_applicant_reads_but_not_the_reviewer() -> None:
    found = golden("ExclusionFound")
    assert isinstance(found, ExclusionFound)
    event = found.model_copy(
        update={
            "rule": ExclusionRule.C3_商业行为过多,
            "credit_code": None,
            "evidence": ExclusionEvidence(
                source=EvidenceSource.评审认定, reason="项目以商品销售为主，服务内容少"
            ),
        }
    )
    record = recorded(event).model_copy(update={"actor": "reviewer:city/zhang"})
    notice = notice_for(event, record)
    assert isinstance(notice, FindingNotice)
    assert notice.reason == "项目以商品销售为主，服务内容少"
    assert "zhang" not in notice.model_dump_json()


def test_a_transferred_matter_is_told_to_the_receiving_district_and_names_no_worker() -> None:
    event = golden("MatterTransferred")
    notice = notice_for(event, recorded(event))
    assert isinstance(notice, MatterTransferredNotice)
    assert named_district(event) == SHIBEI  # the receiving base's area, not the sender's
    assert (notice.to_name, notice.reason) == ("青岛市市北区时代国际广场", "本中心本周无值班律师")
    # The city's own records have no district to tell.
    assert named_district(golden("ServiceProjectListed")) is None


# The golden event each notice is derived from (the two others are written by commands).
DERIVED_FROM = {
    "ApplicationReceivedNotice": "ApplicationSubmitted",
    "ApplicationAcceptedNotice": "ApplicationAccepted",
    "ApplicationRejectedNotice": "ApplicationRejected",
    "ApplicationDecidedNotice": "ConstructionApproved",
    "UnitStatusNotice": "UnitCertified",
    "FindingNotice": "ExclusionFound",
    "FindingClearedNotice": "ExclusionCleared",
    "PlanReceivedNotice": "PlanSubmitted",
    "FacilityNotice": "FacilityOpened",
    "ServiceProjectListedNotice": "ServiceProjectListed",
    "CertificationSuspensionNotice": "CertificationSuspended",
    "MatterTransferredNotice": "MatterTransferred",
}


@pytest.mark.parametrize("name", sorted(NOTICE_TYPES))
def test_each_notice_types_golden_file_is_the_record_value_a_district_receives(name: str) -> None:
    """libs/events/golden/outbound/<type>.v<n>.json is a notice's Kafka record value: the model
    reads it, writes it back byte for byte, and the projection still derives it from the golden
    event it restates."""
    cls = NOTICE_TYPES[name]
    path = GOLDEN / "outbound" / f"{name}.v{cls.schema_version}.json"
    value = json.loads(path.read_text())
    notice = cls.model_validate(value)
    _, sent, headers = kafka_record(notice_row(notice, 7))
    assert json.loads(sent) == value
    assert dict(headers)["ce_type"] == name.encode()
    if name in DERIVED_FROM:
        event = golden(DERIVED_FROM[name])
        at = datetime(2027, 7, 1, 2, 0, tzinfo=UTC)
        derived = notice_for(event, recorded(event).model_copy(update={"occurred_at": at}))
        assert derived is not None
        assert derived.model_copy(update={"district": notice.district}) == notice


@pytest.mark.parametrize("name", sorted(NOTICE_TYPES))
def test_each_notice_type_has_its_published_schema(name: str) -> None:
    schema = GOLDEN.parent / "schemas" / f"{name}.v1.schema.json"
    assert json.loads(schema.read_text())["x-topic"] == "huigong.outbound.<code>"


async def test_an_enrolment_batch_is_told_once_with_its_refused_rows_by_number_and_no_personal_data() -> None:
    tables = MemoryIntakeTables()
    commands = CommandPath(
        POLICY, Intake(tables.records, b"\0" * 32).handlers(), in_memory_units(MemoryState())
    )
    good = enrolment_row(1)
    bad = {**enrolment_row(2), "身份证号": "370202199003070021"}  # a wrong check character
    shinan = Principal(Role.DISTRICT, SHINAN)
    for _ in range(2):  # a retry with the same key answers the first outcome and tells nothing new
        await commands.handle(Enrol(rows=[good, bad]), shinan, key="batch-1", correlation_id="c")
    [notice] = tables.notices.values()
    assert isinstance(notice, EnrolmentBatchNotice)
    assert (notice.district, notice.rows, notice.accepted) == (SHINAN, 2, 1)
    assert [(r.row, [e.field for e in r.errors]) for r in notice.refused] == [(2, ["身份证号"])]
    assert notice.record_id == str(notice.batch_id)
    text = notice.model_dump_json()
    for personal in (good["身份证号"], good["姓名"], good["手机号"], bad["身份证号"], bad["姓名"]):
        assert str(personal) not in text
