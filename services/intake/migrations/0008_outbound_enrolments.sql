-- The registry's outcome of each taken enrolment row (intake.outbound): a row is noted when its
-- EnrolmentRequested is read (its batch and row number) and when the registry's MemberEnrolled or
-- MemberReportedAgain is read (its outcome), in whichever order the two topics are read. Once
-- every taken row of a batch has its outcome, the district is told (EnrolmentOutcomeNotice).
CREATE TABLE outbound_enrolments (
    enrolment_id uuid    PRIMARY KEY,
    batch_id     uuid,
    row_number   integer,
    -- 'enrolled' (a new member) or 'already_member' (reported before); NULL until the registry decides
    outcome      text CHECK (outcome IN ('enrolled', 'already_member'))
);
CREATE INDEX outbound_enrolments_batch ON outbound_enrolments (batch_id);
