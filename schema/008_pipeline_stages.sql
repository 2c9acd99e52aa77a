-- Jobs made of stages (kind pipeline, docs/protocol.md "pipeline"): each stage is a job of its
-- own whose `parent` is the pipeline's id (NULL for every other job). The pipeline's state
-- follows its stages; `list` shows a pipeline as one row unless asked for its stages.
-- No foreign key: a pipeline's row is removed (rm) like any other, its stages keep its id.
ALTER TABLE jobs ADD COLUMN parent INTEGER;
CREATE INDEX jobs_by_parent ON jobs (parent, id) WHERE parent IS NOT NULL;
