"""The read ports' contracts: what review's `Inputs`, the registry's `Records` and the metrics
service's `Baselines` give a handler, whichever implementation runs it. The in-memory ones run
them in `tests/unit/<service>/test_*_memory.py`, the PostgreSQL ones in
`tests/integration/test_read_ports_postgres.py`: both must pass all of it.

Each contract's fixtures are units of work on the service's store and the port within one; the
PostgreSQL store is shared by the run's modules, so every case works on ids, credit codes and
years of its own."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, seal
from huigong_events.forms import Organisation
from huigong_events.grading import ResourceGraded
from huigong_events.intake import ApplicationAmended, ApplicationSubmitted, ComplianceFactReported
from huigong_events.matters import ServiceItemListed
from huigong_events.reference import TITLES, ComplianceFactKind, Programme
from huigong_events.registry import ServiceProjectListed, UnitCertified, UnitOrigin, UnitRegistered
from huigong_events.review import ApplicationAccepted
from huigong_metrics.adapters.baselines import Baselines
from huigong_metrics.domain.targets import TargetKey
from huigong_platform.eventstore import Metadata
from huigong_platform.unit_of_work import UnitOfWork, UnitsOfWork
from huigong_registry.adapters.records import Records
from huigong_registry.adapters.requesters import Requester
from huigong_registry.domain.certification import certificate_no
from huigong_registry.domain.grading import MEASURED_TYPES
from huigong_review.adapters.inputs import Inputs
from huigong_simulator.forms import FACT_DEPARTMENTS, credit_code

from .. import forms

# A recorded grade as the golden file has it (its figures' sources need not exist here).
GRADED = json.loads(
    (Path(__file__).resolve().parents[2] / "libs/events/golden/ResourceGraded.v1.json").read_text()
)
META = Metadata(actor="registrar:city01", source="registry", correlation_id="contract")


def recorded(
    event: DomainEvent, aggregate_id: object, version: int = 1, actor: str = "district:370202"
) -> RecordedEvent:
    """`event` as another service recorded it (what review's reaction receives)."""
    return seal(
        event=event,
        event_id=uuid.uuid4(),
        aggregate_id=str(aggregate_id),
        aggregate_version=version,
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        actor=actor,
        source="370202",
        correlation_id="contract",
        causation_id=None,
        prev_hash=None,
    )


def enterprise() -> str:
    return credit_code(random.Random(), "91", "370202")


def submitted(application_id: uuid.UUID, code: str, receipt_no: str) -> ApplicationSubmitted:
    unit = Organisation(name="青岛某某有限公司", credit_code=code)
    form = forms.variant(forms.happy_form(), undertaking_unit=unit, applicant_unit=unit)
    return ApplicationSubmitted(
        application_id=application_id,
        year=2027,
        programme=Programme.幸福企业,
        submitter="370202",
        form=form,
        receipt_no=receipt_no,
    )


def fact(code: str) -> ComplianceFactReported:
    kind = ComplianceFactKind.拖欠工资
    return ComplianceFactReported(
        fact_id=uuid.uuid4(),
        credit_code=code,
        unit_name="青岛某某有限公司",
        kind=kind,
        occurred_on=date(2026, 3, 1),
        reported_by=FACT_DEPARTMENTS[kind],
        reported_on=date(2026, 3, 5),
        evidence_ref="人社函〔2026〕12号",
    )


class ReviewInputsContract:
    """Subclasses provide `units` (units of work on review's store) and `inputs` (the port in one)."""

    async def test_an_application_is_stored_once_and_loaded_with_its_facts_and_review_stream(
        self, units: UnitsOfWork, inputs: Callable[[UnitOfWork], Inputs]
    ) -> None:
        application_id, code = uuid.uuid4(), enterprise()
        receipt = f"2027-370202-{random.randrange(10**5):05d}-{application_id.hex[:6]}"
        submission = recorded(submitted(application_id, code, receipt), application_id)
        async with units() as uow:
            port = inputs(uow)
            await port.lock(application_id)
            assert await port.record_application_event(submitted(application_id, code, receipt), submission)
            assert not await port.record_application_event(
                submitted(application_id, code, receipt), submission
            )
            reported = fact(code)
            assert await port.record_fact(reported, recorded(reported, reported.fact_id))
            assert not await port.record_fact(reported, recorded(reported, reported.fact_id))
        async with units() as uow:
            loaded = await inputs(uow).load(application_id)
        assert loaded.state is not None and loaded.state.submitter == "370202"
        assert loaded.version == 0 and [r.id for r in loaded.intake] == [submission.id]
        assert len(loaded.facts) == 1 and loaded.facts[0].data["fact_id"] == str(reported.fact_id)
        async with units() as uow:
            await uow.append(
                str(application_id),
                [
                    ApplicationAccepted(
                        application_id=application_id, programme=Programme.幸福企业, submitter="370202"
                    )
                ],
                0,
                META,
            )
            loaded = await inputs(uow).load(application_id)  # its own append, in the same transaction
        assert loaded.version == 1 and [r.type for r in loaded.review] == ["ApplicationAccepted"]
        async with units() as uow:
            port = inputs(uow)
            assert await port.by_receipt(receipt) == application_id
            assert await port.by_receipt(f"{receipt}-none") is None
            assert (await port.load(uuid.uuid4())).state is None

    async def test_applications_are_found_by_the_credit_code_their_current_form_screens(
        self, units: UnitsOfWork, inputs: Callable[[UnitOfWork], Inputs]
    ) -> None:
        first, second, code, other = uuid.uuid4(), uuid.uuid4(), enterprise(), enterprise()
        async with units() as uow:
            port = inputs(uow)
            for application_id in (first, second):
                event = submitted(application_id, code, f"r-{application_id}")
                await port.record_application_event(event, recorded(event, application_id))
            assert await port.applications_screening(code) == sorted([first, second])
            unit = Organisation(name="青岛某某有限公司", credit_code=other)
            form = forms.variant(forms.happy_form(), undertaking_unit=unit, applicant_unit=unit)
            amended = ApplicationAmended(application_id=second, form=form, reason="更正承建单位信用代码")
            await port.record_application_event(amended, recorded(amended, second, version=2))
            assert await port.applications_screening(code) == [first]
            assert await port.applications_screening(other) == [second]

    async def test_a_units_events_are_kept_with_the_application_it_was_built_from(
        self, units: UnitsOfWork, inputs: Callable[[UnitOfWork], Inputs]
    ) -> None:
        application_id, unit_id, code = uuid.uuid4(), uuid.uuid4(), enterprise()
        registered = UnitRegistered(
            unit_id=unit_id,
            name="青岛某某有限公司",
            programme=Programme.幸福企业,
            area="370202",
            origin=UnitOrigin.申报,
            application_id=application_id,
            registered_on=date(2027, 1, 4),
        )
        certified = UnitCertified(
            unit_id=unit_id,
            title=TITLES[Programme.幸福企业],
            certificate_no=f"QDGH-2028-FQ-{random.randrange(10**4):04d}",
            certified_on=date(2028, 1, 5),
            valid_until=date(2031, 1, 4),
            recheck_due=date(2029, 1, 5),
        )
        async with units() as uow:
            port = inputs(uow)
            event = submitted(application_id, code, f"r-{application_id}")
            await port.record_application_event(event, recorded(event, application_id))
            assert (
                await port.record_unit_event(registered, recorded(registered, unit_id, 1, "system:registry"))
                == application_id
            )
            assert (
                await port.record_unit_event(certified, recorded(certified, unit_id, 2, "system:registry"))
                == application_id
            )
        async with units() as uow:
            loaded = await inputs(uow).load(application_id)
        assert [r.type for r in loaded.units] == ["UnitRegistered", "UnitCertified"]


class RegistryRecordsContract:
    """Subclasses provide `units` (units of work on the registry's store) and `records`."""

    async def test_units_handlers_and_items_are_read_as_their_streams_say_in_the_transaction(
        self, units: UnitsOfWork, records: Callable[[UnitOfWork], Records]
    ) -> None:
        centre, item_id, nobody = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        registered = UnitRegistered(
            unit_id=centre,
            name="读取端口契约测试服务中心",  # no real centre's name: the run's database is shared
            programme=Programme.服务职工综合体,
            area="370202",
            origin=UnitOrigin.职工服务中心,
            registered_on=date(2022, 6, 28),
        )
        listed = ServiceItemListed(
            item_id=item_id,
            name="劳动争议法律咨询",
            category="legal_aid",
            providers=[centre],
            time_limit_days=5,
            steps=["登记诉求", "出具意见"],
            commitment="5个工作日内办结",
            listed_on=date(2025, 1, 2),
        )
        async with units() as uow:
            port = records(uow)
            assert await port.units([nobody]) == {nobody: None}
            assert await port.handler(nobody) is None and await port.item(item_id) is None
            await uow.append(str(centre), [registered], 0, META)
            await uow.append(str(item_id), [listed], 0, META)
            found = await port.units([centre, centre, nobody])
            assert list(found) == [centre, nobody] and found[nobody] is None
            unit = found[centre]
            assert unit is not None and unit.programme is Programme.服务职工综合体
            handler = await port.handler(centre)
            assert handler is not None and handler.area == "370202"
            item = await port.item(item_id)
            assert item is not None and item.name == "劳动争议法律咨询"

    async def test_certificate_and_matter_numbers_count_up_per_year(
        self, units: UnitsOfWork, records: Callable[[UnitOfWork], Records]
    ) -> None:
        # A year no other case uses: the counters are the store's.
        year = random.randrange(2100, 9000)
        async with units() as uow:
            port = records(uow)
            first = await port.next_certificate_no(Programme.幸福企业, year)
            second = await port.next_certificate_no(Programme.幸福企业, year)
            other = await port.next_certificate_no(Programme.服务职工基地, year)
        assert (first, second) == (
            certificate_no(Programme.幸福企业, year, 1),
            certificate_no(Programme.幸福企业, year, 2),
        )
        assert other == certificate_no(Programme.服务职工基地, year, 1)
        async with units() as uow:
            port = records(uow)
            numbers = [
                await port.next_matter_no(date(year, 3, 2), area) for area in ("370202", "370202", "370203")
            ]
        assert numbers == [f"FW-{year}-370202-00001", f"FW-{year}-370202-00002", f"FW-{year}-370203-00001"]

    async def test_a_requesters_key_is_kept_until_erased_and_an_unknown_key_is_none(
        self, units: UnitsOfWork, records: Callable[[UnitOfWork], Records]
    ) -> None:
        matter_id = uuid.uuid4()
        async with units() as uow:
            port = records(uow)
            key_id, sealed = await port.seal_requester(matter_id, Requester("王秀英", "13912345678", "咨询"))
            assert key_id and "王秀英" not in sealed and "13912345678" not in sealed
        async with units() as uow:
            port = records(uow)
            assert await port.erase_requester(matter_id)
            assert not await port.erase_requester(matter_id)
            assert not await port.destroy_member_key(f"m-{uuid.uuid4().hex}")

    async def test_an_evaluation_reads_the_measured_events_in_order_and_knows_a_graded_year(
        self, units: UnitsOfWork, records: Callable[[UnitOfWork], Records]
    ) -> None:
        # A year no other case grades: whether a year has grades is the whole store's answer.
        year = random.randrange(2060, 2100)
        project = ServiceProjectListed(
            project_id=uuid.uuid4(),
            name="读取端口契约测试项目",
            field="counselling",
            provider="读取端口契约测试基地",
            provider_credit_code="91370202MA3C5XKX0Y",
            area="370202",
            listed_on=date(2025, 3, 1),
        )
        graded = ResourceGraded.model_validate(
            {
                **GRADED,
                "subject_id": str(uuid.uuid4()),
                "year": year,
                "type": "ResourceGraded",
            }
        )
        async with units() as uow:
            port = records(uow)
            assert not await port.graded_in(year)
            await uow.append(str(project.project_id), [project], 0, META)
            await uow.append(str(graded.subject_id), [graded], 0, META)
            measured = await port.measured_events()
            assert measured[-1][1] == project and measured[-1][0].type == "ServiceProjectListed"
            assert all(record.type in MEASURED_TYPES for record, _ in measured)
            assert await port.graded_in(year)


class BaselinesContract:
    """Subclasses provide `baselines`: the port on the installed targets.toml."""

    async def test_the_plans_targets_are_the_files_and_an_unset_one_is_none(
        self, baselines: Baselines
    ) -> None:
        assert await baselines.value(TargetKey("members_enrolled", "370200", None)) == Decimal(400000)
        assert await baselines.value(TargetKey("shared_workers_homes", "370200", 2022)) == Decimal(50)
        assert await baselines.value(TargetKey("members_enrolled", "370214", None)) is None
