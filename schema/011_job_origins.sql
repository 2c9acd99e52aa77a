-- Where a job ran when it did not run on this daemon's device (docs/storage.md "Bundles"):
-- a job imported from a result bundle (`dashi import`, or a Slurm job's bundle). A job
-- without a row here ran locally. Kept apart from `jobs` so the record of a local job
-- is unchanged.
CREATE TABLE job_origins (
    job           INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    executor      TEXT    NOT NULL,                   -- "local" (a bundle made by hand) or "slurm"
    imported_from TEXT,                               -- the bundle's directory, as the importer named it
    source_id     INTEGER,                            -- the job's id in the store that made the bundle
    slurm_job_id  TEXT,                               -- "1234" or "1234_5" (array task); NULL when none
    node          TEXT                                -- the host it ran on; NULL when unknown
);
