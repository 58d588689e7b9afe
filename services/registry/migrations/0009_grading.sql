-- 绩效评估、分级评定: each base's or partner's latest grade and where it stands (整改, 拟退出), for
-- the public 服务项目集群 and the lists. The grades themselves, with their figures and sources, are
-- read from the event store.
CREATE TABLE grades_view (
    subject_id         uuid PRIMARY KEY,
    kind               text    NOT NULL,  -- service_base | welfare_partner
    name               text    NOT NULL,
    area               text    NOT NULL,
    year               integer NOT NULL,  -- the latest graded year
    grade              text    NOT NULL,
    score              numeric(5, 2) NOT NULL,
    evaluated_on       date    NOT NULL,
    probation_ended    boolean NOT NULL DEFAULT false,
    rectification_due  date,               -- an open 整改's deadline
    exit_proposed_on   date,               -- a proposal awaiting a registrar
    exited_on          date
);
CREATE INDEX grades_view_query ON grades_view (kind, area, grade);
