"""Who may run what: the shape of a service's access policy, which each service declares next to
its commands (`huigong_<service>/policy.py`), and the rules every service shares.

A `Policy` maps each command class and each route to a `Rule`. A write route names its command,
so the HTTP guard (`authorization.py`, before the body is read) and the command path
(`application.py`, for HTTP and Kafka alike) enforce one and the same rule. An endpoint without
a rule is refused to everyone (deny by default).

**Own records.** A district or group union system (and the simulator acting for one) submits,
reads and amends only its own records. Where the rule says `own`, the record's submitter is only
known inside the handler, which narrows to the principal's code and answers a request about
another's record exactly as it answers one about no record: 404 for one record, an empty list for
a listing, 403 when the request itself names another submitter or area.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from .principals import HEADER, ROLE_NAMES, Principal, Role
from .refusals import FieldError, Forbidden


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role] = frozenset()
    public: bool = False
    own: bool = False  # districts, group unions and the simulator: their own records only
    bulk: bool = False  # a batch upload: the larger body limit
    file: bool = False  # a whole file for an import job (up to a million rows): the largest
    probe: bool = False  # health checks and /metrics: never rate-limited

    def allows(self, role: Role) -> bool:
        return self.public or role in self.roles

    def describe(self) -> str:
        if self.public:
            return "public"
        names = ", ".join(sorted(r.value for r in self.roles))
        return f"{names} (district, group, simulator: their own records)" if self.own else names


def roles(*members: Role) -> frozenset[Role]:
    return frozenset(members)


PUBLIC: Final = Rule(public=True)
SUBMITTERS: Final = roles(Role.DISTRICT, Role.GROUP, Role.SIMULATOR)
# Application records: the submitter its own, the city federation, the panel, registrars, ops.
RECORD_READERS: Final = SUBMITTERS | roles(Role.CITY, Role.REVIEWER, Role.CHAIR, Role.REGISTRAR, Role.OPS)
# Listings that are not application records (units, partners, facilities, projects, targets):
# every role but the data exchange.
READERS: Final = RECORD_READERS | roles(Role.VIEWER)
READ: Final = Rule(READERS)
READ_OWN: Final = Rule(RECORD_READERS, own=True)

# Every service serves these.
COMMON: Final[dict[tuple[str, str], Rule]] = {
    ("GET", "/healthz"): Rule(public=True, probe=True),
    ("GET", "/readyz"): Rule(public=True, probe=True),
    # Prometheus scrapes with a viewer key (bearer_token in its scrape config).
    ("GET", "/metrics"): Rule(roles(Role.OPS, Role.VIEWER), probe=True),
    # The API's contract and its documentation pages hold no data.
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/docs-assets/{name}"): PUBLIC,
    # Logging in and out (sessions.py): the routes check the password or the session cookie
    # themselves, and limit login attempts per account and address.
    ("POST", "/session"): PUBLIC,
    ("GET", "/session"): PUBLIC,
    ("DELETE", "/session"): PUBLIC,
    # Dead letters (dead_letter_api.py): 运维/审计 only. Retry and skip act on the runner's
    # bookkeeping, not on a record of the domain, so they run no command; who and why is kept in
    # dead_letter_actions, as `huigong dead-letters` keeps it.
    ("GET", "/dead-letters"): Rule(roles(Role.OPS)),
    ("GET", "/dead-letters/{letter_id}"): Rule(roles(Role.OPS)),
    ("POST", "/dead-letters/{letter_id}/retry"): Rule(roles(Role.OPS)),
    ("POST", "/dead-letters/{letter_id}/skip"): Rule(roles(Role.OPS)),
    # Streams (stream_api.py): each reader's position and lag, for 运维/审计 only (the operators'
    # view of the runner, as `huigong streams` is on the command line).
    ("GET", "/streams"): Rule(roles(Role.OPS)),
    # Verify reports (verify_reports.py): what `huigong verify` kept of each run, read-only, for
    # 运维/审计 only.
    ("GET", "/verify-reports"): Rule(roles(Role.OPS)),
    ("GET", "/verify-reports/{report_id}"): Rule(roles(Role.OPS)),
}

_CONVERTOR: Final = re.compile(r"\{([^}:]+):[^}]+\}")


def template(path: str) -> str:
    """A route path without convertors: "/files/{path:path}" → "/files/{path}"."""
    return _CONVERTOR.sub(r"{\1}", path)


def forbidden(principal: Principal, rule: Rule, what: str) -> Forbidden:
    allowed = sorted(rule.roles, key=lambda r: r.value)
    return Forbidden(
        FieldError(
            HEADER,
            f"{ROLE_NAMES[principal.role]}无权调用该接口；可调用的角色：{'、'.join(ROLE_NAMES[r] for r in allowed)}",
            f"a {principal.role.value} may not call {what}; allowed: {', '.join(r.value for r in allowed)}",
        )
    )


class Policy:
    """One service's rules. `commands`: who may run each command class. `routes`: each
    (method, path) the service serves, to a rule or to the command class the route runs (whose
    rule it then is; routes in `bulk` take the larger body limit, routes in `files` the largest).
    `prefixes`: route families
    whose every member shares one rule (the path itself and anything below it)."""

    def __init__(
        self,
        service: str,
        commands: Mapping[type, Rule],
        routes: Mapping[tuple[str, str], Rule | type],
        prefixes: Mapping[tuple[str, str], Rule] | None = None,
        bulk: Iterable[tuple[str, str]] = (),
        files: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.service = service
        self.commands = dict(commands)
        self.prefixes = dict(prefixes or {})
        bulky = set(bulk)
        whole_files = set(files)
        self.routes: dict[tuple[str, str], Rule] = {}
        # The command each write route runs.
        self.route_commands: dict[tuple[str, str], type] = {}
        for (method, path), target in routes.items():
            if not isinstance(target, Rule):
                self.route_commands[(method, path)] = target
            rule = target if isinstance(target, Rule) else self.commands[target]
            if (method, path) in bulky:
                rule = replace(rule, bulk=True)
            if (method, path) in whole_files:
                rule = replace(rule, file=True)
            self.routes[(method, path)] = rule
        self._index = {(m, template(p)): r for (m, p), r in {**COMMON, **self.routes}.items()}

    def rule_for(self, method: str, path: str) -> Rule | None:
        """The rule of one endpoint (`path` as the route declares it), or None: refused to all."""
        method = "GET" if method == "HEAD" else method
        wanted = template(path)
        rule = self._index.get((method, wanted))
        if rule is not None:
            return rule
        for (m, prefix), family in self.prefixes.items():
            if m == method and (wanted == prefix or wanted.startswith(prefix + "/")):
                return family
        return None

    def check(self, command: object, principal: Principal) -> None:
        """Refuse (Forbidden) a principal whose role may not run this command; a command the
        policy does not name is refused to everyone."""
        rule = self.commands.get(type(command))
        if rule is None or not rule.allows(principal.role):
            raise forbidden(principal, rule or Rule(), type(command).__name__)

    def rows(self) -> list[tuple[str, str]]:
        """(endpoint, who) for the Markdown table."""
        rows = [(f"`{m} {template(p)}`", r.describe()) for (m, p), r in self.routes.items()]
        rows += [(f"`{m} {p}…`", r.describe()) for (m, p), r in self.prefixes.items()]
        return rows


def of(service: str) -> Policy:
    """A service's declared policy, found by name (`huigong_<service>.policy.POLICY`): the
    platform knows no service's routes, and operator tooling prints the union."""
    module = importlib.import_module(f"huigong_{service}.policy")
    found: Policy = module.POLICY
    return found


def markdown(services: Iterable[str]) -> str:
    """The union of the services' rules as a Markdown table (for the docs)."""
    lines = ["| service | endpoint | who |", "|---|---|---|"]
    for service in services:
        lines += [f"| {service} | {endpoint} | {who} |" for endpoint, who in of(service).rows()]
    for (method, path), rule in COMMON.items():
        lines.append(f"| every service | `{method} {path}` | {rule.describe()} |")
    return "\n".join(lines)
