"""The README's configuration table names every setting the services read, so an operator never
meets an undocumented variable."""

from __future__ import annotations

from pathlib import Path

from huigong_intake.settings import IntakeSettings
from huigong_platform.settings import Settings
from huigong_review.settings import ReviewSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    for cls in (Settings, IntakeSettings, ReviewSettings):
        for name in cls.model_fields:
            assert f"| `HUIGONG_{name.upper()}` |" in README, name


def test_the_two_commands_are_documented() -> None:
    assert "| `bin/run` |" in README and "| `bin/test` |" in README
