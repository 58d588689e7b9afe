-- Registry: certification, verification, certificate numbers, and the member roster.
ALTER TABLE units_view
    ADD COLUMN certificate_no text,
    ADD COLUMN title          text,
    ADD COLUMN certified_on   date,
    ADD COLUMN valid_until    date,
    ADD COLUMN recheck_due    date,
    ADD COLUMN revoked_on     date,
    ADD COLUMN exited_on      date,
    ADD COLUMN status_reason  text;
CREATE INDEX units_view_year ON units_view (registered_on);

-- Public verification: one row per certificate ever issued (no personal data).
CREATE TABLE certificates_view (
    certificate_no text PRIMARY KEY,
    unit_id        uuid NOT NULL,
    unit_name      text NOT NULL,
    programme      text NOT NULL,
    title          text NOT NULL,
    certified_on   date NOT NULL,
    valid_until    date NOT NULL,
    status         text NOT NULL,   -- certified | revoked | exited
    revoked_on     date,
    exited_on      date
);

-- Certificate numbers: allocated in the certifying transaction (a refusal rolls it back).
CREATE TABLE certificate_counters (
    year      integer NOT NULL,
    code      text    NOT NULL,
    last      integer NOT NULL,
    PRIMARY KEY (year, code)
);

-- The roster: one row per member key (never a name, phone or ID number).
CREATE TABLE members_view (
    member_key  text PRIMARY KEY,
    district    text NOT NULL,
    occupation  text NOT NULL,
    platform    text NOT NULL,
    joined_on   date NOT NULL,
    reports     integer NOT NULL DEFAULT 1
);
CREATE TABLE member_aid_view (
    member_key  text    NOT NULL,
    policy_year integer NOT NULL,
    paid_by     text    NOT NULL,
    granted_on  date    NOT NULL,
    PRIMARY KEY (member_key, policy_year)
);
