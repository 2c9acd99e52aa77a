/* SPDX-License-Identifier: MIT */
/* Identity lookups and the record of a reused job (store_reuse.h). */
#include "store_reuse.h"
#include "store_sql.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>

/* Steps a statement that returns no rows and finalises it. */
static int run_done(struct store *st, sqlite3_stmt *s, const char *what, struct dashi_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, what);
}

int store_job_set_identity(struct store *st, int64_t id, const char *identity, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET identity = ?2 WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, identity, -1, SQLITE_TRANSIENT);
    return run_done(st, s, "storing a job's identity", err);
}

int store_job_forbid_reuse(struct store *st, int64_t id, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET reuse = 0 WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    return run_done(st, s, "storing a job's reuse setting", err);
}

int store_job_reuse_allowed(struct store *st, int64_t id, bool *allowed, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT reuse FROM jobs WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    *allowed = rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "id", "no job %" PRId64, id);
    return rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "reading a job's reuse setting");
}

/* Up to cap ids of the rows of s (its parameters bound but ?cap_param), into ids. */
static int collect_ids(struct store *st, sqlite3_stmt *s, int cap_param, int64_t *ids, size_t cap, size_t *n,
                       const char *what, struct dashi_error *err)
{
    *n = 0;
    sqlite3_bind_int64(s, cap_param, (sqlite3_int64)cap);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < cap)
        ids[(*n)++] = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, what);
}

int store_reuse_candidates(struct store *st, const char *identity, int64_t *ids, size_t cap, size_t *n,
                           struct dashi_error *err)
{
    *n = 0;
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT id FROM jobs WHERE identity = ?1 AND state = 'succeeded' AND reused_from IS NULL "
                      "AND NOT EXISTS (SELECT 1 FROM released_outputs r WHERE r.job = jobs.id) "
                      "ORDER BY id DESC LIMIT ?2",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, identity, -1, SQLITE_TRANSIENT);
    return collect_ids(st, s, 2, ids, cap, n, "looking up identical jobs", err);
}

int store_identical_in_flight(struct store *st, const char *identity, int64_t below, int64_t *ids, size_t cap,
                              size_t *n, struct dashi_error *err)
{
    *n = 0;
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT id FROM jobs WHERE identity = ?1 AND state IN ('queued', 'running') AND id < ?2 "
                      "ORDER BY id LIMIT ?3",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, identity, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, below);
    return collect_ids(st, s, 3, ids, cap, n, "looking up identical jobs in flight", err);
}

/* What a reused job copies from its original, each with ?1 = the new job, ?2 = the original.
 * Metrics include the summary scalars (step -1) that the job record shows. */
static const char *const copy_sql[] = {
    "INSERT INTO job_blobs (job, role, name, hash) SELECT ?1, role, name, hash FROM job_blobs "
    "WHERE job = ?2 AND role = 'output'",
    "INSERT INTO metrics (job, key, step, value) SELECT ?1, key, step, value FROM metrics WHERE job = ?2",
    "INSERT INTO hashes (job, traj, step, hash) SELECT ?1, traj, step, hash FROM hashes WHERE job = ?2",
    "INSERT INTO atoms (job, step, idx, sigma, gamma, cx, cy, eps, orientation, elongation, cells) "
    "SELECT ?1, step, idx, sigma, gamma, cx, cy, eps, orientation, elongation, cells FROM atoms WHERE job = ?2",
    "INSERT INTO lineage (job, parent_step, parent_idx, child_step, child_idx, kind, fraction) "
    "SELECT ?1, parent_step, parent_idx, child_step, child_idx, kind, fraction FROM lineage WHERE job = ?2",
    "INSERT INTO atom_audit (job, step, idx, event, residual, signed_residual) "
    "SELECT ?1, step, idx, event, residual, signed_residual FROM atom_audit WHERE job = ?2",
    NULL,
};

struct reuse_tx {
    struct store *st;
    int64_t id, original;
    double now;
};

static int copy_results(const struct reuse_tx *t, struct dashi_error *err)
{
    for (int i = 0; copy_sql[i]; i++) {
        sqlite3_stmt *s;
        if (store_prepare(t->st, copy_sql[i], &s, err) < 0)
            return -1;
        sqlite3_bind_int64(s, 1, t->id);
        sqlite3_bind_int64(s, 2, t->original);
        if (run_done(t->st, s, "copying the results of a reused job", err) < 0)
            return -1;
    }
    return 0;
}

/* The queued job becomes succeeded at once, with the original's device and progress. */
static int mark_reused(const struct reuse_tx *t, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(t->st,
                      "UPDATE jobs SET state = 'succeeded', started_at = ?3, ended_at = ?3, gpu_seconds = 0, "
                      "reused_from = ?2, device = o.device, driver = o.driver, step = o.step, "
                      "total_steps = o.total_steps, error_code = NULL, error_field = NULL, error_message = NULL "
                      "FROM (SELECT device, driver, step, total_steps FROM jobs WHERE id = ?2) AS o "
                      "WHERE id = ?1 AND state = 'queued'",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_bind_int64(s, 2, t->original);
    sqlite3_bind_double(s, 3, t->now);
    if (run_done(t->st, s, "recording a reused job", err) < 0)
        return -1;
    if (sqlite3_changes(t->st->db) != 1)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %" PRId64 " is no longer queued", t->id);
    char detail[64];
    snprintf(detail, sizeof detail, "reused the results of job %" PRId64, t->original);
    if (store_prepare(t->st, "INSERT INTO job_events (job, at, state, detail) VALUES (?1, ?2, 'succeeded', ?3)", &s,
                      err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_bind_double(s, 2, t->now);
    sqlite3_bind_text(s, 3, detail, -1, SQLITE_TRANSIENT);
    return run_done(t->st, s, "recording a reused job's event", err);
}

static int reuse_tx_fn(void *ctx, struct dashi_error *err)
{
    const struct reuse_tx *t = ctx;
    return copy_results(t, err) || mark_reused(t, err) ? -1 : 0;
}

int store_job_reuse(struct store *st, int64_t id, int64_t original, double now, struct dashi_error *err)
{
    struct reuse_tx t = {.st = st, .id = id, .original = original, .now = now};
    return store_transaction(st, reuse_tx_fn, &t, err);
}
