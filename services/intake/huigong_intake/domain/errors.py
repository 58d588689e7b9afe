"""Refusals the intake domain can give, each with a Chinese message for union staff and an
English one for district system integrators, pointing at the field that caused it."""

from __future__ import annotations

from huigong_platform.refusals import FieldError, Refusal

__all__ = ["Conflict", "DeadlinePassed", "DomainError", "FieldError", "InvalidCommand"]


class DomainError(Refusal):
    """A command refused by the intake rules; the API maps it to 4xx with the field errors."""


class InvalidCommand(DomainError):
    """Fields that break a rule of the plan (422)."""


class Conflict(DomainError):
    """The command does not fit the aggregate's current state, e.g. amending after review
    started or submitting a plan before approval (409)."""

    status = 409


class DeadlinePassed(DomainError):
    """The yearly submission deadline has passed and no exception window is open (422)."""
