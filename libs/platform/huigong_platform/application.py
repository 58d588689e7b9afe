"""The platform's one command path: every command of every service, from HTTP or from Kafka, is
handled by `CommandPath.handle(command, principal)`, which

1. checks the service's policy (who may run this command: `policy.py`);
2. opens one unit of work (one transaction: `unit_of_work.py`);
3. claims the idempotency key, bound to the command's fingerprint (one rule: `idempotency`),
   and answers a retry with the first outcome;
4. runs the command's handler, which locks, loads and folds the aggregate, lets the pure domain
   decide and appends the events (refusing with `refusals`);
5. stores the answer with the key, and commits all of it together.

So both entry points obey exactly the same rules, and a refused command records nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from huigong_events.base import DomainEvent
from huigong_events.plausible import meaningless_names, stray_controls

from . import logs, telemetry
from .eventstore import Metadata
from .idempotency import Outcome, fingerprint
from .policy import Policy
from .principals import Principal
from .refusals import FieldError, Refusal
from .unit_of_work import UnitOfWork, UnitsOfWork

log = logs.get(__name__)


class Command(BaseModel):
    """A typed command: what a caller asks one service to do, with everything the request said
    (the body and the ids in its path)."""

    model_config = ConfigDict(extra="forbid")


C = TypeVar("C", bound=BaseModel)


def from_request(command: type[C], body: BaseModel, **path: Any) -> C:
    """The command a request body becomes with the ids in its route's path. Fields the caller
    left out stay unset, so the command's fingerprint is what the caller said."""
    return command(**{f: getattr(body, f) for f in body.model_fields_set}, **path)


@dataclass(frozen=True)
class Context:
    """What a handler knows besides the command: who asked, under which key and correlation id,
    and the unit of work it runs in."""

    principal: Principal
    key: str | None
    correlation_id: str
    uow: UnitOfWork
    service: str

    def meta(self, source: str | None = None) -> Metadata:
        """The envelope of the events this command records: the principal is the actor."""
        return Metadata(
            actor=self.principal.id, source=source or self.principal.code, correlation_id=self.correlation_id
        )

    def counted(self, events: Iterable[DomainEvent]) -> None:
        """Count appended events in the service's metrics."""
        for event in events:
            telemetry.EVENTS_APPENDED.labels(self.service, event.type).inc()

    def counted_many(self, event_type: str, count: int) -> None:
        telemetry.EVENTS_APPENDED.labels(self.service, event_type).inc(count)


Handler = Callable[[Any, Context], Awaitable[Outcome]]


class CommandPath:
    """A service's commands, its policy and its handlers (one per command class)."""

    def __init__(self, policy: Policy, handlers: Mapping[type, Handler], units: UnitsOfWork) -> None:
        unruled = [c.__name__ for c in handlers if c not in policy.commands]
        if unruled:
            raise ValueError(f"{policy.service}: commands without a rule in policy.py: {unruled}")
        unhandled = [c.__name__ for c in policy.commands if c not in handlers]
        if unhandled:
            raise ValueError(f"{policy.service}: commands in policy.py without a handler: {unhandled}")
        self.policy = policy
        self._handlers = dict(handlers)
        self._units = units

    async def handle(
        self, command: BaseModel, principal: Principal, *, key: str | None, correlation_id: str
    ) -> Outcome:
        """Run `command` for `principal` under the idempotency `key`; refusals propagate, and
        nothing of a refused command is recorded. Without a key (only a PUT, whose repetition
        changes nothing more, may omit it) the command runs without being remembered."""
        self.policy.check(command, principal)
        controls = stray_controls(command)
        if controls:
            # One rule for every service and both entry points, before any database call.
            raise Refusal(
                *(FieldError(f, "不得含控制字符", "must not contain control characters") for f in controls)
            )
        names = meaningless_names(command)
        if names:
            raise Refusal(
                *(
                    FieldError(
                        f,
                        "名称应包含文字，不能只是数字或符号",
                        "a name must contain words, not only digits or symbols",
                    )
                    for f in names
                )
            )
        handler = self._handlers[type(command)]
        async with self._units() as uow:
            if key is not None:
                replayed = await uow.claim(principal.id, key, fingerprint(command))
                if replayed is not None:
                    return replayed
            context = Context(principal, key, correlation_id, uow, self.policy.service)
            outcome = await handler(command, context)
            if key is not None:
                await uow.settle(principal.id, key, outcome)
        log.info(
            "command handled",
            command=type(command).__name__,
            principal=principal.id,
            status=outcome.status_code,
        )
        return outcome
