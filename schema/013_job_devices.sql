-- The pool's devices in the job record (docs/storage.md "Devices"). Kept apart from
-- `jobs`, like job_origins, so the jobs table is unchanged.
-- job_devices: every device a job ran on (a split job: one row per part's device) and
-- its GPU seconds there, over all its runs (`dashi acct` sums them per device).
CREATE TABLE job_devices (
    job         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    device      INTEGER NOT NULL,            -- the pool index
    name        TEXT    NOT NULL,            -- the device's name when it last ran there
    gpu_seconds REAL    NOT NULL DEFAULT 0,  -- base + the current run's
    base        REAL    NOT NULL DEFAULT 0,  -- the runs before the current one (resumed jobs)
    PRIMARY KEY (job, device)
);
-- job_pins: the device a job was pinned to (submit's `device`), kept so that a queued job
-- re-queued at the daemon's start, or one resumed, keeps its pin.
CREATE TABLE job_pins (
    job    INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    device INTEGER NOT NULL                  -- the pool index
);
