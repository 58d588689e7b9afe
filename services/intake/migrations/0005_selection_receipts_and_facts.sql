-- 确定建设单位: intake lets a unit send its plans once review's ConstructionUnitSelected reaches it,
-- and stops them once the city passed the application over (ConstructionUnitNotSelected).
ALTER TABLE review_progress ADD COLUMN selected boolean NOT NULL DEFAULT false;
ALTER TABLE review_progress ADD COLUMN not_selected boolean NOT NULL DEFAULT false;

-- The status history a district reads with its application: each status once, at the earliest
-- business time it was reached (so a replay in any interleaving of the two topics gives the same rows).
CREATE TABLE application_status_history (
    application_id uuid        NOT NULL,
    status         text        NOT NULL,
    at             timestamptz NOT NULL,
    PRIMARY KEY (application_id, status)
);

-- 受理编号 look-ups (GET /applications/{受理编号} and every path naming an application by it) and
-- the duplicate-application check read submissions only; the event table also holds every
-- enrolment, so they get partial indexes of their own.
CREATE INDEX events_application_receipt ON events ((data->>'receipt_no')) WHERE type = 'ApplicationSubmitted';
CREATE INDEX events_application_key ON events ((data->>'submitter'), (data->>'year'), (data->>'programme'))
    WHERE type = 'ApplicationSubmitted';

-- A repeated evidence reference is answered with the first fact: the facts about one unit are read
-- on every report.
CREATE INDEX events_fact_unit ON events ((data->>'credit_code')) WHERE type = 'ComplianceFactReported';
