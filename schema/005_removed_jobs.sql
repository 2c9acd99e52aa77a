-- Jobs removed with `rm` (docs/storage.md "Lifecycle"): the job's row and everything that
-- hangs off it (events, inputs/outputs, metrics, hashes, atoms) are deleted; this row is
-- the audit of the removal, and lets `show` say the job was removed rather than never was.
CREATE TABLE removed_jobs (
    id         INTEGER PRIMARY KEY,                  -- the removed job's id (never reused)
    kind       TEXT    NOT NULL,
    uid        INTEGER NOT NULL,                     -- the job's owner
    user       TEXT    NOT NULL,
    state      TEXT    NOT NULL,                     -- its state when removed
    removed_at REAL    NOT NULL,
    removed_by INTEGER NOT NULL                      -- uid of the caller (the owner or root)
);
