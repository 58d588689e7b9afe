-- A reported compliance fact corrected or withdrawn by its department (ComplianceFactCorrected,
-- ComplianceFactWithdrawn), kept beside the report so that a later screening judges the fact as
-- it now stands (corrected, or no longer there).
CREATE TABLE compliance_fact_changes (
    fact_id           uuid     NOT NULL,
    aggregate_version integer  NOT NULL,
    credit_code       text     NOT NULL,
    received          bigserial NOT NULL,
    record            jsonb    NOT NULL,
    PRIMARY KEY (fact_id, aggregate_version)
);
CREATE INDEX compliance_fact_changes_by_code ON compliance_fact_changes (credit_code, received);
