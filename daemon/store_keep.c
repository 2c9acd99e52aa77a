/* SPDX-License-Identifier: MIT */
/* Keep rules in the store (store_keep.h). */
#include "store_keep.h"

#include <stdio.h>
#include <string.h>

#include "store_sql.h"

/* The outputs of the ended job and of the producers of its inputs, with every condition
 * of store_keep_releasable but the scheduler's. ?1 = the ended job. */
static const char releasable_sql[] =
    "SELECT o.job, o.name, o.hash, "
    "(SELECT MAX(c.job) FROM job_blobs c WHERE c.hash = o.hash AND c.role = 'input') "
    "FROM job_blobs o JOIN jobs p ON p.id = o.job "
    "WHERE o.role = 'output' AND (o.job = ?1 OR o.job IN "
    "(SELECT x.job FROM job_blobs i JOIN job_blobs x ON x.hash = i.hash AND x.role = 'output' "
    "WHERE i.job = ?1 AND i.role = 'input')) "
    "AND p.state = 'succeeded' AND json_extract(p.params_json, '$.keep') = '" KEEP_UNTIL_CONSUMED "' "
    "AND EXISTS (SELECT 1 FROM job_blobs c WHERE c.hash = o.hash AND c.role = 'input') "
    "AND NOT EXISTS (SELECT 1 FROM job_blobs c JOIN jobs cj ON cj.id = c.job WHERE c.hash = o.hash "
    "AND c.role = 'input' AND cj.state NOT IN ('succeeded', 'failed', 'cancelled')) "
    "AND NOT EXISTS (SELECT 1 FROM job_blobs x WHERE x.hash = o.hash AND x.role = 'output' AND x.job != o.job) "
    "AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.checkpoint = o.hash) "
    "AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = o.hash AND b.created_at < p.submitted_at) "
    "ORDER BY o.job, o.name";

static void read_row(sqlite3_stmt *s, struct released_output *r)
{
    memset(r, 0, sizeof *r);
    r->job = sqlite3_column_int64(s, 0);
    snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(r->hash, sizeof r->hash, "%s", (const char *)sqlite3_column_text(s, 2));
    r->consumed_by = sqlite3_column_int64(s, 3);
}

int store_keep_releasable(struct store *st, int64_t ended, struct released_output *out, size_t cap, size_t *n,
                          struct dashi_error *err)
{
    *n = 0;
    sqlite3_stmt *s;
    if (store_prepare(st, releasable_sql, &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, ended);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < cap) {
        read_row(s, &out[*n]);
        snprintf(out[*n].rule, sizeof out[*n].rule, "%s", KEEP_UNTIL_CONSUMED);
        (*n)++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "keep: releasable outputs");
}

/* Statements with ?1 = job, ?2 = hash, ?3 = consumer, ?4 = now, ?5 = rule (as used). */
static const char *const release_sql[] = {
    "INSERT OR REPLACE INTO released_outputs (job, name, hash, rule, consumed_by, released_at) "
    "SELECT job, name, hash, ?5, ?3, ?4 FROM job_blobs WHERE job = ?1 AND role = 'output' AND hash = ?2",
    "DELETE FROM job_blobs WHERE job = ?1 AND role = 'output' AND hash = ?2",
    "DELETE FROM blobs WHERE hash = ?2",
    NULL,
};

struct release_tx {
    struct store *st;
    const struct released_output *r;
    double now;
};

static int release_fn(void *ctx, struct dashi_error *err)
{
    const struct release_tx *t = ctx;
    for (int i = 0; release_sql[i]; i++) {
        sqlite3_stmt *s;
        if (store_prepare(t->st, release_sql[i], &s, err) < 0)
            return -1;
        int params = sqlite3_bind_parameter_count(s);
        sqlite3_bind_int64(s, 1, t->r->job);
        sqlite3_bind_text(s, 2, t->r->hash, -1, SQLITE_TRANSIENT);
        if (params >= 5) {
            sqlite3_bind_int64(s, 3, t->r->consumed_by);
            sqlite3_bind_double(s, 4, t->now);
            sqlite3_bind_text(s, 5, t->r->rule, -1, SQLITE_TRANSIENT);
        }
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return store_db_fail(t->st, err, "keep: releasing an output");
    }
    return 0;
}

int store_keep_release(struct store *st, const struct released_output *r, double now, struct dashi_error *err)
{
    struct release_tx t = {.st = st, .r = r, .now = now};
    return store_transaction(st, release_fn, &t, err);
}

static const char released_sql[] =
    "SELECT job, name, hash, consumed_by, rule FROM released_outputs WHERE job = ?1 ORDER BY name";

static void read_released(sqlite3_stmt *s, struct released_output *r)
{
    read_row(s, r);
    snprintf(r->rule, sizeof r->rule, "%s", (const char *)sqlite3_column_text(s, 4));
}

/* Whether name is one of the comma-separated names in wanted. */
static bool among(const char *wanted, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = wanted; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, name, n) == 0)
            return true;
        p += n + (end ? 1 : 0);
    }
    return false;
}

struct find_ctx {
    const char *wanted;
    struct released_output *r;
    int found;
};

static int find_fn(void *ctx, const struct released_output *r)
{
    struct find_ctx *f = ctx;
    if (!among(f->wanted, r->name))
        return 0;
    *f->r = *r;
    f->found = 1;
    return 1;
}

int store_released_output(struct store *st, int64_t job, const char *wanted, struct released_output *r,
                          struct dashi_error *err)
{
    struct find_ctx f = {.wanted = wanted, .r = r, .found = 0};
    return store_released_outputs(st, job, find_fn, &f, err) != 0 ? -1 : f.found;
}

int store_released_outputs(struct store *st, int64_t job, int (*fn)(void *ctx, const struct released_output *r),
                           void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, released_sql, &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, job);
    int rc;
    struct released_output r;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_released(s, &r);
        if (fn(ctx, &r))
            break;
    }
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "keep: released outputs");
    sqlite3_finalize(s);
    return out;
}
