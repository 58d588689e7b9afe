-- The per-member data keys moved to the registry (registry/0007_member_data_keys.sql), which
-- decides erasure and alone can destroy a key; intake reaches them only through
-- registry.member_data_keys_issue from now on.
--
-- Keys intake held are handed over through that same function (key ids and wrapped keys as they
-- were, so every sealed copy still opens), then the table is dropped. `huigong db provision`
-- migrates the registry first for this. A role cannot read another service's schema, so this is
-- the only way across; if the registry's function is not there yet, nothing is dropped and the
-- migration stops with what to do.
DO $$
DECLARE
    held      bigint;
    differing bigint;
    issue     regprocedure;
BEGIN
    SELECT count(*) INTO held FROM member_data_keys;
    IF held = 0 THEN
        RETURN;
    END IF;
    -- One question at a time: has_schema_privilege fails outright on a schema that is not there.
    IF to_regnamespace('registry') IS NOT NULL THEN
        IF has_schema_privilege('registry', 'USAGE') THEN
            issue := to_regprocedure('registry.member_data_keys_issue(text[], text[], bytea[])');
        END IF;
    END IF;
    IF issue IS NULL OR NOT has_function_privilege(issue, 'EXECUTE') THEN
        RAISE EXCEPTION 'intake holds % member data keys and registry.member_data_keys_issue is not available to it', held
            USING HINT = 'migrate the registry first (huigong db migrate registry, as huigong_registry), then intake again';
    END IF;
    -- The function answers the key the registry keeps for each member: it must be intake's.
    SELECT count(*) INTO differing
    FROM registry.member_data_keys_issue(
        ARRAY(SELECT member_key FROM member_data_keys ORDER BY member_key),
        ARRAY(SELECT key_id FROM member_data_keys ORDER BY member_key),
        ARRAY(SELECT wrapped_key FROM member_data_keys ORDER BY member_key)
    ) AS kept
    JOIN member_data_keys AS held_key ON held_key.member_key = kept.member_key
    WHERE kept.key_id <> held_key.key_id;
    IF differing > 0 THEN
        RAISE EXCEPTION 'the registry already keeps another data key for % members intake holds a key for', differing
            USING HINT = 'resolve by hand with the admin role; nothing was dropped';
    END IF;
END
$$;

DROP TABLE member_data_keys;
