-- 联动服务: the service catalogue and service matters (search_path = registry).

-- The 服务事项目录 as the registry.matters projection keeps it.
CREATE TABLE service_items_view (
    item_id         uuid PRIMARY KEY,
    name            text    NOT NULL,
    category        text    NOT NULL,
    providers       uuid[]  NOT NULL,
    time_limit_days integer NOT NULL,
    steps           text[]  NOT NULL,
    commitment      text,
    status          text    NOT NULL,   -- listed | withdrawn
    listed_on       date    NOT NULL,
    changed_on      date,
    withdrawn_on    date,
    status_reason   text
);
CREATE INDEX service_items_view_category ON service_items_view (category, status);
CREATE INDEX service_items_view_providers ON service_items_view USING gin (providers);

-- One row per matter: where it stands, who received it (首问) and who handles it. No personal
-- data: the requester's name, phone and request are only in the sealed event data.
CREATE TABLE matters_view (
    matter_id            uuid PRIMARY KEY,
    matter_no            text    NOT NULL UNIQUE,
    item_id              uuid    NOT NULL,
    item_name            text    NOT NULL,
    category             text    NOT NULL,
    channel              text    NOT NULL,
    first_unit           uuid    NOT NULL,
    first_name           text    NOT NULL,
    first_area           text    NOT NULL,
    handler_unit         uuid    NOT NULL,
    handler_name         text    NOT NULL,
    handler_area         text    NOT NULL,
    pending_unit         uuid,
    pending_name         text,
    pending_area         text,
    involved_areas       text[]  NOT NULL,
    involved_units       uuid[]  NOT NULL,
    status               text    NOT NULL,   -- handling | transferring | closed
    received_on          date    NOT NULL,
    time_limit_days      integer NOT NULL,
    deadline             date    NOT NULL,
    deadline_provisional boolean NOT NULL,
    steps                text[]  NOT NULL,
    steps_done           text[]  NOT NULL DEFAULT '{}',
    transfers            integer NOT NULL DEFAULT 0,
    closed_on            date,
    outcome              text,
    on_time              boolean,
    score                integer,
    comment              text,
    rated_on             date,
    erased               boolean NOT NULL DEFAULT false
);
CREATE INDEX matters_view_open ON matters_view (deadline) WHERE closed_on IS NULL;
CREATE INDEX matters_view_first ON matters_view (first_area, received_on);
CREATE INDEX matters_view_involved ON matters_view USING gin (involved_areas);

-- 受理编号: one sequence per year of receipt and first-responder area, allocated in the receiving
-- transaction (a refused receipt rolls it back).
CREATE TABLE matter_counters (
    year  integer NOT NULL,
    area  text    NOT NULL,
    last  integer NOT NULL,
    PRIMARY KEY (year, area)
);

-- Each matter's data key (AES-256), wrapped by HUIGONG_PERSONAL_DATA_KEK. Deleting the row makes
-- the sealed name, phone and request of that matter unreadable in every copy of the event log.
CREATE TABLE matter_data_keys (
    matter_id   uuid        PRIMARY KEY,
    key_id      text        NOT NULL,
    wrapped_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
