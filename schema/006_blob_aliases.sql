-- Blob addresses become the chunk tree (docs/storage.md "Blob addresses"): blobs stored
-- under their old name (one BLAKE2b-256 stream over the file) are re-addressed by the
-- daemon at start (daemon/store_readdress.c), each in one transaction that rewrites every
-- column naming it and records the old name here, so old names keep resolving.
CREATE TABLE blob_aliases (
    old TEXT PRIMARY KEY,                            -- the name before migration 006
    new TEXT NOT NULL                                -- the chunk-tree address of the same bytes
) WITHOUT ROWID;
CREATE INDEX blob_aliases_by_new ON blob_aliases (new);

-- One row while the re-addressing of the files is not finished (it resumes at each start).
CREATE TABLE blob_readdress_pending (one INTEGER PRIMARY KEY CHECK (one = 1));
INSERT INTO blob_readdress_pending VALUES (1);
