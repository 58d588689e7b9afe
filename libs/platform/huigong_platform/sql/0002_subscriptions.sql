-- Projection consumers: where each one is, what it applied, what it could not apply.

-- The next offset to read per (consumer, topic, partition), written in the same transaction as
-- the projection rows it covers: that is what makes a restart neither lose nor repeat work.
CREATE TABLE checkpoints (
    consumer    text   NOT NULL,
    topic       text   NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- The last aggregate version each consumer applied. The outbox relay may publish an event twice
-- (a crash between the broker's ack and marking the row), at two offsets; the version catches it.
CREATE TABLE applied_versions (
    consumer          text    NOT NULL,
    aggregate_type    text    NOT NULL,
    aggregate_id      text    NOT NULL,
    aggregate_version integer NOT NULL,
    PRIMARY KEY (consumer, aggregate_type, aggregate_id)
);

CREATE TABLE dead_letters (
    id                bigserial PRIMARY KEY,
    consumer          text        NOT NULL,
    topic             text        NOT NULL,
    partition         integer     NOT NULL,
    "offset"          bigint      NOT NULL,
    record_key        bytea,
    record_value      bytea,
    record_headers    jsonb       NOT NULL DEFAULT '[]',
    event_id          uuid,
    event_type        text,
    aggregate_type    text,
    aggregate_id      text,
    aggregate_version integer,
    reason            text        NOT NULL,
    error_class       text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    status            text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'retried', 'skipped')),
    resolved_at       timestamptz,
    resolved_by       text,
    resolution        text,
    UNIQUE (consumer, topic, partition, "offset")
);
CREATE INDEX dead_letters_open ON dead_letters (consumer, aggregate_type, aggregate_id)
    WHERE status = 'open';

-- Later events of an aggregate whose earlier event is dead-lettered wait here, in order, so the
-- projection never applies version N+1 without N. Other aggregates keep flowing.
CREATE TABLE parked (
    consumer          text    NOT NULL,
    topic             text    NOT NULL,
    partition         integer NOT NULL,
    "offset"          bigint  NOT NULL,
    dead_letter_id    bigint  NOT NULL REFERENCES dead_letters (id),
    aggregate_type    text    NOT NULL,
    aggregate_id      text    NOT NULL,
    aggregate_version integer,
    record_key        bytea,
    record_value      bytea,
    record_headers    jsonb   NOT NULL DEFAULT '[]',
    parked_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition, "offset")
);
CREATE INDEX parked_by_aggregate ON parked (consumer, aggregate_type, aggregate_id, "offset");

-- Every operator action on a dead letter, for auditors.
CREATE TABLE dead_letter_actions (
    id             bigserial PRIMARY KEY,
    dead_letter_id bigint      NOT NULL REFERENCES dead_letters (id),
    action         text        NOT NULL CHECK (action IN ('retry', 'skip')),
    actor          text        NOT NULL,
    reason         text        NOT NULL,
    outcome        text        NOT NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
