-- A job's own limit on the GPU time it may use (seconds; 0 = none), given at submit with
-- `time_limit`. The daemon also applies the user's `max_gpu_seconds` from its config; the
-- smaller of the two stops the job (E_QUOTA) at the end of the slice that crosses it.
ALTER TABLE jobs ADD COLUMN time_limit REAL NOT NULL DEFAULT 0;
