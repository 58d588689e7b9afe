-- Facilities and the 服务项目库 as the registry lists them (search_path = registry).
CREATE TABLE facilities_view (
    facility_id      uuid PRIMARY KEY,
    kind             text NOT NULL,
    name             text NOT NULL,
    area             text NOT NULL,
    host_unit        text NOT NULL,
    host_credit_code text,
    opened_on        date NOT NULL,
    closed_on        date,
    close_reason     text,
    status           text NOT NULL,
    report_id        uuid
);
CREATE INDEX facilities_view_query ON facilities_view (kind, area, status);

CREATE TABLE service_projects_view (
    project_id           uuid PRIMARY KEY,
    name                 text NOT NULL,
    field                text NOT NULL,
    provider             text NOT NULL,
    provider_credit_code text NOT NULL,
    area                 text NOT NULL,
    listed_on            date NOT NULL,
    proposal_id          uuid
);
CREATE INDEX service_projects_view_query ON service_projects_view (field, area);
