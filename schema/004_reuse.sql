-- Reuse of identical work (docs/storage.md "Job identity"). `identity` is the BLAKE2b-256
-- (64 hex digits) of the job's canonical identity encoding, set when every input has
-- resolved (NULL before, and for jobs recorded before this migration: never reused).
-- `reused_from` is the job whose outputs, metrics and hashes a reused job took (NULL when
-- it computed them). `reuse` is 0 for a job submitted with "reuse": false (--no-reuse):
-- it runs even when an identical job succeeded (its own results may be reused later).
ALTER TABLE jobs ADD COLUMN identity TEXT;
ALTER TABLE jobs ADD COLUMN reuse INTEGER NOT NULL DEFAULT 1 CHECK (reuse IN (0, 1));
ALTER TABLE jobs ADD COLUMN reused_from INTEGER;
CREATE INDEX jobs_by_identity ON jobs (identity, state, id) WHERE identity IS NOT NULL;
