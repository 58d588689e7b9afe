"""The auditors' and operators' tools behind the `huigong` command line (审计与运维): set-up
(`cli`: database, topics), API key administration (`keys`), Kafka users and ACLs (`kafka_acls`),
and the commands below (`commands`, one module per job). The service runtime (huigong_platform
and the four services) imports nothing from this package; a unit test holds it to that.

Commands are top-level, next to the set-up commands `huigong db …` and `huigong topics …`:

```
huigong verify [--topic T]… [--decode] [--limit N] [--json]
    Walk every event topic from offset 0 (or only --topic), group records by aggregate and check
    each hash chain: every hash recomputes, versions run 1..n without gaps and in order, every
    prev_hash names the hash of the version before. A relay duplicate (same version, same hash)
    is reported as info; a second, different event at the same version is a conflict. Exit 1 on
    any failure.
huigong audit AGGREGATE_ID [--type application|review|unit|member|…] [--format table|jsonl|csv]
    The complete history of one aggregate across all event topics, in recorded order: times,
    type, version, actor, source, correlation and causation ids, and the decoded (upcast) data.
    Events of other aggregates that carry the same id (review uses the application id) or name it
    in their data (a unit's application_id, an enrolment's member_key) are listed with the link.
huigong streams [--all-groups] [--max-lag N] [--json]
    Topics with partitions and end offsets, Kafka consumer groups with their lag, and each
    service's PostgreSQL checkpoints (where projections keep their offsets) with their lag.
huigong scan-personal [--log FILE]… [--json]
    Look for raw ID numbers (valid province, birth date and check character) and mobile numbers in
    every topic of the prefix but the districts' inbound topics, every table of the database and
    the given log files; findings are shown masked; exit 1 on any. See `personal.py`.
huigong dead-letters list [--service S] [--status open|retried|skipped|all] [--json]
huigong dead-letters show ID --service S [--json]
huigong dead-letters retry ID --service S --actor NAME --reason TEXT
huigong dead-letters skip ID --service S --actor NAME --reason TEXT
    Inspect and resolve the records a projection could not apply. Retry re-applies the letter and
    then the records parked behind it, in order, through the projection's own `Applier` in one
    transaction; skip moves the aggregate past the letter and applies the parked records. Each
    action is recorded in `dead_letter_actions` (actor, reason, outcome), also when it fails.
```

Connection settings: `--bootstrap`, `--prefix` and `--dsn` on every command, defaulting to
`HUIGONG_KAFKA_BOOTSTRAP`, `HUIGONG_TOPIC_PREFIX` and `HUIGONG_PG_ADMIN_DSN` (a login that can read
every service schema; dead-letter actions also write the service's schema). Long scans show a
progress bar with records/s on stderr, so `--json`, `jsonl` and `csv` output on stdout stays
clean. Exit codes: 0 fine, 1 a failed check or action, 2 bad usage or configuration.

huigong replay --service S… | --service all [--consumer C]… [--as-of YYYY-MM-DD | --until-offset N] [--swap] [--keep] [--json]
    Rebuild each projection of the services from its topics from offset 0 into a shadow schema
    and compare with the live tables by row count and checksum (exit 1 on a difference, except
    with --as-of); --swap replaces the live tables atomically. Several services are replayed in
    one pass over their topics (each record read and decoded once); --consumer only with one
    service. See `replay.py`.
"""
