-- Filament atoms and their lineage (docs/numerics.md "Atoms and threads"),
-- filled by atoms jobs: the job writes its tables as .npy outputs (atoms, lineage,
-- atom_audit) and the daemon imports them here in one transaction when the job succeeds.
-- `step` is the frame index in the job's input (0-based), `idx` the atom's rank in its
-- frame (Γ descending, ties by the lower seed cell), so (job, step, idx) names an atom.

CREATE TABLE atoms (
    job         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    sigma       INTEGER NOT NULL CHECK (sigma IN (-1, 1)),
    gamma       REAL    NOT NULL,                  -- |Σ ω dx²| over the atom's cells
    cx          REAL    NOT NULL,                  -- centroid in [0, L), x = axis 1
    cy          REAL    NOT NULL,                  -- y = axis 0
    eps         REAL    NOT NULL,                  -- core radius from the second moment
    orientation REAL    NOT NULL,                  -- major axis angle, radians in (-π/2, π/2]
    elongation  REAL    NOT NULL,                  -- sqrt(λmax/λmin) >= 1
    cells       INTEGER NOT NULL,
    PRIMARY KEY (job, step, idx)
) WITHOUT ROWID;

-- One row per edge of the DAG, between consecutive processed frames. A birth has
-- parent_idx -1 (parent_step: the previous processed frame), a death child_idx -1
-- (child_step: the next one). fraction: see docs/numerics.md "Atoms and threads".
CREATE TABLE lineage (
    job         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    parent_step INTEGER NOT NULL,
    parent_idx  INTEGER NOT NULL,
    child_step  INTEGER NOT NULL,
    child_idx   INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('continuation', 'split', 'merge', 'birth', 'death')),
    fraction    REAL    NOT NULL
);
CREATE INDEX lineage_by_parent ON lineage (job, parent_step, parent_idx);
CREATE INDEX lineage_by_child ON lineage (job, child_step, child_idx);
CREATE INDEX lineage_by_kind ON lineage (job, kind, child_step);

-- Conservation audit per node: residual Γ_node − Σ transferred Γ of its parents, and the
-- same with signs (σΓ), attributed to the node's event (deaths: at the parent's step).
CREATE TABLE atom_audit (
    job             INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step            INTEGER NOT NULL,
    idx             INTEGER NOT NULL,
    event           TEXT    NOT NULL CHECK (event IN ('continuation', 'split', 'merge', 'birth', 'death')),
    residual        REAL    NOT NULL,
    signed_residual REAL    NOT NULL
);
CREATE INDEX atom_audit_by_node ON atom_audit (job, step, idx);
CREATE INDEX atom_audit_by_event ON atom_audit (job, event);
