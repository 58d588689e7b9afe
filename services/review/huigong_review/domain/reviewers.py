"""The people who act in review: panel reviewers (评审专家) and the chair of the 职工服务工作领导小组,
and the one rule about who may act on which application."""

from __future__ import annotations

from dataclasses import dataclass

from huigong_platform.refusals import FieldError, Forbidden, Refusal

from .state import ReviewState

# forms.Name, which ReviewScored.reviewer must satisfy.
MAX_REVIEWER_ID_LENGTH = 100


@dataclass(frozen=True)
class Reviewer:
    """A reviewer or the chair: the account id the events record, and the district (GB/T 2260),
    group union code or city code (370200) the person belongs to."""

    id: str
    area: str


def ensure_may_act(state: ReviewState, person: Reviewer, role_zh: str, role_en: str) -> None:
    """Forbidden when `person` belongs to the district or group union that submitted the
    application: nobody judges their own union's candidate (回避). A malformed id is invalid."""
    if not person.id.strip() or len(person.id.strip()) > MAX_REVIEWER_ID_LENGTH:
        raise Refusal(
            FieldError(
                "reviewer.id",
                f"{role_zh}账号标识须为 1 至 {MAX_REVIEWER_ID_LENGTH} 个字符",
                f"the {role_en}'s id must have 1 to {MAX_REVIEWER_ID_LENGTH} characters",
            )
        )
    if person.area == state.submitter:
        raise Forbidden(
            FieldError(
                "reviewer.area",
                f"{role_zh}与申报单位同属 {state.submitter}，应当回避，不能评审本区市或本单位的申报",
                f"the {role_en} belongs to {state.submitter}, which submitted this application, "
                "and must recuse from it",
            )
        )
