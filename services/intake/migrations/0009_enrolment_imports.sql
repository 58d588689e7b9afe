-- Import jobs: an enrolment sheet above the synchronous limit (up to 1,000,000 rows) is stored
-- here and read by intake's import worker in chunks. Each chunk's events, its rows' results and
-- the job's cursor are written in one transaction, so a restart resumes at the cursor and no row
-- is recorded twice.
--
-- The file is kept in this database (bytea parts of a few MiB), not as a large object or a file
-- on the intake's disk: it is then in the service's own schema under its own role (large objects
-- belong to no schema), in the backups with the jobs that point at it, readable by whichever
-- intake replica picks the job up, and gone in the same transaction that ends the job. The parts
-- are sealed (AES-256-GCM) under a key of the job's own, wrapped by the personal-data KEK and
-- destroyed when the job ends, so not even a backup taken meanwhile keeps the raw ID numbers
-- readable once the job is over.
CREATE TABLE enrolment_imports (
    job_id       uuid        PRIMARY KEY,
    submitter    text        NOT NULL,
    -- The principal who uploaded: the worker runs each chunk as them, through the command path.
    principal    text        NOT NULL,
    filename     text        NOT NULL,
    format       text        NOT NULL CHECK (format IN ('csv', 'xlsx')),
    encoding     text,
    delimiter    text,
    size_bytes   bigint      NOT NULL,
    sha256       text        NOT NULL,
    -- The job's file key, wrapped; NULL once the job has ended.
    file_key     bytea,
    -- The heading line (0-based) and each column's key (its column's name, an office's own
    -- heading, or '' for a blank one), as found when the file was taken.
    heading_line integer     NOT NULL,
    headings     text[]      NOT NULL,
    keys         text[]      NOT NULL,
    rows_total   integer     NOT NULL,
    -- 'staged' until the command that starts the job commits; the worker takes 'queued' and
    -- 'running' ones.
    status       text        NOT NULL CHECK (status IN ('staged', 'queued', 'running', 'completed', 'cancelled', 'failed')),
    -- The next line of the file (0-based) to read.
    cursor       integer     NOT NULL,
    rows_read    integer     NOT NULL DEFAULT 0,
    accepted     integer     NOT NULL DEFAULT 0,
    mutual_aid   integer     NOT NULL DEFAULT 0,
    rejected     integer     NOT NULL DEFAULT 0,
    failure      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    -- When this run started and how far it had read then, for the estimate of time left.
    run_started_at timestamptz,
    run_read_from  integer   NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX enrolment_imports_submitter ON enrolment_imports (submitter, created_at DESC);
CREATE INDEX enrolment_imports_open ON enrolment_imports (created_at) WHERE status IN ('queued', 'running');

-- The uploaded file, in order, each part sealed under the job's file key. Deleted when the job
-- ends (completed, cancelled or failed): the raw ID numbers it holds do not outlive the job.
CREATE TABLE enrolment_import_parts (
    job_id uuid    NOT NULL REFERENCES enrolment_imports ON DELETE CASCADE,
    part   integer NOT NULL,
    data   bytea   NOT NULL,
    PRIMARY KEY (job_id, part)
);

-- Each data row's outcome, for the result sheet: the row as sent with 姓名, 身份证号 and 手机号
-- masked. One row once: the key refuses a second recording of a row in the chunk's transaction.
CREATE TABLE enrolment_import_rows (
    job_id     uuid    NOT NULL REFERENCES enrolment_imports ON DELETE CASCADE,
    row_number integer NOT NULL,
    result     text    NOT NULL CHECK (result IN ('accepted', 'mutual_aid', 'rejected')),
    reason     text    NOT NULL,
    cells      text[]  NOT NULL,
    PRIMARY KEY (job_id, row_number)
);
