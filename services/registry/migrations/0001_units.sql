-- Registry read models (search_path = registry).
CREATE TABLE units_view (
    unit_id       uuid PRIMARY KEY,
    name          text    NOT NULL,
    programme     text    NOT NULL,
    area          text    NOT NULL,
    credit_code   text,
    origin        text    NOT NULL,
    status        text    NOT NULL,
    registered_on date    NOT NULL,
    application_id uuid
);
CREATE INDEX units_view_query ON units_view (programme, area, status);

CREATE TABLE partners_view (
    partner_id    uuid PRIMARY KEY,
    name          text NOT NULL,
    category      text NOT NULL,
    area          text NOT NULL,
    origin        text NOT NULL,
    registered_on date NOT NULL
);
