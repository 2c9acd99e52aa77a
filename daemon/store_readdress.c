/* SPDX-License-Identifier: MIT */
/* Migration 006's re-addressing (store_readdress.h). The order makes every step
 * redoable: the file under its new name exists (with its sidecar) before the database
 * names it, and the old file goes only once the alias is committed. */
#include "store_readdress.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_sql.h"

enum fault_point { FAULT_NONE, FAULT_AFTER_LINK, FAULT_AFTER_COMMIT };
struct readdress_fault {
    enum fault_point at;
    uint64_t nth;
};

static int parse_fault(const char *spec, struct readdress_fault *f, struct dashi_error *err)
{
    f->at = FAULT_NONE;
    if (!spec || !spec[0])
        return 0;
    unsigned long long k = 0;
    char tail;
    if (sscanf(spec, "kill_after_link:%llu%c", &k, &tail) == 1)
        f->at = FAULT_AFTER_LINK;
    else if (sscanf(spec, "kill_after_commit:%llu%c", &k, &tail) == 1)
        f->at = FAULT_AFTER_COMMIT;
    if (f->at == FAULT_NONE || k == 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "DASHI_MIGRATE_FAULT",
                          "DASHI_MIGRATE_FAULT=\"%s\": expected kill_after_link:K or kill_after_commit:K (K >= 1)", spec);
    f->nth = k;
    return 0;
}

static void maybe_die(const struct readdress_fault *f, enum fault_point at, uint64_t nth)
{
    if (f->at == at && f->nth == nth) {
        fprintf(stderr, "dashid: DASHI_MIGRATE_FAULT: killed at blob %llu\n", (unsigned long long)nth);
        raise(SIGKILL);
    }
}

static int pending(struct store *st, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT EXISTS (SELECT 1 FROM blob_readdress_pending)", &s, err) < 0)
        return -1;
    int rc = sqlite3_step(s);
    int out = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : store_db_fail(st, err, "readdress state");
    sqlite3_finalize(s);
    return out;
}

static int bind_step(struct store *st, const char *sql, const char *a, const char *b, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, sql, &s, err) < 0)
        return -1;
    sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "readdress");
}

/* Every occurrence of old in bytes (n of them) becomes new, in place: both are 64 hex
 * digits, so a msgpack string keeps its length and the document stays valid. */
static void replace_in(uint8_t *bytes, size_t n, const char *old, const char *new)
{
    for (size_t i = 0; i + DASHI_HASH_HEX <= n; i++)
        if (memcmp(bytes + i, old, DASHI_HASH_HEX) == 0) {
            memcpy(bytes + i, new, DASHI_HASH_HEX);
            i += DASHI_HASH_HEX - 1;
        }
}

/* The parameters of the jobs that name old as an input. */
static int rewrite_params(struct store *st, const char *old, const char *new, struct dashi_error *err)
{
    sqlite3_stmt *q, *u;
    if (store_prepare(st, "SELECT id, params_mp FROM jobs WHERE instr(params_json, ?1) > 0", &q, err) < 0)
        return -1;
    if (store_prepare(st, "UPDATE jobs SET params_json = replace(params_json, ?2, ?3), params_mp = ?4 WHERE id = ?1",
                      &u, err) < 0) {
        sqlite3_finalize(q);
        return -1;
    }
    sqlite3_bind_text(q, 1, old, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 1);
        uint8_t *mp = malloc(n ? n : 1);
        if (!mp) {
            sqlite3_finalize(q);
            sqlite3_finalize(u);
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        }
        memcpy(mp, sqlite3_column_blob(q, 1), n);
        replace_in(mp, n, old, new);
        sqlite3_bind_int64(u, 1, sqlite3_column_int64(q, 0));
        sqlite3_bind_text(u, 2, old, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 3, new, -1, SQLITE_STATIC);
        sqlite3_bind_blob(u, 4, mp, (int)n, SQLITE_TRANSIENT);
        int done = sqlite3_step(u);
        sqlite3_reset(u);
        free(mp);
        if (done != SQLITE_DONE) {
            rc = done;
            break;
        }
    }
    sqlite3_finalize(q);
    sqlite3_finalize(u);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "rewrite parameters");
}

/* The one transaction that moves every reference from old to new. */
static int commit_alias(struct store *st, const char *old, const char *new, struct dashi_error *err)
{
    if (store_exec(st, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    int rc = bind_step(st, "INSERT OR REPLACE INTO blob_aliases (old, new) VALUES (?1, ?2)", old, new, err);
    if (rc == 0)
        rc = bind_step(st, "UPDATE job_blobs SET hash = ?2 WHERE hash = ?1", old, new, err);
    if (rc == 0)
        rc = bind_step(st, "UPDATE jobs SET checkpoint = ?2 WHERE checkpoint = ?1", old, new, err);
    if (rc == 0) /* the bytes may have been stored again under their new name: keep that row */
        rc = bind_step(st, "UPDATE OR IGNORE blobs SET hash = ?2 WHERE hash = ?1", old, new, err);
    if (rc == 0)
        rc = bind_step(st, "DELETE FROM blobs WHERE hash = ?1", old, NULL, err);
    if (rc == 0)
        rc = rewrite_params(st, old, new, err);
    if (rc == 0 && store_exec(st, "COMMIT", err) == 0)
        return 0;
    store_exec(st, "ROLLBACK", &(struct dashi_error){0});
    return -1;
}

/* The old names of files without a sidecar, collected first (the loop below adds files). */
struct name_list {
    char (*names)[DASHI_HASH_HEX + 1];
    size_t n, cap;
};

static int list_add(struct name_list *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        void *grown = realloc(l->names, cap * sizeof *l->names);
        if (!grown)
            return -1;
        l->names = grown;
        l->cap = cap;
    }
    snprintf(l->names[l->n++], sizeof l->names[0], "%s", name);
    return 0;
}

static int list_unaddressed(const struct blobstore *bs, struct name_list *l, struct dashi_error *err)
{
    DIR *top = opendir(bs->dir);
    if (!top)
        return dashi_fail(err, DASHI_E_IO, "state_dir", "cannot read %s", bs->dir);
    struct dirent *s;
    int rc = 0;
    while (rc == 0 && (s = readdir(top)) != NULL) {
        if (strlen(s->d_name) != 2 || s->d_type != DT_DIR) /* shards are real directories, never links */
            continue;
        char shard[sizeof bs->dir + 8];
        snprintf(shard, sizeof shard, "%s/%.2s", bs->dir, s->d_name);
        DIR *d = opendir(shard);
        struct dirent *e;
        while (d && rc == 0 && (e = readdir(d)) != NULL) {
            char name[DASHI_HASH_HEX + 1];
            snprintf(name, sizeof name, "%.*s", DASHI_HASH_HEX, e->d_name);
            if (strlen(e->d_name) == DASHI_HASH_HEX + 4 && strcmp(e->d_name + DASHI_HASH_HEX, ".npy") == 0 &&
                blobstore_is_hash(name) && e->d_type == DT_REG && !blobstore_has_sidecar(bs, name) &&
                list_add(l, name) < 0)
                rc = dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        }
        if (d)
            closedir(d);
    }
    closedir(top);
    return rc;
}

/* Old files whose alias was committed before a kill, and the aliases for bs. */
static int load_aliases(struct store *st, struct blobstore *bs, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "SELECT old, new FROM blob_aliases", &s, err) < 0)
        return -1;
    struct blob_alias *a = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            struct blob_alias *grown = realloc(a, cap * sizeof *a);
            if (!grown) {
                free(a);
                sqlite3_finalize(s);
                return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
            }
            a = grown;
        }
        snprintf(a[n].old, sizeof a[n].old, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(a[n].new, sizeof a[n].new, "%s", (const char *)sqlite3_column_text(s, 1));
        n++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(a);
        return store_db_fail(st, err, "blob aliases");
    }
    for (size_t i = 0; i < n; i++)
        if (blobstore_unlink_old(bs, a[i].old, err) < 0) {
            free(a);
            return -1;
        }
    return blobstore_set_aliases(bs, a, n);
}

static int readdress_one(struct store *st, struct blobstore *bs, const char *old, const struct readdress_fault *f,
                         uint64_t nth, uint64_t *moved, struct dashi_error *err)
{
    struct blob_meta meta;
    struct dashi_error why;
    if (blobstore_readdress(bs, old, &meta, &why) < 0) {
        if (why.code != DASHI_E_CORRUPT) {
            *err = why;
            return -1;
        }
        fprintf(stderr, "dashid: migration 006: %s: left as it is (dashi fsck reports it)\n", why.message);
        return 0;
    }
    if (strcmp(meta.hash, old) == 0)
        return 0; /* under its address already: only its sidecar was missing */
    maybe_die(f, FAULT_AFTER_LINK, nth);
    if (commit_alias(st, old, meta.hash, err) < 0)
        return -1;
    maybe_die(f, FAULT_AFTER_COMMIT, nth);
    if (blobstore_unlink_old(bs, old, err) < 0)
        return -1;
    (*moved)++;
    return 0;
}

int store_readdress(struct store *st, struct blobstore *bs, const char *fault, uint64_t *moved,
                    struct dashi_error *err)
{
    *moved = 0;
    struct readdress_fault f;
    if (parse_fault(fault, &f, err) < 0)
        return -1;
    int todo = pending(st, err);
    if (todo < 0)
        return -1;
    if (todo) {
        if (load_aliases(st, bs, err) < 0) /* finishes the unlinks a kill interrupted */
            return -1;
        struct name_list l = {0};
        int rc = list_unaddressed(bs, &l, err);
        for (size_t i = 0; rc == 0 && i < l.n; i++)
            rc = readdress_one(st, bs, l.names[i], &f, i + 1, moved, err);
        free(l.names);
        if (rc < 0 || store_exec(st, "DELETE FROM blob_readdress_pending", err) < 0)
            return -1;
    }
    return load_aliases(st, bs, err);
}
