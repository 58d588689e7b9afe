-- Per-member data keys, held by the registry (search_path = registry).
--
-- Each gig worker's name and phone are sealed (AES-256-GCM) under a data key of their own; the
-- key is stored here wrapped by HUIGONG_PERSONAL_DATA_KEK. The registry decides erasure and
-- deletes the member's row in the transaction that records MemberErased: every sealed copy, in
-- the event stores, Kafka, replays and backups, is unreadable from then on (crypto-shredding).
--
-- Intake seals at the edge, inside the transaction that records an enrolment batch, so it must
-- get keys without an HTTP call and without sending clear data anywhere. It is given one door:
-- member_data_keys_issue, which runs as the registry's role. Intake may execute it and nothing
-- else here: it cannot read the table, list the keys or delete one.
CREATE TABLE member_data_keys (
    member_key  text        PRIMARY KEY,
    key_id      text        NOT NULL UNIQUE,
    wrapped_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Offer a key for each member (arrays of equal length, one call per batch); members without one
-- get the offered key, members with one keep theirs. Answers the stored key of every member
-- asked for, so a member reported again is sealed under the key they have, and two batches
-- racing for the same member agree (the second waits on the first's row, then reads it).
CREATE FUNCTION member_data_keys_issue(member_keys text[], key_ids text[], wrapped_keys bytea[])
    RETURNS TABLE (member_key text, key_id text, wrapped_key bytea)
    LANGUAGE plpgsql
    VOLATILE
    SECURITY DEFINER
AS $$
#variable_conflict use_column
DECLARE
    offered integer := cardinality(member_keys);
    issued  integer;
BEGIN
    IF offered IS DISTINCT FROM cardinality(key_ids) OR offered IS DISTINCT FROM cardinality(wrapped_keys) THEN
        RAISE EXCEPTION 'member_keys, key_ids and wrapped_keys must have the same length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        INSERT INTO member_data_keys AS k (member_key, key_id, wrapped_key)
        SELECT * FROM unnest(member_keys, key_ids, wrapped_keys)
        ON CONFLICT (member_key) DO NOTHING
        RETURNING k.member_key, k.key_id, k.wrapped_key;
    GET DIAGNOSTICS issued = ROW_COUNT;
    IF issued < offered THEN
        -- A statement of its own: it sees the rows a concurrent batch committed while the insert
        -- above waited for it (READ COMMITTED takes a new snapshot per statement).
        RETURN QUERY
            SELECT k.member_key, k.key_id, k.wrapped_key
            FROM unnest(member_keys, key_ids) AS r (member_key, key_id)
            JOIN member_data_keys AS k ON k.member_key = r.member_key
            WHERE k.key_id <> r.key_id;
    END IF;
END
$$;

-- Nobody may call it by default (PostgreSQL grants EXECUTE to PUBLIC). Its search_path is pinned
-- to this schema with pg_temp last: a caller's temporary table named member_data_keys must never
-- stand in for the real one inside a function that runs with the registry's rights.
REVOKE EXECUTE ON FUNCTION member_data_keys_issue(text[], text[], bytea[]) FROM PUBLIC;

DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION member_data_keys_issue(text[], text[], bytea[]) SET search_path = %I, pg_temp',
        current_schema()
    );
    -- Grants only when the registry's own role migrates its schema (huigong db provision /
    -- migrate). A replay builds a shadow schema from these files as the admin: that copy stays
    -- unreachable to intake.
    IF current_user = 'huigong_registry' THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'huigong_intake') THEN
            RAISE EXCEPTION 'role huigong_intake does not exist: run huigong db provision, which creates every service''s role before migrating';
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO huigong_intake', current_schema());
        GRANT EXECUTE ON FUNCTION member_data_keys_issue(text[], text[], bytea[]) TO huigong_intake;
    END IF;
END
$$;
