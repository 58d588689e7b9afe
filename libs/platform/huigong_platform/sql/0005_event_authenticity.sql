-- Each event's proof that its owning service wrote it (huigong_events.authenticity): the name
-- of the key and the HMAC-SHA-256 tag over the event's Kafka record. Written in the append's
-- transaction by the service process, which alone holds the key: a row written into this table
-- by anyone else (a login, the database superuser) has no valid tag, and every consumer and
-- `huigong verify` refuses it. Empty for events recorded before this migration.
ALTER TABLE events ADD COLUMN auth_key text, ADD COLUMN auth_tag text;
