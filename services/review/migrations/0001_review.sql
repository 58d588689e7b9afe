-- Review's own tables beside the platform's event store (search_path = review).
--
-- Inputs: what review has received from other services, kept whole (the recorded envelope as
-- JSON) so that a review state is rebuilt from exactly the events it was decided on, with their
-- times and actors. Written by the screening reaction only, in the transaction that advances its
-- checkpoint, so each input is stored exactly once in effect.

-- Intake's events of one application (ApplicationSubmitted, ApplicationAmended,
-- ApplicationWithdrawn), in the application's own order.
CREATE TABLE application_inputs (
    application_id    uuid    NOT NULL,
    aggregate_version integer NOT NULL,
    event_id          uuid    NOT NULL UNIQUE,
    type              text    NOT NULL,
    record            jsonb   NOT NULL,
    PRIMARY KEY (application_id, aggregate_version)
);

-- One row per application review knows, and whose compliance facts screen it: the credit code
-- of the screened enterprise (null when the application is not screened automatically, e.g. a
-- 服务职工综合体). A fact finds its applications through this index.
CREATE TABLE screened_applications (
    application_id uuid        PRIMARY KEY,
    programme      text        NOT NULL,
    submitter      text        NOT NULL,
    credit_code    text,
    submitted_at   timestamptz NOT NULL
);
CREATE INDEX screened_applications_by_code ON screened_applications (credit_code)
    WHERE credit_code IS NOT NULL;

-- Compliance facts reported by the data exchange, whether they arrive before or after the
-- applications they concern.
CREATE TABLE compliance_facts (
    fact_id     uuid        PRIMARY KEY,
    credit_code text        NOT NULL,
    received    bigserial   NOT NULL,
    record      jsonb       NOT NULL
);
CREATE INDEX compliance_facts_by_code ON compliance_facts (credit_code, received);

-- The registry's units built from an application (UnitRegistered) and their certification
-- (UnitCertified): the stage a later finding is recorded at (建设中 or 认定后).
CREATE TABLE unit_inputs (
    unit_id           uuid    NOT NULL,
    aggregate_version integer NOT NULL,
    application_id    uuid,
    type              text    NOT NULL,
    record            jsonb   NOT NULL,
    PRIMARY KEY (unit_id, aggregate_version)
);
CREATE INDEX unit_inputs_by_application ON unit_inputs (application_id) WHERE application_id IS NOT NULL;

-- Read model: the review queue, one row per application, built by the projection runner from
-- intake's application events and review's own events (either may arrive first).
CREATE TABLE review_queue (
    application_id uuid        PRIMARY KEY,
    receipt_no     text,
    year           integer,
    programme      text,
    submitter      text,
    name           text,
    unit_name      text,
    submitted_at   timestamptz,
    accepted       boolean     NOT NULL DEFAULT false,
    rejected       boolean     NOT NULL DEFAULT false,
    withdrawn      boolean     NOT NULL DEFAULT false,
    decision       text        CHECK (decision IN ('approved', 'declined')),
    -- reviewer id -> weighted total (as a JSON string, exact decimal)
    totals         jsonb       NOT NULL DEFAULT '{}',
    score_count    integer     NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX review_queue_listing ON review_queue (submitted_at, application_id);
CREATE INDEX review_queue_filters ON review_queue (programme, submitter, year);

CREATE TABLE review_queue_findings (
    application_id uuid    NOT NULL,
    finding_id     uuid    NOT NULL,
    rule           text    NOT NULL,
    open           boolean NOT NULL DEFAULT true,
    PRIMARY KEY (application_id, finding_id)
);
