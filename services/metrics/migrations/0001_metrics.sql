-- Metrics read models (search_path = metrics).

-- Targets as loaded from huigong_metrics/domain/targets.toml. Written at start-up from the
-- versioned file (rows are added, never overwritten), not by events: a target changes only by a
-- TargetChanged, kept in target_changes. Year NULL: cumulative to 31 December 2025.
CREATE TABLE target_baseline (
    metric       text    NOT NULL,
    area         text    NOT NULL,
    year         integer,
    value        numeric NOT NULL,
    basis        text    NOT NULL,
    file_version integer NOT NULL,
    CONSTRAINT target_baseline_key UNIQUE NULLS NOT DISTINCT (metric, area, year)
);

-- Every TargetChanged, as the metrics.targets projection applied it. A target's value is its
-- latest change (highest version), else its baseline.
CREATE TABLE target_changes (
    event_id    uuid        PRIMARY KEY,
    metric      text        NOT NULL,
    area        text        NOT NULL,
    year        integer,
    version     integer     NOT NULL,
    old_value   numeric,
    new_value   numeric     NOT NULL,
    reason      text        NOT NULL,
    changed_by  text        NOT NULL,
    changed_at  timestamptz NOT NULL,
    CONSTRAINT target_changes_version UNIQUE NULLS NOT DISTINCT (metric, area, year, version)
);

-- Actuals: the net change of each counter per area and day (the business date the events state),
-- and the part of it that is simulated data (演示数据). A level "as of" a day is the sum of the
-- days up to it; the city's (370200) is the sum over all areas.
CREATE TABLE actuals (
    counter   text   NOT NULL,
    area      text   NOT NULL,
    day       date   NOT NULL,
    amount    bigint NOT NULL,
    simulated bigint NOT NULL,
    PRIMARY KEY (counter, area, day)
);

-- What the counting remembers of each counted unit, facility and member, to take the count back
-- on a revocation, exit or closure and to place a member's mutual aid in their district.
-- active: not exited / still open; flagged: certified (unit) / insured (member).
CREATE TABLE counted (
    subject   text    NOT NULL,
    key       text    NOT NULL,
    category  text    NOT NULL,
    area      text    NOT NULL,
    simulated boolean NOT NULL,
    active    boolean NOT NULL,
    flagged   boolean NOT NULL,
    PRIMARY KEY (subject, key)
);
