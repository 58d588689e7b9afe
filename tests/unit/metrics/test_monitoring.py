"""Prometheus and Grafana as configured in infra/ agree with the code: every service is scraped on
its port with a key, and the dashboard reads only figures that some service exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from huigong_metrics.adapters import gauges
from huigong_platform import telemetry
from huigong_platform.settings import DEFAULT_PORTS, SERVICES

REPO = Path(__file__).resolve().parents[3]


def exposed_names() -> set[str]:
    """Every sample name a Huigong /metrics serves: the platform's figures and the business gauges."""
    names = {gauges.ACTUAL, gauges.SIMULATED, gauges.TARGET, "up"}
    for value in vars(telemetry).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def scrape_targets(path: str) -> dict[str, str]:
    config: dict[str, Any] = yaml.safe_load((REPO / path).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    # /metrics is for viewers and ops: every scrape presents a key.
    assert job["authorization"]["type"] == "Bearer" and job["authorization"]["credentials_file"]
    return {group["labels"]["service"]: group["targets"][0] for group in job["static_configs"]}


def test_prometheus_scrapes_all_four_services_on_their_ports() -> None:
    assert scrape_targets("infra/prometheus/prometheus.yml") == {
        s: f"{s}:{DEFAULT_PORTS[s]}" for s in SERVICES
    }
    assert scrape_targets("infra/prometheus/prometheus-local.yml") == {
        s: f"127.0.0.1:{DEFAULT_PORTS[s]}" for s in SERVICES
    }


def expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in expressions(value)]
    if isinstance(node, list):
        return [e for item in node for e in expressions(item)]
    return []


def test_the_grafana_dashboard_reads_business_and_technical_figures_that_exist() -> None:
    dashboard = json.loads((REPO / "infra/grafana/huigong.json").read_text())
    exprs = expressions(dashboard["panels"])
    # Metric names, not label values: quoted strings (metric=~"huigong_homes|…") left out.
    unquoted = [re.sub(r'"[^"]*"', '""', e) for e in exprs]
    used = {name for e in unquoted for name in re.findall(r"\bhuigong_[a-z_]+\b", e)}
    assert used <= exposed_names(), used - exposed_names()
    # Both kinds: the targets and the platform's consumer figures of every service.
    assert {gauges.ACTUAL, gauges.TARGET} <= used
    assert {"huigong_consumer_lag", "huigong_events_applied_total", "huigong_dead_letters_total"} <= used
    assert dashboard["uid"] and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_compose_runs_prometheus_and_grafana_with_these_files() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert (
        "./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in services["prometheus"]["volumes"]
    )
    grafana = services["grafana"]["volumes"]
    assert "./infra/grafana/huigong.json:/var/lib/grafana/dashboards/huigong.json:ro" in grafana
    provisioning = REPO / "infra/grafana/provisioning"
    datasource = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards/huigong.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
