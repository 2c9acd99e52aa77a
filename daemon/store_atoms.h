/* SPDX-License-Identifier: MIT */
/* Atoms, lineage edges and the conservation audit in SQLite (schema/002_atoms.sql).
 *
 * How they get there: an atoms job (GPU thread) may not touch SQLite, so it writes its
 * three tables as float64 .npy outputs with the column layouts below ("atoms", "lineage",
 * "atom_audit"), and the loop thread (the single writer) imports them with
 * store_atoms_import, the kind's on_succeeded (job.h), inside the transaction that records
 * the end (a savepoint: a failed import leaves no rows). The outputs also stay
 * downloadable with `dashi get`. */
#ifndef DASHI_STORE_ATOMS_H
#define DASHI_STORE_ATOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blobstore.h"
#include "errors.h"
#include "store.h"

/* Column layouts of the outputs (rows × columns, float64). Kinds and events are coded
 * by enum lineage_kind (lineage_thread.h): 0 continuation, 1 split, 2 merge, 3 birth, 4 death. */
enum { ATOMS_COL_STEP, ATOMS_COL_IDX, ATOMS_COL_SIGMA, ATOMS_COL_GAMMA, ATOMS_COL_CX, ATOMS_COL_CY, ATOMS_COL_EPS,
       ATOMS_COL_ORIENTATION, ATOMS_COL_ELONGATION, ATOMS_COL_CELLS, ATOMS_COLS };
enum { LINEAGE_COL_PARENT_STEP, LINEAGE_COL_PARENT_IDX, LINEAGE_COL_CHILD_STEP, LINEAGE_COL_CHILD_IDX,
       LINEAGE_COL_KIND, LINEAGE_COL_FRACTION, LINEAGE_COLS };
enum { AUDIT_COL_STEP, AUDIT_COL_IDX, AUDIT_COL_EVENT, AUDIT_COL_RESIDUAL, AUDIT_COL_SIGNED, AUDIT_COLS };

/* Imports the atoms/lineage/atom_audit outputs of atoms job `job` in one savepoint
 * (E_INTERNAL when it lacks one). Call inside a transaction (store_transaction). */
int store_atoms_import(struct store *st, const struct blobstore *bs, int64_t job, struct dashi_error *err);
/* Inserts rows given in the layouts above (import uses it; so do tests and benches). */
int store_atoms_insert(struct store *st, int64_t job, const double *atoms, size_t natoms, const double *lineage,
                       size_t nedges, const double *audit, size_t naudit, struct dashi_error *err);

/* A row's place in the order of its query, for paging (docs/protocol.md "Paging"): the
 * ordering columns, then the table's rowid where they could tie. A page holds the rows
 * after `after` (NULL: from the first), found through the tables' indexes without
 * reading the rows before it (a lineage walk excepted, see below). Rows are imported
 * once, when their job succeeds, and never change, so a key stays valid however long a
 * client pages. */
#define ROW_KEY_MAX 5
struct row_key {
    int64_t v[ROW_KEY_MAX];
};
/* Key lengths: atoms (step, idx); events (child_step, parent_idx, child_idx, rowid);
 * audit (step, idx, event as enum lineage_kind, rowid); a lineage walk (distance, then
 * the order of its direction, rowid). */
enum { ATOMS_KEY_LEN = 2, EVENTS_KEY_LEN = 4, AUDIT_KEY_LEN = 4, WALK_KEY_LEN = 5 };

struct atom_row {
    int64_t step, idx;
    int sigma;
    double gamma, cx, cy, eps, orientation, elongation;
    int64_t cells;
    struct row_key key;
};
struct lineage_row {
    int64_t parent_step, parent_idx, child_step, child_idx;
    int kind; /* enum lineage_kind */
    double fraction;
    struct row_key key;
};
struct audit_row {
    int64_t step, idx;
    int event; /* enum lineage_kind */
    double residual, signed_residual;
    struct row_key key;
};

/* Callbacks return non-zero to stop. */
typedef int (*atom_row_fn)(void *ctx, const struct atom_row *r);
typedef int (*lineage_row_fn)(void *ctx, const struct lineage_row *r);
typedef int (*audit_row_fn)(void *ctx, const struct audit_row *r);

/* Up to limit atoms after `after`, of one step (step >= 0) or of all steps (step < 0),
 * by (step, idx). */
int store_atoms_query(struct store *st, int64_t job, int64_t step, const struct row_key *after, uint64_t limit,
                      atom_row_fn cb, void *ctx, struct dashi_error *err);
/* Number of atom rows and of distinct steps of a job. */
int store_atoms_count(struct store *st, int64_t job, int64_t *atoms, int64_t *steps, struct dashi_error *err);
/* The atoms at step (count) and the nearest steps before and after it that hold atoms
 * (-1: none): for naming the tracked steps when a step is not one of them. */
struct atoms_near {
    int64_t count, below, above;
};
int store_atoms_near(struct store *st, int64_t job, int64_t step, struct atoms_near *near, struct dashi_error *err);
/* Up to limit edges after `after`, of one kind (NULL: all), by (child_step, parent_idx,
 * child_idx). */
int store_lineage_query(struct store *st, int64_t job, const char *kind, const struct row_key *after, uint64_t limit,
                        lineage_row_fn cb, void *ctx, struct dashi_error *err);
/* Totals per kind: edges and events (a split counts once per parent, a merge once per
 * child, the others once per edge). */
int store_lineage_totals(struct store *st, int64_t job,
                         int (*cb)(void *ctx, const char *kind, int64_t events, int64_t edges), void *ctx,
                         struct dashi_error *err);
/* The edges reachable from atom (step, idx) within depth edges, towards its descendants
 * (edges leaving each reached node, deaths included) or its ancestors (edges entering,
 * births included); ordered by distance, then step and indices; up to limit after
 * `after`. Each page walks again from the start atom (the walk is not stored). */
int store_lineage_walk(struct store *st, int64_t job, int64_t step, int64_t idx, bool ancestors, int64_t depth,
                       const struct row_key *after, uint64_t limit, lineage_row_fn cb, void *ctx,
                       struct dashi_error *err);
/* Up to limit audit rows after `after`, by (step, idx, event). */
int store_audit_query(struct store *st, int64_t job, const struct row_key *after, uint64_t limit, audit_row_fn cb,
                      void *ctx, struct dashi_error *err);
/* Per event: rows, Σ|residual|, max|residual|, Σ signed residual. */
int store_audit_summary(struct store *st, int64_t job,
                        int (*cb)(void *ctx, const char *event, int64_t rows, double sum_abs, double max_abs,
                                  double sum_signed),
                        void *ctx, struct dashi_error *err);

#endif
