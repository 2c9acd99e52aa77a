-- dashid schema, version 1. Times are Unix seconds (REAL); NULL means "not yet".
-- Blob hashes are 64 lowercase hex digits (BLAKE2b-256 of the .npy file); they carry no
-- foreign key to blobs because outputs may be referenced before their metadata is recorded.

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after deletion
    kind            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed',
                                                      'cancelled', 'interrupted')),
    uid             INTEGER NOT NULL,
    user            TEXT    NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    private         INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    params_json     TEXT    NOT NULL,                  -- resolved parameters, for people and json_extract
    params_mp       BLOB    NOT NULL,                  -- the same as msgpack, re-validated on resume
    submitted_at    REAL    NOT NULL,
    started_at      REAL,
    ended_at        REAL,
    device          TEXT    NOT NULL DEFAULT '',
    driver          TEXT    NOT NULL DEFAULT '',
    precision       TEXT    NOT NULL DEFAULT '',
    mode            TEXT    NOT NULL DEFAULT '',
    step            INTEGER NOT NULL DEFAULT 0,
    total_steps     INTEGER NOT NULL DEFAULT 0,
    gpu_seconds     REAL    NOT NULL DEFAULT 0,
    mem_estimate    INTEGER NOT NULL DEFAULT 0,        -- device bytes
    error_code      TEXT,                              -- "E_DIVERGED" etc.; NULL when none
    error_field     TEXT,
    error_message   TEXT,
    checkpoint      TEXT,                              -- blob hash of the last checkpoint
    checkpoint_step INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_by_kind ON jobs (kind, id);
CREATE INDEX jobs_by_uid ON jobs (uid, id);

CREATE TABLE job_events (
    id     INTEGER PRIMARY KEY,
    job    INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at     REAL    NOT NULL,
    state  TEXT    NOT NULL,
    detail TEXT                                        -- the error, for failed/cancelled/interrupted
);
CREATE INDEX job_events_by_job ON job_events (job, id);

CREATE TABLE job_blobs (
    job  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    role TEXT    NOT NULL CHECK (role IN ('input', 'output')),
    name TEXT    NOT NULL,                             -- the argument or output name ("A", "z0", ...)
    hash TEXT    NOT NULL,
    PRIMARY KEY (job, role, name)
) WITHOUT ROWID;
CREATE INDEX job_blobs_by_hash ON job_blobs (hash); -- lineage: which jobs used or made a blob

CREATE TABLE blobs (
    hash       TEXT    PRIMARY KEY,
    dtype      TEXT    NOT NULL,                       -- "f8", "f4", "i8", "i4", "i2", "i1", "u1"
    shape      TEXT    NOT NULL,                       -- JSON array, "[654,654]"; "[]" for 0-d
    nbytes     INTEGER NOT NULL,                       -- data bytes
    size       INTEGER NOT NULL,                       -- file bytes (header + data)
    all_finite INTEGER NOT NULL CHECK (all_finite IN (0, 1)),
    uid        INTEGER NOT NULL,                       -- who stored it first
    created_at REAL    NOT NULL
) WITHOUT ROWID;

CREATE TABLE metrics (
    job   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key   TEXT    NOT NULL,
    step  INTEGER NOT NULL,                            -- -1 for a summary scalar
    value REAL,                                        -- NULL stands for NaN (SQLite has no NaN)
    PRIMARY KEY (job, key, step)
) WITHOUT ROWID;

CREATE TABLE hashes (
    job  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    traj INTEGER NOT NULL,
    step INTEGER NOT NULL,
    hash TEXT    NOT NULL,                             -- BLAKE2b-128, 32 lowercase hex digits
    PRIMARY KEY (job, traj, step)
) WITHOUT ROWID;
