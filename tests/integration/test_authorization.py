"""Credentials and authorization against the four real service processes.

The matrix: every endpoint every service serves (read from the apps' routes, so a new endpoint
without a row fails here) × every role, own district and another's, the public without a key,
a revoked key and a made-up one. Each cell's expected outcome is written down below:

    A  allowed: neither 401 nor 403 (and a listing shows the own district's record)
    H  hidden: 200, but another district's record is not in the answer
    N  404: another district's record answers exactly like no record
    F  403: the role may not call this endpoint
    U  401: no valid key

Then the `huigong keys` command line (create, list, show, rotate, revoke, ensure), what a refusal
logs, the body size limits and the per-principal rate limit.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import asyncpg
import httpx
import pytest

from huigong_events.reference import FacilityKind
from huigong_ops import keys
from huigong_platform import credentials, policy
from huigong_platform.authorization import endpoints
from huigong_platform.policy import template
from huigong_simulator.forms import annual_plan, facility_report, project_proposal

from ..conftest import Stack, isolated_stack
from ..forms import complex_form
from ..unit.test_authorization import service_apps
from .processes import ServiceProcess, running

YEAR: Final = datetime.now(UTC).year + 1  # open for submissions now
OWN: Final = "370202"
HUIGONG: Final = Path(sys.executable).parent / "huigong"
TIMEOUT: Final = 60.0
T = TypeVar("T")

# Small body limits, so that they can be shown quickly; a 1 s key cache, so that a revocation
# shows within a second or two. The matrix sends every public endpoint 14 requests from one
# address, more than the default burst: the rate limit has a process of its own below.
LIMITS: Final = {
    "HUIGONG_AUTH_CACHE_SECONDS": "1",
    "HUIGONG_RATE_LIMIT_BURST": "2000",
    "HUIGONG_MAX_BODY_BYTES": str(64 * 1024),
    "HUIGONG_MAX_UPLOAD_BYTES": str(1024 * 1024),
}

COLUMNS: Final = (
    "district",  # district:370202, whose application the records are
    "district_other",  # district:370203
    "group",
    "city",
    "exchange",
    "reviewer",
    "chair",
    "registrar",
    "ops",
    "viewer",
    "simulator",  # acting for 370211
    "public",  # no key
    "revoked",  # a revoked key of district:370202
    "unknown",  # a key that was never issued
)
PRINCIPALS: Final = {
    "district": f"district:{OWN}",
    "district_other": "district:370203",
    "group": "group:G-HAIER",
    "city": "city:matrix",
    "exchange": "exchange:hrss",
    "reviewer": "reviewer:city/matrix",
    "chair": "chair:city/matrix",
    "registrar": "registrar:matrix",
    "ops": "ops:matrix",
    "viewer": "viewer:matrix",
    "simulator": "simulator:370211",
}

# fmt: off
EVERY_SERVICE: Final = {
    #                                    D  D' G  C  X  R  H  Rg O  V  S  P  Rv Uk
    ("GET", "/healthz"):                "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("GET", "/readyz"):                 "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("GET", "/metrics"):                "F  F  F  F  F  F  F  F  A  A  F  U  U  U",
    ("GET", "/openapi.json"):           "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("GET", "/docs"):                   "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("GET", "/docs/oauth2-redirect"):   "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("GET", "/redoc"):                  "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("GET", "/docs-assets/{name}"):     "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    # Dead letters: operators only (retry and skip record who and why).
    ("GET", "/dead-letters"):           "F  F  F  F  F  F  F  F  A  F  F  U  U  U",
    ("GET", "/dead-letters/{letter_id}"):
                                        "F  F  F  F  F  F  F  F  A  F  F  U  U  U",
    ("POST", "/dead-letters/{letter_id}/retry"):
                                        "F  F  F  F  F  F  F  F  A  F  F  U  U  U",
    ("POST", "/dead-letters/{letter_id}/skip"):
                                        "F  F  F  F  F  F  F  F  A  F  F  U  U  U",
    # Each reader's position and lag: operators only.
    ("GET", "/streams"):                "F  F  F  F  F  F  F  F  A  F  F  U  U  U",
    # What `huigong verify` kept of each run: operators only.
    ("GET", "/verify-reports"):         "F  F  F  F  F  F  F  F  A  F  F  U  U  U",
    ("GET", "/verify-reports/{report_id}"):
                                        "F  F  F  F  F  F  F  F  A  F  F  U  U  U",
}
# Logging in and out check the password or the session cookie themselves (test_sessions.py).
SELF_CHECKED: Final = {("POST", "/session"), ("GET", "/session"), ("DELETE", "/session")}
MATRIX: Final = {
    #                                                                  D  D' G  C  X  R  H  Rg O  V  S  P  Rv Uk
    ("intake", "POST", "/applications"):                              "A  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("intake", "PUT", "/applications/{application_id}"):              "A  N  N  A  F  F  F  F  F  F  N  U  U  U",
    ("intake", "POST", "/applications/{application_id}/plans"):       "A  N  N  A  F  F  F  F  F  F  N  U  U  U",
    ("intake", "POST", "/applications/{application_id}/plans/amendments"):
                                                                      "A  N  N  A  F  F  F  F  F  F  N  U  U  U",
    ("intake", "GET", "/applications/{application_id}"):              "A  N  N  A  F  A  A  A  A  F  N  U  U  U",
    ("intake", "GET", "/submission-windows"):                         "A  A  A  A  F  A  A  A  A  F  A  U  U  U",
    ("intake", "POST", "/submission-windows"):                        "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("intake", "POST", "/facilities"):                                "A  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("intake", "POST", "/service-projects"):                          "A  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("intake", "POST", "/compliance-facts"):                          "F  F  F  A  A  F  F  F  F  F  F  U  U  U",
    # A department's own facts (another's answers 404, as no fact: shown by the intake tests).
    ("intake", "POST", "/compliance-facts/{fact_id}/corrections"):    "F  F  F  A  A  F  F  F  F  F  F  U  U  U",
    ("intake", "POST", "/compliance-facts/{fact_id}/withdrawal"):     "F  F  F  A  A  F  F  F  F  F  F  U  U  U",
    ("intake", "GET", "/compliance-facts/{fact_id}"):                 "F  F  F  A  A  F  F  F  A  F  F  U  U  U",
    ("intake", "POST", "/enrolments"):                                "A  A  A  F  F  F  F  F  F  F  A  U  U  U",
    ("intake", "POST", "/enrolments/upload"):                         "A  A  A  F  F  F  F  F  F  F  A  U  U  U",
    ("intake", "GET", "/enrolments/template"):                        "A  A  A  A  F  F  F  F  A  F  A  U  U  U",
    # Import jobs: the uploader's own (another's answers 404, as no job: test_enrolment_imports.py).
    ("intake", "POST", "/enrolments/imports"):                        "A  A  A  F  F  F  F  F  F  F  A  U  U  U",
    ("intake", "GET", "/enrolments/imports"):                         "A  A  A  F  F  F  F  F  A  F  A  U  U  U",
    ("intake", "GET", "/enrolments/imports/{job_id}"):                "A  A  A  F  F  F  F  F  A  F  A  U  U  U",
    ("intake", "GET", "/enrolments/imports/{job_id}/result"):         "A  A  A  F  F  F  F  F  A  F  A  U  U  U",
    ("intake", "POST", "/enrolments/imports/{job_id}/cancel"):        "A  A  A  F  F  F  F  F  F  F  A  U  U  U",
    ("intake", "GET", "/applications"):                               "A  H  H  A  F  A  A  A  A  F  H  U  U  U",
    ("intake", "POST", "/applications/{application_id}/withdrawal"):  "A  N  N  A  F  F  F  F  F  F  N  U  U  U",
    # Each district its own feed (test_kafka_security.py: nothing of another's is in it); ops name one.
    ("intake", "GET", "/feed"):                                       "A  A  A  F  F  F  F  F  A  F  A  U  U  U",
    ("review", "POST", "/applications/{application_id}/findings"):    "F  F  F  F  F  A  A  F  F  F  F  U  U  U",
    ("review", "POST", "/applications/{application_id}/findings/{finding_id}/clearance"):
                                                                      "F  F  F  F  F  A  A  F  F  F  F  U  U  U",
    ("review", "POST", "/applications/{application_id}/scores"):      "F  F  F  F  F  A  F  F  F  F  F  U  U  U",
    ("review", "POST", "/applications/{application_id}/decision"):    "F  F  F  F  F  F  A  F  F  F  F  U  U  U",
    ("review", "POST", "/applications/{application_id}/selection"):   "F  F  F  F  F  F  A  F  F  F  F  U  U  U",
    ("review", "GET", "/applications/{application_id}"):              "A  N  N  A  F  A  A  A  A  F  N  U  U  U",
    ("review", "GET", "/applications/{application_id}/panel"):        "F  N  N  A  F  A  A  A  A  F  N  U  U  U",
    ("review", "GET", "/queue"):                                      "A  H  H  A  F  A  A  A  A  F  H  U  U  U",
    ("registry", "POST", "/units"):                                   "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/partners"):                                "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/units/{unit_id}/assessment"):              "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/units/{unit_id}/certification"):           "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/units/{unit_id}/revocation"):              "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    # 撤销审查: the unit's own union answers (another's unit answers 404, as no case: shown by
    # test_registry.py); registrars decide; the case is read by them, the city, ops and the union.
    ("registry", "GET", "/units/{unit_id}/revocation-cases"):         "A  A  A  A  F  F  F  A  A  F  F  U  U  U",
    ("registry", "POST", "/units/{unit_id}/revocation-case/statement"):
                                                                      "A  A  A  F  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/units/{unit_id}/revocation-case/confirmation"):
                                                                      "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/units/{unit_id}/revocation-case/dismissal"):
                                                                      "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/units/{unit_id}/exit"):                    "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/partners/{partner_id}/exit"):              "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/facilities/{facility_id}/closure"):        "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "GET", "/units"):                                    "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "GET", "/units/{unit_id}"):                          "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "GET", "/partners"):                                 "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "GET", "/facilities"):                               "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "GET", "/facilities/{facility_id}"):                 "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "GET", "/service-projects"):                         "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "GET", "/facilities/counts"):                        "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("registry", "GET", "/service-projects/counts"):                  "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("registry", "GET", "/members/counts"):                           "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("registry", "GET", "/members/{member_key}"):                     "F  F  F  A  F  F  F  A  A  F  F  U  U  U",
    ("registry", "POST", "/members/{member_key}/erasure"):            "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "GET", "/certificates/{certificate_no}"):            "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("registry", "GET", "/certificates/{certificate_no}/pdf"):        "F  F  F  A  F  F  F  A  A  F  F  U  U  U",
    ("registry", "POST", "/service-items"):                           "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "PUT", "/service-items/{item_id}"):                  "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/service-items/{item_id}/withdrawal"):      "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "GET", "/service-items"):                            "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("registry", "GET", "/service-items/{item_id}"):                  "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    # 联动服务: the centres' windows (a district for its own, the city for the city's). Which matter
    # a district may act on is the registry's rule (domain/matters.py), shown by its own tests;
    # here, with no matter of either district, both reach the endpoint.
    ("registry", "POST", "/matters"):                                 "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/matters/{matter_id}/transfers"):           "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/matters/{matter_id}/acceptance"):          "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/matters/{matter_id}/steps"):               "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/matters/{matter_id}/closure"):             "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/matters/{matter_id}/rating"):              "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/matters/{matter_id}/erasure"):             "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "GET", "/matters"):                                  "A  A  F  A  F  F  F  A  A  A  F  U  U  U",
    ("registry", "GET", "/matters/{matter_id}"):                      "A  A  F  A  F  F  F  A  A  A  F  U  U  U",
    ("registry", "POST", "/matters/{matter_id}/refusal"):             "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "GET", "/matters/figures"):                          "A  A  F  A  F  F  F  A  A  A  F  U  U  U",
    # The working-day calendar the deadlines count by: the city publishes a year's arrangement.
    ("registry", "PUT", "/working-calendars/{year}"):                 "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "GET", "/working-calendars/{year}"):                 "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    # The 综合服务窗口's duty roster: a federation sets its own centre's (the handler checks which).
    ("registry", "PUT", "/service-centres/{centre_id}/duty-roster"):  "A  A  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "GET", "/service-centres/{centre_id}/duty-roster"):  "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    # 绩效评估、分级评定: the city's staff and registrars grade; registrars decide an exit; the
    # unit's own union files its statement (another's subject answers 404: test_registry_grading).
    ("registry", "PUT", "/evaluation-schemes/{year}"):                "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "GET", "/evaluation-schemes/{year}"):                "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "GET", "/grading/{subject_id}"):                     "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("registry", "POST", "/grading/{subject_id}/evaluations"):        "F  F  F  A  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/grading/{subject_id}/rectification/completion"):
                                                                      "F  F  F  A  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/grading/{subject_id}/exit-proposal"):      "F  F  F  A  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/grading/{subject_id}/exit-proposal/confirmation"):
                                                                      "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/grading/{subject_id}/exit-proposal/dismissal"):
                                                                      "F  F  F  F  F  F  F  A  F  F  F  U  U  U",
    ("registry", "POST", "/grading/{subject_id}/statement"):          "A  A  A  F  F  F  F  F  F  F  F  U  U  U",
    # 服务项目集群: public, nothing personal.
    ("registry", "GET", "/project-cluster/"):                         "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("registry", "GET", "/project-cluster/projects.json"):            "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    # 送温暖: the city sets funds and decides the deliveries above the threshold; unions record
    # their own; a fund (370202's here) is read by the city, registrars, ops and its own union.
    ("registry", "PUT", "/warmth/funds/{union}/{year}"):              "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "GET", "/warmth/funds/{union}/{year}"):              "A  N  N  A  F  F  F  A  A  F  F  U  U  U",
    ("registry", "POST", "/warmth/deliveries"):                       "A  A  A  F  F  F  F  F  F  F  F  U  U  U",
    # A delivery sheet: each row is the delivery command; its template for unions, the city and ops.
    ("registry", "POST", "/warmth/deliveries/upload"):                "A  A  A  F  F  F  F  F  F  F  F  U  U  U",
    ("registry", "GET", "/warmth/deliveries/template"):               "A  A  A  A  F  F  F  F  A  F  F  U  U  U",
    ("registry", "POST", "/warmth/funds/{union}/{year}/deliveries/{delivery_id}/approval"):
                                                                      "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("registry", "POST", "/warmth/funds/{union}/{year}/deliveries/{delivery_id}/decline"):
                                                                      "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("metrics", "GET", "/api/progress"):                              "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/api/progress/{metric}/series"):              "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/api/metrics"):                               "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/api/areas"):                                 "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/api/matters"):                               "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/api/grading"):                               "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/api/warmth"):                                "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/api/targets"):                               "A  A  A  A  F  A  A  A  A  A  A  U  U  U",
    ("metrics", "PUT", "/api/targets/{metric}"):                      "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("metrics", "PUT", "/api/targets/{metric}/shares"):               "F  F  F  A  F  F  F  F  F  F  F  U  U  U",
    ("metrics", "GET", "/"):                                          "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/static/{name}"):                             "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/vendor/echarts.min.js"):                     "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
    ("metrics", "GET", "/vendor/noto-sans-sc/{path}"):                "A  A  A  A  A  A  A  A  A  A  A  A  A  A",
}
# fmt: on

STATUS: Final = {"N": 404, "F": 403, "U": 401}


def expected(service: str, method: str, path: str) -> dict[str, str]:
    row = MATRIX.get((service, method, path)) or EVERY_SERVICE.get((method, path))
    assert row is not None, f"no matrix row for {service} {method} {path}: write down who may call it"
    cells = row.split()
    assert len(cells) == len(COLUMNS), (service, method, path)
    return dict(zip(COLUMNS, cells, strict=True))


def served() -> list[tuple[str, str, str]]:
    """Every (service, method, route) the four apps serve, withdrawal last (it ends the
    application the other rows act on)."""
    rows = [
        (service, e.method, template(e.path))
        for service, app in service_apps().items()
        for e in endpoints(app, policy.of(service))
        if (e.method, template(e.path)) not in SELF_CHECKED
    ]
    return sorted(rows, key=lambda r: r[2].endswith("/withdrawal"))


# --- processes, clients, the district's application ------------------------------------------------


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: the matrix submits, reports and registers as every role, which
    other modules' exact counts must not see."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    names = ("intake", "review", "registry", "metrics")
    async with running(stack, names, 1000, "authorization", LIMITS) as procs:
        yield procs


def by_name(services: tuple[ServiceProcess, ...]) -> dict[str, ServiceProcess]:
    return {p.service: p for p in services}


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not reached in {TIMEOUT} s: {what}")
        await asyncio.sleep(0.3)


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def form() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(complex_form().model_dump_json())
    return loaded


def application() -> dict[str, Any]:
    return {"year": YEAR, "programme": "service_complex", "submitter": OWN, "form": form()}


@pytest.fixture(scope="module")
async def district_application(stack: Stack, services: tuple[ServiceProcess, ...]) -> str:
    """370202's application, accepted by review and listed by intake and review's queue."""
    procs = by_name(services)
    async with procs["intake"].client() as intake, procs["review"].client() as review:
        response = await intake.post(
            "/applications", json=application(), headers={"X-Huigong-Principal": f"district:{OWN}", **key()}
        )
        assert response.status_code == 201, response.text
        app_id: str = response.json()["application_id"]
        as_city = {"X-Huigong-Principal": "city:matrix"}

        async def known() -> bool:
            listed = await intake.get(
                "/applications", params={"year": YEAR, "page_size": 500}, headers=as_city
            )
            queue = await review.get("/queue", params={"page_size": 500}, headers=as_city)
            dossier = await review.get(f"/applications/{app_id}", headers=as_city)
            return (
                dossier.status_code == 200
                and any(i["application_id"] == app_id for i in listed.json()["items"])
                and any(i["application_id"] == app_id for i in queue.json()["items"])
            )

        await eventually(known, "the application screened, listed and queued")
    return app_id


async def revoked_key(stack: Stack) -> str:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        issued = await keys.issue(conn, f"district:{OWN}", actor="tests", label="to revoke")
        await keys.revoke(conn, issued.record.key_id, actor="tests", reason="matrix: a revoked key")
    finally:
        await conn.close()
    return issued.key


# --- the matrix -------------------------------------------------------------------------------------


def fill(path: str, app_id: str) -> str:
    values = {
        "application_id": app_id,
        "finding_id": str(uuid.uuid4()),
        "fact_id": str(uuid.uuid4()),
        "unit_id": str(uuid.uuid4()),
        "partner_id": str(uuid.uuid4()),
        "item_id": str(uuid.uuid4()),
        "matter_id": str(uuid.uuid4()),
        "centre_id": str(uuid.uuid4()),
        "member_key": uuid.uuid4().hex * 2,
        "facility_id": str(uuid.uuid4()),
        "certificate_no": "QDGH-2022-FQ-0001",
        "metric": "service_complex",
        "name": "dashboard.css",
        "path": "NotoSansSC-Regular.woff2",
        "subject_id": str(uuid.uuid4()),
        "year": str(YEAR),
        "union": OWN,
        "delivery_id": str(uuid.uuid4()),
        "job_id": str(uuid.uuid4()),
        "letter_id": "1",
        "report_id": "1",
    }
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    missing = [n for n in names if n not in values]
    assert not missing, f"give the matrix a value for {missing} in {path}"
    return path.format(**{n: values[n] for n in names})


def body(service: str, method: str, path: str) -> Any:
    """A valid body where the answer depends on whose record it is (so that the handler's own
    check is reached); elsewhere an empty object, which only an allowed caller gets to hear is
    invalid (422)."""
    rng = random.Random()
    if (service, method) == ("intake", "POST") and path == "/applications":
        return application()
    if (service, method) == ("intake", "PUT"):
        return {"form": form(), "reason": "补充材料"}
    if path.endswith("/withdrawal"):
        return {"reason": "单位调整，撤回申报"}
    if path.endswith("/plans"):
        return {"plan": annual_plan(rng, YEAR, "市南区总工会").model_dump(mode="json")}
    if path.endswith("/plans/amendments"):
        plan = annual_plan(rng, YEAR, "市南区总工会").model_dump(mode="json")
        return {"plan": plan, "reason": "按意见调整项目"}
    if (service, path) == ("intake", "/facilities"):
        # A "青岛·惠工家": no figure another module's test reads exactly (service bases are).
        report = next(
            r
            for r in (facility_report(OWN, random.Random(n)) for n in range(1000))
            if r.facility_kind is FacilityKind.青岛惠工家
        )
        return {**report.model_dump(mode="json"), "report_id": str(uuid.uuid4())}
    if (service, path) == ("intake", "/service-projects"):
        return project_proposal(OWN, rng).model_dump(mode="json")
    return {}


QUERIES: Final = {
    ("intake", "/applications"): {"year": YEAR, "page_size": 500},
    ("review", "/queue"): {"page_size": 500},
}


async def call(
    client: httpx.AsyncClient, service: str, method: str, path: str, app_id: str, credential: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    if method != "GET":
        return await client.request(
            method, fill(path, app_id), json=body(service, method, path), headers={**headers, **key()}
        )
    return await client.get(fill(path, app_id), params=QUERIES.get((service, path)), headers=headers)


def verdict(outcome: str, response: httpx.Response, app_id: str, listing: bool) -> str | None:
    """What is wrong with `response` for the expected `outcome`, or None."""
    status = response.status_code
    if outcome in STATUS:
        if status != STATUS[outcome]:
            return f"expected {STATUS[outcome]}, got {status}: {response.text[:200]}"
        if status in (401, 403):
            refusal = response.json()
            if set(refusal) != {"errors"} or not all(e["zh"] and e["en"] for e in refusal["errors"]):
                return f"a refusal is a list of errors in Chinese and English, got {refusal}"
            if app_id in response.text:
                return "the refusal names the record"
            if status == 401 and "WWW-Authenticate" not in response.headers:
                return "401 without WWW-Authenticate"
        return None
    if status in (401, 403) or status >= 500:
        return f"expected to be let through, got {status}: {response.text[:200]}"
    if listing:
        if status != 200:
            return f"expected a listing, got {status}: {response.text[:200]}"
        shown = any(i["application_id"] == app_id for i in response.json()["items"])
        if outcome == "A" and not shown:
            return "its own record is missing from the listing"
        if outcome == "H" and shown:
            return "another district's record is listed"
    elif outcome == "H":
        return "H is for listings"
    return None


async def test_every_endpoint_answers_every_role_as_written_down(
    stack: Stack, services: tuple[ServiceProcess, ...], district_application: str
) -> None:
    app_id = district_application
    rows = served()
    documented = {(s, m, p) for s, m, p in MATRIX} | {
        (s, m, p) for s in ("intake", "review", "registry", "metrics") for m, p in EVERY_SERVICE
    }
    assert {(s, m, p) for s, m, p in rows} == documented, (
        "the matrix and the services' routes differ: "
        f"undocumented {sorted(set(rows) - documented)}, stale {sorted(documented - set(rows))}"
    )
    credential = {name: await stack.keys.key_for(p) for name, p in PRINCIPALS.items()}
    credential["public"] = ""
    credential["revoked"] = await revoked_key(stack)
    credential["unknown"] = credentials.new_key()[0]
    procs = by_name(services)
    clients = {name: httpx.AsyncClient(base_url=p.url, timeout=60) for name, p in procs.items()}
    wrong: list[str] = []
    try:
        # The revocation shows within the key cache's second.
        async def refused() -> bool:
            response = await call(
                clients["intake"], "intake", "GET", "/applications", app_id, credential["revoked"]
            )
            return response.status_code == 401

        await eventually(refused, "the revoked key refused")
        for service, method, path in rows:
            outcomes = expected(service, method, path)
            listing = (service, path) in QUERIES and method == "GET"
            for column in COLUMNS:
                response = await call(
                    clients[service], service, method, path, app_id, credential[column] or None
                )
                problem = verdict(outcomes[column], response, app_id, listing)
                if problem:
                    wrong.append(f"{service} {method} {path} as {column} ({outcomes[column]}): {problem}")
    finally:
        for client in clients.values():
            await client.aclose()
    assert not wrong, "\n".join(wrong)


async def test_the_services_no_longer_read_a_principal_header(services: tuple[ServiceProcess, ...]) -> None:
    procs = by_name(services)
    async with httpx.AsyncClient(base_url=procs["intake"].url, timeout=30) as client:
        response = await client.get("/applications", headers={"X-Huigong-Principal": f"city:{OWN}"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["errors"][0]["field"] == "Authorization"


async def test_a_key_is_accepted_as_bearer_token_or_x_api_key(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    issued = await stack.keys.key_for("ops:either-header")
    async with httpx.AsyncClient(base_url=by_name(services)["registry"].url, timeout=30) as client:
        assert (await client.get("/units", headers={"X-API-Key": issued})).status_code == 200
        assert (await client.get("/units", headers={"Authorization": f"bearer {issued}"})).status_code == 200
        assert (await client.get("/units", headers={"Authorization": f"Basic {issued}"})).status_code == 401


async def test_a_refusal_is_logged_with_who_what_and_why_never_the_key(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    intake = by_name(services)["intake"]
    viewer = await stack.keys.key_for("viewer:log-test")
    made_up = credentials.new_key()[0]
    tag_403, tag_401 = f"refused-403-{uuid.uuid4()}", f"refused-401-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as client:
        forbidden = await client.post(
            "/applications",
            json=application(),
            headers={"Authorization": f"Bearer {viewer}", "X-Correlation-ID": tag_403, **key()},
        )
        unknown = await client.get(
            "/applications", headers={"Authorization": f"Bearer {made_up}", "X-Correlation-ID": tag_401}
        )
    assert (forbidden.status_code, unknown.status_code) == (403, 401)
    assert forbidden.headers["X-Correlation-ID"] == tag_403

    def logged(correlation_id: str) -> dict[str, Any] | None:
        for line in intake.log_path.read_text(errors="replace").splitlines():
            if correlation_id in line and "access refused" in line:
                entry: dict[str, Any] = json.loads(line)
                return entry
        return None

    async def both() -> tuple[dict[str, Any], dict[str, Any]] | None:
        first, second = logged(tag_403), logged(tag_401)
        return (first, second) if first and second else None

    entry_403, entry_401 = await eventually(both, "both refusals logged")
    assert entry_403["principal"] == "viewer:log-test" and entry_403["route"] == "POST /applications"
    assert entry_403["reason"] == "role not allowed" and entry_403["key_id"] == credentials.split(viewer)[0]  # type: ignore[index]
    assert entry_401["reason"] == "unknown" and entry_401["route"] == "GET /applications"
    text = intake.log_path.read_text(errors="replace")
    assert viewer not in text and made_up not in text
    assert viewer[20:] not in text  # not even the secret half


# --- the command line ---------------------------------------------------------------------------


def huigong(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn, "COLUMNS": "200"}
    return subprocess.run(
        [str(HUIGONG), "keys", *args], capture_output=True, text=True, timeout=60, env=env, check=check
    )


async def status_with(url: str, api_key: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return (await client.get("/applications", headers={"Authorization": f"Bearer {api_key}"})).status_code


async def until_refused(url: str, api_key: str, what: str) -> None:
    async def refused() -> bool:
        return await status_with(url, api_key) == 401

    await eventually(refused, what)


async def test_keys_are_created_listed_rotated_and_revoked_with_the_cli(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    url = by_name(services)["intake"].url
    created = json.loads(
        huigong(stack, "create", "--role", "district", "--code", "370213", "--label", "李沧区申报系统",
                "--actor", "ops:li", "--json").stdout
    )  # fmt: skip
    first, first_id = created["key"], created["key_id"]
    assert created["principal"] == "district:370213" and created["state"] == "active"
    assert await status_with(url, first) == 200

    listed = huigong(stack, "list", "--role", "district", "--code", "370213", "--json").stdout
    rows = json.loads(listed)
    assert [r["key_id"] for r in rows] == [first_id] and rows[0]["last_used_at"] is not None
    assert first not in listed and first[20:] not in listed and "key" not in rows[0]
    table = huigong(stack, "list").stdout
    assert first_id in table and first[20:] not in table

    # Rotation with no grace: the old key ends at once, the new one works.
    rotated = json.loads(
        huigong(stack, "rotate", first_id, "--actor", "ops:li", "--grace", "0", "--json").stdout
    )
    second, second_id = rotated["key"], rotated["key_id"]
    assert rotated["rotated_from"] == first_id and rotated["principal"] == "district:370213"
    assert await status_with(url, second) == 200
    await until_refused(url, first, "the rotated-out key refused")

    # Rotation with a grace period: both work until it ends.
    third = json.loads(
        huigong(stack, "rotate", second_id, "--actor", "ops:li", "--grace", "24h", "--json").stdout
    )
    assert await status_with(url, second) == 200 and await status_with(url, third["key"]) == 200

    # Revocation: refused within the key cache's time (1 s here, 5 s by default).
    revoked = huigong(stack, "revoke", third["key_id"], "--actor", "ops:wang", "--reason", "系统下线")
    assert "系统下线" in revoked.stdout
    await until_refused(url, third["key"], "the revoked key refused")
    again = huigong(stack, "revoke", third["key_id"], "--actor", "ops:wang", "--reason", "再次", check=False)
    assert again.returncode == 2 and "revoked" in again.stderr

    shown = json.loads(huigong(stack, "show", first_id, "--json").stdout)
    assert [(h["action"], h["actor"]) for h in shown["history"]] == [
        ("created", "ops:li"),
        ("revoked", "ops:li"),
    ]
    assert shown["state"] == "revoked" and shown["revoke_reason"] == f"rotated to {second_id}"
    third_history = json.loads(huigong(stack, "show", third["key_id"], "--json").stdout)["history"]
    assert [h["action"] for h in third_history] == ["rotated", "revoked"]
    assert third_history[1]["reason"] == "系统下线"
    everything = json.loads(huigong(stack, "list", "--code", "370213", "--all", "--json").stdout)
    assert {r["key_id"]: r["state"] for r in everything} == {
        first_id: "revoked",
        second_id: "active",  # until its grace period ends
        third["key_id"]: "revoked",
    }

    # The audit trail cannot be rewritten, not even by the admin.
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("DELETE FROM auth.api_key_events WHERE key_id = $1", first_id)
    finally:
        await conn.close()


async def test_a_key_can_expire_and_bad_requests_are_refused(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    url = by_name(services)["intake"].url
    short = json.loads(
        huigong(stack, "create", "--role", "city", "--code", "temp", "--actor", "ops:li", "--expires-in", "2s",
                "--json").stdout
    )  # fmt: skip
    await until_refused(url, short["key"], "the expired key refused")
    for bad in (["--role", "district", "--code", "379999"], ["--role", "mayor", "--code", "x"]):
        refused = huigong(stack, "create", *bad, "--actor", "ops:li", check=False)
        assert refused.returncode == 2 and "error" in refused.stderr


async def test_a_keyring_is_filled_once_and_readable_by_its_owner_only(
    stack: Stack, services: tuple[ServiceProcess, ...], tmp_path: Path
) -> None:
    ring = tmp_path / "keyring.json"
    wanted = ["simulator:370202", "simulator:G-HAIER", "registrar:seed-2022"]
    first = huigong(stack, "ensure", str(ring), *wanted, "--actor", "bin/run")
    assert "3" in first.stdout
    held = credentials.Keyring.load(ring)
    assert sorted(held) == sorted(wanted)
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    second = huigong(stack, "ensure", str(ring), *wanted, "--actor", "bin/run")
    assert credentials.Keyring.load(ring) == held and "0" in second.stdout
    assert await status_with(by_name(services)["intake"].url, held["simulator:370202"]) == 200


# --- limits ------------------------------------------------------------------------------------


async def test_bodies_over_the_limit_are_refused_with_413(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    district = await stack.keys.key_for(f"district:{OWN}")
    headers = {"Authorization": f"Bearer {district}", "Content-Type": "application/json"}
    big_form = json.dumps({"padding": "x" * 100_000}).encode()  # over 64 KiB, under the batch limit
    async with httpx.AsyncClient(base_url=by_name(services)["intake"].url, timeout=60) as client:
        response = await client.post("/applications", content=big_form, headers={**headers, **key()})
        assert response.status_code == 413, response.text
        assert response.json()["errors"][0]["zh"].startswith("请求内容超过上限")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * 10_000

        response = await client.post("/applications", content=chunks(), headers={**headers, **key()})
        assert response.status_code == 413, response.text

        # An enrolment batch may be larger (here 1 MiB): the same 100 kB reach the rules.
        response = await client.post("/enrolments", content=big_form, headers={**headers, **key()})
        assert response.status_code == 422, response.text
        huge = json.dumps({"rows": [{"姓名": "x" * 1000}] * 1100}).encode()
        response = await client.post("/enrolments", content=huge, headers={**headers, **key()})
        assert response.status_code == 413, response.text
        # Without a key, the size is never looked at.
        response = await client.post(
            "/enrolments", content=huge, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401


async def test_a_principal_over_its_rate_is_told_when_to_retry_and_others_are_not_affected(
    stack: Stack,
) -> None:
    # A metrics process of its own with a small burst: 20 requests, then one every 5 s.
    slow = {**LIMITS, "HUIGONG_RATE_LIMIT_BURST": "20", "HUIGONG_RATE_LIMIT_PER_SECOND": "0.2"}
    busy = await stack.keys.key_for("viewer:busy")
    calm = await stack.keys.key_for("viewer:calm")
    async with (
        running(stack, ("metrics",), 1100, "rate-limits", slow) as (metrics,),
        httpx.AsyncClient(base_url=metrics.url, timeout=60) as client,
    ):

        async def first_refusal(headers: dict[str, str], path: str) -> httpx.Response:
            for _ in range(60):
                answer = await client.get(path, headers=headers)
                if answer.status_code == 429:
                    return answer
                assert answer.status_code == 200, answer.text
            pytest.fail("never limited")

        limited = await first_refusal({"Authorization": f"Bearer {busy}"}, "/api/targets")
        assert int(limited.headers["Retry-After"]) >= 1
        error = limited.json()["errors"][0]
        assert (
            error["field"] == "rate_limit" and "请求过于频繁" in error["zh"] and "retry after" in error["en"]
        )
        # Another principal has a bucket of its own; probes are never limited.
        assert (
            await client.get("/api/targets", headers={"Authorization": f"Bearer {calm}"})
        ).status_code == 200
        assert (await client.get("/metrics", headers={"Authorization": f"Bearer {busy}"})).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        # Callers without a key are counted by address.
        public = await first_refusal({}, "/api/areas")
        assert public.headers["Retry-After"].isdigit()


# --- the platform's own clients ------------------------------------------------------------------


async def test_the_simulator_sends_with_the_keys_of_its_keyring(
    stack: Stack, services: tuple[ServiceProcess, ...], tmp_path: Path
) -> None:
    ring = tmp_path / "keyring.json"
    simulator = Path(sys.executable).parent / "huigong-simulator"
    # `plans` first asks intake, as simulator:370215, which applications are approved (none here):
    # the key is used and nothing simulated is recorded for the other modules' dashboards to see.
    command = [str(simulator), "plans", "--district", "370215", "--seed", "9"]
    command += ["--intake-url", by_name(services)["intake"].url, "--no-progress"]
    env = {**os.environ, "HUIGONG_KEYRING": str(ring)}
    refused = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120
    )
    assert refused.returncode == 1 and "simulator:370215" in refused.stderr  # nothing sent without a key
    huigong(stack, "ensure", str(ring), "simulator:370215", "--actor", "tests")
    sent = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120
    )
    assert sent.returncode == 0, sent.stderr
    summary = json.loads(sent.stdout.strip().splitlines()[-1])
    assert summary["failed"] == 0 and summary["sent"] == 0
