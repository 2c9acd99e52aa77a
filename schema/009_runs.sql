-- Runs you can name and find (docs/protocol.md "Names, tags, notes and groups"): a job's
-- optional name, the group a sweep made it in, its tags and its notes. Shared by every
-- kind: they describe the run, not its computation (a job's identity for reuse ignores
-- them). Bounds are the protocol's (names 128 bytes, 32 tags of 64 bytes, 64 notes of
-- 4 KiB per job, 1000 runs per sweep), checked by the daemon before anything is stored.
CREATE TABLE job_groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    name       TEXT,                               -- the sweep's --name; NULL when none
    kind       TEXT    NOT NULL,
    uid        INTEGER NOT NULL,                   -- who made it (its runs are that user's)
    vary_json  TEXT    NOT NULL,                   -- {"seed": [0, 1, 2], ...}: the varied parameters
    created_at REAL    NOT NULL
);
CREATE INDEX job_groups_by_name ON job_groups (name, id);

ALTER TABLE jobs ADD COLUMN name TEXT;                                      -- NULL when none
ALTER TABLE jobs ADD COLUMN group_id INTEGER REFERENCES job_groups (id);    -- NULL when none
CREATE INDEX jobs_by_name ON jobs (name, id) WHERE name IS NOT NULL;
CREATE INDEX jobs_by_group ON jobs (group_id, id) WHERE group_id IS NOT NULL;

CREATE TABLE job_tags (
    job INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    tag TEXT    NOT NULL,
    PRIMARY KEY (job, tag)
) WITHOUT ROWID;
CREATE INDEX job_tags_by_tag ON job_tags (tag, job);

CREATE TABLE job_notes (
    id   INTEGER PRIMARY KEY,
    job  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at   REAL    NOT NULL,
    uid  INTEGER NOT NULL,                             -- who wrote it (the owner or root)
    text TEXT    NOT NULL
);
CREATE INDEX job_notes_by_job ON job_notes (job, id);
