"""Configuration from environment variables (HUIGONG_*), one place for every service.

The README's configuration table is generated from these fields, and docker-compose.yml is
checked against them by a test, so a variable cannot be added in one place and forgotten in
another.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("intake", "review", "registry", "metrics")
ServiceName = Literal["intake", "review", "registry", "metrics"]

# Local stack defaults; docker-compose.yml overrides them.
DEFAULT_PORTS: dict[str, int] = {"intake": 8101, "review": 8102, "registry": 8103, "metrics": 8104}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUIGONG_", extra="ignore")

    service: ServiceName = Field(description="Which service this process runs")
    database_url: str = Field(
        description="PostgreSQL DSN of the service's own login role (writes only its schema)"
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:19092", description="Kafka bootstrap servers")
    topic_prefix: str = Field(
        default="", description="Prefix for every topic name (isolates test runs on one broker)"
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on")
    http_port: int | None = Field(
        default=None,
        description="HTTP port; default 8101 intake, 8102 review, 8103 registry, 8104 metrics",
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR)")
    relay_batch_size: int = Field(default=1000, description="Outbox rows published per round")
    consumer_batch_size: int = Field(
        default=2000, description="Kafka records applied to projections per transaction"
    )

    @property
    def port(self) -> int:
        return self.http_port if self.http_port is not None else DEFAULT_PORTS[self.service]

    @property
    def db_schema(self) -> str:
        """The PostgreSQL schema the service owns; named after the service."""
        return self.service
