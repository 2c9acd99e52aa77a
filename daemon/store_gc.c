/* SPDX-License-Identifier: MIT */
/* Queries of the store's lifecycle (store_gc.h). */
#include "store_gc.h"

#include <stdio.h>
#include <string.h>

#include "store_sql.h"

int store_rm_needed_by(struct store *st, int64_t id, int64_t *needer, char *name, size_t cap,
                       struct dashi_error *err)
{
    *needer = 0;
    name[0] = '\0';
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT c.job, c.name FROM job_blobs o JOIN job_blobs c ON c.hash = o.hash "
                      "WHERE o.job = ?1 AND o.role = 'output' AND c.role = 'input' AND c.job != ?1 "
                      "ORDER BY c.job LIMIT 1",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *needer = sqlite3_column_int64(s, 0);
        snprintf(name, cap, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "rm: consumers");
}

struct rm_tx {
    struct store *st;
    const struct job_row *row;
    uid_t by;
    double now;
};

static int rm_audit(struct rm_tx *t, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(t->st,
                      "INSERT INTO removed_jobs (id, kind, uid, user, state, removed_at, removed_by) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, t->row->id);
    sqlite3_bind_text(s, 2, t->row->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, t->row->uid);
    sqlite3_bind_text(s, 4, t->row->user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, job_state_name(t->row->state), -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 6, t->now);
    sqlite3_bind_int64(s, 7, t->by);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(t->st, err, "rm: audit");
}

/* Statements with the job id as ?1 and nothing to return. */
static int exec_for_job(struct store *st, const char *sql, int64_t id, const char *what, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, sql, &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, what);
}

static int rm_fn(void *ctx, struct dashi_error *err)
{
    struct rm_tx *t = ctx;
    int64_t id = t->row->id;
    return rm_audit(t, err) ||
                   exec_for_job(t->st,
                                "DELETE FROM blobs WHERE hash IN "
                                "(SELECT hash FROM job_blobs WHERE job = ?1 AND role = 'output') "
                                "AND NOT EXISTS (SELECT 1 FROM job_blobs b WHERE b.hash = blobs.hash AND b.job != ?1) "
                                "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.checkpoint = blobs.hash AND j.id != ?1)",
                                id, "rm: releasing outputs", err) ||
                   exec_for_job(t->st, "DELETE FROM jobs WHERE id = ?1", id, "rm: deleting the job", err)
               ? -1
               : 0;
}

int store_rm_job(struct store *st, const struct job_row *row, uid_t by, double now, struct dashi_error *err)
{
    struct rm_tx t = {st, row, by, now};
    return store_transaction(st, rm_fn, &t, err);
}

int store_gc_verdict(struct store *st, const char *hash, double upload_cutoff, enum gc_verdict *v,
                     struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT EXISTS (SELECT 1 FROM job_blobs WHERE hash = ?1) "
                      "OR EXISTS (SELECT 1 FROM jobs WHERE checkpoint = ?1), "
                      "(SELECT created_at FROM blobs WHERE hash = ?1)",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        bool referenced = sqlite3_column_int(s, 0) != 0;
        bool recorded = sqlite3_column_type(s, 1) != SQLITE_NULL;
        double created = sqlite3_column_double(s, 1);
        *v = referenced || (recorded && created >= upload_cutoff) ? GC_LIVE
             : recorded                                         ? GC_UPLOAD_EXPIRED
                                                                : GC_UNREFERENCED;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "gc: references");
}

int store_gc_forget(struct store *st, const char *hash, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "DELETE FROM blobs WHERE hash = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "gc: forgetting a blob");
}

int store_oldest_active_job(struct store *st, double *submitted_at, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT COALESCE(MIN(submitted_at), 0) FROM jobs WHERE state IN ('queued', 'running')", &s, err) < 0)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *submitted_at = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "gc: active jobs");
}

static int sum_for_uid(struct store *st, const char *sql, int64_t uid, uint64_t *out, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, sql, &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, uid);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "acct: bytes");
}

int store_user_bytes(struct store *st, int64_t uid, uint64_t *outputs, uint64_t *uploads, struct dashi_error *err)
{
    return sum_for_uid(st,
                       "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE hash IN "
                       "(SELECT b.hash FROM job_blobs b JOIN jobs j ON j.id = b.job "
                       "WHERE j.uid = ?1 AND b.role = 'output')",
                       uid, outputs, err) ||
                   sum_for_uid(st,
                               "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE uid = ?1 AND hash NOT IN "
                               "(SELECT b.hash FROM job_blobs b JOIN jobs j ON j.id = b.job "
                               "WHERE j.uid = ?1 AND b.role = 'output')",
                               uid, uploads, err)
               ? -1
               : 0;
}
