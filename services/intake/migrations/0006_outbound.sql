-- What each district hears back (huigong_events.outbound): one row per notice, in the order the
-- district reads them (its outbound topic and its HTTP feed). Writers take the advisory lock of
-- `adapters/outbound.py` before inserting, so notices commit in `seq` order and a reader past
-- `seq` n never misses a notice committed later with a smaller one.
CREATE TABLE outbound_notices (
    seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    district       text        NOT NULL,
    record_id      text        NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    data           jsonb       NOT NULL,
    occurred_at    timestamptz NOT NULL,
    -- The event id or inbound position the notice restates: a replayed trigger writes nothing new.
    source         text        NOT NULL UNIQUE,
    published_at   timestamptz
);
CREATE INDEX outbound_notices_feed ON outbound_notices (district, seq);
CREATE INDEX outbound_notices_unpublished ON outbound_notices (seq) WHERE published_at IS NULL;

-- Whose record is it: review's decisions do not all name the submitter, and units name their area.
CREATE TABLE outbound_owners (
    record_id text PRIMARY KEY,
    district  text NOT NULL
);

-- Notices about a record whose owner is not known yet (review's topic read ahead of intake's):
-- written to the feed, in the order they came, as soon as the owner is known.
CREATE TABLE outbound_waiting (
    position       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id      text        NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    data           jsonb       NOT NULL,
    occurred_at    timestamptz NOT NULL,
    source         text        NOT NULL UNIQUE
);
CREATE INDEX outbound_waiting_record ON outbound_waiting (record_id, position);
