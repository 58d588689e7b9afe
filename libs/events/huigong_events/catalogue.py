"""The catalogue of every domain event: one discriminated union, keyed by the `type` literal.

Stored data omits `type` (the envelope carries it), so to read an event back use
`from_data(type_name, data)`, or validate ``{**data, "type": type_name}`` with `EVENT_ADAPTER`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, get_args

from pydantic import Field, TypeAdapter

from . import versions as _versions  # noqa: F401 - registers the upcasters
from .base import DomainEvent
from .fact_corrections import ComplianceFactCorrected, ComplianceFactWithdrawn
from .grading import (
    EvaluationSchemeSet,
    ExitProposalConfirmed,
    ExitProposalDismissed,
    ExitProposed,
    GradingStatementFiled,
    RectificationCompleted,
    RectificationOrdered,
    ResourceGraded,
)
from .intake import (
    ApplicationAmended,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ComplianceFactReported,
    EnrolmentRequested,
    FacilityReported,
    MutualAidRequested,
    PlanAmended,
    PlanSubmitted,
    ServiceProjectProposed,
    SubmissionWindowOpened,
)
from .matters import (
    DutyRosterSet,
    MatterAccepted,
    MatterClosed,
    MatterDeadlineRevised,
    MatterRated,
    MatterReceived,
    MatterRequesterErased,
    MatterStepDone,
    MatterTransferred,
    MatterTransferRefused,
    ServiceItemChanged,
    ServiceItemListed,
    ServiceItemWithdrawn,
    WorkingCalendarPublished,
)
from .metrics import TargetChanged
from .registry import (
    CertificationRevoked,
    FacilityClosed,
    FacilityOpened,
    MemberEnrolled,
    MemberErased,
    MemberReportedAgain,
    MutualAidGranted,
    PartnerExited,
    PartnerRegistered,
    ServiceProjectListed,
    UnitApprovalAttached,
    UnitAssessed,
    UnitCertified,
    UnitExited,
    UnitRegistered,
)
from .review import (
    ApplicationAccepted,
    ApplicationRejected,
    ConstructionApproved,
    ConstructionDeclined,
    ConstructionUnitNotSelected,
    ConstructionUnitSelected,
    ExclusionCleared,
    ExclusionFound,
    ReviewScored,
)
from .revocation import (
    CertificationRestored,
    CertificationSuspended,
    RevocationGroundCleared,
    RevocationStatementFiled,
)
from .warmth import WarmthBudgetSet, WarmthDelivered, WarmthDeliveryApproved, WarmthDeliveryDeclined

AnyEvent = Annotated[
    # intake
    ApplicationSubmitted
    | ApplicationAmended
    | ApplicationWithdrawn
    | PlanSubmitted
    | PlanAmended
    | FacilityReported
    | ServiceProjectProposed
    | ComplianceFactReported
    | ComplianceFactCorrected
    | ComplianceFactWithdrawn
    | EnrolmentRequested
    | MutualAidRequested
    | SubmissionWindowOpened
    # review
    | ExclusionFound
    | ExclusionCleared
    | ApplicationAccepted
    | ApplicationRejected
    | ConstructionUnitSelected
    | ConstructionUnitNotSelected
    | ReviewScored
    | ConstructionApproved
    | ConstructionDeclined
    # registry
    | UnitRegistered
    | UnitAssessed
    | UnitCertified
    | CertificationRevoked
    # registry: 撤销审查 (revocation.py)
    | CertificationSuspended
    | RevocationStatementFiled
    | RevocationGroundCleared
    | CertificationRestored
    | UnitExited
    | UnitApprovalAttached
    | FacilityOpened
    | FacilityClosed
    | PartnerRegistered
    | PartnerExited
    | ServiceProjectListed
    | MemberEnrolled
    | MemberReportedAgain
    | MutualAidGranted
    | MemberErased
    # registry: 联动服务 (matters.py)
    | ServiceItemListed
    | ServiceItemChanged
    | ServiceItemWithdrawn
    | MatterReceived
    | MatterTransferred
    | MatterAccepted
    | MatterTransferRefused
    | MatterStepDone
    | MatterClosed
    | MatterRated
    | MatterRequesterErased
    | MatterDeadlineRevised
    | WorkingCalendarPublished
    | DutyRosterSet
    # registry: 绩效评估、分级评定 (grading.py)
    | EvaluationSchemeSet
    | ResourceGraded
    | RectificationOrdered
    | RectificationCompleted
    | ExitProposed
    | ExitProposalConfirmed
    | ExitProposalDismissed
    | GradingStatementFiled
    # registry: 送温暖 (warmth.py)
    | WarmthBudgetSet
    | WarmthDelivered
    | WarmthDeliveryApproved
    | WarmthDeliveryDeclined
    # metrics
    | TargetChanged,
    Field(discriminator="type"),
]
"""Any domain event; pydantic picks the class from the `type` field."""

EVENT_ADAPTER: Final[TypeAdapter[AnyEvent]] = TypeAdapter(AnyEvent)


def _type_name(cls: type[DomainEvent]) -> str:
    default = cls.model_fields["type"].default
    if not isinstance(default, str):
        raise TypeError(f"{cls.__name__}.type has no literal default")
    return default


def _build_catalogue() -> dict[str, type[DomainEvent]]:
    classes: tuple[type[DomainEvent], ...] = get_args(get_args(AnyEvent)[0])
    catalogue: dict[str, type[DomainEvent]] = {}
    for cls in classes:
        name = _type_name(cls)
        assert name not in catalogue, f"event type {name!r} defined twice"
        assert name == cls.__name__, f"{cls.__name__}.type should be {cls.__name__!r}"
        catalogue[name] = cls
    return catalogue


EVENT_TYPES: Final[dict[str, type[DomainEvent]]] = _build_catalogue()
"""Every event class by its `type` name (which is the class name)."""


class UnknownEventType(KeyError):
    """A `type` name that no event class in the catalogue carries."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name

    def __str__(self) -> str:
        return f"unknown event type {self.type_name!r} (not in huigong_events.catalogue)"


def event_class(type_name: str) -> type[DomainEvent]:
    """The class of an event `type`; `UnknownEventType` when the catalogue has none."""
    try:
        return EVENT_TYPES[type_name]
    except KeyError:
        raise UnknownEventType(type_name) from None


def from_data(type_name: str, data: Mapping[str, Any]) -> DomainEvent:
    """Rebuild an event from its stored data (which omits `type`) and the envelope's type."""
    return event_class(type_name).model_validate({**data, "type": type_name})
