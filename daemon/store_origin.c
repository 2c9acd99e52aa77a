/* SPDX-License-Identifier: MIT */
/* Imported jobs and their origins (store_origin.h). */
#include <stdio.h>
#include <string.h>

#include "store_origin.h"
#include "store_sql.h"

static int step_once(struct store *st, sqlite3_stmt *s, const char *what, struct dashi_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, what);
}

static void bind_text_opt(sqlite3_stmt *s, int i, const char *text)
{
    if (text && text[0])
        sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* store_job_insert records a job queued; an imported one is already over, at its own times. */
static int set_final(struct store *st, int64_t id, enum job_state state, double ended_at, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET state = ?2, ended_at = ?3 WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, job_state_name(state), -1, SQLITE_STATIC);
    if (ended_at > 0)
        sqlite3_bind_double(s, 3, ended_at);
    else
        sqlite3_bind_null(s, 3);
    return step_once(st, s, "an imported job's state", err);
}

/* The bundle's events (all, or all but its queued ones) after those the job has. */
static int insert_events(struct store *st, int64_t id, const struct job_import *imp, bool skip_queued,
                         struct dashi_error *err)
{
    for (size_t i = 0; i < imp->nevents; i++) {
        sqlite3_stmt *s;
        if (skip_queued && imp->events[i].state == JOB_QUEUED)
            continue;
        if (store_prepare(st, "INSERT INTO job_events (job, at, state, detail) VALUES (?1, ?2, ?3, ?4)", &s, err) < 0)
            return -1;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_double(s, 2, imp->events[i].at);
        sqlite3_bind_text(s, 3, job_state_name(imp->events[i].state), -1, SQLITE_STATIC);
        bind_text_opt(s, 4, imp->events[i].detail);
        if (step_once(st, s, "an imported job's event", err) < 0)
            return -1;
    }
    return 0;
}

/* The bundle's events replace the one the insert wrote: the job's history is where it ran. */
static int add_events(struct store *st, int64_t id, const struct job_import *imp, struct dashi_error *err)
{
    sqlite3_stmt *del;
    if (store_prepare(st, "DELETE FROM job_events WHERE job = ?1", &del, err) < 0)
        return -1;
    sqlite3_bind_int64(del, 1, id);
    if (step_once(st, del, "an imported job's events", err) < 0)
        return -1;
    return insert_events(st, id, imp, false, err);
}

static int set_origin(struct store *st, int64_t id, const struct job_origin *o, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "INSERT INTO job_origins (job, executor, imported_from, source_id, slurm_job_id, node) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, o->executor, -1, SQLITE_TRANSIENT);
    bind_text_opt(s, 3, o->imported_from);
    if (o->source_id > 0)
        sqlite3_bind_int64(s, 4, o->source_id);
    else
        sqlite3_bind_null(s, 4);
    bind_text_opt(s, 5, o->slurm_job_id);
    bind_text_opt(s, 6, o->node);
    return step_once(st, s, "a job's origin", err);
}

struct import_txn {
    struct store *st;
    struct job_import *imp;
    int64_t id;
};

static int add_parts(struct store *st, int64_t id, const struct job_import *imp, const char *only_role,
                     struct dashi_error *err)
{
    for (size_t i = 0; i < imp->nblobs; i++)
        if ((!only_role || strcmp(imp->blobs[i].role, only_role) == 0) &&
            store_job_blob_add(st, id, imp->blobs[i].role, imp->blobs[i].name, imp->blobs[i].hash, err) < 0)
            return -1;
    if ((imp->nmetrics && store_metrics_add(st, id, imp->metrics, imp->nmetrics, err) < 0) ||
        (imp->nhashes && store_hashes_add(st, id, imp->hashes, imp->nhashes, err) < 0))
        return -1;
    return 0;
}

static int import_in_txn(void *ctx, struct dashi_error *err)
{
    struct import_txn *t = ctx;
    struct job_import *imp = t->imp;
    enum job_state state = imp->row.state; /* the insert sets the row queued */
    if (store_job_insert(t->st, &imp->row, err) < 0)
        return -1;
    t->id = imp->row.id;
    imp->row.state = state;
    if (set_final(t->st, t->id, state, imp->row.ended_at, err) < 0 || add_events(t->st, t->id, imp, err) < 0 ||
        add_parts(t->st, t->id, imp, NULL, err) < 0)
        return -1;
    return set_origin(t->st, t->id, &imp->origin, err);
}

int store_job_import(struct store *st, struct job_import *imp, int64_t *id, struct dashi_error *err)
{
    struct import_txn t = {.st = st, .imp = imp};
    if (store_transaction(st, import_in_txn, &t, err) < 0)
        return -1;
    *id = t.id;
    return 0;
}

/* The outcome the bundle records, over the row the catalogue wrote at submission. */
static int set_outcome(struct store *st, int64_t id, const struct job_row *r, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "UPDATE jobs SET state = ?2, started_at = ?3, ended_at = ?4, device = ?5, driver = ?6, "
                      "step = ?7, total_steps = ?8, gpu_seconds = ?9, error_code = ?10, error_field = ?11, "
                      "error_message = ?12, checkpoint = ?13, checkpoint_step = ?14 WHERE id = ?1",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, job_state_name(r->state), -1, SQLITE_STATIC);
    const double times[] = {r->started_at, r->ended_at};
    for (int i = 0; i < 2; i++)
        if (times[i] > 0)
            sqlite3_bind_double(s, 3 + i, times[i]);
        else
            sqlite3_bind_null(s, 3 + i);
    sqlite3_bind_text(s, 5, r->device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, r->driver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 7, (int64_t)r->step);
    sqlite3_bind_int64(s, 8, (int64_t)r->total_steps);
    sqlite3_bind_double(s, 9, r->gpu_seconds);
    bind_text_opt(s, 10, r->error_code);
    bind_text_opt(s, 11, r->error_field);
    bind_text_opt(s, 12, r->error_message);
    bind_text_opt(s, 13, r->checkpoint);
    sqlite3_bind_int64(s, 14, (int64_t)r->checkpoint_step);
    return step_once(st, s, "a Slurm job's outcome", err);
}

static int import_into_txn(void *ctx, struct dashi_error *err)
{
    struct import_txn *t = ctx;
    /* its inputs and queued event were recorded at submission; the rest is what the node made */
    return set_outcome(t->st, t->id, &t->imp->row, err) || insert_events(t->st, t->id, t->imp, true, err) ||
                   add_parts(t->st, t->id, t->imp, "output", err) ||
                   store_job_origin_set(t->st, t->id, &t->imp->origin, err)
               ? -1
               : 0;
}

int store_job_import_into(struct store *st, int64_t id, struct job_import *imp, struct dashi_error *err)
{
    struct import_txn t = {.st = st, .imp = imp, .id = id};
    return store_transaction(st, import_into_txn, &t, err);
}

int store_job_origin_set(struct store *st, int64_t id, const struct job_origin *o, struct dashi_error *err)
{
    sqlite3_stmt *del;
    if (store_prepare(st, "DELETE FROM job_origins WHERE job = ?1", &del, err) < 0)
        return -1;
    sqlite3_bind_int64(del, 1, id);
    return step_once(st, del, "a job's origin", err) || set_origin(st, id, o, err) ? -1 : 0;
}

int store_slurm_active(struct store *st, int (*cb)(void *ctx, int64_t id, const struct job_origin *o), void *ctx,
                       struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT o.job, o.imported_from, o.slurm_job_id, o.node FROM job_origins o JOIN jobs j "
                      "ON j.id = o.job WHERE o.executor = 'slurm' AND j.state IN ('queued', 'running') ORDER BY o.job",
                      &s, err) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct job_origin o = {.executor = "slurm"};
        const unsigned char *cols[3] = {sqlite3_column_text(s, 1), sqlite3_column_text(s, 2), sqlite3_column_text(s, 3)};
        snprintf(o.imported_from, sizeof o.imported_from, "%s", cols[0] ? (const char *)cols[0] : "");
        snprintf(o.slurm_job_id, sizeof o.slurm_job_id, "%s", cols[1] ? (const char *)cols[1] : "");
        snprintf(o.node, sizeof o.node, "%s", cols[2] ? (const char *)cols[2] : "");
        if (cb(ctx, sqlite3_column_int64(s, 0), &o) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "the Slurm jobs in flight");
}

int store_job_runs_elsewhere(struct store *st, int64_t id, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT 1 FROM job_origins WHERE job = ?1 AND executor = 'slurm'", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "a job's origin");
}

static void copy_column(sqlite3_stmt *s, int col, char *out, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    snprintf(out, cap, "%s", v ? (const char *)v : "");
}

int store_job_origin_get(struct store *st, int64_t id, struct job_origin *o, struct dashi_error *err)
{
    memset(o, 0, sizeof *o);
    snprintf(o->executor, sizeof o->executor, "local");
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT executor, imported_from, source_id, slurm_job_id, node FROM job_origins WHERE job = ?1",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        copy_column(s, 0, o->executor, sizeof o->executor);
        copy_column(s, 1, o->imported_from, sizeof o->imported_from);
        o->source_id = sqlite3_column_int64(s, 2);
        copy_column(s, 3, o->slurm_job_id, sizeof o->slurm_job_id);
        copy_column(s, 4, o->node, sizeof o->node);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "a job's origin");
}
