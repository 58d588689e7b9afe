-- Intake's own tables beside the platform's event store (search_path = intake).

-- 受理编号 counters per year and submitter: "2024-370202-00012".
CREATE TABLE receipt_counters (
    year      integer NOT NULL,
    submitter text    NOT NULL,
    last_no   integer NOT NULL,
    PRIMARY KEY (year, submitter)
);

-- Per-member data keys for name and phone (AES-256-GCM), wrapped by the service's key
-- encryption key. Destroying a member's row makes every copy of their sealed data unreadable
-- (crypto-shredding), which is how an erasure request is honoured on an immutable log.
CREATE TABLE member_data_keys (
    member_key  text        PRIMARY KEY,
    key_id      text        NOT NULL UNIQUE,
    wrapped_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Who already enrolled whom: a district re-reporting the same person is refused at the edge;
-- another district's report is accepted (the registry records it without counting it twice).
CREATE TABLE enrolled_members (
    member_key   text    NOT NULL,
    submitter    text    NOT NULL,
    enrolment_id uuid    NOT NULL,
    PRIMARY KEY (member_key, submitter)
);
