/* SPDX-License-Identifier: MIT */
/* Atoms tables: bulk import of an atoms job's outputs and the queries behind the atoms,
 * lineage, events and audit ops. */
#include "store_atoms.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store_sql.h"
#include "lineage_thread.h"

/* A value of a float64 table that must be an integer code or index. */
static bool is_int(double v) { return isfinite(v) && v == floor(v) && fabs(v) < 9e15; }

static const char *kind_of(double code)
{
    if (!is_int(code) || code < 0 || code >= LINEAGE_KIND_COUNT)
        return NULL;
    return lineage_kind_name((enum lineage_kind)(int)code);
}

/* Steps one prepared insert and resets it for the next row. */
static int step_reset(struct store *st, sqlite3_stmt *s, struct dashi_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "insert");
}

int store_atoms_insert(struct store *st, int64_t job, const double *atoms, size_t natoms, const double *lineage,
                       size_t nedges, const double *audit, size_t naudit, struct dashi_error *err)
{
    sqlite3_stmt *sa = NULL, *sl = NULL, *su = NULL;
    int rc = -1;
    if (store_prepare(st,
                "INSERT INTO atoms (job, step, idx, sigma, gamma, cx, cy, eps, orientation, elongation, cells) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                &sa, err) ||
        store_prepare(st,
                "INSERT INTO lineage (job, parent_step, parent_idx, child_step, child_idx, kind, fraction) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &sl, err) ||
        store_prepare(st,
                "INSERT INTO atom_audit (job, step, idx, event, residual, signed_residual) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &su, err))
        goto out;
    for (size_t r = 0; r < natoms; r++) {
        const double *a = atoms + r * ATOMS_COLS;
        if (!is_int(a[ATOMS_COL_STEP]) || !is_int(a[ATOMS_COL_IDX]) || !is_int(a[ATOMS_COL_CELLS]) ||
            fabs(a[ATOMS_COL_SIGMA]) != 1) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "atoms", "atoms row %zu is malformed", r);
            goto out;
        }
        sqlite3_bind_int64(sa, 1, job);
        sqlite3_bind_int64(sa, 2, (sqlite3_int64)a[ATOMS_COL_STEP]);
        sqlite3_bind_int64(sa, 3, (sqlite3_int64)a[ATOMS_COL_IDX]);
        sqlite3_bind_int(sa, 4, (int)a[ATOMS_COL_SIGMA]);
        for (int c = ATOMS_COL_GAMMA; c <= ATOMS_COL_ELONGATION; c++)
            sqlite3_bind_double(sa, 5 + c - ATOMS_COL_GAMMA, a[c]);
        sqlite3_bind_int64(sa, 11, (sqlite3_int64)a[ATOMS_COL_CELLS]);
        if (step_reset(st, sa, err))
            goto out;
    }
    for (size_t r = 0; r < nedges; r++) {
        const double *e = lineage + r * LINEAGE_COLS;
        const char *kind = kind_of(e[LINEAGE_COL_KIND]);
        if (!kind || !is_int(e[0]) || !is_int(e[1]) || !is_int(e[2]) || !is_int(e[3])) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "lineage", "lineage row %zu is malformed", r);
            goto out;
        }
        sqlite3_bind_int64(sl, 1, job);
        for (int c = 0; c < 4; c++)
            sqlite3_bind_int64(sl, 2 + c, (sqlite3_int64)e[c]);
        sqlite3_bind_text(sl, 6, kind, -1, SQLITE_STATIC);
        sqlite3_bind_double(sl, 7, e[LINEAGE_COL_FRACTION]);
        if (step_reset(st, sl, err))
            goto out;
    }
    for (size_t r = 0; r < naudit; r++) {
        const double *u = audit + r * AUDIT_COLS;
        const char *event = kind_of(u[AUDIT_COL_EVENT]);
        if (!event || !is_int(u[AUDIT_COL_STEP]) || !is_int(u[AUDIT_COL_IDX])) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "atom_audit", "audit row %zu is malformed", r);
            goto out;
        }
        sqlite3_bind_int64(su, 1, job);
        sqlite3_bind_int64(su, 2, (sqlite3_int64)u[AUDIT_COL_STEP]);
        sqlite3_bind_int64(su, 3, (sqlite3_int64)u[AUDIT_COL_IDX]);
        sqlite3_bind_text(su, 4, event, -1, SQLITE_STATIC);
        sqlite3_bind_double(su, 5, u[AUDIT_COL_RESIDUAL]);
        sqlite3_bind_double(su, 6, u[AUDIT_COL_SIGNED]);
        if (step_reset(st, su, err))
            goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(sa);
    sqlite3_finalize(sl);
    sqlite3_finalize(su);
    return rc;
}

struct outputs {
    char atoms[DASHI_HASH_HEX + 1], lineage[DASHI_HASH_HEX + 1], audit[DASHI_HASH_HEX + 1];
};

static int output_cb(void *ctx, const char *name, const char *hash)
{
    struct outputs *o = ctx;
    char *dst = strcmp(name, "atoms") == 0 ? o->atoms : strcmp(name, "lineage") == 0 ? o->lineage
                                                      : strcmp(name, "atom_audit") == 0 ? o->audit : NULL;
    if (dst)
        snprintf(dst, DASHI_HASH_HEX + 1, "%s", hash);
    return 0;
}

/* Loads a rows × cols float64 table; an empty table may be stored as shape (0, cols). */
static int load_table(const struct blobstore *bs, const char *hash, const char *name, size_t cols, double **data,
                      size_t *rows, struct dashi_error *err)
{
    struct npy_info info;
    void *p = NULL;
    if (blobstore_load(bs, name, hash, &info, &p, err) != 0)
        return -1;
    if (info.dtype != NPY_F8 || info.ndim != 2 || info.shape[1] != cols) {
        free(p);
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "output %s is not a float64 table of %zu columns", name, cols);
    }
    *data = p;
    *rows = (size_t)info.shape[0];
    return 0;
}

int store_atoms_import(struct store *st, const struct blobstore *bs, int64_t job, struct dashi_error *err)
{
    struct outputs o = {0};
    if (store_job_blobs(st, job, "output", output_cb, &o, err) != 0)
        return -1;
    if (!o.atoms[0] || !o.lineage[0] || !o.audit[0])
        return dashi_fail(err, DASHI_E_INTERNAL, "", "atoms job %lld lacks its atoms/lineage/atom_audit outputs",
                          (long long)job);
    double *a = NULL, *l = NULL, *u = NULL;
    size_t na = 0, nl = 0, nu = 0;
    int rc = -1;
    if (load_table(bs, o.atoms, "atoms", ATOMS_COLS, &a, &na, err) ||
        load_table(bs, o.lineage, "lineage", LINEAGE_COLS, &l, &nl, err) ||
        load_table(bs, o.audit, "atom_audit", AUDIT_COLS, &u, &nu, err))
        goto out;
    if (store_exec(st, "SAVEPOINT atoms_import", err) != 0)
        goto out;
    if (store_atoms_insert(st, job, a, na, l, nl, u, nu, err) != 0) {
        struct dashi_error ignored;
        store_exec(st, "ROLLBACK TO atoms_import", &ignored);
        store_exec(st, "RELEASE atoms_import", &ignored);
        goto out;
    }
    rc = store_exec(st, "RELEASE atoms_import", err);
out:
    free(a);
    free(l);
    free(u);
    return rc;
}

/* ---- queries ----
 * Every query is prepared with query_job (:job) or, when it returns a page, query_page
 * (:job, :limit, and the key :k0.. of the row the page follows; on the first page the
 * smallest key, before every row), stepped by its caller, and ended with finish. A page's
 * condition is a row-value comparison with the key plus, where the order's first column
 * leads an index, that column >= :k0, so the search starts at the cursor: no row before
 * it is read. */

static int bind_i64(struct store *st, sqlite3_stmt *s, const char *name, int64_t v, struct dashi_error *err)
{
    int at = sqlite3_bind_parameter_index(s, name);
    if (at == 0) /* a parameter this query does not use */
        return 0;
    return sqlite3_bind_int64(s, at, v) == SQLITE_OK ? 0 : store_db_fail(st, err, "bind");
}

static int bind_text(struct store *st, sqlite3_stmt *s, const char *name, const char *v, struct dashi_error *err)
{
    int at = sqlite3_bind_parameter_index(s, name);
    if (at == 0)
        return 0;
    int rc = v ? sqlite3_bind_text(s, at, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, at);
    return rc == SQLITE_OK ? 0 : store_db_fail(st, err, "bind");
}

static int finish(struct store *st, sqlite3_stmt *s, int rc, struct dashi_error *err)
{
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "query");
    sqlite3_finalize(s);
    return out;
}

/* rc of binding parameters; on failure the statement is finalized. */
static int bound(sqlite3_stmt *s, int rc)
{
    if (rc != 0)
        sqlite3_finalize(s);
    return rc;
}

static int query_job(struct store *st, const char *sql, int64_t job, sqlite3_stmt **s, struct dashi_error *err)
{
    if (store_prepare(st, sql, s, err))
        return -1;
    return bound(*s, bind_i64(st, *s, ":job", job, err));
}

static int query_page(struct store *st, const char *sql, int64_t job, const struct row_key *after, uint64_t limit,
                      sqlite3_stmt **s, struct dashi_error *err)
{
    if (query_job(st, sql, job, s, err))
        return -1;
    int rc = bind_i64(st, *s, ":limit", limit > INT64_MAX ? INT64_MAX : (int64_t)limit, err);
    static const char *const key_names[ROW_KEY_MAX] = {":k0", ":k1", ":k2", ":k3", ":k4"};
    for (int k = 0; k < ROW_KEY_MAX && rc == 0; k++)
        rc = bind_i64(st, *s, key_names[k], after ? after->v[k] : INT64_MIN, err);
    return bound(*s, rc);
}

/* Columns first..first+n-1 of the current row as a key. */
static void read_key(sqlite3_stmt *s, int first, int n, struct row_key *key)
{
    memset(key, 0, sizeof *key);
    for (int k = 0; k < n; k++)
        key->v[k] = sqlite3_column_int64(s, first + k);
}

/* The six edge columns of lineage, then the key. */
#define EDGE_COLS "l.parent_step, l.parent_idx, l.child_step, l.child_idx, l.kind, l.fraction"

static void read_edge(sqlite3_stmt *s, int key_len, struct lineage_row *r)
{
    r->parent_step = sqlite3_column_int64(s, 0);
    r->parent_idx = sqlite3_column_int64(s, 1);
    r->child_step = sqlite3_column_int64(s, 2);
    r->child_idx = sqlite3_column_int64(s, 3);
    r->kind = lineage_kind_from_name((const char *)sqlite3_column_text(s, 4));
    r->fraction = sqlite3_column_double(s, 5);
    read_key(s, 6, key_len, &r->key);
}

int store_atoms_query(struct store *st, int64_t job, int64_t step, const struct row_key *after, uint64_t limit,
                      atom_row_fn cb, void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (query_page(st,
                   "SELECT step, idx, sigma, gamma, cx, cy, eps, orientation, elongation, cells FROM atoms "
                   "WHERE job = :job AND (:step < 0 OR step = :step) AND (step, idx) > (:k0, :k1) "
                   "ORDER BY step, idx LIMIT :limit",
                   job, after, limit, &s, err) ||
        bound(s, bind_i64(st, s, ":step", step, err)))
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct atom_row r = {.step = sqlite3_column_int64(s, 0), .idx = sqlite3_column_int64(s, 1),
                             .sigma = sqlite3_column_int(s, 2), .gamma = sqlite3_column_double(s, 3),
                             .cx = sqlite3_column_double(s, 4), .cy = sqlite3_column_double(s, 5),
                             .eps = sqlite3_column_double(s, 6), .orientation = sqlite3_column_double(s, 7),
                             .elongation = sqlite3_column_double(s, 8), .cells = sqlite3_column_int64(s, 9)};
        read_key(s, 0, ATOMS_KEY_LEN, &r.key);
        if (cb(ctx, &r))
            break;
    }
    return finish(st, s, rc, err);
}

int store_atoms_count(struct store *st, int64_t job, int64_t *atoms, int64_t *steps, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (query_job(st, "SELECT count(*), count(DISTINCT step) FROM atoms WHERE job = :job", job, &s, err))
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *atoms = sqlite3_column_int64(s, 0);
        *steps = sqlite3_column_int64(s, 1);
    }
    return finish(st, s, rc, err);
}

int store_atoms_near(struct store *st, int64_t job, int64_t step, struct atoms_near *near, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (query_job(st,
                  "SELECT (SELECT count(*) FROM atoms WHERE job = :job AND step = :step),"
                  " (SELECT max(step) FROM atoms WHERE job = :job AND step < :step),"
                  " (SELECT min(step) FROM atoms WHERE job = :job AND step > :step)",
                  job, &s, err))
        return -1;
    if (bound(s, bind_i64(st, s, ":step", step, err)))
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        near->count = sqlite3_column_int64(s, 0);
        near->below = sqlite3_column_type(s, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 1);
        near->above = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 2);
    }
    return finish(st, s, rc, err);
}

/* The rows of a lineage query, each with its key of key_len columns. */
static int each_edge(struct store *st, sqlite3_stmt *s, int key_len, lineage_row_fn cb, void *ctx,
                     struct dashi_error *err)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct lineage_row r;
        read_edge(s, key_len, &r);
        if (cb(ctx, &r))
            break;
    }
    return finish(st, s, rc, err);
}

int store_lineage_query(struct store *st, int64_t job, const char *kind, const struct row_key *after, uint64_t limit,
                        lineage_row_fn cb, void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (query_page(st,
                   "SELECT " EDGE_COLS ", l.child_step, l.parent_idx, l.child_idx, l.rowid FROM lineage l "
                   "WHERE l.job = :job AND (:kind IS NULL OR l.kind = :kind) AND l.child_step >= :k0 "
                   "  AND (l.child_step, l.parent_idx, l.child_idx, l.rowid) > (:k0, :k1, :k2, :k3) "
                   "ORDER BY l.child_step, l.parent_idx, l.child_idx, l.rowid LIMIT :limit",
                   job, after, limit, &s, err) ||
        bound(s, bind_text(st, s, ":kind", kind, err)))
        return -1;
    return each_edge(st, s, EVENTS_KEY_LEN, cb, ctx, err);
}

int store_lineage_totals(struct store *st, int64_t job,
                         int (*cb)(void *ctx, const char *kind, int64_t events, int64_t edges), void *ctx,
                         struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (query_job(st,
                  "SELECT kind, CASE kind "
                  "  WHEN 'split' THEN count(DISTINCT parent_step * 4294967296 + parent_idx) "
                  "  WHEN 'merge' THEN count(DISTINCT child_step * 4294967296 + child_idx) "
                  "  ELSE count(*) END, count(*) "
                  "FROM lineage WHERE job = :job GROUP BY kind ORDER BY kind",
                  job, &s, err))
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2)))
            break;
    return finish(st, s, rc, err);
}

int store_lineage_walk(struct store *st, int64_t job, int64_t step, int64_t idx, bool ancestors, int64_t depth,
                       const struct row_key *after, uint64_t limit, lineage_row_fn cb, void *ctx,
                       struct dashi_error *err)
{
    /* Recursive walk over the indexed edges; the distance of a node is fixed by its step
     * (edges join consecutive frames), so UNION visits each node once. The key is the
     * order: distance, then (down) parent step and index, child index, or (up) child
     * step descending, child index, parent index; the rowid last. */
    static const char *const down =
        "WITH RECURSIVE reach(step, idx, d) AS (SELECT :step, :idx, 0 UNION "
        "  SELECT l.child_step, l.child_idx, r.d + 1 FROM lineage l JOIN reach r "
        "  ON l.job = :job AND l.parent_step = r.step AND l.parent_idx = r.idx "
        "  WHERE r.d + 1 < :depth AND l.child_idx >= 0) "
        "SELECT " EDGE_COLS ", r.d, l.parent_step, l.parent_idx, l.child_idx, l.rowid "
        "FROM lineage l JOIN reach r ON l.job = :job AND l.parent_step = r.step AND l.parent_idx = r.idx "
        "WHERE (r.d, l.parent_step, l.parent_idx, l.child_idx, l.rowid) > (:k0, :k1, :k2, :k3, :k4) "
        "ORDER BY r.d, l.parent_step, l.parent_idx, l.child_idx, l.rowid LIMIT :limit";
    static const char *const up =
        "WITH RECURSIVE reach(step, idx, d) AS (SELECT :step, :idx, 0 UNION "
        "  SELECT l.parent_step, l.parent_idx, r.d + 1 FROM lineage l JOIN reach r "
        "  ON l.job = :job AND l.child_step = r.step AND l.child_idx = r.idx "
        "  WHERE r.d + 1 < :depth AND l.parent_idx >= 0) "
        "SELECT " EDGE_COLS ", r.d, -l.child_step, l.child_idx, l.parent_idx, l.rowid "
        "FROM lineage l JOIN reach r ON l.job = :job AND l.child_step = r.step AND l.child_idx = r.idx "
        "WHERE (r.d, -l.child_step, l.child_idx, l.parent_idx, l.rowid) > (:k0, :k1, :k2, :k3, :k4) "
        "ORDER BY r.d, -l.child_step, l.child_idx, l.parent_idx, l.rowid LIMIT :limit";
    sqlite3_stmt *s;
    if (query_page(st, ancestors ? up : down, job, after, limit, &s, err) ||
        bound(s, bind_i64(st, s, ":step", step, err) || bind_i64(st, s, ":idx", idx, err) ||
                     bind_i64(st, s, ":depth", depth, err)))
        return -1;
    return each_edge(st, s, WALK_KEY_LEN, cb, ctx, err);
}

int store_audit_query(struct store *st, int64_t job, const struct row_key *after, uint64_t limit, audit_row_fn cb,
                      void *ctx, struct dashi_error *err)
{
    /* Ordered by the event's name, so the key's event (a code) is compared as its name
     * ("" on the first page: before every name; NULL for no kind: no row ties with it). */
    const char *event = !after ? ""
                        : after->v[2] >= 0 && after->v[2] < LINEAGE_KIND_COUNT
                            ? lineage_kind_name((enum lineage_kind)after->v[2])
                            : NULL;
    sqlite3_stmt *s;
    if (query_page(st,
                   "SELECT step, idx, event, residual, signed_residual, rowid FROM atom_audit WHERE job = :job "
                   "AND step >= :k0 AND (step, idx, event, rowid) > (:k0, :k1, :event, :k3) "
                   "ORDER BY step, idx, event, rowid LIMIT :limit",
                   job, after, limit, &s, err) ||
        bound(s, bind_text(st, s, ":event", event, err)))
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct audit_row r = {.step = sqlite3_column_int64(s, 0), .idx = sqlite3_column_int64(s, 1),
                              .event = lineage_kind_from_name((const char *)sqlite3_column_text(s, 2)),
                              .residual = sqlite3_column_double(s, 3), .signed_residual = sqlite3_column_double(s, 4)};
        r.key = (struct row_key){{r.step, r.idx, r.event, sqlite3_column_int64(s, 5)}};
        if (cb(ctx, &r))
            break;
    }
    return finish(st, s, rc, err);
}

int store_audit_summary(struct store *st, int64_t job,
                        int (*cb)(void *ctx, const char *event, int64_t rows, double sum_abs, double max_abs,
                                  double sum_signed),
                        void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (query_job(st,
                  "SELECT event, count(*), total(abs(residual)), max(abs(residual)), total(signed_residual) "
                  "FROM atom_audit WHERE job = :job GROUP BY event ORDER BY event",
                  job, &s, err))
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_double(s, 2),
               sqlite3_column_double(s, 3), sqlite3_column_double(s, 4)))
            break;
    return finish(st, s, rc, err);
}
