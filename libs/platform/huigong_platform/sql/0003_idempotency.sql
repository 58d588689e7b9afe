-- Idempotency keys of write requests (HTTP Idempotency-Key, or a Kafka command id): the first
-- request claims the key, a retry gets the stored outcome and creates nothing new. Written in the
-- same transaction as the events the request appended.
CREATE TABLE idempotency_keys (
    principal     text        NOT NULL,
    key           text        NOT NULL,
    request_hash  text        NOT NULL,
    status_code   integer,
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
