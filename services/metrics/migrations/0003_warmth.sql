-- 送温暖 figures (the metrics.warmth projection): every delivery as recorded, with the day it was
-- declined if it was, and every budget the city federation set. A figure "as of" day D counts the
-- deliveries dated D or earlier not declined by the end of D, against the latest budget set by
-- then. No member key, name or phone: figures only.
CREATE TABLE warmth_deliveries (
    delivery_id  uuid    PRIMARY KEY,
    union_code   text    NOT NULL,
    year         integer NOT NULL,
    occasion     text    NOT NULL,
    festival     text,
    form         text    NOT NULL,
    amount       bigint  NOT NULL,
    delivered_on date    NOT NULL,
    declined_on  date
);
CREATE INDEX warmth_deliveries_year ON warmth_deliveries (year, union_code);

CREATE TABLE warmth_budgets (
    union_code text    NOT NULL,
    year       integer NOT NULL,
    version    integer NOT NULL,
    amount     bigint  NOT NULL,
    set_on     date    NOT NULL,
    PRIMARY KEY (union_code, year, version)
);
