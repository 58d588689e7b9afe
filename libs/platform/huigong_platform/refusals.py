"""Refusals with field-level messages in Chinese and English, shared by every service's domain.

Pure (no web framework): a domain raises them, `huigong_platform.errors` maps them to HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field. `field` is a dotted path into the request, e.g.
    "form.pilot_name" or "rows.12.身份证号"."""

    field: str
    zh: str
    en: str


class Refusal(Exception):
    """A command refused by the rules; `status` is the HTTP status the API answers with."""

    status = 422

    def __init__(self, *errors: FieldError) -> None:
        super().__init__("; ".join(f"{e.field}: {e.en}" for e in errors))
        self.errors = errors
