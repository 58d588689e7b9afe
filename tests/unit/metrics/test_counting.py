"""Which event counts toward which target (pure): a known history of units, facilities, partners,
projects and members gives the expected counters per area and day, revocations, exits and
closures take back exactly what was counted, and simulated data stays marked."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime

import pytest

from huigong_events.base import DomainEvent
from huigong_events.catalogue import EVENT_TYPES
from huigong_events.forms import PartnerCategory, PlatformEconomy, ServiceField
from huigong_events.intake import ApplicationAmended, ApplicationSubmitted
from huigong_events.reference import DISTRICTS, ExclusionRule, FacilityKind, Occupation, Programme
from huigong_events.registry import (
    CertificationRevoked,
    FacilityClosed,
    FacilityOpened,
    MemberEnrolled,
    MemberReportedAgain,
    MutualAidGranted,
    PartnerExited,
    PartnerOrigin,
    PartnerRegistered,
    ServiceProjectListed,
    UnitCertified,
    UnitExited,
    UnitOrigin,
    UnitRegistered,
)
from huigong_events.revocation import CertificationRestored, CertificationSuspended, RestorationGround
from huigong_metrics.domain import counting
from huigong_metrics.domain.counting import (
    CERTIFIED,
    COUNTED_EVENT_TYPES,
    COUNTERS,
    METRICS,
    OPENED,
    REGISTERED,
    Counted,
    NotCounted,
    Pilot,
    SubjectKey,
    count,
    evolve_pilot,
    is_simulated,
    pilot_deltas,
    pilot_ref,
    remembered,
    subject_of,
)

RECORDED = date(2026, 1, 5)
# 23:30 on 4 January UTC is 5 January in Beijing: the recorded day is the Beijing day.
RECORDED_AT = datetime(2026, 1, 4, 23, 30, tzinfo=UTC)
KEY = "a" * 64


class Book:
    """Counts a history the way the projection does, keeping the per-(counter, area, day) sums."""

    def __init__(self) -> None:
        self.known: dict[SubjectKey, Counted] = {}
        self.pilots: dict[str, Pilot] = {}
        self.sums: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])

    def apply(
        self, events: Iterable[DomainEvent], simulated: bool = False, recorded_at: datetime = RECORDED_AT
    ) -> None:
        for event in events:
            subject = subject_of(event)
            outcome = count(
                event,
                self.known.get(subject) if subject else None,
                simulated=simulated,
                recorded_at=recorded_at,
            )
            if outcome.counted is not None and subject is not None:
                self.known[subject] = outcome.counted
            deltas = list(outcome.deltas)
            ref = pilot_ref(event)
            if ref is not None:
                units = {p.unit_id: a for a, p in self.pilots.items()}
                application = units.get(ref.key) if ref.by_unit else ref.key
                if application is not None:
                    before = self.pilots.get(application)
                    after = evolve_pilot(before, event, simulated=simulated, recorded_at=recorded_at)
                    if after is not None:
                        self.pilots[application] = after
                    deltas += pilot_deltas(before, after)
            for d in deltas:
                self.sums[(d.counter, d.area, d.day)][0] += d.amount
                self.sums[(d.counter, d.area, d.day)][1] += d.amount if d.simulated else 0

    def total(self, counter: str, area: str | None = None, until: date = date.max) -> int:
        return sum(
            v[0] for (c, a, d), v in self.sums.items() if c == counter and (area in (None, a)) and d <= until
        )

    def simulated(self, counter: str) -> int:
        return sum(v[1] for (c, _, _), v in self.sums.items() if c == counter)


def unit(programme: Programme, area: str = "370202", on: date = date(2022, 6, 28)) -> UnitRegistered:
    return UnitRegistered(
        unit_id=uuid.uuid4(), name="青岛某某有限公司", programme=programme, area=area,
        origin=UnitOrigin.试点2022, registered_on=on,
    )  # fmt: skip


def certified(unit_id: uuid.UUID, on: date) -> UnitCertified:
    return UnitCertified(
        unit_id=unit_id, title="青岛市职工生活幸福型企业创建示范单位", certificate_no="QDGH-2024-FQ-0001",
        certified_on=on, valid_until=date(on.year + 3, on.month, 1), recheck_due=date(on.year + 1, on.month, 1),
    )  # fmt: skip


def revoked(unit_id: uuid.UUID, on: date) -> CertificationRevoked:
    return CertificationRevoked(
        unit_id=unit_id,
        certificate_no="QDGH-2024-FQ-0001",
        revoked_on=on,
        reason="拖欠职工工资",
        automatic=False,
    )


def facility(kind: FacilityKind, area: str, on: date) -> FacilityOpened:
    return FacilityOpened(
        facility_id=uuid.uuid4(), kind=kind, name="某设施", area=area, host_unit="某单位", opened_on=on
    )


def enrolled(district: str, joined: date, key: str = KEY) -> MemberEnrolled:
    return MemberEnrolled(
        member_key=key, key_id="k1", enrolment_id=uuid.uuid4(), district=district,
        occupation=Occupation.快递员, platform="顺丰", joined_on=joined,
    )  # fmt: skip


def aid(year: int, on: date, key: str = KEY, payer: str | None = None) -> MutualAidGranted:
    paid_by = "市总工会赠送" if payer is None else f"{DISTRICTS[payer]}总工会"
    return MutualAidGranted(
        member_key=key, policy_year=year, paid_by=paid_by, granted_on=on, paid_by_area=payer
    )


def test_units_count_by_programme_on_their_registration_day() -> None:
    book = Book()
    book.apply([unit(Programme.幸福企业) for _ in range(3)])
    book.apply([unit(Programme.服务职工基地, "370203"), unit(Programme.服务职工综合体, "370200")])
    book.apply([unit(Programme.公益伙伴, "370213", date(2024, 3, 1))])
    assert book.total("happy_enterprise_pilots", "370202", until=date(2022, 6, 28)) == 3
    assert book.total("happy_enterprise_pilots", until=date(2022, 6, 27)) == 0
    assert book.total("service_bases", "370203") == 1
    assert book.total("service_complexes", "370200") == 1
    # An approved 公益伙伴 application is a unit, and counts as a partner.
    assert book.total("welfare_partners", "370213", until=date(2024, 3, 1)) == 1


def test_a_revocation_takes_back_the_certification_once_on_its_day() -> None:
    book = Book()
    happy = unit(Programme.幸福企业, "370212")
    book.apply([happy, certified(happy.unit_id, date(2024, 5, 1))])
    assert book.total("happy_enterprises_certified", "370212") == 1
    book.apply([revoked(happy.unit_id, date(2025, 2, 1)), revoked(happy.unit_id, date(2025, 3, 1))])
    assert book.total("happy_enterprises_certified") == 0
    # As of a day between certification and revocation it still counted.
    assert book.total("happy_enterprises_certified", until=date(2025, 1, 31)) == 1
    # Building started stays counted: a revocation ends the title, not the fact of building.
    assert book.total("happy_enterprise_pilots") == 1


def test_a_suspended_title_counts_as_certified_until_the_revocation_is_confirmed() -> None:
    """撤销审查: suspension and restoration move nothing; the confirmation (a CertificationRevoked
    not automatic) counts on its own day, as an old automatic revocation did on its day."""
    book = Book()
    happy, old = unit(Programme.幸福企业, "370212"), unit(Programme.幸福企业, "370213")
    book.apply([happy, certified(happy.unit_id, date(2024, 5, 1))])
    book.apply([old, certified(old.unit_id, date(2024, 5, 1))])
    case = uuid.uuid4()
    book.apply([
        CertificationSuspended(
            unit_id=happy.unit_id, case_id=case, certificate_no="QDGH-2024-FQ-0001", finding_id=case,
            rule=ExclusionRule.E2_拖欠工资, rule_text="拖欠职工工资", suspended_on=date(2025, 2, 1),
            statement_due=date(2025, 2, 10),
        ),
        CertificationRestored(
            unit_id=happy.unit_id, case_id=case, certificate_no="QDGH-2024-FQ-0001",
            ground=RestorationGround.不予撤销, reason="误报", restored_on=date(2025, 2, 5),
        ),
    ])  # fmt: skip
    assert book.total("happy_enterprises_certified", "370212", until=date(2025, 2, 20)) == 1
    book.apply([
        CertificationSuspended(
            unit_id=happy.unit_id, case_id=uuid.uuid4(), certificate_no="QDGH-2024-FQ-0001",
            finding_id=uuid.uuid4(), rule=ExclusionRule.E2_拖欠工资, rule_text="拖欠职工工资",
            suspended_on=date(2025, 3, 1), statement_due=date(2025, 3, 7),
        ),
        revoked(happy.unit_id, date(2025, 3, 20)),
    ])  # fmt: skip
    assert book.total("happy_enterprises_certified", "370212", until=date(2025, 3, 19)) == 1
    assert book.total("happy_enterprises_certified", "370212", until=date(2025, 3, 20)) == 0
    # A stream from before revocation cases: the automatic revocation on its own day.
    book.apply([revoked(old.unit_id, date(2025, 2, 1)).model_copy(update={"automatic": True})])
    assert book.total("happy_enterprises_certified", "370213", until=date(2025, 1, 31)) == 1
    assert book.total("happy_enterprises_certified", "370213", until=date(2025, 2, 1)) == 0


def test_an_exit_ends_a_base_and_its_title() -> None:
    book = Book()
    base = unit(Programme.服务职工基地, "370285")
    book.apply([base])
    book.apply([
        UnitCertified(
            unit_id=base.unit_id, title="青岛市职工服务基地创建示范单位", certificate_no="QDGH-2023-JD-0001",
            certified_on=date(2023, 6, 1), valid_until=date(2026, 5, 31), recheck_due=date(2024, 6, 1),
        ),
        UnitExited(unit_id=base.unit_id, reason="满意度评价不达标", exited_on=date(2024, 7, 1)),
        UnitExited(unit_id=base.unit_id, reason="再次", exited_on=date(2024, 8, 1)),
    ])  # fmt: skip
    assert book.total("service_bases", until=date(2024, 6, 30)) == 1
    assert book.total("service_bases") == 0
    assert book.total("service_bases_certified") == 0
    assert book.total("service_bases_certified", until=date(2024, 6, 30)) == 1


def test_facilities_count_by_kind_net_of_closures() -> None:
    book = Book()
    homes = [facility(FacilityKind.区域共享职工之家, "370213", date(2023, 3, 1)) for _ in range(2)]
    station = facility(FacilityKind.智慧健康驿站_中心, "370200", date(2023, 9, 1))
    book.apply([*homes, station, facility(FacilityKind.智慧健康驿站_企业, "G-HAIER", date(2023, 4, 1))])
    book.apply(
        [FacilityClosed(facility_id=homes[0].facility_id, closed_on=date(2023, 10, 1), reason="场地收回")]
    )
    book.apply(
        [FacilityClosed(facility_id=homes[0].facility_id, closed_on=date(2023, 11, 1), reason="again")]
    )
    assert book.total("shared_workers_homes", "370213", until=date(2023, 9, 30)) == 2
    assert book.total("shared_workers_homes", "370213") == 1
    assert book.total("health_station_centre_facilities", "370200") == 1
    assert book.total("health_stations_enterprises", "G-HAIER") == 1


def test_gig_worker_stations_count_by_district_apart_from_other_facilities() -> None:
    book = Book()
    stations = [
        facility(FacilityKind.新就业形态劳动者服务站点, "370212", date(2026, 6, 18)) for _ in range(2)
    ]
    book.apply([*stations, facility(FacilityKind.新就业形态劳动者服务站点, "370203", date(2026, 7, 1))])
    book.apply(
        [FacilityClosed(facility_id=stations[1].facility_id, closed_on=date(2026, 9, 1), reason="商圈改造")]
    )
    assert book.total("gig_worker_stations", "370212", until=date(2026, 8, 31)) == 2
    assert book.total("gig_worker_stations", "370212") == 1
    assert book.total("gig_worker_stations", "370203") == 1
    assert book.total("shared_workers_homes") == 0 and book.total("service_base_facilities") == 0


def test_partners_and_projects_count_on_their_dates_net_of_exits() -> None:
    book = Book()
    partner = uuid.uuid4()
    book.apply([
        PartnerRegistered(
            partner_id=partner, name="青岛红十字蓝天救援中心", category=PartnerCategory.公益慈善,
            area="370214", registered_on=date(2022, 6, 28), origin=PartnerOrigin.试点2022,
        ),
        ServiceProjectListed(
            project_id=uuid.uuid4(), name="职工心理疏导", field=ServiceField.心理疏导, provider="某中心",
            provider_credit_code="91370202MA3C4LXX3X", area="370202", listed_on=date(2024, 2, 2),
        ),
    ])  # fmt: skip
    assert book.total("welfare_partners", "370214") == 1
    assert book.total("service_projects", "370202", until=date(2024, 2, 2)) == 1
    book.apply([PartnerExited(partner_id=partner, reason="不再开展合作", exited_on=date(2025, 1, 1))] * 2)
    assert book.total("welfare_partners") == 0
    assert book.total("welfare_partners", until=date(2024, 12, 31)) == 1


def test_a_member_counts_once_and_their_mutual_aid_once_in_their_district() -> None:
    book = Book()
    book.apply([enrolled("370211", date(2022, 8, 1)), aid(2022, date(2022, 8, 1))])
    # Reported again by another district with cover for a new year: still one person insured.
    again = MemberReportedAgain(
        member_key=KEY, enrolment_id=uuid.uuid4(), district="370202", reported_on=date(2023, 3, 1)
    )
    book.apply([again, aid(2023, date(2023, 3, 1))])
    assert book.total("members_enrolled") == 1
    assert book.total("members_enrolled", "370211", until=date(2022, 8, 1)) == 1
    assert book.total("mutual_aid") == 1
    assert book.total("mutual_aid", "370211") == 1


def test_mutual_aid_counts_to_the_federation_that_pays_for_it() -> None:
    book = Book()
    # A 李沧区 member enrolled without aid; 市南区 re-reports them with aid and pays for it.
    book.apply([enrolled("370213", date(2024, 3, 1), "c" * 64)])
    again = MemberReportedAgain(
        member_key="c" * 64, enrolment_id=uuid.uuid4(), district="370202", reported_on=date(2025, 3, 1)
    )
    book.apply([again, aid(2025, date(2025, 3, 1), "c" * 64, payer="370202")])
    assert book.total("mutual_aid", "370202") == 1
    assert book.total("mutual_aid", "370213") == 0
    assert book.total("members_enrolled", "370213") == 1


def test_simulated_data_is_counted_and_marked_and_so_is_its_take_back() -> None:
    book = Book()
    opened = facility(FacilityKind.青岛惠工家, "370202", date(2024, 1, 1))
    book.apply([opened], simulated=True)
    book.apply([facility(FacilityKind.青岛惠工家, "370202", date(2024, 1, 2))])
    assert book.total("huigong_homes") == 2
    assert book.simulated("huigong_homes") == 1
    # A registrar (real) closes the simulated facility: the simulated part goes down with it.
    book.apply(
        [FacilityClosed(facility_id=opened.facility_id, closed_on=date(2024, 2, 1), reason="演示结束")]
    )
    assert book.total("huigong_homes") == 1
    assert book.simulated("huigong_homes") == 0
    assert is_simulated("simulator:370202") and is_simulated("simulator:registry")
    assert not is_simulated("system:registry") and not is_simulated("district:370202")


def test_events_that_state_no_date_count_on_the_day_they_were_recorded() -> None:
    from tests.forms import happy_form

    book = Book()
    book.apply([
        ApplicationSubmitted(
            application_id=uuid.uuid4(), year=2026, programme=Programme.幸福企业, submitter="370203",
            form=happy_form(),
        )
    ])  # fmt: skip
    assert book.sums[("applications_submitted", "370203", RECORDED)] == [1, 0]


def test_an_event_about_something_never_counted_is_refused_with_its_reason() -> None:
    with pytest.raises(NotCounted, match="FacilityClosed for facility"):
        count(
            FacilityClosed(facility_id=uuid.uuid4(), closed_on=date(2024, 1, 1), reason="关闭"),
            None,
            simulated=False,
            recorded_at=RECORDED_AT,
        )
    with pytest.raises(NotCounted):
        count(revoked(uuid.uuid4(), date(2024, 1, 1)), None, simulated=False, recorded_at=RECORDED_AT)


def test_a_member_is_remembered_until_insured_and_not_counted_again_after() -> None:
    enrolled_only = count(
        enrolled("370202", date(2023, 1, 1)), None, simulated=False, recorded_at=RECORDED_AT
    )
    member = enrolled_only.counted
    assert member is not None and remembered(member)
    insured = count(aid(2023, date(2023, 2, 1)), member, simulated=False, recorded_at=RECORDED_AT)
    assert insured.counted is not None and not remembered(insured.counted)
    assert [d.counter for d in insured.deltas] == ["mutual_aid"]
    # Forgotten once insured: a later policy year finds nothing and counts nothing.
    assert count(aid(2024, date(2024, 2, 1)), None, simulated=False, recorded_at=RECORDED_AT).deltas == ()


def test_the_mapping_is_complete() -> None:
    # Every counted type exists, every counter is shown by a metric, every programme and facility
    # kind is mapped, and the module's table names every counted event.
    assert set(EVENT_TYPES) >= COUNTED_EVENT_TYPES
    assert set(REGISTERED.values()) | set(CERTIFIED.values()) | set(OPENED.values()) <= COUNTERS
    assert set(REGISTERED) == set(Programme)
    assert set(OPENED) == set(FacilityKind)
    assert all(f"| {name} |" in (counting.__doc__ or "") for name in COUNTED_EVENT_TYPES)
    assert len({m.code for m in METRICS}) == len(METRICS)


def platform_application(
    application_id: uuid.UUID, workers: int | None, submitter: str = "370203"
) -> ApplicationSubmitted:
    from tests.forms import happy_form

    mark = (
        None
        if workers is None
        else PlatformEconomy(related_enterprises=["青岛某某配送服务有限公司"], related_workers=workers)
    )
    return ApplicationSubmitted(
        application_id=application_id, year=2026, programme=Programme.幸福企业, submitter=submitter,
        form=happy_form().model_copy(update={"platform_economy": mark}),
    )  # fmt: skip


def registered_from(application_id: uuid.UUID, on: date, area: str = "370203") -> UnitRegistered:
    return UnitRegistered(
        unit_id=uuid.uuid4(), name="青岛某某平台有限公司", programme=Programme.幸福企业, area=area,
        origin=UnitOrigin.申报, application_id=application_id, registered_on=on,
    )  # fmt: skip


def amended(application_id: uuid.UUID, workers: int | None) -> ApplicationAmended:
    form = platform_application(application_id, workers).form
    return ApplicationAmended(application_id=application_id, form=form, reason="补充平台经济企业信息")


def test_a_platform_economy_pilot_counts_when_its_unit_is_registered_not_when_it_applies() -> None:
    marked, plain = uuid.uuid4(), uuid.uuid4()
    book = Book()
    book.apply([platform_application(marked, 1260), platform_application(plain, None)])
    assert book.total("applications_submitted", "370203") == 2
    assert book.total("platform_economy_pilots") == 0 and book.total("platform_economy_pilot_workers") == 0
    registration = registered_from(marked, date(2026, 3, 2))
    book.apply([registration, registered_from(plain, date(2026, 3, 2))])
    assert book.total("platform_economy_pilots", "370203", until=date(2026, 3, 1)) == 0
    assert book.total("platform_economy_pilots", "370203", until=date(2026, 3, 2)) == 1
    assert book.total("platform_economy_pilot_workers", "370203") == 1260
    # Only the marked one: the other is a happy enterprise like any.
    assert book.total("happy_enterprise_pilots", "370203") == 2
    book.apply([UnitExited(unit_id=registration.unit_id, exited_on=date(2026, 9, 1), reason="企业退出试点")])
    assert book.total("platform_economy_pilots", until=date(2026, 8, 31)) == 1
    assert book.total("platform_economy_pilots") == 0 and book.total("platform_economy_pilot_workers") == 0


def test_an_amendment_that_adds_or_removes_the_mark_is_honoured() -> None:
    added, removed, changed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    book = Book()
    book.apply(
        [
            platform_application(added, None),
            platform_application(removed, 500),
            platform_application(changed, 100),
        ]
    )
    book.apply([amended(added, 800), amended(removed, None), amended(changed, 300)])
    book.apply([registered_from(a, date(2026, 3, 2)) for a in (added, removed, changed)])
    assert book.total("platform_economy_pilots") == 2
    assert book.total("platform_economy_pilot_workers") == 800 + 300


def test_the_pilot_counts_the_same_whichever_event_comes_first() -> None:
    # Intake's and the registry's topics are read at their own pace: the registration may come
    # first. It counts on the later of the registration day and the day the application was
    # recorded, whatever the order.
    application_id = uuid.uuid4()
    events: list[DomainEvent] = [
        platform_application(application_id, 40),
        amended(application_id, 60),
        registered_from(application_id, date(2025, 12, 30)),
    ]
    figures = []
    for order in (events, [events[2], events[0], events[1]]):
        book = Book()
        for event in order:
            book.apply([event])
        figures.append({key: value[0] for key, value in book.sums.items() if key[0].startswith("platform_")})
    assert (
        figures[0]
        == figures[1]
        == {
            ("platform_economy_pilots", "370203", RECORDED): 1,
            ("platform_economy_pilot_workers", "370203", RECORDED): 60,
        }
    )


def test_only_a_happy_enterprise_pilot_is_marked_platform_economy() -> None:
    from tests.forms import happy_form

    form = happy_form().model_copy(
        update={"platform_economy": PlatformEconomy(related_enterprises=["某企业"], related_workers=5)}
    )
    with pytest.raises(ValueError, match="platform_economy is for happy-enterprise pilots only"):
        ApplicationSubmitted(
            application_id=uuid.uuid4(), year=2026, programme=Programme.服务职工综合体, submitter="370203",
            form=form,
        )  # fmt: skip
