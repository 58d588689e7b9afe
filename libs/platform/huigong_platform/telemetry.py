"""Prometheus figures every service exposes on /metrics: the same names everywhere, labelled by
service, so one Grafana dashboard reads all four (Eventuous-style built-in subscription metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_APPENDED = Counter(
    "huigong_events_appended_total",
    "Events recorded in a service's event store",
    ["service", "type"],
)
OUTBOX_PUBLISHED = Counter("huigong_outbox_published_total", "Outbox rows acknowledged by Kafka", ["service"])
OUTBOX_PENDING = Gauge("huigong_outbox_pending", "Recorded events not yet acknowledged by Kafka", ["service"])
OUTBOUND_PUBLISHED = Counter(
    "huigong_outbound_published_total", "District notices acknowledged on their outbound topics", ["service"]
)
OUTBOUND_PENDING = Gauge(
    "huigong_outbound_pending",
    "District notices written and not yet acknowledged on their outbound topics",
    ["service"],
)
EVENTS_APPLIED = Counter(
    "huigong_events_applied_total",
    "Events applied by a projection consumer",
    ["service", "consumer", "topic"],
)
EVENTS_SKIPPED = Counter(
    "huigong_events_duplicate_total",
    "Redelivered events a consumer recognised and skipped",
    ["service", "consumer"],
)
DEAD_LETTERS = Counter(
    "huigong_dead_letters_total", "Records a consumer dead-lettered", ["service", "consumer"]
)
PARKED = Counter(
    "huigong_parked_total",
    "Records parked behind a dead letter of the same aggregate",
    ["service", "consumer"],
)
CONSUMER_LAG = Gauge(
    "huigong_consumer_lag",
    "Records between a consumer's position and the partition's end",
    ["service", "consumer", "topic", "partition"],
)
RECORDS_NOT_AUTHENTIC = Counter(
    "huigong_records_not_authentic_total",
    "Records refused because they carry no valid tag of their owning service (forged or altered)",
    ["service", "consumer"],
)
CONSUMER_KEEPALIVES = Counter(
    "huigong_consumer_keepalives_total",
    "Times a projection consumer asked for records with its partitions paused to stay in its group "
    "while a batch outlasted a quarter of max_poll_interval_ms",
    ["service", "consumer"],
)
CONSUMER_STALLS = Counter(
    "huigong_consumer_stalls_total",
    "Times a consumer (a projection's, or intake's inbound one) was handed no record while records "
    "waited (or stayed out of its group) for longer than its stall limit and was replaced",
    ["service", "consumer"],
)
CONSUMER_RESUMES = Counter(
    "huigong_consumer_resumes_total",
    "Times a consumer was sought back (or forward) to its stored checkpoint because the records it "
    "was handed did not continue there",
    ["service", "consumer"],
)
REACTION_STALLED = Gauge(
    "huigong_reaction_stalled",
    "1 while a reaction retries a batch that keeps failing (it never skips one), else 0",
    ["service", "reaction"],
)
TRIGGERS_WITHOUT_OUTCOME = Gauge(
    "huigong_triggers_without_outcome",
    "Triggers a reaction has passed (below its checkpoint) that have no decision recorded, as "
    "last counted by the reconcile check",
    ["service", "reaction"],
)
