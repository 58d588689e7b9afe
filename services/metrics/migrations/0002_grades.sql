-- 服务职工基地 and 关爱职工公益伙伴 as the dashboard's 分级评定 table counts them: each one's district,
-- whether it came from an application (new ones are on probation until a grade of C or better),
-- whether it is still in the register, its latest grade, an open 整改 and a pending exit proposal.
CREATE TABLE grades (
    subject_id        uuid    PRIMARY KEY,
    kind              text    NOT NULL,  -- service_base | welfare_partner
    area              text    NOT NULL,
    from_application  boolean,           -- NULL until its registration is read
    active            boolean NOT NULL DEFAULT true,
    grade             text,
    grade_year        integer,
    probation_ended   boolean NOT NULL DEFAULT false,
    rectification_due date,
    exit_proposed     boolean NOT NULL DEFAULT false
);
