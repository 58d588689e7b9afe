"""Refusals the review domain gives, each with a Chinese message for union staff and an English
one for integrators, pointing at the field that caused it. The API maps `status` to HTTP."""

from __future__ import annotations

from huigong_platform.refusals import FieldError, Refusal

__all__ = ["Conflict", "DomainError", "FieldError", "Forbidden", "InvalidCommand", "NotFound"]


class DomainError(Refusal):
    """A command refused by the review rules."""


class InvalidCommand(DomainError):
    """Fields that break a rule (422): a missing dimension, a score off the scale, a short reason."""


class Forbidden(DomainError):
    """The person may not act on this application (403): a reviewer or chair from the applicant's
    own district or group union."""

    status = 403


class NotFound(DomainError):
    """The command names something the application does not have (404), e.g. an unknown finding."""

    status = 404


class Conflict(DomainError):
    """The command does not fit the application's current stage (409): scoring before acceptance,
    a second score by the same reviewer, a decision before quorum or after a decision."""

    status = 409
