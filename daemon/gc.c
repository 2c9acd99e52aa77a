/* SPDX-License-Identifier: MIT */
/* The blob store's garbage collection (gc.h). The references are read from the database
 * while the directory is walked, both on the loop thread, one batch of files per step: each
 * file is judged and freed within one step, against the database as it is then. An upload is published and
 * recorded in one loop callback, so it is never seen published but unrecorded. Job
 * outputs and checkpoints are published by a GPU thread and recorded later, while the job
 * is still queued or running in the database: files newer than the oldest such job are
 * kept. Open uploads live in blobs/tmp/ under names gc does not touch. */
#include "gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobstore.h"
#include "store_gc.h"

/* A walk over the shards blobs/00 .. blobs/ff in order, resumable between batches: the
 * open shard and the index of the next one. */
struct gc_walk {
    struct gc_scope g;
    bool apply;
    double upload_cutoff; /* uploads stored before it are past their grace */
    double newest_safe;   /* files modified at or after it are kept */
    int next_shard;       /* 0..256: the shard to open after the current one */
    DIR *shard;           /* the shard being walked, NULL between shards */
    char shard_name[3];
    bool done;
    struct gc_report r;
};

static void tally(struct gc_tally *t, const struct stat *sb)
{
    t->count++;
    t->bytes += (uint64_t)sb->st_size;
}

static double mtime_of(const struct stat *sb) { return (double)sb->st_mtim.tv_sec + sb->st_mtim.tv_nsec * 1e-9; }

/* "<hash>.npy" into hash; false for any other name (sidecars are the blobstore's). */
static bool blob_file_hash(const char *name, char hash[DASHI_HASH_HEX + 1])
{
    if (strlen(name) != DASHI_HASH_HEX + 4 || strcmp(name + DASHI_HASH_HEX, ".npy") != 0)
        return false;
    memcpy(hash, name, DASHI_HASH_HEX);
    hash[DASHI_HASH_HEX] = '\0';
    return blobstore_is_hash(hash);
}

static int gc_blob(struct gc_walk *w, const char *hash, const struct stat *sb, struct dashi_error *err)
{
    if (mtime_of(sb) >= w->newest_safe) {
        tally(&w->r.recent, sb);
        return 0;
    }
    enum gc_verdict v;
    if (store_gc_verdict(w->g.st, hash, w->upload_cutoff, &v, err) != 0)
        return -1;
    if (v == GC_LIVE) {
        tally(&w->r.live, sb);
        return 0;
    }
    tally(v == GC_UPLOAD_EXPIRED ? &w->r.uploads : &w->r.unreferenced, sb);
    if (!w->apply)
        return 0;
    if (v == GC_UPLOAD_EXPIRED && store_gc_forget(w->g.st, hash, err) != 0)
        return -1;
    return blobstore_remove(w->g.bs, hash, err);
}

/* Opens the next shard that exists (a missing one, or a symlink or non-directory in its
 * place, is fsck's business); w->shard stays NULL after the last. */
static int open_next_shard(struct gc_walk *w, struct dashi_error *err)
{
    while (!w->shard && w->next_shard < 256) {
        snprintf(w->shard_name, sizeof w->shard_name, "%02x", (unsigned)w->next_shard++);
        char path[sizeof w->g.bs->dir + 4];
        snprintf(path, sizeof path, "%s/%s", w->g.bs->dir, w->shard_name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (!(w->shard = fdopendir(fd))) {
            close(fd);
            return dashi_fail(err, DASHI_E_IO, "", "gc: cannot read %s: %s", path, strerror(errno));
        }
    }
    return 0;
}

/* Up to *budget more entries of the open shard (*budget counts down); closes it at its end. */
static int walk_shard(struct gc_walk *w, size_t *budget, struct dashi_error *err)
{
    int rc = 0;
    struct dirent *e = NULL;
    char hash[DASHI_HASH_HEX + 1];
    struct stat sb;
    while (rc == 0 && *budget > 0 && (e = readdir(w->shard)) != NULL) {
        if (!blob_file_hash(e->d_name, hash) || strncmp(hash, w->shard_name, 2) != 0)
            continue;
        (*budget)--;
        if (fstatat(dirfd(w->shard), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
            rc = gc_blob(w, hash, &sb, err);
    }
    if (rc == 0 && *budget > 0) { /* readdir returned NULL: the shard is done */
        closedir(w->shard);
        w->shard = NULL;
    }
    return rc;
}

/* A partial file's job continues only from queued, running or interrupted. */
static int partial_wanted(struct store *st, const char *name, bool *wanted, struct dashi_error *err)
{
    char *end;
    long long id = strtoll(name + strlen("part-job-"), &end, 10);
    *wanted = false;
    if (end == name + strlen("part-job-") || *end != '-' || id <= 0)
        return 0; /* not a job's: no job will continue it */
    struct job_row row;
    if (store_job_get(st, id, &row, err) != 0)
        return err->code == DASHI_E_NOT_FOUND ? 0 : -1;
    *wanted = row.state == JOB_QUEUED || row.state == JOB_RUNNING || row.state == JOB_INTERRUPTED;
    job_row_free(&row);
    return 0;
}

int gc_partials(const struct gc_scope *g, bool apply, struct gc_tally *t, struct dashi_error *err)
{
    char tmpdir[sizeof g->bs->dir + 8];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", g->bs->dir);
    DIR *dir = opendir(tmpdir);
    if (!dir)
        return dashi_fail(err, DASHI_E_IO, "", "gc: cannot read %s: %s", tmpdir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    struct stat sb;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        bool wanted = true;
        if (strncmp(e->d_name, "part-job-", strlen("part-job-")) != 0 ||
            fstatat(dirfd(dir), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode) ||
            (rc = partial_wanted(g->st, e->d_name, &wanted, err)) != 0 || wanted)
            continue;
        tally(t, &sb);
        if (apply && unlinkat(dirfd(dir), e->d_name, 0) != 0 && errno != ENOENT)
            rc = dashi_fail(err, DASHI_E_IO, "", "gc: cannot remove %s/%s: %s", tmpdir, e->d_name, strerror(errno));
    }
    closedir(dir);
    return rc;
}

int gc_begin(const struct gc_scope *g, bool apply, struct gc_walk **out, struct dashi_error *err)
{
    *out = NULL;
    double oldest_active = 0;
    if (store_oldest_active_job(g->st, &oldest_active, err) != 0)
        return -1;
    struct gc_walk *w = calloc(1, sizeof *w);
    if (!w)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    w->g = *g;
    w->apply = apply;
    w->upload_cutoff = g->now - (double)g->upload_grace_s;
    /* Jobs submitted later are newer still: their files are kept by the same rule. */
    w->newest_safe = oldest_active > 0 && oldest_active < g->now ? oldest_active - 1.0 : g->now;
    w->r.applied = apply;
    *out = w;
    return 0;
}

int gc_step(struct gc_walk *w, size_t batch, bool *done, struct dashi_error *err)
{
    size_t budget = batch ? batch : 1;
    int rc = 0;
    while (rc == 0 && budget > 0 && !w->done) {
        if ((rc = open_next_shard(w, err)) != 0)
            break;
        if (w->shard) {
            rc = walk_shard(w, &budget, err);
            continue;
        }
        rc = gc_partials(&w->g, w->apply, &w->r.partials, err); /* one directory, after every shard */
        w->done = true;
    }
    *done = w->done;
    return rc;
}

const struct gc_report *gc_walk_report(const struct gc_walk *w) { return &w->r; }

void gc_end(struct gc_walk *w)
{
    if (!w)
        return;
    if (w->shard)
        closedir(w->shard);
    free(w);
}
