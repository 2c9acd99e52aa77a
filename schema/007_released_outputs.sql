-- Outputs released by a keep rule (docs/storage.md "Lifecycle", `keep`): an output kept
-- "until-consumed" is deleted once every job that consumed it has ended. Its job_blobs row
-- moves here, so that nothing counts it as a reference any more (gc, rm, acct, reuse) while
-- the record still says what it was, why it went and who consumed it.
CREATE TABLE released_outputs (
    job         INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,                    -- the output's name
    hash        TEXT    NOT NULL,                    -- the blob it was
    rule        TEXT    NOT NULL,                    -- the keep rule that released it: 'until-consumed'
    consumed_by INTEGER NOT NULL,                    -- the last consumer that ended (a job id)
    released_at REAL    NOT NULL,
    PRIMARY KEY (job, name)
) WITHOUT ROWID;
CREATE INDEX released_outputs_hash ON released_outputs (hash);
