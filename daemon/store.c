/* SPDX-License-Identifier: MIT */
/* The SQLite store: one connection owned by the daemon's loop thread. Every multi-row
 * change runs in one transaction (a savepoint when the caller already opened one), so a
 * crash leaves either all of it or none. Schema in schema/NNN_*.sql (docs/storage.md). */
#include "store.h"
#include "store_sql.h"

#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "store_filter.h"

static const char *const state_names[JOB_STATE_COUNT] = {
    [JOB_QUEUED] = "queued",       [JOB_RUNNING] = "running",     [JOB_SUCCEEDED] = "succeeded",
    [JOB_FAILED] = "failed",       [JOB_CANCELLED] = "cancelled", [JOB_INTERRUPTED] = "interrupted",
};

const char *job_state_name(enum job_state s)
{
    return (unsigned)s < JOB_STATE_COUNT ? state_names[s] : "unknown";
}

int job_state_from_name(const char *name)
{
    for (int s = 0; s < JOB_STATE_COUNT; s++)
        if (name && strcmp(name, state_names[s]) == 0)
            return s;
    return -1;
}

bool job_state_is_final(enum job_state s)
{
    return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
}

void job_row_free(struct job_row *row)
{
    free(row->params_json);
    free(row->params_mp);
    row->params_json = NULL;
    row->params_mp = NULL;
    row->params_mp_len = 0;
}

/* ---- small helpers ---- */

int store_db_fail(struct store *st, struct dashi_error *err, const char *what)
{
    return dashi_fail(err, DASHI_E_DB, "", "%s: %s", what, sqlite3_errmsg(st->db));
}

int store_exec(struct store *st, const char *sql, struct dashi_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        dashi_fail(err, DASHI_E_DB, "", "%s: %s", sql, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt, struct dashi_error *err)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        *stmt = NULL;
        return store_db_fail(st, err, "prepare");
    }
    return 0;
}

/* Runs a statement that returns no rows and finalizes it. */
static int step_done(struct store *st, sqlite3_stmt *stmt, struct dashi_error *err)
{
    int rc = sqlite3_step(stmt);
    int out = rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "step");
    sqlite3_finalize(stmt);
    return out;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, i);
}

static void bind_time(sqlite3_stmt *stmt, int i, double t)
{
    if (t != 0)
        sqlite3_bind_double(stmt, i, t);
    else
        sqlite3_bind_null(stmt, i);
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *stmt, int col)
{
    const unsigned char *s = sqlite3_column_text(stmt, col);
    snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

/* A transaction that nests: BEGIN IMMEDIATE at the outside, a savepoint inside. */
struct txn {
    bool outer;
};

static int txn_begin(struct store *st, struct txn *t, struct dashi_error *err)
{
    t->outer = sqlite3_get_autocommit(st->db) != 0;
    return store_exec(st, t->outer ? "BEGIN IMMEDIATE" : "SAVEPOINT nested", err);
}

static int txn_commit(struct store *st, struct txn *t, struct dashi_error *err)
{
    return store_exec(st, t->outer ? "COMMIT" : "RELEASE nested", err);
}

static void txn_rollback(struct store *st, struct txn *t)
{
    sqlite3_exec(st->db, t->outer ? "ROLLBACK" : "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
}

int store_transaction(struct store *st, int (*fn)(void *ctx, struct dashi_error *err), void *ctx,
                      struct dashi_error *err)
{
    struct txn t;
    if (txn_begin(st, &t, err) < 0)
        return -1;
    if (fn(ctx, err) < 0) {
        txn_rollback(st, &t);
        return -1;
    }
    if (txn_commit(st, &t, err) < 0) {
        txn_rollback(st, &t);
        return -1;
    }
    return 0;
}

/* ---- opening and migrations ---- */

int store_schema_version(struct store *st)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    int v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return v;
}

static int set_journal_wal(struct store *st, struct dashi_error *err)
{
    sqlite3_stmt *stmt;
    if (store_prepare(st, "PRAGMA journal_mode=WAL", &stmt, err) < 0)
        return -1;
    int rc = sqlite3_step(stmt);
    const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
    bool wal = mode && strcmp((const char *)mode, "wal") == 0;
    int out = wal ? 0 : dashi_fail(err, DASHI_E_DB, "", "cannot switch the database to WAL mode (%s)",
                                   mode ? (const char *)mode : sqlite3_errmsg(st->db));
    sqlite3_finalize(stmt);
    return out;
}

static int migrate(struct store *st, struct dashi_error *err)
{
    int current = store_schema_version(st);
    if (current < 0)
        return store_db_fail(st, err, "cannot read the schema version");
    int newest = 0;
    for (const struct schema_migration *m = schema_migrations; m->sql; m++)
        newest = m->version > newest ? m->version : newest;
    if (current > newest)
        return dashi_fail(err, DASHI_E_DB, "",
                          "the database has schema version %d but this dashid knows only up to %d: "
                          "it was written by a newer dashid (upgrade dashid, or use another state directory)",
                          current, newest);
    for (const struct schema_migration *m = schema_migrations; m->sql; m++) {
        if (m->version <= current)
            continue;
        char *msg = NULL;
        char pragma[48];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->version);
        if (store_exec(st, "BEGIN IMMEDIATE", err) < 0)
            return -1;
        if (sqlite3_exec(st->db, m->sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, pragma, NULL, NULL, &msg) != SQLITE_OK) {
            dashi_fail(err, DASHI_E_DB, "", "migration %s failed: %s", m->file,
                       msg ? msg : sqlite3_errmsg(st->db));
            sqlite3_free(msg);
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (store_exec(st, "COMMIT", err) < 0) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        current = m->version;
    }
    return 0;
}

int store_open(struct store *st, const char *path, struct dashi_error *err)
{
    st->db = NULL;
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        dashi_fail(err, DASHI_E_DB, "", "cannot open database %s: %s", path,
                   st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        store_close(st);
        return -1;
    }
    sqlite3_extended_result_codes(st->db, 1);
    if (sqlite3_busy_timeout(st->db, 5000) != SQLITE_OK) {
        store_db_fail(st, err, "cannot set the busy timeout");
        store_close(st);
        return -1;
    }
    if (set_journal_wal(st, err) < 0 || store_exec(st, "PRAGMA synchronous=NORMAL", err) < 0 ||
        store_exec(st, "PRAGMA foreign_keys=ON", err) < 0 || migrate(st, err) < 0) {
        store_close(st);
        return -1;
    }
    return 0;
}

void store_close(struct store *st)
{
    if (st->db)
        sqlite3_close(st->db);
    st->db = NULL;
}

/* ---- jobs ---- */

#define JOB_COLUMNS                                                                                      \
    "id, kind, state, uid, user, priority, private, params_json, params_mp, submitted_at, started_at, "  \
    "ended_at, device, driver, precision, mode, step, total_steps, gpu_seconds, mem_estimate, "         \
    "error_code, error_field, error_message, checkpoint, checkpoint_step, time_limit, reused_from, parent"

static int row_from_stmt(struct store *st, sqlite3_stmt *s, struct job_row *row, struct dashi_error *err)
{
    memset(row, 0, sizeof *row);
    row->id = sqlite3_column_int64(s, 0);
    copy_text(row->kind, sizeof row->kind, s, 1);
    int state = job_state_from_name((const char *)sqlite3_column_text(s, 2));
    if (state < 0)
        return dashi_fail(err, DASHI_E_DB, "", "job %" PRId64 " has an unknown state", row->id);
    row->state = (enum job_state)state;
    row->uid = (uid_t)sqlite3_column_int64(s, 3);
    copy_text(row->user, sizeof row->user, s, 4);
    row->priority = sqlite3_column_int(s, 5);
    row->is_private = sqlite3_column_int(s, 6) != 0;

    const unsigned char *json = sqlite3_column_text(s, 7);
    row->params_json = strdup(json ? (const char *)json : "");
    int mp_len = sqlite3_column_bytes(s, 8);
    const void *mp = sqlite3_column_blob(s, 8);
    row->params_mp = malloc(mp_len > 0 ? (size_t)mp_len : 1);
    if (!row->params_json || !row->params_mp) {
        job_row_free(row);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    if (mp_len > 0)
        memcpy(row->params_mp, mp, (size_t)mp_len);
    row->params_mp_len = (size_t)mp_len;

    row->submitted_at = sqlite3_column_double(s, 9);
    row->started_at = sqlite3_column_double(s, 10); /* NULL reads as 0 */
    row->ended_at = sqlite3_column_double(s, 11);
    copy_text(row->device, sizeof row->device, s, 12);
    copy_text(row->driver, sizeof row->driver, s, 13);
    copy_text(row->precision, sizeof row->precision, s, 14);
    copy_text(row->mode, sizeof row->mode, s, 15);
    row->step = (uint64_t)sqlite3_column_int64(s, 16);
    row->total_steps = (uint64_t)sqlite3_column_int64(s, 17);
    row->gpu_seconds = sqlite3_column_double(s, 18);
    row->mem_estimate = (uint64_t)sqlite3_column_int64(s, 19);
    copy_text(row->error_code, sizeof row->error_code, s, 20);
    copy_text(row->error_field, sizeof row->error_field, s, 21);
    copy_text(row->error_message, sizeof row->error_message, s, 22);
    copy_text(row->checkpoint, sizeof row->checkpoint, s, 23);
    row->checkpoint_step = (uint64_t)sqlite3_column_int64(s, 24);
    row->time_limit = sqlite3_column_double(s, 25);
    row->reused_from = sqlite3_column_int64(s, 26); /* NULL reads as 0 */
    row->parent = sqlite3_column_int64(s, 27);      /* NULL reads as 0 */
    (void)st;
    return 0;
}

static int add_event(struct store *st, int64_t id, double at, enum job_state state, const char *detail,
                     struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "INSERT INTO job_events (job, at, state, detail) VALUES (?, ?, ?, ?)", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, at);
    sqlite3_bind_text(s, 3, job_state_name(state), -1, SQLITE_STATIC);
    bind_text_or_null(s, 4, detail);
    return step_done(st, s, err);
}

static int insert_job(struct store *st, struct job_row *row, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st,
                "INSERT INTO jobs (kind, state, uid, user, priority, private, params_json, params_mp, "
                "submitted_at, started_at, ended_at, device, driver, precision, mode, step, total_steps, "
                "gpu_seconds, mem_estimate, error_code, error_field, error_message, checkpoint, "
                "checkpoint_step, time_limit, parent) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ?)",
                &s, err) < 0)
        return -1;
    int i = 1;
    sqlite3_bind_text(s, i++, row->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)row->uid);
    sqlite3_bind_text(s, i++, row->user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, i++, row->priority);
    sqlite3_bind_int(s, i++, row->is_private ? 1 : 0);
    sqlite3_bind_text(s, i++, row->params_json, -1, SQLITE_TRANSIENT);
    /* A NULL pointer would bind SQL NULL: an empty map is still a (zero-length) blob. */
    sqlite3_bind_blob(s, i++, row->params_mp ? row->params_mp : "", (int)row->params_mp_len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_double(s, i++, row->submitted_at);
    bind_time(s, i++, row->started_at);
    bind_time(s, i++, row->ended_at);
    sqlite3_bind_text(s, i++, row->device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, i++, row->driver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, i++, row->precision, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, i++, row->mode, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)row->step);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)row->total_steps);
    sqlite3_bind_double(s, i++, row->gpu_seconds);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)row->mem_estimate);
    bind_text_or_null(s, i++, row->error_code);
    bind_text_or_null(s, i++, row->error_field);
    bind_text_or_null(s, i++, row->error_message);
    bind_text_or_null(s, i++, row->checkpoint);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)row->checkpoint_step);
    sqlite3_bind_double(s, i++, row->time_limit);
    if (row->parent > 0)
        sqlite3_bind_int64(s, i++, row->parent);
    else
        sqlite3_bind_null(s, i++);
    if (step_done(st, s, err) < 0)
        return -1;
    row->id = sqlite3_last_insert_rowid(st->db);
    row->state = JOB_QUEUED;
    return add_event(st, row->id, row->submitted_at, JOB_QUEUED, NULL, err);
}

int store_job_insert(struct store *st, struct job_row *row, struct dashi_error *err)
{
    if (!row->params_json)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "job row without params_json");
    if (row->params_mp_len > INT32_MAX)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "params", "job parameters are too large");
    struct txn t;
    if (txn_begin(st, &t, err) < 0)
        return -1;
    if (insert_job(st, row, err) < 0 || txn_commit(st, &t, err) < 0) {
        txn_rollback(st, &t);
        return -1;
    }
    return 0;
}

/* E_NOT_FOUND, or E_STATE when the job exists but is already final. */
static int explain_no_change(struct store *st, int64_t id, struct dashi_error *err)
{
    struct job_row row;
    if (store_job_get(st, id, &row, err) < 0)
        return -1;
    enum job_state s = row.state;
    job_row_free(&row);
    return dashi_fail(err, DASHI_E_STATE, "id", "job %" PRId64 " is already %s", id, job_state_name(s));
}

static int update_state(struct store *st, int64_t id, enum job_state state, double now,
                        const struct dashi_error *error, const char *note, struct dashi_error *err)
{
    /* Final states are final; leaving one is a bug in the caller, refused here so the
     * record cannot be rewritten. Entering queued/running clears the end of an earlier
     * attempt (a resumed job) and its error. */
    sqlite3_stmt *s;
    if (store_prepare(st,
                "UPDATE jobs SET state = ?2, "
                "started_at = CASE WHEN ?2 = 'running' THEN ?3 ELSE started_at END, "
                "ended_at = CASE WHEN ?2 IN ('queued', 'running') THEN NULL "
                "                WHEN ?2 IN ('succeeded', 'failed', 'cancelled', 'interrupted') THEN ?3 "
                "                ELSE ended_at END, "
                "error_code = ?4, error_field = ?5, error_message = ?6 "
                "WHERE id = ?1 AND state NOT IN ('succeeded', 'failed', 'cancelled')",
                &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, job_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, now);
    bind_text_or_null(s, 4, error ? dashi_code_name(error->code) : NULL);
    bind_text_or_null(s, 5, error ? error->field : NULL);
    bind_text_or_null(s, 6, error ? error->message : NULL);
    if (step_done(st, s, err) < 0)
        return -1;
    if (sqlite3_changes(st->db) == 0)
        return explain_no_change(st, id, err);
    char detail[sizeof error->message + 40];
    if (error)
        snprintf(detail, sizeof detail, "%s: %s", dashi_code_name(error->code), error->message);
    return add_event(st, id, now, state, error ? detail : note, err);
}

int store_job_set_state(struct store *st, int64_t id, enum job_state state, double now,
                        const struct dashi_error *error, struct dashi_error *err)
{
    return store_job_set_state_note(st, id, state, now, error, NULL, err);
}

int store_job_set_state_note(struct store *st, int64_t id, enum job_state state, double now,
                             const struct dashi_error *error, const char *note, struct dashi_error *err)
{
    if ((unsigned)state >= JOB_STATE_COUNT)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "bad job state %d", (int)state);
    struct txn t;
    if (txn_begin(st, &t, err) < 0)
        return -1;
    if (update_state(st, id, state, now, error, note, err) < 0 || txn_commit(st, &t, err) < 0) {
        txn_rollback(st, &t);
        return -1;
    }
    return 0;
}

/* Runs a one-row UPDATE whose first parameter is the job id; E_NOT_FOUND if no row. */
static int update_one(struct store *st, sqlite3_stmt *s, int64_t id, struct dashi_error *err)
{
    if (step_done(st, s, err) < 0)
        return -1;
    if (sqlite3_changes(st->db) == 0)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "id", "no job %" PRId64, id);
    return 0;
}

int store_job_set_params(struct store *st, int64_t id, const char *params_json, const void *params_mp,
                         size_t params_mp_len, uint64_t total_steps, uint64_t mem_estimate, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET params_json = ?2, params_mp = ?3, total_steps = ?4, mem_estimate = ?5 "
                          "WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, params_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, params_mp_len ? params_mp : "", (int)params_mp_len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)total_steps);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)mem_estimate);
    return update_one(st, s, id, err);
}

int store_job_set_device(struct store *st, int64_t id, const char *device, const char *driver,
                         const char *precision, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET device = ?2, driver = ?3, precision = ?4 WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, device ? device : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, driver ? driver : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, precision ? precision : "", -1, SQLITE_TRANSIENT);
    return update_one(st, s, id, err);
}

int store_job_set_progress(struct store *st, int64_t id, uint64_t step, uint64_t total_steps,
                           double gpu_seconds, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET step = ?2, total_steps = ?3, gpu_seconds = ?4 WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)step);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)total_steps);
    sqlite3_bind_double(s, 4, gpu_seconds);
    return update_one(st, s, id, err);
}

int store_blob_referenced(struct store *st, const char *hash, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT EXISTS (SELECT 1 FROM jobs WHERE checkpoint = ?1) "
                          "OR EXISTS (SELECT 1 FROM job_blobs WHERE hash = ?1) "
                          "OR EXISTS (SELECT 1 FROM blobs WHERE hash = ?1)", &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    int referenced = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) != 0 : store_db_fail(st, err, "step");
    sqlite3_finalize(s);
    return referenced;
}

int store_job_set_checkpoint(struct store *st, int64_t id, const char *hash, uint64_t step,
                             struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET checkpoint = ?2, checkpoint_step = ?3 WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    bind_text_or_null(s, 2, hash);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)step);
    return update_one(st, s, id, err);
}

int store_removed_get(struct store *st, int64_t id, double *at, int64_t *by, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT removed_at, removed_by FROM removed_jobs WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *at = sqlite3_column_double(s, 0);
        *by = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_db_fail(st, err, "removed job lookup");
    return rc == SQLITE_ROW;
}

/* E_NOT_FOUND for a job that is not there, saying so when it was removed (rm). */
static int job_absent(struct store *st, int64_t id, struct dashi_error *err)
{
    double at = 0;
    int64_t by = 0;
    if (store_removed_get(st, id, &at, &by, err) == 1)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "id", "job %" PRId64 " was removed (at %.0f, by uid %" PRId64 ")",
                          id, at, by);
    return dashi_fail(err, DASHI_E_NOT_FOUND, "id", "no job %" PRId64, id);
}

int store_job_get(struct store *st, int64_t id, struct job_row *row, struct dashi_error *err)
{
    memset(row, 0, sizeof *row);
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    int out;
    if (rc == SQLITE_ROW)
        out = row_from_stmt(st, s, row, err);
    else if (rc == SQLITE_DONE)
        out = job_absent(st, id, err);
    else
        out = store_db_fail(st, err, "job lookup");
    sqlite3_finalize(s);
    return out;
}

/* The statement "SELECT columns FROM jobs WHERE <f's conditions> tail", bound (?5 is the
 * limit, which only a tail may use). */
static int prepare_job_filter(struct store *st, const struct job_filter *f, const char *columns, const char *tail,
                              sqlite3_stmt **out, struct dashi_error *err)
{
    char sql[2048];
    int len = snprintf(sql, sizeof sql, "SELECT %s FROM jobs WHERE 1", columns);
    if (f->state >= 0)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND state = ?1");
    if (f->kind)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND kind = ?2");
    if (f->uid >= 0)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND uid = ?3");
    if (f->viewer != 0)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND (private = 0 OR uid = ?4)");
    if (f->before_id > 0)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND id < ?6");
    if (!f->stages)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND parent IS NULL");
    if (f->runs)
        len += runs_filter_sql(f->runs, 10, sql + len, sizeof sql - (size_t)len);
    if ((size_t)len + strlen(tail) >= sizeof sql)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "job list query too long");
    snprintf(sql + len, sizeof sql - (size_t)len, "%s", tail);

    sqlite3_stmt *s;
    if (store_prepare(st, sql, &s, err) < 0)
        return -1;
    if (f->state >= 0)
        sqlite3_bind_text(s, 1, job_state_name((enum job_state)f->state), -1, SQLITE_STATIC);
    if (f->kind)
        sqlite3_bind_text(s, 2, f->kind, -1, SQLITE_TRANSIENT);
    if (f->uid >= 0)
        sqlite3_bind_int64(s, 3, f->uid);
    if (f->viewer != 0)
        sqlite3_bind_int64(s, 4, (sqlite3_int64)f->viewer);
    uint64_t limit = f->limit ? f->limit : 100;
    sqlite3_bind_int64(s, 5, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    if (f->before_id > 0)
        sqlite3_bind_int64(s, 6, f->before_id);
    if (f->runs)
        runs_filter_bind(s, f->runs, 10);
    *out = s;
    return 0;
}

int store_job_list(struct store *st, const struct job_filter *f,
                   int (*cb)(void *ctx, const struct job_row *row), void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (prepare_job_filter(st, f, JOB_COLUMNS, " ORDER BY id DESC LIMIT ?5", &s, err) < 0)
        return -1;
    int rc, out = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct job_row row;
        if (row_from_stmt(st, s, &row, err) < 0) {
            out = -1;
            break;
        }
        int stop = cb(ctx, &row);
        job_row_free(&row);
        if (stop)
            break;
    }
    if (out == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = store_db_fail(st, err, "job list");
    sqlite3_finalize(s);
    return out;
}

int store_job_children(struct store *st, int64_t parent, int64_t *ids, size_t cap, size_t *n,
                       struct dashi_error *err)
{
    *n = 0;
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT id FROM jobs WHERE parent = ? ORDER BY id", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, parent);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < cap)
        ids[(*n)++] = sqlite3_column_int64(s, 0);
    int out = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "stages of a job");
    sqlite3_finalize(s);
    return out;
}

int store_job_count(struct store *st, const struct job_filter *f, uint64_t *n, struct dashi_error *err)
{
    struct job_filter all = *f;
    all.before_id = 0;
    sqlite3_stmt *s;
    if (prepare_job_filter(st, &all, "count(*)", "", &s, err) < 0)
        return -1;
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "job count");
}

int store_jobs_in_state(struct store *st, enum job_state state, int64_t **ids, size_t *n,
                        struct dashi_error *err)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT id FROM jobs WHERE state = ? ORDER BY id", &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, job_state_name(state), -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *grown = realloc(*ids, cap * sizeof **ids);
            if (!grown) {
                sqlite3_finalize(s);
                free(*ids);
                *ids = NULL;
                *n = 0;
                return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
            }
            *ids = grown;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return store_db_fail(st, err, "jobs in state");
    }
    return 0;
}

int store_job_events(struct store *st, int64_t id,
                     int (*cb)(void *ctx, double at, const char *state, const char *detail), void *ctx,
                     struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT at, state, detail FROM job_events WHERE job = ? ORDER BY id", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, sqlite3_column_double(s, 0), (const char *)sqlite3_column_text(s, 1),
               (const char *)sqlite3_column_text(s, 2)))
            break;
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "job events");
    sqlite3_finalize(s);
    return out;
}

int store_job_events_after(struct store *st, int64_t id, int64_t after, size_t limit,
                           int (*cb)(void *ctx, const struct job_event *ev), void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT id, at, state, detail FROM job_events WHERE job = ? AND id > ? ORDER BY id LIMIT ?",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct job_event ev = {sqlite3_column_int64(s, 0), sqlite3_column_double(s, 1),
                               (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3)};
        if (cb(ctx, &ev))
            break;
    }
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "job events");
    sqlite3_finalize(s);
    return out;
}

/* ---- inputs and outputs ---- */

int store_job_blob_add(struct store *st, int64_t id, const char *role, const char *name, const char *hash,
                       struct dashi_error *err)
{
    if (strcmp(role, "input") != 0 && strcmp(role, "output") != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "role", "blob role must be input or output, not %s", role);
    sqlite3_stmt *s;
    if (store_prepare(st, "INSERT OR REPLACE INTO job_blobs (job, role, name, hash) VALUES (?, ?, ?, ?)", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, hash, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE) {
        bool no_job = sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY;
        int out = no_job ? dashi_fail(err, DASHI_E_NOT_FOUND, "id", "no job %" PRId64, id)
                         : store_db_fail(st, err, "job blob");
        sqlite3_finalize(s);
        return out;
    }
    sqlite3_finalize(s);
    return 0;
}

int store_job_blobs(struct store *st, int64_t id, const char *role,
                    int (*cb)(void *ctx, const char *name, const char *hash), void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT name, hash FROM job_blobs WHERE job = ? AND role = ? ORDER BY name", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, role, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1)))
            break;
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "job blobs");
    sqlite3_finalize(s);
    return out;
}

/* ---- metrics and hashes: batches, one transaction each ---- */

/* Binds and steps one prepared insert per element; the statement is reused. */
static int insert_batch(struct store *st, const char *sql, int64_t id, const void *items, size_t n,
                        void (*bind)(sqlite3_stmt *s, const void *items, size_t i), struct dashi_error *err)
{
    if (n == 0)
        return 0;
    struct txn t;
    sqlite3_stmt *s;
    if (txn_begin(st, &t, err) < 0)
        return -1;
    if (store_prepare(st, sql, &s, err) < 0) {
        txn_rollback(st, &t);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s, 1, id);
        bind(s, items, i);
        if (sqlite3_step(s) != SQLITE_DONE) {
            bool no_job = sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY;
            if (no_job)
                dashi_fail(err, DASHI_E_NOT_FOUND, "id", "no job %" PRId64, id);
            else
                store_db_fail(st, err, "batch insert");
            sqlite3_finalize(s);
            txn_rollback(st, &t);
            return -1;
        }
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    if (txn_commit(st, &t, err) < 0) {
        txn_rollback(st, &t);
        return -1;
    }
    return 0;
}

static void bind_metric(sqlite3_stmt *s, const void *items, size_t i)
{
    const struct metric *m = (const struct metric *)items + i;
    sqlite3_bind_text(s, 2, m->key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, m->step);
    if (isnan(m->value))
        sqlite3_bind_null(s, 4); /* SQLite would store NaN as NULL anyway: say so */
    else
        sqlite3_bind_double(s, 4, m->value);
}

int store_metrics_add(struct store *st, int64_t id, const struct metric *m, size_t n, struct dashi_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!m[i].key || !*m[i].key)
            return dashi_fail(err, DASHI_E_INTERNAL, "key", "metric without a key");
    return insert_batch(st, "INSERT OR REPLACE INTO metrics (job, key, step, value) VALUES (?, ?, ?, ?)", id, m,
                        n, bind_metric, err);
}

int store_metrics(struct store *st, int64_t id, const char *key, const struct metric_cursor *after, uint64_t limit,
                  int (*cb)(void *ctx, const char *key, int64_t step, double value), void *ctx,
                  struct dashi_error *err)
{
    /* Keyset paging over the primary key (job, key, step): no OFFSET scan, however deep the page. */
    sqlite3_stmt *s;
    const char *sql = key ? "SELECT key, step, value FROM metrics WHERE job = ?1 AND key = ?2 AND (key, step) > (?3, ?4)"
                            " ORDER BY key, step LIMIT ?5"
                          : "SELECT key, step, value FROM metrics WHERE job = ?1 AND (key, step) > (?3, ?4)"
                            " ORDER BY key, step LIMIT ?5";
    if (store_prepare(st, sql, &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    if (key)
        sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, after ? after->key : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, after ? after->step : INT64_MIN);
    sqlite3_bind_int64(s, 5, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        double v = sqlite3_column_type(s, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 2);
        if (cb(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1), v))
            break;
    }
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "metrics");
    sqlite3_finalize(s);
    return out;
}

int store_metric_keys(struct store *st, int64_t id, int (*cb)(void *ctx, const char *key), void *ctx,
                      struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT DISTINCT key FROM metrics WHERE job = ?1 ORDER BY key", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, (const char *)sqlite3_column_text(s, 0)))
            break;
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "metrics");
    sqlite3_finalize(s);
    return out;
}

static void bind_hash(sqlite3_stmt *s, const void *items, size_t i)
{
    const struct zhash *h = (const struct zhash *)items + i;
    sqlite3_bind_int64(s, 2, h->traj);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)h->step);
    sqlite3_bind_text(s, 4, h->hex, -1, SQLITE_TRANSIENT);
}

static bool is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[len] == '\0';
}

int store_hashes_add(struct store *st, int64_t id, const struct zhash *h, size_t n, struct dashi_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!is_hex(h[i].hex, 32))
            return dashi_fail(err, DASHI_E_INTERNAL, "hash", "hash is not 32 lowercase hex digits");
    return insert_batch(st, "INSERT OR REPLACE INTO hashes (job, traj, step, hash) VALUES (?, ?, ?, ?)", id, h, n,
                        bind_hash, err);
}

int store_hashes(struct store *st, int64_t id, const struct zhash *after, uint64_t limit,
                 int (*cb)(void *ctx, const struct zhash *h), void *ctx, struct dashi_error *err)
{
    /* Keyset paging over the primary key (job, traj, step). */
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT traj, step, hash FROM hashes WHERE job = ?1 AND (traj, step) > (?2, ?3)"
                      " ORDER BY traj, step LIMIT ?4",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, after ? (sqlite3_int64)after->traj : -1);
    sqlite3_bind_int64(s, 3, after ? (sqlite3_int64)after->step : -1);
    sqlite3_bind_int64(s, 4, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct zhash h = {.traj = (uint32_t)sqlite3_column_int64(s, 0),
                          .step = (uint64_t)sqlite3_column_int64(s, 1)};
        copy_text(h.hex, sizeof h.hex, s, 2);
        if (cb(ctx, &h))
            break;
    }
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "hashes");
    sqlite3_finalize(s);
    return out;
}

/* ---- blob metadata ---- */

int store_blob_record(struct store *st, const struct blob_meta *meta, uid_t uid, double now,
                      struct dashi_error *err)
{
    char shape[NPY_MAX_DIMS * 22 + 3];
    int len = snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < meta->info.ndim; i++)
        len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%" PRIu64, i ? "," : "", meta->info.shape[i]);
    snprintf(shape + len, sizeof shape - (size_t)len, "]");

    /* Content-addressed: the first record wins (its uploader and time); a second
     * upload of the same bytes has the same metadata. */
    sqlite3_stmt *s;
    if (store_prepare(st,
                "INSERT OR IGNORE INTO blobs (hash, dtype, shape, nbytes, size, all_finite, uid, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, meta->hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, npy_dtype_name(meta->info.dtype), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, shape, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)meta->info.nbytes);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)meta->size);
    sqlite3_bind_int(s, 6, meta->all_finite ? 1 : 0);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)uid);
    sqlite3_bind_double(s, 8, now);
    return step_done(st, s, err);
}

/* "[a,b,...]" as written by store_blob_record. */
static int parse_shape(const char *text, struct npy_info *info)
{
    const char *p = text;
    if (!p || *p++ != '[')
        return -1;
    info->ndim = 0;
    if (*p == ']')
        return p[1] == '\0' ? 0 : -1;
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9' || info->ndim == NPY_MAX_DIMS)
            return -1;
        info->shape[info->ndim++] = strtoull(p, &end, 10);
        p = end;
        if (*p == ']')
            return p[1] == '\0' ? 0 : -1;
        if (*p++ != ',')
            return -1;
    }
}

int store_blob_get(struct store *st, const char *hash, struct blob_meta *meta, struct dashi_error *err)
{
    memset(meta, 0, sizeof *meta);
    sqlite3_stmt *s;
    /* An old name (migration 006) answers with the blob it became. */
    if (store_prepare(st,
                      "SELECT dtype, shape, nbytes, size, all_finite, hash FROM blobs "
                      "WHERE hash = COALESCE((SELECT new FROM blob_aliases WHERE old = ?1), ?1)",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        int out = rc == SQLITE_DONE ? dashi_fail(err, DASHI_E_NOT_FOUND, "hash", "no blob %.64s", hash)
                                    : store_db_fail(st, err, "blob lookup");
        sqlite3_finalize(s);
        return out;
    }
    snprintf(meta->hash, sizeof meta->hash, "%s", (const char *)sqlite3_column_text(s, 5));
    const char *dtype = (const char *)sqlite3_column_text(s, 0);
    int known = -1;
    for (int t = 0; t < NPY_DTYPE_COUNT; t++)
        if (dtype && strcmp(dtype, npy_dtype_name((enum npy_dtype)t)) == 0)
            known = t;
    int bad_shape = parse_shape((const char *)sqlite3_column_text(s, 1), &meta->info);
    meta->info.nbytes = (uint64_t)sqlite3_column_int64(s, 2);
    meta->size = (uint64_t)sqlite3_column_int64(s, 3);
    meta->all_finite = sqlite3_column_int(s, 4) != 0;
    sqlite3_finalize(s);
    if (known < 0 || bad_shape < 0 || meta->size < meta->info.nbytes)
        return dashi_fail(err, DASHI_E_DB, "hash", "blob %.64s has corrupt metadata", hash);
    meta->info.dtype = (enum npy_dtype)known;
    meta->info.count = 1;
    for (int i = 0; i < meta->info.ndim; i++)
        meta->info.count *= meta->info.shape[i];
    meta->info.header_len = (size_t)(meta->size - meta->info.nbytes);
    return 0;
}

int store_blob_bytes_owned(struct store *st, uid_t uid, uint64_t *bytes, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st,
                "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE uid = ?1 OR hash IN "
                "(SELECT b.hash FROM job_blobs b JOIN jobs j ON j.id = b.job WHERE j.uid = ?1 AND b.role = 'output')",
                &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)uid);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *bytes = (uint64_t)sqlite3_column_int64(s, 0);
    int out = rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "blob bytes owned");
    sqlite3_finalize(s);
    return out;
}
