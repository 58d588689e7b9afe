-- 平台经济企业 pilots (温暖行动 四.3), counted when the unit is registered: what the counting joins,
-- whichever arrives first, of a 幸福企业 application (its latest form's platform-economy mark and
-- the day intake recorded it) and of the unit registered from it (area, registration and exit
-- days). workers NULL: the latest form carries no mark. A pilot counts from the later of its
-- registration and its application day, so an as-of replay, which keeps each by its own day,
-- holds both exactly when the live figures count it.
CREATE TABLE platform_pilots (
    application_id text    PRIMARY KEY,
    applied_on     date,
    workers        integer,
    unit_id        text,
    area           text,
    registered_on  date,
    exited_on      date,
    simulated      boolean NOT NULL DEFAULT false
);
CREATE INDEX platform_pilots_unit ON platform_pilots (unit_id);
