"""Who may run which intake command and read which record. The HTTP guard enforces the route's
rule before the body is read, the command path the command's rule for HTTP and Kafka alike; the
own-record rules below are applied by the handlers, which know the record.

- districts, group unions and the simulator submit, amend, withdraw, plan, report and enrol for
  themselves only; city staff may act on behalf of one, naming it;
- only the city federation opens exception windows;
- only the data exchange (and the city federation) report compliance facts; only the reporting
  department (the city for what it relayed) corrects or withdraws one (domain/fact_corrections.py);
- a district that asks about another's application is answered as if there were none;
- a district's outbound feed (what it hears back) is its own and no other district's; operators
  may read any, naming it, as they may read the outbound topics;
- an enrolment import job is seen and cancelled by its uploading district or group union only
  (ops see every job; another district's is answered as none); its chunks run as the uploader.
"""

from __future__ import annotations

from typing import Final

from huigong_events.reference import SUBMITTERS as SUBMITTER_CODES
from huigong_platform.policy import READ_OWN, SUBMITTERS, Policy, Rule, roles
from huigong_platform.principals import Principal, Role
from huigong_platform.refusals import FieldError, Forbidden, NotFound, Refusal

from .commands import (
    AmendApplication,
    AmendPlan,
    CancelEnrolmentImport,
    CorrectFact,
    Enrol,
    EnrolImportChunk,
    OpenSubmissionWindow,
    ProposeProject,
    ReportFacility,
    ReportFact,
    StartEnrolmentImport,
    SubmitApplication,
    SubmitPlan,
    WithdrawApplication,
    WithdrawFact,
)

SUBMIT: Final = Rule(SUBMITTERS | roles(Role.CITY), own=True)
ENROL: Final = Rule(SUBMITTERS, own=True)
FACT_REPORTERS: Final = Rule(roles(Role.EXCHANGE, Role.CITY))
FEED: Final = Rule(SUBMITTERS | roles(Role.OPS), own=True)
# An import job is its uploader's (and ops', who read everything); the city sees none.
IMPORTS: Final = Rule(SUBMITTERS | roles(Role.OPS), own=True)

POLICY: Final = Policy(
    "intake",
    commands={
        SubmitApplication: SUBMIT,
        AmendApplication: SUBMIT,
        WithdrawApplication: SUBMIT,
        SubmitPlan: SUBMIT,
        AmendPlan: SUBMIT,
        OpenSubmissionWindow: Rule(roles(Role.CITY)),
        ReportFacility: SUBMIT,
        ProposeProject: SUBMIT,
        ReportFact: FACT_REPORTERS,
        CorrectFact: FACT_REPORTERS,
        WithdrawFact: FACT_REPORTERS,
        Enrol: ENROL,
        StartEnrolmentImport: ENROL,
        CancelEnrolmentImport: ENROL,
        # Run by intake's import worker as the uploader, chunk by chunk.
        EnrolImportChunk: ENROL,
    },
    routes={
        ("POST", "/applications"): SubmitApplication,
        ("PUT", "/applications/{application_id}"): AmendApplication,
        ("POST", "/applications/{application_id}/withdrawal"): WithdrawApplication,
        ("POST", "/applications/{application_id}/plans"): SubmitPlan,
        ("POST", "/applications/{application_id}/plans/amendments"): AmendPlan,
        ("GET", "/applications/{application_id}"): READ_OWN,
        ("GET", "/submission-windows"): READ_OWN,
        ("POST", "/submission-windows"): OpenSubmissionWindow,
        ("POST", "/facilities"): ReportFacility,
        ("POST", "/service-projects"): ProposeProject,
        ("POST", "/compliance-facts"): ReportFact,
        ("POST", "/compliance-facts/{fact_id}/corrections"): CorrectFact,
        ("POST", "/compliance-facts/{fact_id}/withdrawal"): WithdrawFact,
        ("GET", "/compliance-facts/{fact_id}"): Rule(roles(Role.EXCHANGE, Role.CITY, Role.OPS)),
        ("POST", "/enrolments"): Enrol,
        ("POST", "/enrolments/upload"): Enrol,
        ("POST", "/enrolments/imports"): StartEnrolmentImport,
        ("GET", "/enrolments/imports"): IMPORTS,
        ("GET", "/enrolments/imports/{job_id}"): IMPORTS,
        ("GET", "/enrolments/imports/{job_id}/result"): IMPORTS,
        ("POST", "/enrolments/imports/{job_id}/cancel"): CancelEnrolmentImport,
        ("GET", "/enrolments/template"): Rule(SUBMITTERS | roles(Role.CITY, Role.OPS)),
        ("GET", "/applications"): READ_OWN,
        ("GET", "/feed"): FEED,
    },
    bulk=[("POST", "/enrolments")],
    # An upload above the synchronous limit becomes an import job: both take a whole file.
    files=[("POST", "/enrolments/upload"), ("POST", "/enrolments/imports")],
)


def submitter_for(principal: Principal, requested: str | None) -> str:
    """Districts and group unions submit for themselves; city staff may submit on behalf of one
    (named explicitly)."""
    own = principal.submitter
    if own is not None:
        if requested is not None and requested != own:
            raise Forbidden(
                FieldError(
                    "submitter",
                    f"不能代其他区市或单位报送（{requested}）",
                    f"a {principal.role.value} may only submit for itself, not {requested}",
                )
            )
        return own
    if principal.role is Role.CITY:
        if requested is None:
            raise Refusal(FieldError("submitter", "请注明代为报送的区市或单位", "submitter is required"))
        return requested
    raise Forbidden(FieldError("principal", "该角色不能报送", f"role {principal.role.value} cannot submit"))


def may_see(principal: Principal, submitter: str) -> bool:
    """An application record is its submitter's and the city federation's."""
    return principal.role is Role.CITY or principal.submitter == submitter


def may_see_import(principal: Principal, submitter: str) -> bool:
    """An import job is seen by its uploading district or group union, and by ops."""
    return principal.role is Role.OPS or principal.submitter == submitter


def no_such_import() -> NotFound:
    # Also the answer about another's job: a district learns nothing about others' uploads.
    return NotFound(FieldError("job_id", "导入任务不存在", "no such import job"))


def no_such_application() -> NotFound:
    # Also the answer about another's application: a district learns nothing about others'.
    return NotFound(FieldError("application_id", "申报不存在", "no such application"))


def check_area(principal: Principal, area: str) -> None:
    """Facilities and service projects are reported for the reporter's own area."""
    if principal.role is not Role.CITY and principal.submitter != area:
        raise Forbidden(
            FieldError(
                "area",
                "只能报送本区市或本单位的设施和项目",
                f"a {principal.role.value} may only report for its own area",
            )
        )


def feed_owner(principal: Principal, requested: str | None) -> str:
    """Whose feed the caller reads: a district or group union its own only; ops the one named."""
    own = principal.submitter
    if own is not None:
        if requested is not None and requested != own:
            raise Forbidden(
                FieldError(
                    "district",
                    f"不能读取其他区市或单位的通知（{requested}）",
                    "a feed is read by its own district only",
                )
            )
        return own
    if principal.role is Role.OPS and requested is not None:
        if requested not in SUBMITTER_CODES:
            raise Refusal(
                FieldError("district", "没有这个区市或单位", f"no district or group union {requested!r}")
            )
        return requested
    raise Refusal(FieldError("district", "请注明区市或单位", "district is required"))
