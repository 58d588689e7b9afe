"""Several instances of each service: how `bin/run` names and places them, and the compose file
that scales them (docs/replicas.md)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from huigong_platform.settings import SERVICES

REPO = Path(__file__).resolve().parents[2]


def run_bash(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`script` with bin/lib.sh and bin/platform.sh sourced, as bin/run has them."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUIGONG_REPLICAS")}
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; . bin/lib.sh; . bin/platform.sh; {script}"],
        cwd=REPO,
        env={**clean, "HUIGONG_LOCAL_DIR": "/nonexistent-huigong", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_each_instance_has_its_own_name_and_port_and_one_service_can_have_its_own_count() -> None:
    shown = run_bash(
        'for s in intake registry; do for i in $(instances_of "$s"); do echo "$i $(instance_port "$i")"; done; done',
        HUIGONG_REPLICAS="3",
        HUIGONG_REPLICAS_REGISTRY="2",
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split("\n")[:-1] == [
        "intake 8101",
        "intake.2 8111",
        "intake.3 8121",
        "registry 8103",
        "registry.2 8113",
    ]


def test_one_instance_is_the_default_and_a_count_out_of_range_is_refused() -> None:
    assert run_bash("instances_of review").stdout == "review\n"
    refused = run_bash("replicas_of metrics", HUIGONG_REPLICAS_METRICS="12")
    assert refused.returncode != 0
    assert "HUIGONG_REPLICAS_METRICS" in refused.stderr and "1 to 9" in refused.stderr


class ComposeLoader(yaml.SafeLoader):
    """YAML as compose reads it: `!reset` clears what the base file set."""


ComposeLoader.add_constructor("!reset", lambda loader, node: None)


def test_the_compose_override_scales_every_service_behind_the_front_door() -> None:
    override: dict[str, Any] = yaml.load((REPO / "docker-compose.replicas.yml").read_text(), ComposeLoader)
    for name in SERVICES:
        svc = override["services"][name]
        # Its own count, else the common one, else three; no host port (replicas cannot share one).
        assert svc["deploy"]["replicas"] == f"${{HUIGONG_REPLICAS_{name.upper()}:-${{HUIGONG_REPLICAS:-3}}}}"
        assert svc["ports"] is None
