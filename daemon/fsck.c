/* SPDX-License-Identifier: MIT */
/* The store checker (fsck.h). Three passes: the files under blobs/ (each verified by
 * streaming it through the chunk tree, its sidecar checked, then compared with its row),
 * the rows that refer to blobs
 * (the blobs table, job inputs/outputs, checkpoints), and PRAGMA integrity_check. */
#include "fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_sql.h"

static const char *const kind_names[FSCK_KIND_COUNT] = {
    [FSCK_DAMAGED] = "damaged",   [FSCK_UNEXPECTED] = "unexpected", [FSCK_MISSING] = "missing",
    [FSCK_DANGLING] = "dangling", [FSCK_MISMATCH] = "mismatch",     [FSCK_DATABASE] = "database",
};

const char *fsck_kind_name(enum fsck_kind k)
{
    return (unsigned)k < FSCK_KIND_COUNT ? kind_names[k] : "?";
}

struct fsck_ctx {
    const struct blobstore *bs;
    struct store ro; /* a read-only connection of our own: the daemon's belongs to the loop thread */
    const atomic_bool *cancel;
    struct fsck_report *r;
};

__attribute__((format(printf, 4, 5))) static void report(struct fsck_report *r, enum fsck_kind k, const char *what,
                                                         const char *fmt, ...)
{
    r->count[k]++;
    if (r->listed == FSCK_MAX_LISTED)
        return;
    struct fsck_problem *p = &r->problems[r->listed++];
    p->kind = k;
    snprintf(p->what, sizeof p->what, "%s", what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
}

static bool same_meta(const struct blob_meta *a, const struct blob_meta *b)
{
    if (a->size != b->size || a->info.dtype != b->info.dtype || a->info.ndim != b->info.ndim ||
        a->all_finite != b->all_finite)
        return false;
    for (int i = 0; i < a->info.ndim; i++)
        if (a->info.shape[i] != b->info.shape[i])
            return false;
    return true;
}

static void describe(const struct blob_meta *m, char *out, size_t cap)
{
    int len = snprintf(out, cap, "%llu bytes %s (", (unsigned long long)m->size, npy_dtype_name(m->info.dtype));
    for (int i = 0; i < m->info.ndim && len > 0 && (size_t)len < cap; i++)
        len += snprintf(out + len, cap - (size_t)len, i ? ",%llu" : "%llu", (unsigned long long)m->info.shape[i]);
    if (len > 0 && (size_t)len < cap)
        snprintf(out + len, cap - (size_t)len, ")%s", m->all_finite ? "" : " with NaN/Inf");
}

/* A file named as a blob: verified, then compared with its row (checkpoints have none). */
static void check_blob(struct fsck_ctx *x, const char *hash)
{
    struct blob_meta file, row;
    struct dashi_error e;
    dashi_error_clear(&e);
    x->r->blobs_checked++;
    if (blobstore_meta(x->bs, hash, &file, &e) != 0) {
        report(x->r, FSCK_DAMAGED, hash, "%s", e.message);
        return;
    }
    x->r->bytes_checked += file.size;
    if (blobstore_check_sidecar(x->bs, hash, file.size, &e) != 0) {
        /* The bytes are good (verified above): the leaves are rewritten from them. */
        struct dashi_error why;
        struct blob_meta again;
        if (blobstore_readdress(x->bs, hash, &again, &why) == 0 && strcmp(again.hash, hash) == 0)
            report(x->r, FSCK_DAMAGED, hash, "%s; the bytes are intact: the sidecar was rewritten", e.message);
        else
            report(x->r, FSCK_DAMAGED, hash, "%s; it could not be rewritten: %s", e.message, why.message);
    }
    if (store_blob_get(&x->ro, hash, &row, &e) != 0) {
        if (e.code != DASHI_E_NOT_FOUND)
            report(x->r, FSCK_MISMATCH, hash, "the database row is unreadable: %s", e.message);
        return;
    }
    if (!same_meta(&file, &row)) {
        char f[96], d[96];
        describe(&file, f, sizeof f);
        describe(&row, d, sizeof d);
        report(x->r, FSCK_MISMATCH, hash, "the database records %s, the file holds %s", d, f);
    }
}

static bool is_shard_name(const char *n)
{
    static const char hex[] = "0123456789abcdef";
    return strlen(n) == 2 && strchr(hex, n[0]) && strchr(hex, n[1]);
}

/* <hash>.chunks, checked with its blob. One whose blob is gone is not reported: it is
 * never read without the blob, storing the blob again replaces it, and the loss of the
 * blob itself is what fsck reports (missing, dangling). */
static bool is_sidecar(const char *n, const char *shard)
{
    char hash[DASHI_HASH_HEX + 1];
    snprintf(hash, sizeof hash, "%.*s", DASHI_HASH_HEX, n);
    return strlen(n) == DASHI_HASH_HEX + 7 && strcmp(n + DASHI_HASH_HEX, ".chunks") == 0 && blobstore_is_hash(hash) &&
           strncmp(hash, shard, 2) == 0;
}

/* The entries of blobs/XX/: each must be a regular file named <hash>.npy with that prefix,
 * or that blob's <hash>.chunks. */
static void check_shard(struct fsck_ctx *x, int blobs_fd, const char *shard)
{
    char where[96];
    int fd = openat(blobs_fd, shard, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        snprintf(where, sizeof where, "blobs/%.2s", shard);
        report(x->r, FSCK_UNEXPECTED, where, "cannot read the directory: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && !atomic_load(x->cancel)) {
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        if (is_sidecar(n, shard))
            continue;
        snprintf(where, sizeof where, "blobs/%.2s/%.80s", shard, n);
        char hash[DASHI_HASH_HEX + 1];
        snprintf(hash, sizeof hash, "%.*s", DASHI_HASH_HEX, n);
        struct stat sb;
        if (strlen(n) != DASHI_HASH_HEX + 4 || strcmp(n + DASHI_HASH_HEX, ".npy") != 0 || !blobstore_is_hash(hash) ||
            strncmp(hash, shard, 2) != 0)
            report(x->r, FSCK_UNEXPECTED, where, "not a blob's name");
        else if (fstatat(dirfd(d), n, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            report(x->r, FSCK_UNEXPECTED, where, "cannot stat: %s", strerror(errno));
        else if (S_ISLNK(sb.st_mode))
            report(x->r, FSCK_UNEXPECTED, where, "a symbolic link (never followed)");
        else if (!S_ISREG(sb.st_mode))
            report(x->r, FSCK_UNEXPECTED, where, "not a regular file");
        else
            check_blob(x, hash);
    }
    closedir(d);
}

/* blobs/ holds tmp/ (uploads in progress) and the shard directories, nothing else. */
static int check_files(struct fsck_ctx *x, struct dashi_error *err)
{
    DIR *d = opendir(x->bs->dir);
    if (!d)
        return dashi_fail(err, DASHI_E_IO, "", "cannot read %s: %s", x->bs->dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL && !atomic_load(x->cancel)) {
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        char where[96];
        snprintf(where, sizeof where, "blobs/%.80s", n);
        struct stat sb;
        if (fstatat(dirfd(d), n, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            report(x->r, FSCK_UNEXPECTED, where, "cannot stat: %s", strerror(errno));
        else if (S_ISLNK(sb.st_mode))
            report(x->r, FSCK_UNEXPECTED, where, "a symbolic link (never followed)");
        else if (!S_ISDIR(sb.st_mode) || !(is_shard_name(n) || strcmp(n, "tmp") == 0))
            report(x->r, FSCK_UNEXPECTED, where, "neither a shard directory nor tmp/");
        else if (strcmp(n, "tmp") != 0)
            check_shard(x, dirfd(d), n);
    }
    closedir(d);
    return 0;
}

/* The blob rows and references: every hash they name must have its file. A checkpoint
 * may be superseded (and its file removed) while we read, so a reference found absent is
 * looked up again, in a later read, before it is reported. */
static const char refs_sql[] =
    "SELECT 'blob', hash, hash FROM blobs "
    "UNION ALL SELECT 'job ' || job || ' ' || role || ' ' || name, hash, job FROM job_blobs "
    "UNION ALL SELECT 'job ' || id || ' checkpoint', checkpoint, id FROM jobs WHERE checkpoint <> ''";
static const char still_sql[] =
    "SELECT 1 FROM job_blobs WHERE hash = ?1 AND job = ?2 "
    "UNION ALL SELECT 1 FROM jobs WHERE checkpoint = ?1 AND id = ?2";

struct absent_ref {
    char what[96];
    char hash[DASHI_HASH_HEX + 1];
    int64_t job;
};

static bool still_referenced(struct fsck_ctx *x, const struct absent_ref *a)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(x->ro.db, still_sql, -1, &s, NULL) != SQLITE_OK)
        return true; /* cannot tell: report it */
    sqlite3_bind_text(s, 1, a->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, a->job);
    bool yes = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return yes;
}

static int check_rows(struct fsck_ctx *x, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(&x->ro, refs_sql, &s, err) != 0)
        return -1;
    struct absent_ref *later = calloc(FSCK_MAX_LISTED, sizeof *later);
    size_t nlater = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && !atomic_load(x->cancel)) {
        const char *what = (const char *)sqlite3_column_text(s, 0), *hash = (const char *)sqlite3_column_text(s, 1);
        bool is_row = sqlite3_column_type(s, 2) == SQLITE_TEXT;
        if (!what || !hash || blobstore_exists(x->bs, hash))
            continue;
        if (is_row)
            report(x->r, FSCK_MISSING, hash, "recorded in the database, no regular file in blobs/");
        else if (!later || nlater == FSCK_MAX_LISTED)
            report(x->r, FSCK_DANGLING, what, "refers to %s, which is absent", hash);
        else {
            struct absent_ref *a = &later[nlater++];
            snprintf(a->what, sizeof a->what, "%s", what);
            snprintf(a->hash, sizeof a->hash, "%s", hash);
            a->job = sqlite3_column_int64(s, 2);
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(later);
        return store_db_fail(&x->ro, err, "reading the blob references");
    }
    for (size_t i = 0; i < nlater; i++)
        if (!blobstore_exists(x->bs, later[i].hash) && still_referenced(x, &later[i]))
            report(x->r, FSCK_DANGLING, later[i].what, "refers to %s, which is absent", later[i].hash);
    free(later);
    return 0;
}

static int check_database(struct fsck_ctx *x, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(&x->ro, "PRAGMA integrity_check", &s, err) != 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(s, 0);
        if (line && strcmp(line, "ok") != 0)
            report(x->r, FSCK_DATABASE, "dashid.db", "%s", line);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_db_fail(&x->ro, err, "PRAGMA integrity_check");
    return 0;
}

int fsck_store(const struct blobstore *bs, const char *db_path, const atomic_bool *cancel, struct fsck_report *r,
               struct dashi_error *err)
{
    memset(r, 0, sizeof *r);
    struct fsck_ctx x = {.bs = bs, .cancel = cancel, .r = r};
    if (sqlite3_open_v2(db_path, &x.ro.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        dashi_fail(err, DASHI_E_DB, "", "cannot open %s read-only: %s", db_path,
                   x.ro.db ? sqlite3_errmsg(x.ro.db) : "out of memory");
        sqlite3_close(x.ro.db);
        return -1;
    }
    sqlite3_busy_timeout(x.ro.db, 10000);
    int rc = check_files(&x, err) || check_rows(&x, err) || check_database(&x, err) ? -1 : 0;
    sqlite3_close(x.ro.db);
    if (rc == 0 && atomic_load(cancel))
        rc = dashi_fail(err, DASHI_E_CANCELLED, "", "fsck stopped: its connection closed or the daemon stops");
    return rc;
}
