-- Signed chain checkpoints (huigong_events.checkpoints): each states, signed with the service's
-- Ed25519 key, what the events table held up to a position. Written by the service, published
-- to its checkpoints topic (published_at), and compared by `huigong verify` with the events
-- table and with the topic's copy. Owned, like events, by the records role once
-- `huigong db provision` protects the store: the login may only add and read them.
CREATE TABLE chain_checkpoints (
    sequence     bigint PRIMARY KEY,
    key_id       text        NOT NULL,
    public_key   text        NOT NULL,
    position     bigint      NOT NULL,
    events       bigint      NOT NULL,
    digest       text        NOT NULL,
    previous     text,
    signed_at    timestamptz NOT NULL,
    signature    text        NOT NULL,
    published_at timestamptz
);
CREATE TRIGGER chain_checkpoints_no_update BEFORE DELETE OR TRUNCATE ON chain_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();
