-- What the registry knows of intake's applications (search_path = registry): the few facts it
-- needs to act on review's approvals, kept by the registry.review-decisions reaction from
-- ApplicationSubmitted / ApplicationAmended / ApplicationWithdrawn. No personal data.
CREATE TABLE applications (
    application_id   uuid PRIMARY KEY,
    year             integer NOT NULL,
    programme        text    NOT NULL,
    form_kind        text    NOT NULL,
    submitter        text    NOT NULL,
    name             text    NOT NULL,
    credit_code      text,
    partner_category text,              -- 公益伙伴 (附件5) only
    withdrawn        boolean NOT NULL DEFAULT false
);

-- A 公益伙伴 approval that arrived before its application (intake's and review's topics are read
-- at their own pace): parked here, and decided when the application arrives. The approval's own
-- day, actor and ids are kept so the partner is recorded as if decided on arrival.
CREATE TABLE approvals_awaiting_application (
    application_id    uuid PRIMARY KEY,
    approval          jsonb       NOT NULL,  -- ConstructionApproved data
    approved_on       date        NOT NULL,  -- Beijing day the approval was recorded
    approval_event_id uuid        NOT NULL,
    correlation_id    text        NOT NULL,
    actor             text        NOT NULL,
    parked_at         timestamptz NOT NULL DEFAULT now()
);

-- Partners: credit code and application, and their end (退出).
ALTER TABLE partners_view
    ADD COLUMN credit_code    text,
    ADD COLUMN application_id uuid,
    ADD COLUMN status         text NOT NULL DEFAULT 'active',  -- active | exited
    ADD COLUMN exited_on      date,
    ADD COLUMN status_reason  text;
CREATE INDEX partners_view_query ON partners_view (category, area, status);
