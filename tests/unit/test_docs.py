"""The documentation says what the code does: docs/configuration.md has a row for every variable
the code reads (and none for a variable nothing reads), the README's walkthrough body is one intake
accepts, and every link between the pages leads somewhere."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings

from huigong_events.intake import ApplicationSubmitted
from huigong_intake.commands import ApplicationRequest
from huigong_intake.domain import applications as apps
from huigong_intake.settings import IntakeSettings
from huigong_platform.settings import KafkaAuth, Settings
from huigong_registry.settings import RegistrySettings
from huigong_review.settings import ReviewSettings

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
# Directories that hold no code of ours: hidden ones (.git, .venv, the stack's data in .local,
# caches), installed packages, build output, test output and the docs themselves.
NOT_CODE = {"node_modules", "__pycache__", "test-artifacts", "target", "dist", "build", "docs"}
CODE_SUFFIXES = {".py", ".sh", ".yml", ".yaml", ".toml", ".properties", ""}
VARIABLE = r"HUIGONG_[A-Z0-9_]*[A-Z0-9]"


def rows() -> set[str]:
    """The variables that have a row of their own in a table of the configuration page."""
    return set(re.findall(rf"^\| `({VARIABLE})` \|", CONFIGURATION, flags=re.MULTILINE))


def code_files() -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(REPO):
        # Pruned in place, so os.walk never descends into them (the stack's data may be unreadable).
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".") and d not in NOT_CODE]
        for name in files:
            path = Path(directory, name)
            if path.suffix in CODE_SUFFIXES:
                yield path


def read_by_code() -> set[str]:
    """Variables the code reads: string literals in Python (`os.environ.get("HUIGONG_…")`, a
    constant naming one), and `${HUIGONG_…}` expansions in shell scripts and compose files."""
    names: set[str] = set()
    for path in code_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if path.suffix == ".py":
            names.update(re.findall(rf"[\"']({VARIABLE})[\"']", text))
        else:
            names.update(re.findall(rf"\$\{{({VARIABLE})", text))
    return names


def settings_variables() -> set[str]:
    classes: tuple[type[BaseSettings], ...] = (
        Settings,
        IntakeSettings,
        ReviewSettings,
        RegistrySettings,
        KafkaAuth,
    )
    return {
        f"{cls.model_config.get('env_prefix', '')}{name}".upper()
        for cls in classes
        for name in cls.model_fields
    }


def test_every_setting_of_every_service_has_a_row() -> None:
    missing = settings_variables() - rows()
    assert not missing, f"add to docs/configuration.md: {sorted(missing)}"


def test_every_variable_the_code_reads_has_a_row() -> None:
    # A principal's Kafka password is one pattern row (`HUIGONG_KAFKA_<PRINCIPAL>_PASSWORD`), as
    # is a service's database password; the admin's has a row of its own.
    patterned = re.compile(r"HUIGONG_KAFKA_\w+_PASSWORD|HUIGONG_(INTAKE|REVIEW|REGISTRY|METRICS)_DB_PASSWORD")
    read = {
        name
        for name in read_by_code()
        if name == "HUIGONG_KAFKA_ADMIN_PASSWORD" or not patterned.fullmatch(name)
    }
    missing = read - rows()
    assert not missing, f"add to docs/configuration.md: {sorted(missing)}"


def test_no_row_names_a_variable_nothing_reads() -> None:
    stale = rows() - read_by_code() - settings_variables()
    assert not stale, f"docs/configuration.md documents variables nothing reads: {sorted(stale)}"


def test_the_two_commands_are_documented() -> None:
    assert "| `bin/run` |" in README and "| `bin/test` |" in README


def walkthrough_body() -> dict[str, object]:
    blocks = re.findall(r"```json\n(.*?)```", README, flags=re.DOTALL)
    assert len(blocks) == 1, "the README has one JSON body, the walkthrough's"
    body: dict[str, object] = json.loads(blocks[0])
    return body


def test_the_walkthrough_body_is_an_application_intake_records() -> None:
    request = ApplicationRequest.model_validate(walkthrough_body())
    # Inside the body's own cycle, so the check does not depend on today's date.
    inside_cycle = datetime(request.year, 1, 15, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    command = apps.SubmitApplication(
        application_id=uuid.uuid4(),
        year=request.year,
        programme=request.programme,
        submitter="370202",  # the walkthrough's key is district:370202
        form=request.form,
        now=inside_cycle,
        receipt_no=f"{request.year}-370202-00001",
    )
    (event,) = apps.decide(None, command, apps.NO_REVIEW)
    assert isinstance(event, ApplicationSubmitted)
    assert event.form == request.form


def test_every_link_between_the_pages_leads_to_a_file() -> None:
    pages = [REPO / "README.md", REPO / "bench" / "README.md", *(REPO / "docs").rglob("*.md")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(REPO)} links to {target}"
