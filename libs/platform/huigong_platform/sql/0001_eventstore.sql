-- The event store and its outbox, in the owning service's schema (search_path is set to it).
-- Events are append-only: the service role may INSERT and SELECT, never UPDATE or DELETE.
CREATE TABLE events (
    position          bigserial PRIMARY KEY,
    id                uuid        NOT NULL UNIQUE,
    type              text        NOT NULL,
    schema_version    integer     NOT NULL CHECK (schema_version >= 1),
    aggregate_type    text        NOT NULL,
    aggregate_id      text        NOT NULL,
    aggregate_version integer     NOT NULL CHECK (aggregate_version >= 1),
    occurred_at       timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL,
    actor             text        NOT NULL,
    source            text        NOT NULL,
    correlation_id    text        NOT NULL,
    causation_id      text,
    prev_hash         text,
    hash              text        NOT NULL,
    data              jsonb       NOT NULL,
    -- The optimistic-concurrency guard: two writers of version N of one aggregate, one wins.
    CONSTRAINT events_aggregate_version UNIQUE (aggregate_type, aggregate_id, aggregate_version)
);

-- Written in the same transaction as the event; the relay deletes nothing, it marks published.
CREATE TABLE outbox (
    position     bigint PRIMARY KEY REFERENCES events (position),
    topic        text        NOT NULL,
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL;

CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
-- Statement-level, so it fires even when no row matches and for TRUNCATE too.
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();
