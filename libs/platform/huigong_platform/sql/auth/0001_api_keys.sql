-- API keys of every principal, in the `auth` schema shared by the four services. Owned by the admin
-- role (`huigong db provision` applies this file as the admin and grants the services what they
-- need: SELECT, and UPDATE of last_used_at only). Keys are issued, rotated and revoked with
-- `huigong keys …` under the admin DSN; a service can read keys, never mint or revive one.
CREATE TABLE auth.api_keys (
    -- The public half of `hg_<key_id>_<secret>`: names the key in logs, listings and audits.
    key_id        text        PRIMARY KEY CHECK (key_id ~ '^[a-z2-7]{16}$'),
    -- SHA-256 of the secret half. The secret is 32 random bytes, so a fast hash is enough: there is
    -- no dictionary to try, and verifying costs a microsecond per request.
    secret_sha256 bytea       NOT NULL CHECK (length(secret_sha256) = 32),
    role          text        NOT NULL,
    code          text        NOT NULL CHECK (code <> ''),
    label         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text        NOT NULL,
    expires_at    timestamptz,
    rotated_from  text        REFERENCES auth.api_keys (key_id),
    revoked_at    timestamptz,
    revoked_by    text,
    revoke_reason text,
    last_used_at  timestamptz,
    CONSTRAINT api_keys_revocation_named CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX api_keys_principal ON auth.api_keys (role, code);

-- Every issue, rotation, revocation and expiry change, with who did it and why: append-only.
CREATE TABLE auth.api_key_events (
    id      bigserial   PRIMARY KEY,
    key_id  text        NOT NULL REFERENCES auth.api_keys (key_id),
    action  text        NOT NULL CHECK (action IN ('created', 'rotated', 'revoked', 'expiry_set')),
    actor   text        NOT NULL,
    reason  text,
    detail  jsonb       NOT NULL DEFAULT '{}',
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_key_events_key ON auth.api_key_events (key_id, id);

CREATE FUNCTION auth.key_events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key events are append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER api_key_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON auth.api_key_events
    FOR EACH STATEMENT EXECUTE FUNCTION auth.key_events_are_immutable();
