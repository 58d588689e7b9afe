-- Read models, built from Kafka by the projection runner (never written by the API directly).

-- 受理 receipts and status per application.
CREATE TABLE applications_view (
    application_id uuid        PRIMARY KEY,
    receipt_no     text        UNIQUE,
    year           integer     NOT NULL,
    programme      text        NOT NULL,
    submitter      text        NOT NULL,
    name           text        NOT NULL,
    status         text        NOT NULL,
    submitted_at   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    amendments     integer     NOT NULL DEFAULT 0,
    plans          integer     NOT NULL DEFAULT 0
);
CREATE INDEX applications_view_query ON applications_view (year, submitter, programme, status);

-- What review has decided so far, per application: amend/withdraw and plans depend on it.
CREATE TABLE review_progress (
    application_id uuid    PRIMARY KEY,
    accepted       boolean NOT NULL DEFAULT false,
    rejected       boolean NOT NULL DEFAULT false,
    scored         boolean NOT NULL DEFAULT false,
    approved       boolean NOT NULL DEFAULT false,
    declined       boolean NOT NULL DEFAULT false,
    period_start   date,
    period_end     date
);
