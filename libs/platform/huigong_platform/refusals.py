"""The one set of refusals every service gives, with field-level messages in Chinese and English.

Pure (no web framework): a domain or a handler raises them; `huigong_platform.errors` maps them to
HTTP answers and `reason` to a dead-letter reason, once for every service.

- `Refusal` (422): the command breaks a rule of the plan or the contract;
- `Unauthenticated` (401): no valid credentials;
- `Forbidden` (403): this principal may not run this command on this record;
- `NotFound` (404): the command names something that does not exist (or that the caller may not
  know exists: a district asking about another's record gets the same answer);
- `Conflict` (409): the command does not fit the record's current state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final


@dataclass(frozen=True)
class FieldError:
    """One problem with one field. `field` is a dotted path into the request, e.g.
    "form.pilot_name" or "rows.12.身份证号"."""

    field: str
    zh: str
    en: str


class Refusal(Exception):
    """A command refused by the rules; `status` is the HTTP status the API answers with and
    `reason` what a dead letter of the same command says."""

    status: ClassVar[int] = 422
    reason: ClassVar[str] = "refused"

    def __init__(self, *errors: FieldError) -> None:
        super().__init__("; ".join(f"{e.field}: {e.en}" for e in errors))
        self.errors = errors


class Unauthenticated(Refusal):
    status = 401
    reason = "unauthenticated"


class Forbidden(Refusal):
    status = 403
    reason = "forbidden"


class NotFound(Refusal):
    status = 404
    reason = "not found"


class Conflict(Refusal):
    status = 409
    reason = "conflict"


# The refusals every operation may answer with, as declared in each service's OpenAPI document.
ANSWERS: Final[dict[int, str]] = {
    401: "需要凭据或凭据无效 (credentials missing, invalid, expired or revoked)",
    403: "无权执行该操作 (this principal may not do this)",
    404: "记录不存在 (no such record, or not one the caller may see)",
    409: "与记录的当前状态冲突 (conflicts with the record's current state)",
    422: "请求不符合规则，逐字段说明 (breaks a rule; field-level errors)",
}
