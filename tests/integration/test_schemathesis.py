"""schemathesis against every service's OpenAPI document: generated requests, valid and invalid,
to every operation of the four real service processes, each sent with the key of a role the
operation allows (so the requests reach the endpoint, not just the access guard). Nothing may
answer with a 5xx.

schemathesis runs as its command line (`st run`), one run per service, with a configuration file
that gives each operation its Authorization header. (Its pytest plugin does not run under this
pytest version.)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import httpx
import pytest

from huigong_platform import policy
from huigong_platform.principals import Role

from ..conftest import Stack, isolated_stack
from .processes import ServiceProcess, artefacts_dir, running

SERVICES: Final = ("intake", "review", "registry", "metrics")
ST: Final = Path(sys.executable).parent / "st"
# Who sends each operation: the first of these roles its rule allows.
SENDERS: Final = {
    Role.DISTRICT: "district:370202",
    Role.EXCHANGE: "exchange:hrss",
    Role.REVIEWER: "reviewer:city/fuzz",
    Role.CHAIR: "chair:city/fuzz",
    Role.REGISTRAR: "registrar:fuzz",
    Role.CITY: "city:fuzz",
    Role.OPS: "ops:fuzz",
    Role.VIEWER: "viewer:fuzz",
}
# A modest number of examples per operation keeps the four services to a minute or two.
EXAMPLES: Final = "8"


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: generated requests register units, partners, facilities, which
    other modules' exact counts must not see."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[dict[str, ServiceProcess]]:
    # Generated traffic is bursty: no rate limit gets in the way here.
    limits = {"HUIGONG_RATE_LIMIT_BURST": "1000000", "HUIGONG_RATE_LIMIT_PER_SECOND": "1000000"}
    async with running(stack, SERVICES, 1200, "schemathesis", limits) as procs:
        yield {p.service: p for p in procs}


def sender(service: str, method: str, path: str) -> str | None:
    rule = policy.of(service).rule_for(method, path)
    if rule is None or rule.public:
        return None
    return next(principal for role, principal in SENDERS.items() if rule.allows(role))


async def configuration(stack: Stack, service: str, url: str) -> Path:
    """A schemathesis.toml giving every operation of the service the key of its sender."""
    async with httpx.AsyncClient(timeout=30) as client:
        document = (await client.get(f"{url}/openapi.json")).json()
    lines = ["checks.enabled = false", "checks.not_a_server_error.enabled = true", ""]
    for path, operations in document["paths"].items():
        for method in operations:
            principal = sender(service, method.upper(), path)
            if principal is None:
                continue
            key = await stack.keys.key_for(principal)
            lines += [
                "[[operations]]",
                # One filter: a method and a path given separately match either.
                f"include-name = {json.dumps(f'{method.upper()} {path}')}",
                f'headers = {{ Authorization = "Bearer {key}" }}',
                "",
            ]
    config = artefacts_dir() / f"schemathesis-{stack.run_id}-{service}.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


@pytest.mark.parametrize("service", SERVICES)
async def test_no_generated_request_gets_a_server_error(
    stack: Stack, services: dict[str, ServiceProcess], service: str
) -> None:
    url = services[service].url
    config = await configuration(stack, service, url)
    command = [
        str(ST),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--max-examples",
        EXAMPLES,
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "2022",
        # One worker: with two, hypothesis' lambda-source cache has been seen to fail in threads
        # ("AST constructor recursion depth mismatch"), a tool error rather than a finding.
        "--workers",
        "1",
        "--request-timeout",
        "30",
    ]
    # Run where its working files (.schemathesis/) land among the test artefacts.
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=600, cwd=artefacts_dir()
    )
    report = artefacts_dir() / f"schemathesis-{service}.txt"
    report.write_text(done.stdout + done.stderr, encoding="utf-8")
    assert done.returncode == 0, (
        f"schemathesis found problems in {service} (full report: {report}):\n"
        + "\n".join((done.stdout + done.stderr).splitlines()[-80:])
    )
