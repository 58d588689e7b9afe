"""Configuration from environment variables (HUIGONG_*), one place for every service.

docs/configuration.md has a row for each of these fields and docker-compose.yml is checked
against them, both by tests, so a variable cannot be added in one place and forgotten in
another.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
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
    checkpoint_keys: SecretStr | None = Field(
        default=None,
        description="This service's Ed25519 checkpoint key(s), `intake.1:<64 hex seed>`: it signs a "
        "chain checkpoint of its event store every HUIGONG_CHECKPOINT_SECONDS (none: no checkpoints)",
    )
    checkpoint_seconds: float = Field(
        default=60.0, gt=0, description="Seconds between two signed chain checkpoints of the event store"
    )
    event_keys: SecretStr = Field(
        description="Every service's event keys, `intake.1:<64 hex>,review.1:<64 hex>,…`: a service "
        "tags its events with its highest version and checks every record it consumes "
        "(docs/security-events.md)"
    )
    relay_batch_size: int = Field(default=1000, description="Outbox rows published per round")
    consumer_batch_size: int = Field(
        default=2000, description="Kafka records applied to projections per transaction"
    )
    consumer_max_poll_seconds: float = Field(
        default=300.0,
        ge=6,
        description="Kafka's max_poll_interval_ms of the projection consumers, in seconds: a member "
        "that asks for no records this long leaves its group, and the time a rebalance waits for a "
        "member to rejoin. The runner keeps asking while a batch is applied (docs/replicas.md)",
    )
    consumer_session_seconds: float = Field(
        default=10.0,
        ge=1,
        description="Kafka's session timeout of every consumer group member (projections and "
        "reactions), in seconds: a member that stops heartbeating (a killed instance) keeps its "
        "partitions this long. The brokers' group.min.session.timeout.ms must allow it (Kafka's "
        "default is 6 s; the brokers of bin/stack and docker-compose.yml allow 2 s and their "
        "services use 3 s)",
    )
    # Access (huigong_platform.authorization): key cache, body size and per-principal rate limits.
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="Seconds a key's state is cached; a revocation applies within it"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1, description="Largest request body (bytes)")
    max_upload_bytes: int = Field(
        default=16_777_216, ge=1, description="Largest enrolment batch body, JSON or sheet (bytes)"
    )
    max_file_bytes: int = Field(
        default=268_435_456,
        ge=1,
        description="Largest sheet for an enrolment import job (bytes; 1,000,000 rows of CSV are about 110 MB)",
    )
    rate_limit_per_second: float = Field(
        default=50.0, gt=0, description="Requests per second per principal (token bucket refill)"
    )
    rate_limit_burst: int = Field(default=200, ge=1, description="Requests a principal may send at once")
    # People's logins (huigong_platform.sessions).
    session_hours: float = Field(
        default=8.0, gt=0, description="Hours a console login lasts at most (the session cookie's lifetime)"
    )
    session_idle_minutes: float = Field(
        default=60.0, gt=0, description="Minutes without a request after which a console login ends"
    )

    @property
    def port(self) -> int:
        return self.http_port if self.http_port is not None else DEFAULT_PORTS[self.service]

    @property
    def db_schema(self) -> str:
        """The PostgreSQL schema the service owns; named after the service."""
        return self.service


KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


class KafkaAuth(BaseSettings):
    """Who this process is on Kafka. Each process is one principal (a service, an operator, a
    district system, the simulator), so its credentials come from its own environment and every
    Kafka client it builds (`huigong_platform.kafka`) uses them. Without a user name the client
    speaks PLAINTEXT, as the development broker of `bin/stack` does by default; with one, SASL
    over the client listener (`HUIGONG_KAFKA_SECURITY=scram`, docker-compose)."""

    model_config = SettingsConfigDict(env_prefix="HUIGONG_KAFKA_", extra="ignore", frozen=True)

    username: str | None = Field(
        default=None, description="Kafka SCRAM user this process logs in as (none: PLAINTEXT)"
    )
    password: SecretStr | None = Field(default=None, description="Password of HUIGONG_KAFKA_USERNAME")
    sasl_mechanism: KafkaSaslMechanism = Field(
        default="SCRAM-SHA-512", description="SASL mechanism of the Kafka login"
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError(
                "HUIGONG_KAFKA_USERNAME and HUIGONG_KAFKA_PASSWORD are set together or not at all"
            )
        return self

    @property
    def secured(self) -> bool:
        return self.username is not None
