/* SPDX-License-Identifier: MIT */
/* Names, groups, tags and notes of jobs in the store (store_tags.h). */
#include "store_tags.h"

#include <stdio.h>
#include <string.h>

#include "store_sql.h"

static int step_done(struct store *st, sqlite3_stmt *s, const char *what, struct dashi_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, what);
}

/* Adds tags (INSERT OR IGNORE: a tag it has is no change). */
static int tags_insert(struct store *st, int64_t id, char (*tags)[JOB_TAG_MAX + 1], int n, struct dashi_error *err)
{
    for (int i = 0; i < n; i++) {
        sqlite3_stmt *s;
        if (store_prepare(st, "INSERT OR IGNORE INTO job_tags (job, tag) VALUES (?1, ?2)", &s, err) < 0)
            return -1;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, tags[i], -1, SQLITE_TRANSIENT);
        if (step_done(st, s, "adding a tag", err) < 0)
            return -1;
    }
    return 0;
}

int store_job_labels_set(struct store *st, int64_t id, const struct job_labels *l, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE jobs SET name = ?2, group_id = ?3 WHERE id = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    if (l->name[0])
        sqlite3_bind_text(s, 2, l->name, -1, SQLITE_TRANSIENT);
    if (l->group > 0)
        sqlite3_bind_int64(s, 3, l->group);
    if (step_done(st, s, "setting a job's name", err) < 0)
        return -1;
    return tags_insert(st, id, (char(*)[JOB_TAG_MAX + 1])l->tags, l->ntags, err);
}

static int count_rows(struct store *st, const char *sql, int64_t id, int64_t *n, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, sql, &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : store_db_fail(st, err, "counting a job's tags or notes");
}

int store_job_labels_get(struct store *st, int64_t id, struct job_labels *l, char group_name[JOB_NAME_MAX + 1],
                         struct dashi_error *err)
{
    memset(l, 0, sizeof *l);
    group_name[0] = '\0';
    sqlite3_stmt *s;
    if (store_prepare(st,
                      "SELECT j.name, j.group_id, g.name FROM jobs j LEFT JOIN job_groups g ON g.id = j.group_id "
                      "WHERE j.id = ?1",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(s, 0), *gname = sqlite3_column_text(s, 2);
        snprintf(l->name, sizeof l->name, "%s", name ? (const char *)name : "");
        l->group = sqlite3_column_int64(s, 1);
        snprintf(group_name, JOB_NAME_MAX + 1, "%s", gname ? (const char *)gname : "");
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_db_fail(st, err, "a job's name");
    if (store_prepare(st, "SELECT tag FROM job_tags WHERE job = ?1 ORDER BY tag", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && l->ntags < JOB_TAGS_MAX)
        snprintf(l->tags[l->ntags++], JOB_TAG_MAX + 1, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "a job's tags");
}

struct tags_tx {
    struct store *st;
    int64_t id;
    char (*tags)[JOB_TAG_MAX + 1];
    int n;
    bool remove;
};

static int tags_tx_fn(void *ctx, struct dashi_error *err)
{
    struct tags_tx *t = ctx;
    if (!t->remove) {
        int64_t total;
        if (tags_insert(t->st, t->id, t->tags, t->n, err) < 0 ||
            count_rows(t->st, "SELECT count(*) FROM job_tags WHERE job = ?1", t->id, &total, err) < 0)
            return -1;
        return total <= JOB_TAGS_MAX ? 0
                                     : dashi_fail(err, DASHI_E_TOO_LARGE, "tags",
                                                  "a job holds at most %d tags; this would make it %lld", JOB_TAGS_MAX,
                                                  (long long)total);
    }
    for (int i = 0; i < t->n; i++) {
        sqlite3_stmt *s;
        if (store_prepare(t->st, "DELETE FROM job_tags WHERE job = ?1 AND tag = ?2", &s, err) < 0)
            return -1;
        sqlite3_bind_int64(s, 1, t->id);
        sqlite3_bind_text(s, 2, t->tags[i], -1, SQLITE_TRANSIENT);
        if (step_done(t->st, s, "removing a tag", err) < 0)
            return -1;
    }
    return 0;
}

int store_job_tags_change(struct store *st, int64_t id, char (*tags)[JOB_TAG_MAX + 1], int n, bool remove,
                          struct dashi_error *err)
{
    struct tags_tx t = {st, id, tags, n, remove};
    return store_transaction(st, tags_tx_fn, &t, err);
}

int store_job_note_add(struct store *st, int64_t id, uid_t uid, double at, const char *text, struct dashi_error *err)
{
    int64_t notes;
    if (count_rows(st, "SELECT count(*) FROM job_notes WHERE job = ?1", id, &notes, err) < 0)
        return -1;
    if (notes >= JOB_NOTES_MAX)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "text", "job %lld already has %d notes, the most a job holds",
                          (long long)id, JOB_NOTES_MAX);
    sqlite3_stmt *s;
    if (store_prepare(st, "INSERT INTO job_notes (job, at, uid, text) VALUES (?1, ?2, ?3, ?4)", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, at);
    sqlite3_bind_int64(s, 3, uid);
    sqlite3_bind_text(s, 4, text, -1, SQLITE_TRANSIENT);
    return step_done(st, s, "adding a note", err);
}

int store_job_notes(struct store *st, int64_t id, int (*cb)(void *ctx, double at, int64_t uid, const char *text),
                    void *ctx, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT at, uid, text FROM job_notes WHERE job = ?1 ORDER BY id", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, sqlite3_column_double(s, 0), sqlite3_column_int64(s, 1), (const char *)sqlite3_column_text(s, 2)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "a job's notes");
}

int store_group_create(struct store *st, uid_t uid, const char *name, const char *kind, const char *vary_json,
                       double now, int64_t *id, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "INSERT INTO job_groups (name, kind, uid, vary_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                      &s, err) < 0)
        return -1;
    if (name && name[0])
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, uid);
    sqlite3_bind_text(s, 4, vary_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 5, now);
    if (step_done(st, s, "recording a group", err) < 0)
        return -1;
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
}
