"""The access rules as data: each service declares its own (`huigong_<service>/policy.py`), every
route of every service has one, none is stale, every command has one, and the rules say what the
roles mean (reviewers cannot submit, only the chair decides, only registrars certify, ops
change nothing, the public sees only certificate verification and published figures). Also the
pure parts of credentials: principals, key format, token buckets, the OpenAPI marking."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Final

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from huigong_intake.app import create_app as intake_app
from huigong_intake.settings import IntakeSettings
from huigong_metrics.app import create_app as metrics_app
from huigong_platform import credentials, policy, sessions
from huigong_platform.authorization import endpoints
from huigong_platform.policy import COMMON, PUBLIC, Rule, template
from huigong_platform.principals import Principal, Role, parse
from huigong_platform.rate_limits import RateLimits
from huigong_platform.settings import Settings
from huigong_registry.app import create_app as registry_app
from huigong_review.app import create_app as review_app
from huigong_review.settings import ReviewSettings

DSN = "postgresql://nobody@127.0.0.1:1/none"


def service_apps() -> dict[str, FastAPI]:
    """Each service's app as its process builds it (nothing is connected until it starts)."""
    return {
        "intake": intake_app(
            IntakeSettings(
                service="intake",
                database_url=DSN,
                member_key_secret="00" * 32,
                personal_data_kek="00" * 32,
            )
        ),
        "review": review_app(ReviewSettings(service="review", database_url=DSN)),
        "registry": registry_app(Settings(service="registry", database_url=DSN)),
        "metrics": metrics_app(Settings(service="metrics", database_url=DSN)),
    }


APPS = service_apps()
POLICIES = {service: policy.of(service) for service in APPS}
POLICY = {service: p.routes for service, p in POLICIES.items()}
PREFIXES = {service: p.prefixes for service, p in POLICIES.items()}


def rule_for(service: str, method: str, path: str) -> Rule | None:
    return POLICIES[service].rule_for(method, path)


@pytest.mark.parametrize("service", list(APPS))
def test_every_route_has_an_access_rule(service: str) -> None:
    missing = [f"{e.method} {e.path}" for e in endpoints(APPS[service], POLICIES[service]) if e.rule is None]
    assert not missing, f"{service}: add these to huigong_{service}/policy.py: {missing}"


def test_every_rule_names_a_route() -> None:
    served = {
        (service, e.method, template(e.path))
        for service, app in APPS.items()
        for e in endpoints(app, POLICIES[service])
    }
    stale = [
        f"{service} {method} {path}"
        for service, table in POLICY.items()
        for method, path in table
        if (service, method, template(path)) not in served
    ]
    stale += [
        f"{service} {method} {path}"
        for service in APPS
        for method, path in COMMON
        if (service, method, path) not in served
    ]
    assert not stale, f"rules for routes no service serves: {stale}"


def all_rules() -> list[tuple[str, str, str, Rule]]:
    rows = [(s, m, p, r) for s, table in POLICY.items() for (m, p), r in table.items()]
    rows += [(s, m, p, r) for s, table in PREFIXES.items() for (m, p), r in table.items()]
    return rows + [("*", m, p, r) for (m, p), r in COMMON.items()]


def test_ops_auditors_and_viewers_read_and_change_nothing() -> None:
    for service, method, path, rule in all_rules():
        # Logging in and out changes no record of the programme (anyone may, with a password).
        if method != "GET" and path != "/session":
            assert not rule.allows(Role.VIEWER), (service, method, path)
            # Retrying or skipping a dead letter resolves the runner's bookkeeping, not a record.
            if not path.startswith("/dead-letters/"):
                assert not rule.allows(Role.OPS), (service, method, path)


def test_dead_letters_are_for_ops_alone() -> None:
    routes = [(m, p, r) for s, m, p, r in all_rules() if p.startswith("/dead-letters")]
    assert {(m, p) for m, p, _ in routes} == {
        ("GET", "/dead-letters"),
        ("GET", "/dead-letters/{letter_id}"),
        ("POST", "/dead-letters/{letter_id}/retry"),
        ("POST", "/dead-letters/{letter_id}/skip"),
    }
    for method, path, rule in routes:
        assert rule.roles == {Role.OPS} and not rule.public, (method, path)


def test_streams_are_for_ops_alone() -> None:
    rules = [r for s, m, p, r in all_rules() if p == "/streams"]
    assert [(r.roles, r.public) for r in rules] == [(frozenset({Role.OPS}), False)]


def test_ops_read_everything_that_is_not_public() -> None:
    for service, method, path, rule in all_rules():
        if method == "GET":
            assert rule.allows(Role.OPS), (service, method, path)


# What the public (no key) may read beyond probes and the API documents: each a deliberate choice.
PUBLISHED: Final = {
    "registry GET /certificates/{certificate_no}",  # certificate verification
    "registry GET /facilities/counts",  # published figures: counts, no names
    "registry GET /service-projects/counts",
    "registry GET /members/counts",
    "registry GET /service-items",  # the 服务事项目录 is published (服务承诺制)
    "registry GET /service-items/{item_id}",
    "registry GET /working-calendars/{year}",  # the working days every deadline counts by
    "registry GET /service-centres/{centre_id}/duty-roster",  # who is on duty at a public window
    # 公布惠工“服务项目集群”: organisations' projects and grades, nothing personal.
    "registry GET /project-cluster/",
    "registry GET /project-cluster/projects.json",
    "metrics GET /api/progress",  # the dashboard's figures and what they measure
    "metrics GET /api/metrics",
    "metrics GET /api/areas",
    "metrics GET /api/matters",
    "metrics GET /api/grading",  # bases and partners per district by grade: counts, no names
    # 送温暖 figures: counts and amounts per union, occasion and month; no member key or name.
    "metrics GET /api/warmth",
    "metrics GET /",  # the dashboard page and its assets
    "metrics GET /static/{name}",
    "metrics GET /vendor/echarts.min.js",
    "metrics GET /vendor/noto-sans-sc/{path:path}",
}


def test_the_public_sees_certificate_verification_and_published_figures_only() -> None:
    public = {f"{s} {m} {p}" for s, m, p, r in all_rules() if r.public and s != "*"}
    assert public <= PUBLISHED, f"public without a decision recorded here: {sorted(public - PUBLISHED)}"
    common = {f"{m} {p}" for m, p in COMMON if COMMON[(m, p)].public}
    assert common == {
        "GET /healthz",
        "GET /readyz",
        "GET /openapi.json",
        "GET /docs",
        "GET /docs/oauth2-redirect",
        "GET /redoc",
        "GET /docs-assets/{name}",  # Swagger UI's and ReDoc's scripts
        # People log in and out: the routes check the password or the session themselves.
        "POST /session",
        "GET /session",
        "DELETE /session",
    }
    assert "metrics GET /api/targets" not in public  # who changed a target, and why


def test_reviewers_cannot_submit_only_the_chair_decides_only_registrars_certify() -> None:
    # ...and only the city federation opens exception windows and changes targets.
    assert POLICY["intake"][("POST", "/submission-windows")].roles == {Role.CITY}
    assert POLICY["metrics"][("PUT", "/api/targets/{metric}")].roles == {Role.CITY}
    assert POLICY["metrics"][("PUT", "/api/targets/{metric}/shares")].roles == {Role.CITY}
    # The working days every deadline counts by are the city's to publish, no one else's.
    assert POLICY["registry"][("PUT", "/working-calendars/{year}")].roles == {Role.CITY}
    for (method, _path), rule in POLICY["intake"].items():
        if method != "GET":
            assert not rule.allows(Role.REVIEWER) and not rule.allows(Role.CHAIR)
    decision = POLICY["review"][("POST", "/applications/{application_id}/decision")]
    assert decision.roles == {Role.CHAIR}
    for (method, path), rule in POLICY["registry"].items():
        if path == "/units/{unit_id}/revocation-case/statement":
            # 申诉: the unit's own union answers a revocation case; registrars decide it.
            assert rule.roles == {Role.DISTRICT, Role.GROUP} and rule.own
        elif method != "GET" and path.startswith(("/units", "/partners", "/facilities")):
            assert rule.roles == {Role.REGISTRAR}, path
    for (method, path), rule in POLICY["review"].items():
        if method != "GET":
            assert rule.roles <= {Role.REVIEWER, Role.CHAIR}, path


def test_districts_act_on_application_records_only_as_their_own() -> None:
    for service in ("intake", "review"):
        for (method, path), rule in POLICY[service].items():
            if rule.allows(Role.DISTRICT) and "application" in path:
                assert rule.own, (service, method, path)


def test_the_data_exchange_only_reports_facts() -> None:
    allowed = [(s, m, p) for s, m, p, r in all_rules() if not r.public and r.allows(Role.EXCHANGE)]
    assert allowed == [
        ("intake", "POST", "/compliance-facts"),
        # its own facts only (another department's: 404): corrected, withdrawn, read back
        ("intake", "POST", "/compliance-facts/{fact_id}/corrections"),
        ("intake", "POST", "/compliance-facts/{fact_id}/withdrawal"),
        ("intake", "GET", "/compliance-facts/{fact_id}"),
    ]


def test_head_follows_get_and_families_share_a_rule() -> None:
    assert rule_for("registry", "HEAD", "/certificates/{certificate_no}") == PUBLIC
    assert rule_for("metrics", "GET", "/api/progress/{district}") == PUBLIC
    assert rule_for("metrics", "GET", "/api/progressive") is None
    assert rule_for("intake", "DELETE", "/applications") is None


def test_the_openapi_document_marks_each_operation() -> None:
    schema = APPS["registry"].openapi()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert schema["paths"]["/certificates/{certificate_no}"]["get"]["security"] == []
    units = schema["paths"]["/units"]["post"]
    assert units["security"] == [{"apiKey": []}] and units["x-huigong-access"] == "registrar"


# --- principals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "district:370202",
        "group:G-HAIER",
        "city:staff01",
        "exchange:human_resources_social_security",
        "reviewer:370202/zhang.san",
        "reviewer:city/wang",
        "chair:370200/zhao",
        "registrar:city01",
        "ops:li",
        "viewer:prometheus",
        "simulator:370211",
        "simulator:G-HAIER",
    ],
)
def test_a_principal_is_a_role_and_a_code(text: str) -> None:
    assert parse(text).id == text


@pytest.mark.parametrize(
    "text",
    [
        "370202",
        "mayor:370202",
        "district:379999",
        "district:",
        "group:G-NOWHERE",
        "simulator:demo",  # a simulator acts for one district, else it would read them all
        "reviewer:zhang",
        "reviewer:nowhere/a",
        "chair:370202/",
        "ops:li si",
        "city:" + "x" * 65,
    ],
)
def test_a_malformed_principal_gets_no_key(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


def test_only_districts_group_unions_and_the_simulator_submit() -> None:
    assert Principal(Role.DISTRICT, "370202").submitter == "370202"
    assert Principal(Role.SIMULATOR, "370211").submitter == "370211"
    assert Principal(Role.CITY, "staff01").submitter is None
    assert Principal(Role.DISTRICT, "370202", "keyA") == Principal(Role.DISTRICT, "370202", "keyB")


# --- keys -----------------------------------------------------------------------------------------


def test_a_key_is_an_id_and_a_secret_and_only_the_secret_hash_is_kept() -> None:
    key, key_id, digest = credentials.new_key()
    assert key.startswith(f"hg_{key_id}_") and len(key) == 3 + 16 + 1 + 43
    assert credentials.split(key) == (key_id, key[20:])
    assert digest == credentials._digest(key[20:]) and key[20:].encode() not in digest
    other, other_id, _ = credentials.new_key()
    assert other_id != key_id and other != key
    for bad in ("", "hg_", key + "x", key.replace("hg_", "hk_"), key[:-1], "Bearer " + key):
        assert credentials.split(bad) is None


# --- rate limits ----------------------------------------------------------------------------------


def test_a_token_bucket_allows_a_burst_then_the_rate() -> None:
    limits = RateLimits(per_second=2, burst=3)
    assert [limits.take("district:370202", now=100.0) for _ in range(4)] == [0, 0, 0, 1]
    assert limits.take("district:370203", now=100.0) == 0  # another principal has its own bucket
    assert limits.take("district:370202", now=100.5) == 0  # half a second: one token back
    assert limits.take("district:370202", now=100.5) == 1
    assert limits.take("district:370202", now=200.0) == 0  # refilled, never beyond the burst
    assert [limits.take("district:370202", now=200.0) for _ in range(3)] == [0, 0, 1]


def test_a_slow_rate_asks_for_a_longer_wait() -> None:
    limits = RateLimits(per_second=0.1, burst=1)
    assert limits.take("ops:li", now=0.0) == 0
    assert limits.take("ops:li", now=0.0) == 10
    assert limits.take("ops:li", now=5.0) == 5


def test_buckets_of_callers_who_stopped_are_forgotten() -> None:
    limits = RateLimits(per_second=1, burst=1)
    limits.MAX_BUCKETS = 10  # type: ignore[misc]
    for n in range(10):
        limits.take(f"address:10.0.0.{n}", now=0.0)
    limits.take("address:10.0.1.1", now=60.0)  # the others have long refilled
    assert len(limits._buckets) == 1


@pytest.mark.parametrize("service", list(APPS))
def test_every_operation_declares_the_refusals_it_may_answer(service: str) -> None:
    schema = APPS[service].openapi()
    assert "errors" in schema["components"]["schemas"]["Refusal"]["properties"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            rule = rule_for(service, method.upper(), path)
            expected = {"404", "422"} if rule is not None and rule.public else {"401", "403", "404", "422"}
            if method != "get":
                expected.add("409")
            assert expected <= set(operation["responses"]), (service, method, path)
            answer = operation["responses"]["403" if "403" in expected else "404"]
            assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Refusal"}


class _DatabaseAway:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def verify(self, presented: str) -> object:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        # What asyncpg raised when PostgreSQL stopped in the middle of a check under load.
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    ],
    ids=type,
)
@pytest.mark.parametrize("credential", ["key", "session"])
async def test_a_caller_whose_credential_cannot_be_checked_is_told_to_retry(
    error: Exception, credential: str
) -> None:
    """A district's client retries a 503 with Retry-After and gives up on a 500: a database that
    goes away while a key or session is checked must never answer 500."""
    app = service_apps()["intake"]
    away = _DatabaseAway(error)
    app.state.runtime = SimpleNamespace(keys=away, sessions=away)
    headers = (
        {"Authorization": "Bearer hg_x.y"} if credential == "key" else {"Cookie": f"{sessions.COOKIE}=s"}
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://inprocess"
    ) as client:
        answer = await client.post("/enrolments", json={}, headers=headers)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"]
    assert answer.json()["errors"][0]["en"].startswith("credentials cannot be checked")
